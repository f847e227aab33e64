"""What an invoice or credit note PDF shows, as plain frozen data built from stored rows.

`gateways/pdf.py` draws an `InvoiceDocument` and knows nothing about the database; this module
reads the stored invoice, its lines and its frozen `billing_details` snapshot (never the customer's
current details, so editing billing details later does not rewrite an issued invoice) and answers
the data to draw. Amounts are ints in minor units of `currency`; datetimes are aware UTC.

Drafts have no number and may still change, so they cannot be rendered. A credit note is built
from one succeeded refund: its lines are negative, one per tax rate of the refunded invoice, the
refunded (tax-inclusive) amount split across the rates in proportion to what each rate billed.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from babel import Locale, UnknownLocaleError
from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import round_half_up
from billing_portal.billing.tax import RateTotal, invoice_totals, line_tax
from billing_portal.gateways import stripe_currencies
from billing_portal.models import Invoice, InvoiceLine, InvoiceStatus, Payment, Refund, RefundStatus
from billing_portal.settings import get_settings

Kind = Literal["invoice", "credit_note"]


@dataclass(frozen=True)
class Party:
    """Seller or buyer as printed: every field already a display string ("" when unknown)."""

    name: str
    company: str = ""
    address_lines: tuple[str, ...] = ()
    tax_id: str = ""
    email: str = ""


@dataclass(frozen=True)
class DocLine:
    description: str
    quantity: int
    unit_amount: int
    # As priced: tax included when tax_inclusive, else tax is added on top (billing/tax.py).
    amount: int
    tax_rate: Decimal = Decimal("0")
    tax_inclusive: bool = False
    tax_amount: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    proration: bool = False

    # The attribute names billing.tax.invoice_totals reads.
    @property
    def rate(self) -> Decimal:
        return self.tax_rate

    @property
    def inclusive(self) -> bool:
        return self.tax_inclusive


@dataclass(frozen=True)
class InvoiceDocument:
    kind: Kind
    number: str
    status: str  # the invoice's InvoiceStatus; a credit note is "issued"
    currency: str
    locale: str  # Babel locale for money and dates, e.g. "ko_KR"
    issued_at: datetime
    due_at: datetime | None
    paid_at: datetime | None
    seller: Party
    buyer: Party
    lines: tuple[DocLine, ...]
    # One row per (rate, inclusive): rate, inclusive, net, tax.
    tax_breakdown: tuple[RateTotal, ...]
    subtotal: int
    tax: int
    total: int
    amount_paid: int = 0
    amount_refunded: int = 0
    voided_at: datetime | None = None
    # A credit note names the invoice it credits; an invoice leaves it empty.
    reference: str = ""
    memo: str = ""

    @property
    def amount_due(self) -> int:
        """What the buyer still owes: nothing on a void, paid or credit document."""
        if self.kind != "invoice" or self.status != InvoiceStatus.OPEN:
            return 0
        return max(self.total - self.amount_paid, 0)


def build_invoice_document(session: Session, invoice_id: int) -> InvoiceDocument:
    """The stored, finalized invoice as the PDF shows it; a draft raises DomainError."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    if invoice.status == InvoiceStatus.DRAFT or not invoice.number:
        raise DomainError("A draft invoice has no PDF: finalize it first.")
    lines = tuple(_doc_line(row) for row in repository.invoice_lines(session, invoice.id))
    totals = invoice_totals(lines, quantum=stripe_currencies.quantum(invoice.currency), rounding=invoice.tax_rounding)
    snapshot = invoice.billing_details or {}
    return InvoiceDocument(
        kind="invoice",
        number=invoice.number,
        status=str(invoice.status),
        currency=invoice.currency,
        locale=document_locale(snapshot.get("locale")),
        issued_at=invoice.finalized_at or invoice.created_at,
        due_at=invoice.due_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
        seller=seller_party(),
        buyer=buyer_party(snapshot),
        lines=lines,
        tax_breakdown=totals.by_rate,
        # The stored totals are the invoice of record; they equal the recomputed ones.
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_refunded=invoice.amount_refunded,
        memo=invoice.tax_note,
    )


