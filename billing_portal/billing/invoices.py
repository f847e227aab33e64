"""Invoices: drafts, finalization with gapless numbers, payment, void.

Totals are never stored from outside: every change recomputes them from the lines (billing/tax.py
rounds per line, then sums). A draft has no number; finalization takes the next number of the
prefix "{INVOICE_NUMBER_PREFIX}-{year}" in the same transaction, so a rollback gives it back.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlmodel import Session

from billing_portal.billing import emails, outgoing_webhooks, repository
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import normalize_currency
from billing_portal.billing.tax import invoice_totals, line_tax
from billing_portal.billing.taxation import applied_tax
from billing_portal.gateways import stripe_currencies
from billing_portal.models import Customer, Invoice, InvoiceLine, InvoiceStatus
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings


@dataclass(frozen=True)
class DraftLine:
    description: str
    unit_amount: int
    quantity: int = 1
    amount: int | None = None  # defaults to unit_amount × quantity; prorated lines set it
    period_start: datetime | None = None
    period_end: datetime | None = None
    proration: bool = False


def billing_snapshot(customer: Customer) -> dict:
    """The buyer as the invoice shows them, frozen so later edits do not rewrite history."""
    return {
        "name": customer.name,
        "company": customer.company,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "city": customer.city,
        "postal_code": customer.postal_code,
        "region": customer.region,
        "country": customer.country,
        "tax_id": customer.tax_id,
        "email": customer.invoice_email,
        "locale": customer.locale,
    }


def create_draft(
    session: Session,
    *,
    customer_id: int,
    currency: str,
    lines: list[DraftLine],
    subscription_id: int | None = None,
    billing_reason: str = "manual",
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """A draft with its lines, taxed by the customer's country. Same key → the same invoice."""
    if idempotency_key:
        existing = repository.invoice_by_key(session, idempotency_key)
        if existing:
            return existing
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    currency = normalize_currency(currency)
    invoice = Invoice(
        customer_id=customer_id,
        subscription_id=subscription_id,
        currency=currency,
        billing_reason=billing_reason,
        idempotency_key=idempotency_key,
        billing_details=billing_snapshot(customer),
        created_at=now or utcnow(),
    )
    rule = applied_tax(customer, currency)
    invoice.tax_rounding, invoice.tax_note = rule.rounding, rule.note
    session.add(invoice)
    session.flush()
    for line in lines:
        add_line(session, invoice, line, tax_rate=rule.rate, tax_inclusive=rule.inclusive)
    return invoice


def add_line(
    session: Session,
    invoice: Invoice,
    line: DraftLine,
    *,
    tax_rate: Decimal = Decimal("0"),
    tax_inclusive: bool = False,
) -> InvoiceLine:
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError("Only a draft invoice can be changed.")
    for value in (line.unit_amount, line.quantity, line.amount):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError("invoice amounts and quantities are ints in minor units")
    if line.quantity < 1:
        raise DomainError("A line's quantity is at least 1.")
    description = " ".join(line.description.split())
    if not description:
        raise DomainError("A line needs a description.")
    # A prorated amount is rounded half up to what the processor can charge (KWD: 10 fils, MGA: 1
    # ariary); a catalog price is a multiple of it already (billing/catalog.py refuses others).
    amount = stripe_currencies.round_to_chargeable(
        line.unit_amount * line.quantity if line.amount is None else line.amount, invoice.currency)
    row = InvoiceLine(
        invoice_id=invoice.id,
        description=description[:500],
        quantity=line.quantity,
        unit_amount=amount if line.quantity == 1 else line.unit_amount,
        amount=amount,
        tax_rate=tax_rate,
        tax_inclusive=tax_inclusive,
        period_start=line.period_start,
        period_end=line.period_end,
        proration=line.proration,
    )
    session.add(row)
    session.flush()
    recompute_totals(session, invoice)
    return row


