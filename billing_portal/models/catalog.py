"""The catalog: plans with their limits, prices per currency and interval, credit packs."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class Plan(SQLModel, table=True):
    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100)
    tier: int = 0
    description: str = Field(default="", max_length=500)
    features: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    max_projects: int | None = None
    max_users: int | None = None
    storage_quota_bytes: int | None = Field(default=None, sa_type=BigInteger)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Price(SQLModel, table=True):
    """What a plan costs in one currency for one interval. Never edited once used: archived."""

    __tablename__ = "prices"
    __table_args__ = (
        Index("ix_prices_lookup", "plan_id", "currency", "interval", "interval_count", "active"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id")
    currency: str = Field(max_length=3)
    interval: str = Field(default=Interval.MONTH, max_length=8)
    interval_count: int = 1
    unit_amount: int = Field(sa_type=BigInteger)
    trial_days: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CreditPack(SQLModel, table=True):
    """A one-time purchase of credits; bonus credits come on top of the paid ones."""

    __tablename__ = "credit_packs"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100)
    currency: str = Field(max_length=3)
    amount: int = Field(sa_type=BigInteger)
    credits: int
    bonus_credits: int = 0
    active: bool = True


class MeteredPrice(SQLModel, table=True):
    """What a plan charges per package of units of one metric, after the included units.

    Package pricing: every started package is charged in full. Never edited once usage was
    recorded under it (usage rows point at it): archived and replaced instead.
    """

    __tablename__ = "metered_prices"
    __table_args__ = (Index("ix_metered_prices_lookup", "plan_id", "metric", "currency", "active"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id")
    metric: str = Field(max_length=64)
    label: str = Field(max_length=100)
    currency: str = Field(max_length=3)
    package_size: int = Field(sa_type=BigInteger)
    package_amount: int = Field(sa_type=BigInteger)
    included_units: int = Field(default=0, sa_type=BigInteger)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
