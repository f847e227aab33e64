"""Invoice and credit-note PDFs stored on real storage, read back with pypdf; the job; the links; the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.request
from datetime import timedelta

import pypdf
import pytest

from billing_portal.billing import invoice_pdfs, invoices, payments
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.billing_details import BillingDetails, update_billing_details
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.jobs.runner import run_once
from billing_portal.models import Invoice, Refund
from billing_portal.settings import PROJECT_ROOT
from tests.billing.test_files import all_keys, read  # noqa: F401 - fixtures below come from there too
from tests.billing.test_files import aws_env, local_store, s3_store, store  # noqa: F401
from tests.support.builders import T0, make_customer


def text_of(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def finalized(session, customer, amount: int = 12000, now=T0) -> Invoice:
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", now=now,
                                  lines=[DraftLine("Pro plan — monthly", amount)])
    return invoices.finalize(session, draft.id, now=now)


def user_of(customer, role: str = "customer") -> CurrentUser:
    return CurrentUser(user_id=customer.user_id, email="x@example.com", role=role, customer_id=customer.id,
                       name=customer.name, currency="USD", locale="en_US")


def test_render_and_store_keeps_the_pdf_under_the_customer_and_number(session, store):
    customer = make_customer(session)
    invoice = finalized(session, customer)
    key = invoice_pdfs.render_and_store(session, invoice.id, now=T0)
    assert key == f"invoices/{customer.id}/{invoice.number}.pdf" == invoice.pdf_key
    assert invoice.pdf_rendered_at == T0
    text = text_of(read(store, key))
    assert invoice.number in text and "Ana Lima" in text and "$120.00" in text


def test_a_draft_has_no_pdf(session, local_store):
    customer = make_customer(session)
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("x", 100)])
    with pytest.raises(DomainError, match="draft"):
        invoice_pdfs.render_and_store(session, draft.id)
    with pytest.raises(DomainError, match="draft"):
        invoice_pdfs.pdf_download_url(session, user=user_of(customer), invoice_id=draft.id)
    assert all_keys(local_store) == []


def test_the_job_renders_missing_and_stale_pdfs_and_credit_notes(session, store):
    customer = make_customer(session)
    first = finalized(session, customer)
    second = finalized(session, customer, 5000)
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("x", 100)])
    session.commit()

    assert run_once(now=T0, only={"invoice-pdfs"}) == {"invoice-pdfs": 2}
    assert run_once(now=T0, only={"invoice-pdfs"}) == {"invoice-pdfs": 0}  # nothing left to do
    session.expire_all()
    assert session.get(Invoice, draft.id).pdf_key is None
    assert "PAID" not in text_of(read(store, session.get(Invoice, first.id).pdf_key))

    paid_at = T0 + timedelta(hours=1)
    payment = payments.record_payment(session, invoice_id=first.id, idempotency_key=f"invoice:{first.id}",
                                      succeeded=True, now=paid_at)
    refund = payments.record_refund(session, payment_id=payment.id, amount=2000, reason="Goodwill", now=paid_at)
    session.commit()
    assert run_once(now=paid_at + timedelta(minutes=1), only={"invoice-pdfs"}) == {"invoice-pdfs": 2}
    session.expire_all()
    assert "PAID" in text_of(read(store, session.get(Invoice, first.id).pdf_key))
    note_key = session.get(Refund, refund.id).credit_note_key
    assert note_key == f"credit-notes/{customer.id}/{first.number}-CN{refund.id}.pdf"
    note = text_of(read(store, note_key))
    assert f"{first.number}-CN{refund.id}" in note and "Goodwill" in note
    assert session.get(Invoice, second.id).pdf_rendered_at == T0  # untouched
    assert run_once(now=paid_at + timedelta(minutes=2), only={"invoice-pdfs"}) == {"invoice-pdfs": 0}


def test_download_link_is_for_the_owner_and_admins_and_renders_on_demand(session, s3_store):
    owner = make_customer(session)
    stranger = make_customer(session, "eve@example.com")
    admin = make_customer(session, "root@example.com")
    invoice = finalized(session, owner)
    assert invoice.pdf_key is None

    url = invoice_pdfs.pdf_download_url(session, user=user_of(owner), invoice_id=invoice.id)
    assert invoice.pdf_key is not None and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert invoice.number in text_of(response.read())
        assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{invoice.number}.pdf"')
        assert response.headers["Content-Type"] == "application/pdf"

    for invoice_id in (invoice.id, 999_999):
        with pytest.raises(NotFound, match="No such invoice."):
            invoice_pdfs.pdf_download_url(session, user=user_of(stranger), invoice_id=invoice_id)
    assert invoice_pdfs.pdf_download_url(session, user=user_of(admin, "admin"), invoice_id=invoice.id)

    s3_store.delete(invoice.pdf_key)  # lost from storage: drawn again
    invoice_pdfs.pdf_download_url(session, user=user_of(owner), invoice_id=invoice.id)
    assert s3_store.exists(invoice.pdf_key)


def test_credit_note_link_is_for_the_owner_only(session, local_store):
    owner = make_customer(session)
    stranger = make_customer(session, "eve@example.com")
    invoice = finalized(session, owner)
    payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key="p1", succeeded=True, now=T0)
    refund = payments.record_refund(session, payment_id=payment.id, amount=12000, reason="", now=T0)
    url = invoice_pdfs.credit_note_download_url(session, user=user_of(owner), refund_id=refund.id)
    assert "/api/files/download?token=" in url and refund.credit_note_key
    with pytest.raises(NotFound, match="No such credit note."):
        invoice_pdfs.credit_note_download_url(session, user=user_of(stranger), refund_id=refund.id)


def test_new_billing_details_redraw_open_invoices_only(session, store):
    customer = make_customer(session)
    open_invoice = finalized(session, customer)
    paid = finalized(session, customer, 3000)
    payments.record_payment(session, invoice_id=paid.id, idempotency_key="paid", succeeded=True, now=T0)
    for invoice in (open_invoice, paid):
        invoice_pdfs.render_and_store(session, invoice.id, now=T0)

    details = BillingDetails(name="Ana Lima", company="Lima Consulting GmbH", address_line1="Unter den Linden 1",
                             city="Berlin", postal_code="10117", country="DE", tax_id="DE 136 695 976",
                             invoice_email="billing@lima.example", preferred_currency="USD", locale="de_DE")
    updated = update_billing_details(session, customer_id=customer.id, details=details, now=T0 + timedelta(days=1))
    assert updated.refreshed_invoice_ids == (open_invoice.id,)

    redrawn = text_of(read(store, open_invoice.pdf_key))
    assert "Lima Consulting GmbH" in redrawn and "DE136695976" in redrawn and "Berlin" in redrawn
    assert open_invoice.billing_details["company"] == "Lima Consulting GmbH"
    kept = text_of(read(store, paid.pdf_key))
    assert "Lima Consulting GmbH" not in kept and paid.billing_details["company"] == ""


def test_cli_writes_the_pdf_of_a_stored_invoice(session, db_url, tmp_path):
    customer = make_customer(session)
    invoice = finalized(session, customer)
    session.commit()
    env = os.environ | {"DATABASE_URL": db_url, "BILLING_PORTAL_ENV_FILE": os.devnull}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "billing_portal", "invoices", "pdf", *args],
                              capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120)

    out = tmp_path / "invoice.pdf"
    done = cli(invoice.number, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert invoice.number in text_of(out.read_bytes()) and "Wrote" in done.stdout

    missing = cli("INV-1999-000001", "--out", str(tmp_path / "none.pdf"))
    assert missing.returncode == 1 and missing.stderr.strip() == "error: No invoice is numbered 'INV-1999-000001'."
    assert not (tmp_path / "none.pdf").exists()
    unwritable = cli(invoice.number, "--out", str(tmp_path / "no-such-dir" / "x.pdf"))
    assert unwritable.returncode == 1 and unwritable.stderr.startswith("error: cannot write")
