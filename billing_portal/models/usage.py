"""Metered usage reported against a subscription, and the API keys customers report it with."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class UsageRecord(SQLModel, table=True):
    """One report of usage. The key is the caller's: unique per customer, so a retry is a replay."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_subscription_metric_at", "subscription_id", "metric", "recorded_at"),
        UniqueConstraint("customer_id", "idempotency_key", name="uq_usage_customer_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    subscription_id: int = Field(foreign_key="subscriptions.id")
    # The terms the usage was recorded under: a later price change does not reprice it.
    metered_price_id: int = Field(foreign_key="metered_prices.id")
    metric: str = Field(max_length=64)
    quantity: int = Field(sa_type=BigInteger)
    # When the usage happened (the caller's timestamp); decides the period that bills it.
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    idempotency_key: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A customer's key for the usage API. Only the token's SHA-256 is stored; the prefix is shown."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
