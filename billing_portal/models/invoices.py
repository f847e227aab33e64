"""Invoices, their lines and the per-prefix number counters."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, Numeric
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        # The history (drafts left out) pages and counts from the index alone.
        Index("ix_invoices_customer_created_status", "customer_id", "created_at", "status"),
        # The history filtered by status: counted and paged without reading the other statuses.
        Index("ix_invoices_customer_status_created", "customer_id", "status", "created_at"),
        Index("ix_invoices_collection_due", "status", "next_collection_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    subscription_id: int | None = Field(default=None, foreign_key="subscriptions.id", index=True)
    # Null while a draft: numbers are taken at finalization so they stay gapless.
    number: str | None = Field(default=None, max_length=40, unique=True)
    status: str = Field(default=InvoiceStatus.DRAFT, max_length=16, index=True)
    currency: str = Field(max_length=3)
    subtotal: int = Field(default=0, sa_type=BigInteger)
    tax: int = Field(default=0, sa_type=BigInteger)
    total: int = Field(default=0, sa_type=BigInteger)
    amount_paid: int = Field(default=0, sa_type=BigInteger)
    amount_refunded: int = Field(default=0, sa_type=BigInteger)
    billing_details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pdf_key: str | None = Field(default=None, max_length=500)
    # When the stored PDF was drawn: paid or voided after it means the PDF is stale (re-rendered).
    pdf_rendered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why the invoice exists: subscription_create, subscription_cycle, subscription_update,
    # subscription_usage (the last period's usage of a plan that ended), manual.
    billing_reason: str = Field(default="manual", max_length=32)
    # What the invoice bills, e.g. "renewal:7:2026-03-01T00:00:00+00:00": one invoice per thing.
    idempotency_key: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finalized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Off-session collection (billing/dunning.py): charges tried so far, and when the next one is
    # due; None when nothing is to be charged automatically (paid, written off, or paid by hand).
    collection_attempts: int = 0
    next_collection_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The tax rule it was made with (billing/taxation/): how line taxes round, and what the invoice
    # says about the rule (the EU reverse charge), kept so later setting changes do not alter it.
    tax_rounding: str = Field(default="half_up", max_length=16)
    tax_note: str = Field(default="", max_length=300)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    # MRR snapshots look for the periods still running at an instant (billing/analytics/).
    __table_args__ = (Index("ix_invoice_lines_period_end", "period_end"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    description: str = Field(max_length=500)
    quantity: int = 1
    unit_amount: int = Field(sa_type=BigInteger)
    # The line as priced (quantity × unit amount, or a prorated sum): tax included when
    # tax_inclusive, else added on top. Totals are recomputed from these (billing/tax.py).
    amount: int = Field(sa_type=BigInteger)
    tax_rate: Decimal = Field(default=Decimal("0"), sa_type=Numeric(7, 4))
    tax_inclusive: bool = False
    tax_amount: int = Field(default=0, sa_type=BigInteger)
    period_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    period_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    proration: bool = False


class InvoiceNumberSequence(SQLModel, table=True):
    """The last number handed out per prefix (e.g. "INV-2026"); bumped under a row lock."""

    __tablename__ = "invoice_number_sequences"

    prefix: str = Field(max_length=32, primary_key=True)
    last_value: int = 0
