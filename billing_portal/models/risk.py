"""The fraud guard's record: one row per card charge attempted at checkout (billing/fraud.py)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class RiskDecision(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"  # charged, and shown to admins until one clears it
    BLOCK = "block"  # not charged


class RiskAssessment(SQLModel, table=True):
    __tablename__ = "risk_assessments"
    __table_args__ = (
        # The signals count earlier attempts by customer, IP and card within a window.
        Index("ix_risk_customer_created", "customer_id", "created_at"),
        Index("ix_risk_ip_created", "client_ip", "created_at"),
        Index("ix_risk_fingerprint_created", "card_fingerprint", "created_at"),
        Index("ix_risk_decision_created", "decision", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    # The charge made after an allow or a flag; none for a block.
    payment_id: int | None = Field(default=None, foreign_key="payments.id", index=True)
    client_ip: str = Field(default="", max_length=64)
    card_fingerprint: str = Field(default="", max_length=64)
    card_brand: str = Field(default="", max_length=32)
    card_last4: str = Field(default="", max_length=4)
    card_country: str = Field(default="", max_length=2)
    billing_country: str = Field(default="", max_length=2)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    score: int
    # [{"code", "points", "detail"}]: why the score is what it is, for the admin page.
    signals: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # An admin cleared the flag (audited).
    cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cleared_by: int | None = Field(default=None, foreign_key="users.id")
    clear_note: str = Field(default="", max_length=500)