def build_credit_note_document(session: Session, refund_id: int, *, number: str | None = None) -> InvoiceDocument:
    """A credit note for one succeeded refund of an invoice's payment.

    `number` defaults to "{invoice number}-CN{refund id}": unique and stable, but not a gapless
    series of its own (that would need a stored counter, like invoice numbers).
    """
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise NotFound("No such refund.")
    if refund.status != RefundStatus.SUCCEEDED:
        raise DomainError("Only a refund that went through gets a credit note.")
    payment = session.get(Payment, refund.payment_id)
    invoice = session.get(Invoice, payment.invoice_id) if payment and payment.invoice_id else None
    if invoice is None or not invoice.number:
        raise DomainError("This refund is not of an issued invoice.")
    rows = repository.invoice_lines(session, invoice.id)
    billed = invoice_totals([_doc_line(row) for row in rows], quantum=stripe_currencies.quantum(invoice.currency),
                            rounding=invoice.tax_rounding).by_rate
    reason = " ".join(refund.reason.split())
    description = f"Refund of invoice {invoice.number}" + (f": {reason}" if reason else "")
    lines = tuple(
        DocLine(
            description=description,
            quantity=1,
            unit_amount=-share,
            amount=-share,
            tax_rate=rate,
            tax_inclusive=True,  # money paid back includes its tax
            tax_amount=line_tax(-share, rate, True).tax,
        )
        for rate, share in _split_by_rate(refund.amount, billed)
    )
    totals = invoice_totals(lines)
    issued = refund.decided_at or refund.created_at
    snapshot = invoice.billing_details or {}
    return InvoiceDocument(
        kind="credit_note",
        number=number or f"{invoice.number}-CN{refund.id}",
        status="issued",
        currency=refund.currency,
        locale=document_locale(snapshot.get("locale")),
        issued_at=issued,
        due_at=None,
        paid_at=None,
        seller=seller_party(),
        buyer=buyer_party(snapshot),
        lines=lines,
        tax_breakdown=totals.by_rate,
        subtotal=totals.subtotal,
        tax=totals.tax,
        total=totals.total,
        amount_refunded=refund.amount,
        reference=invoice.number,
        memo=invoice.tax_note,
    )


def seller_party() -> Party:
    settings = get_settings()
    address = tuple(part.strip() for part in settings.seller_address.splitlines() if part.strip())
    return Party(name=settings.seller_name, address_lines=address, tax_id=settings.seller_tax_id)


def buyer_party(snapshot: dict) -> Party:
    """The buyer from an invoice's frozen billing snapshot (billing/invoices.py: billing_snapshot)."""

    def field(key: str) -> str:
        return " ".join(str(snapshot.get(key) or "").split())

    place = " ".join(filter(None, [field("region"), field("postal_code")]))
    city_line = ", ".join(filter(None, [field("city"), place]))
    country = field("country").upper()
    lines = [field("address_line1"), field("address_line2"), city_line, _country_name(country, snapshot.get("locale"))]
    return Party(
        name=field("name") or field("company") or field("email"),
        company=field("company") if field("name") else "",
        address_lines=tuple(line for line in lines if line),
        tax_id=field("tax_id"),
        email=field("email"),
    )


def document_locale(locale: object) -> str:
    """The snapshot's locale if Babel knows it, else the portal's default."""
    if isinstance(locale, str) and locale:
        try:
            return str(Locale.parse(locale))
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    return get_settings().default_locale


def _country_name(code: str, locale: object) -> str:
    if not code:
        return ""
    return Locale.parse(document_locale(locale)).territories.get(code, code)


def _doc_line(row: InvoiceLine) -> DocLine:
    return DocLine(
        description=row.description,
        quantity=row.quantity,
        unit_amount=row.unit_amount,
        amount=row.amount,
        # Numeric(7, 4) reads back as Decimal("10.0000"): normalize, and + 0 turns "1E+1" into "10".
        tax_rate=Decimal(row.tax_rate).normalize() + 0,
        tax_inclusive=row.tax_inclusive,
        tax_amount=row.tax_amount,
        period_start=row.period_start,
        period_end=row.period_end,
        proration=row.proration,
    )


def _split_by_rate(amount: int, billed: tuple[RateTotal, ...]) -> list[tuple[Decimal, int]]:
    """Share a refunded gross amount across the invoice's rates by each rate's billed gross."""
    groups: dict[Decimal, int] = {}
    for row in billed:
        groups[row.rate] = groups.get(row.rate, 0) + row.net + row.tax
    positive = [(rate, gross) for rate, gross in groups.items() if gross > 0]
    if not positive:
        return [(Decimal("0"), amount)]
    whole = sum(gross for _, gross in positive)
    shares, left = [], amount
    for rate, gross in positive[:-1]:
        share = round_half_up(Fraction(amount * gross, whole))
        shares.append((rate, share))
        left -= share
    shares.append((positive[-1][0], left))
    return [(rate, share) for rate, share in shares if share]
