"""Invoice and credit-note PDFs: drawn from the stored rows, kept in storage, handed out by short links.

- An invoice's PDF lives at `invoices/{customer_id}/{number}.pdf` (`Invoice.pdf_key`); a succeeded
  refund's credit note at `credit-notes/{customer_id}/{invoice number}-CN{refund id}.pdf`
  (`Refund.credit_note_key`). Rendering again overwrites the same key (the output is reproducible).
- `Invoice.pdf_rendered_at` says when the stored PDF was drawn. A PDF drawn before the invoice was
  paid or voided lacks its PAID/VOID stamp: it is stale, and both the job and a download draw it
  again. Billing details changing on an open invoice re-render it at once (`refresh_open_invoices`).
- The job `render_missing_invoice_pdfs` draws what is missing or stale, one transaction per document;
  a download of a missing PDF draws it on demand.
- A customer gets links to their own documents only: another customer's id answers `NotFound`, the
  same as a missing one. Admins get any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.files import StorageFailed
from billing_portal.billing.invoice_document import build_credit_note_document, build_invoice_document
from billing_portal.billing.invoices import billing_snapshot
from billing_portal.gateways.pdf import render_credit_note, render_invoice
from billing_portal.gateways.storage import Storage, StorageError, StorageUnavailable, get_storage
from billing_portal.models import Customer, Invoice, InvoiceStatus, Payment, Refund
from billing_portal.models.types import utcnow

logger = logging.getLogger(__name__)

PDF = "application/pdf"
MAX_LINK_SECONDS = 3600


def invoice_pdf_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.customer_id}/{invoice.number}.pdf"


def is_stale(invoice: Invoice) -> bool:
    """No stored PDF, or one drawn before the invoice was paid or voided."""
    if invoice.pdf_key is None or invoice.pdf_rendered_at is None:
        return True
    return any(moment is not None and moment > invoice.pdf_rendered_at
               for moment in (invoice.paid_at, invoice.voided_at))


def render_and_store(session: Session, invoice_id: int, *, now: datetime | None = None,
                     storage: Storage | None = None) -> str:
    """Draw the finalized invoice from its stored rows, store it, and remember the key."""
    document = build_invoice_document(session, invoice_id)  # NotFound; DomainError for a draft
    invoice = session.get(Invoice, invoice_id)
    key = invoice_pdf_key(invoice)
    _put(storage, key, render_invoice(document))
    now = now or utcnow()
    # What was drawn includes the paid/void state as of these moments.
    invoice.pdf_rendered_at = max(m for m in (now, invoice.paid_at, invoice.voided_at) if m is not None)
    invoice.pdf_key = key
    session.add(invoice)
    session.flush()
    return key


def render_credit_note_and_store(session: Session, refund_id: int, *, storage: Storage | None = None) -> str:
    """Draw the credit note of a succeeded refund, store it, and remember the key on the refund."""
    document = build_credit_note_document(session, refund_id)  # NotFound; DomainError unless succeeded
    refund = session.get(Refund, refund_id)
    payment = session.get(Payment, refund.payment_id)
    key = f"credit-notes/{payment.customer_id}/{document.number}.pdf"
    _put(storage, key, render_credit_note(document))
    refund.credit_note_key = key
    session.add(refund)
    session.flush()
    return key


def pdf_download_url(session: Session, *, user: CurrentUser, invoice_id: int, expires_in: int = 300,
                     now: datetime | None = None, storage: Storage | None = None) -> str:
    """A short-lived link to the invoice's PDF, drawn first when missing or stale (so the caller's
    transaction may write: commit it)."""
    _check_expiry(expires_in)
    invoice = session.get(Invoice, invoice_id) if _is_id(invoice_id) else None
    if invoice is None or not (user.is_admin or invoice.customer_id == user.customer_id):
        raise NotFound("No such invoice.")
    if invoice.status == InvoiceStatus.DRAFT or not invoice.number:
        raise DomainError("A draft invoice has no PDF yet.")
    storage = storage or get_storage()
    if is_stale(invoice) or not _exists(storage, invoice.pdf_key):
        render_and_store(session, invoice.id, now=now, storage=storage)
    return _url(storage, invoice.pdf_key, f"{invoice.number}.pdf", expires_in)


def credit_note_download_url(session: Session, *, user: CurrentUser, refund_id: int, expires_in: int = 300,
                             storage: Storage | None = None) -> str:
    """A short-lived link to a refund's credit note, drawn first when missing."""
    _check_expiry(expires_in)
    refund = session.get(Refund, refund_id) if _is_id(refund_id) else None
    payment = session.get(Payment, refund.payment_id) if refund else None
    if payment is None or not (user.is_admin or payment.customer_id == user.customer_id):
        raise NotFound("No such credit note.")
    storage = storage or get_storage()
    if refund.credit_note_key is None or not _exists(storage, refund.credit_note_key):
        render_credit_note_and_store(session, refund.id, storage=storage)
    filename = refund.credit_note_key.rsplit("/", 1)[-1]
    return _url(storage, refund.credit_note_key, filename, expires_in)


