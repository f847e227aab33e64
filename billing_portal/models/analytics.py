"""Revenue analytics rollups (billing/analytics/): small tables the admin dashboard reads instead of
scanning payments and invoices. The "revenue-rollups" job keeps them up to date incrementally."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class MrrSnapshot(SQLModel, table=True):
    """One paying subscription's MRR at the end of a month (as of `MrrMonth.as_of` while it runs)."""

    __tablename__ = "mrr_snapshots"
    __table_args__ = (
        Index("ix_mrr_snapshots_month", "month", "currency"),
        Index("ix_mrr_snapshots_customer", "customer_id", "currency", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: date  # the month's first day
    customer_id: int = Field(foreign_key="customers.id")
    subscription_id: int = Field(foreign_key="subscriptions.id")
    plan_id: int | None = Field(default=None, foreign_key="plans.id")
    currency: str = Field(max_length=3)
    mrr: int = Field(sa_type=BigInteger)


class MrrMonth(SQLModel, table=True):
    """Per month and currency: MRR at its end, its movements against the month before, trials."""

    __tablename__ = "mrr_months"
    __table_args__ = (UniqueConstraint("month", "currency", name="uq_mrr_months_month_currency"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date
    currency: str = Field(max_length=3)
    # When the figures were taken: the month is final once as_of reaches its end.
    as_of: datetime = Field(sa_type=UTCDateTime)
    start_mrr: int = Field(default=0, sa_type=BigInteger)
    start_subscribers: int = 0
    mrr: int = Field(default=0, sa_type=BigInteger)
    subscribers: int = 0
    new_mrr: int = Field(default=0, sa_type=BigInteger)
    expansion_mrr: int = Field(default=0, sa_type=BigInteger)
    contraction_mrr: int = Field(default=0, sa_type=BigInteger)
    churned_mrr: int = Field(default=0, sa_type=BigInteger)
    reactivation_mrr: int = Field(default=0, sa_type=BigInteger)
    new_customers: int = 0
    churned_customers: int = 0
    reactivated_customers: int = 0
    trials_ended: int = 0
    trials_converted: int = 0


class PaymentDay(SQLModel, table=True):
    """Payment outcomes and refunds of one UTC day, per currency and plan (None: not a plan)."""

    __tablename__ = "payment_days"
    __table_args__ = (Index("ix_payment_days_day", "day", "currency"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    currency: str = Field(max_length=3)
    plan_id: int | None = Field(default=None, foreign_key="plans.id")
    succeeded_count: int = 0
    succeeded_amount: int = Field(default=0, sa_type=BigInteger)
    failed_count: int = 0
    canceled_count: int = 0
    refund_count: int = 0
    refund_amount: int = Field(default=0, sa_type=BigInteger)


class RollupCursor(SQLModel, table=True):
    """How far the rollup job has read: rows past these ids, or changed after last_run_at, are new."""

    __tablename__ = "rollup_cursors"

    name: str = Field(max_length=50, primary_key=True)
    last_payment_id: int = 0
    last_refund_id: int = 0
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # MRR months up to this one were measured at their end: final, never recomputed.
    mrr_final_through: date | None = None


class AnalyticsAlert(SQLModel, table=True):
    """A threshold crossed in one month and currency; raised once, kept until acknowledged."""

    __tablename__ = "analytics_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "currency", "month", name="uq_analytics_alerts_kind_currency_month"),
        Index("ix_analytics_alerts_open", "acknowledged_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # payment_failure_rate, payment_success_rate, churn_rate
    currency: str = Field(max_length=3)
    month: date
    value: Decimal = Field(sa_type=Numeric(7, 4))  # percent
    threshold: Decimal = Field(sa_type=Numeric(7, 4))  # percent
    message: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = Field(default=None, foreign_key="users.id")
