"""Payments (one per Stripe PaymentIntent) and refunds."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_customer_created", "customer_id", "created_at"),
        # The history filtered by status: counted and paged without reading the other statuses.
        Index("ix_payments_customer_status_created", "customer_id", "status", "created_at"),
        # The revenue rollups read payments by day and by last change (billing/analytics/).
        Index("ix_payments_created_at", "created_at"),
        Index("ix_payments_updated_at", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: str = Field(default=PaymentStatus.PENDING, max_length=24, index=True)
    method_type: str = Field(default="card", max_length=32)
    card_brand: str = Field(default="", max_length=32)
    card_last4: str = Field(default="", max_length=4)
    failure_code: str = Field(default="", max_length=64)
    failure_message: str = Field(default="", max_length=500)
    # Derived from what the payment pays for, e.g. "invoice:42"; the same key goes to Stripe.
    idempotency_key: str = Field(max_length=255, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the status last changed as Stripe saw it (event `created`, or our clock for an API
    # answer): an older webhook never overwrites a newer status (billing/webhooks.py).
    stripe_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A chargeback: set by charge.dispute.created (and updated by later dispute events).
    disputed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dispute_status: str = Field(default="", max_length=32)


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_decided_at", "decided_at"),  # revenue rollups, by day
        Index("ix_refunds_customer_created", "customer_id", "created_at"),  # the customer's history
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    # The payment's customer, kept here so a customer's refunds are read newest first through one
    # index instead of joining every payment of theirs (billing/portal.py history).
    customer_id: int = Field(foreign_key="customers.id")
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    reason: str = Field(default="", max_length=500)
    status: str = Field(default=RefundStatus.REQUESTED, max_length=16, index=True)
    requested_by: int | None = Field(default=None, foreign_key="users.id")
    approved_by: int | None = Field(default=None, foreign_key="users.id")
    rejection_reason: str = Field(default="", max_length=500)
    stripe_refund_id: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Storage key of the credit note PDF of a succeeded refund (billing/invoice_pdfs.py).
    credit_note_key: str | None = Field(default=None, max_length=500)