def refresh_open_invoices(session: Session, customer: Customer, *, now: datetime | None = None,
                          storage: Storage | None = None) -> list[int]:
    """After the customer's billing details changed: every open (unpaid) invoice takes the new
    details and is drawn again. Paid and void invoices keep what they were issued with.

    A storage failure does not undo the change: the PDF is then marked missing and the job draws it.
    Returns the ids of the invoices refreshed.
    """
    refreshed = []
    for invoice in repository.open_invoices_of_customer(session, customer.id):
        invoice.billing_details = billing_snapshot(customer)
        invoice.pdf_key, invoice.pdf_rendered_at = None, None
        session.add(invoice)
        session.flush()
        try:
            render_and_store(session, invoice.id, now=now, storage=storage)
        except StorageFailed:
            logger.warning("invoice %s: PDF not stored now; the job will draw it", invoice.id)
        refreshed.append(invoice.id)
    return refreshed


def render_missing_invoice_pdfs(
    now: datetime,
    *,
    session_scope: Callable[[], AbstractContextManager[Session]],
    storage: Storage | None = None,
    limit: int = 200,
) -> int:
    """The job: draw missing or stale invoice PDFs and missing credit notes (at most `limit` of
    each per run), one transaction each; a failure is logged and retried on the next run."""
    storage = storage or get_storage()
    done = 0
    with session_scope() as session:
        invoice_ids = repository.invoices_needing_pdf(session, limit=limit)
        refund_ids = repository.refunds_needing_credit_note(session, limit=limit)
    for invoice_id in invoice_ids:
        try:
            with session_scope() as session:
                invoice = repository.lock_invoice(session, invoice_id)  # one runner per invoice
                if invoice is not None and is_stale(invoice):
                    render_and_store(session, invoice_id, now=now, storage=storage)
                    done += 1
        except (DomainError, StorageError):
            logger.exception("PDF of invoice %s not drawn", invoice_id)
    for refund_id in refund_ids:
        try:
            with session_scope() as session:
                refund = session.get(Refund, refund_id)
                if refund is not None and refund.credit_note_key is None:
                    render_credit_note_and_store(session, refund_id, storage=storage)
                    done += 1
        except (DomainError, StorageError):
            logger.exception("credit note of refund %s not drawn", refund_id)
    return done


def invoice_pdf_bytes(session: Session, number: str) -> bytes:
    """The PDF of the invoice numbered `number`, drawn from the stored invoice (for the CLI)."""
    invoice = repository.invoice_by_number(session, number.strip())
    if invoice is None:
        raise NotFound(f"No invoice is numbered {number.strip()!r}.")
    return render_invoice(build_invoice_document(session, invoice.id))


def _put(storage: Storage | None, key: str, data: bytes) -> None:
    try:
        (storage or get_storage()).put_stream(key, [data], content_type=PDF)
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None


def _exists(storage: Storage, key: str | None) -> bool:
    if key is None:
        return False
    try:
        return storage.exists(key)
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None


def _url(storage: Storage, key: str, filename: str, expires_in: int) -> str:
    try:
        return storage.download_url(key, filename=filename, expires_in=expires_in, content_type=PDF)
    except StorageUnavailable as error:
        raise StorageFailed(str(error)) from None


def _check_expiry(expires_in: int) -> None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_LINK_SECONDS:
        raise ValueError(f"expires_in must be 1 to {MAX_LINK_SECONDS} seconds")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
