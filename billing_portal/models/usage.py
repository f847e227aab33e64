"""Metered usage reported against a subscription."""

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class UsageRecord(SQLModel, table=True):
    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_subscription_metric_at", "subscription_id", "metric", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscriptions.id")
    metric: str = Field(max_length=64)
    quantity: int = Field(sa_type=BigInteger)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    idempotency_key: str = Field(max_length=255, unique=True)
