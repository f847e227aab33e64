"""The entitlements answer (GET /api/v1/customers/{customer}/entitlements), as pydantic models."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from billing_portal.billing.seller_api.schemas import Answer



class EntitledPlan(Answer):
    id: int
    slug: str
    name: str
    tier: int


class EntitledSubscription(Answer):
    id: int
    status: Literal["incomplete", "trialing", "active", "past_due", "paused"]
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None = Field(description="Set while trialing: when the trial ends.")
    cancel_at_period_end: bool
    past_due_invoice_id: int | None = Field(description="past_due: the unpaid invoice the grace is for.")
    next_payment_attempt_at: datetime | None = Field(description="past_due: the next retry; access lasts until retries run out.")


class Limits(Answer):
    max_projects: int | None = Field(description="null: unlimited; 0 without a running plan.")
    max_users: int | None = Field(description="null: unlimited; 0 without a running plan.")
    storage_quota_bytes: int | None = Field(description="null: unlimited.")


class MeterUsage(Answer):
    metric: str
    label: str
    used: int = Field(description="Units this period under the plan's current price.")
    included: int
    remaining_included: int
    billable_packages: int
    amount: int = Field(description="What the usage adds to the next invoice so far, before tax (0 in a trial).")
    currency: str


class StorageUse(Answer):
    used_bytes: int
    quota_bytes: int | None
    left_bytes: int | None


class Entitlements(Answer):
    object: Literal["entitlements"] = "entitlements"
    customer_id: int
    external_id: str | None
    access: bool = Field(description="true while trialing, active or past_due (the dunning grace).")
    plan: EntitledPlan | None
    subscription: EntitledSubscription | None
    features: list[str]
    limits: Limits
    usage_period_start: datetime | None
    usage_period_end: datetime | None
    usage: list[MeterUsage]
    storage: StorageUse