def carry_small_invoices(session: Session, draft: Invoice, *, now: datetime | None = None) -> list[Invoice]:
    """Carry the subscription's open invoices that are under the processor's minimum charge into
    `draft` (the next period's invoice), which is what Stripe would have refused to charge.

    Each one never charged (nothing paid, no attempt) becomes a line "Carried from INV-…" of its
    amount due, untaxed (its tax is in it already), and is voided: its number stays used, and the
    debt is on the new invoice, which names it.
    """
    if draft.subscription_id is None:
        return []
    carried = []
    for old in repository.open_invoices_of(session, draft.subscription_id):
        due = old.total - old.amount_paid
        if (old.currency != draft.currency or old.amount_paid or old.collection_attempts
                or not stripe_currencies.below_minimum(due, old.currency)):
            continue
        add_line(session, draft, DraftLine(
            description=f"Carried from {old.number} (under the minimum card charge)", unit_amount=due))
        carried.append(void(session, old.id, now=now))
    return carried


class _TaxView(NamedTuple):
    amount: int
    rate: Decimal
    inclusive: bool


def recompute_totals(session: Session, invoice: Invoice) -> Invoice:
    rows = repository.invoice_lines(session, invoice.id)
    views = [_TaxView(row.amount, Decimal(row.tax_rate), row.tax_inclusive) for row in rows]
    step = stripe_currencies.quantum(invoice.currency)
    for row, view in zip(rows, views, strict=True):
        row.tax_amount = line_tax(*view, quantum=step, rounding=invoice.tax_rounding).tax
        session.add(row)
    totals = invoice_totals(views, quantum=step, rounding=invoice.tax_rounding)
    invoice.subtotal, invoice.tax, invoice.total = totals.subtotal, totals.tax, totals.total
    session.add(invoice)
    session.flush()
    return invoice


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:06d}"


def finalize(session: Session, invoice_id: int, *, now: datetime | None = None) -> Invoice:
    """draft → open, numbered; an invoice of zero or less is paid at once (nothing to collect)."""
    now = now or utcnow()
    invoice = _locked(session, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}; only drafts are finalized.")
    recompute_totals(session, invoice)
    if invoice.total < 0:
        raise DomainError("An invoice cannot total less than zero; give the credit as a credit note.")
    customer = session.get(Customer, invoice.customer_id)
    invoice.billing_details = billing_snapshot(customer)
    prefix = get_settings().invoice_number_prefix
    invoice.number = format_number(prefix, now.year, repository.next_invoice_number(session, f"{prefix}-{now.year}"))
    invoice.status = InvoiceStatus.OPEN
    invoice.finalized_at = invoice.due_at = now
    if invoice.total == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
    session.add(invoice)
    session.flush()
    if invoice.total > 0:  # an invoice of nothing (a free plan's period) is not mailed
        emails.invoice_issued(session, invoice, now=now)
    outgoing_webhooks.service.emit(session, "invoice.finalized", invoice, now=now)
    if invoice.status == InvoiceStatus.PAID:
        outgoing_webhooks.service.emit(session, "invoice.paid", invoice, now=now)
    return invoice


def mark_paid(session: Session, invoice_id: int, *, amount: int, now: datetime | None = None) -> Invoice:
    """Record money received; paid once the whole total has arrived. Paying twice is refused."""
    invoice = _locked(session, invoice_id)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Invoice {invoice.number or '(draft)'} is {invoice.status}: it cannot take a payment.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError("A payment is a positive whole amount in minor units.")
    if invoice.amount_paid + amount > invoice.total:
        raise DomainError("This payment is more than what the invoice still owes.")
    invoice.amount_paid += amount
    if invoice.amount_paid == invoice.total:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now or utcnow()
        outgoing_webhooks.service.emit(session, "invoice.paid", invoice, now=now)
    session.add(invoice)
    session.flush()
    return invoice


def void(session: Session, invoice_id: int, *, now: datetime | None = None) -> Invoice:
    """An open invoice nothing was paid on can be voided; its number stays used (no gap)."""
    invoice = _locked(session, invoice_id)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Only an open invoice can be voided; this one is {invoice.status}.")
    if invoice.amount_paid:
        raise DomainError("Money was paid on this invoice: refund it instead of voiding.")
    invoice.status, invoice.voided_at = InvoiceStatus.VOID, now or utcnow()
    session.add(invoice)
    session.flush()
    return invoice


def mark_uncollectible(session: Session, invoice_id: int) -> Invoice:
    invoice = _locked(session, invoice_id)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Only an open invoice can be written off; this one is {invoice.status}.")
    invoice.status = InvoiceStatus.UNCOLLECTIBLE
    session.add(invoice)
    session.flush()
    return invoice


def _locked(session: Session, invoice_id: int) -> Invoice:
    invoice = repository.lock_invoice(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice
