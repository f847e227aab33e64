"""Subscriptions: our state machine (billing/lifecycle.py) owns the status."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class SubscriptionStatus(StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_customer_status", "customer_id", "status"),
        Index("ix_subscriptions_due", "status", "current_period_end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    price_id: int = Field(foreign_key="prices.id")
    status: str = Field(default=SubscriptionStatus.INCOMPLETE, max_length=16)
    quantity: int = 1
    current_period_start: datetime = Field(sa_type=UTCDateTime)
    current_period_end: datetime = Field(sa_type=UTCDateTime)
    billing_anchor: datetime = Field(sa_type=UTCDateTime)
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str = Field(default="", max_length=500)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resume_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    trial_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A downgrade waits for the period end: the change to apply at renewal.
    scheduled_price_id: int | None = Field(default=None, foreign_key="prices.id")
    scheduled_quantity: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
