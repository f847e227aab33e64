"""The credit ledger: append-only entries, each carrying the balance after it."""

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class CreditLedgerEntry(SQLModel, table=True):
    __tablename__ = "credit_ledger"
    __table_args__ = (Index("ix_credit_ledger_customer_id", "customer_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    delta: int = Field(sa_type=BigInteger)
    balance_after: int = Field(sa_type=BigInteger)
    reason: str = Field(max_length=200)
    payment_id: int | None = Field(default=None, foreign_key="payments.id")
    # What granted or spent the credits, e.g. "pack:3:payment:17"; unique so nothing counts twice.
    idempotency_key: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
