"""A customer's request to have (part of) a paid payment refunded, decided by an admin."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class RefundRequestStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class RefundRequest(SQLModel, table=True):
    __tablename__ = "refund_requests"
    __table_args__ = (
        Index("ix_refund_requests_payment_status", "payment_id", "status"),
        Index("ix_refund_requests_customer_created", "customer_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id")
    customer_id: int = Field(foreign_key="customers.id")
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=500)
    status: str = Field(default=RefundRequestStatus.REQUESTED, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decision_reason: str = Field(default="", max_length=500)
    # The refund an approval made (billing/refund_decisions.py).
    refund_id: int | None = Field(default=None, foreign_key="refunds.id")
