"""Entitlements: what the SaaS app checks before letting a user create the 11th project.

Rules:
- `access` is true while the subscription is trialing, active or past_due (past_due is the dunning
  grace: billing/dunning.py keeps access until the retries run out). Incomplete (first payment
  pending), paused and no subscription: false.
- Limits and features are the plan's of the live subscription (any status but canceled); null is
  unlimited. Without one: no features, 0 projects and users, the free storage quota.
- Usage is billing/usage.py's summary of the current period (included units, packages, amount);
  storage is billing/files.py's (used by live files, against the plan's quota or the free one).

A handful of indexed queries; nothing is written.
"""

from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import files, repository, usage
from billing_portal.billing.entitlements import repository as entitlements_repository
from billing_portal.billing.entitlements.schemas import (
    EntitledPlan, EntitledSubscription, Entitlements, Limits, MeterUsage, StorageUse,
)
from billing_portal.models import Customer, Plan, Price
from billing_portal.models import SubscriptionStatus as S
from billing_portal.models.types import utcnow

ACCESS_STATUSES = (S.TRIALING, S.ACTIVE, S.PAST_DUE)


def entitlements(session: Session, customer: Customer, *, now: datetime | None = None) -> Entitlements:
    now = now or utcnow()
    subscription = repository.live_subscription(session, customer.id)
    plan = None
    if subscription is not None:
        plan = session.get(Plan, session.get(Price, subscription.price_id).plan_id)
    storage = files.storage_usage(session, customer_id=customer.id, now=now)
    summary = usage.summary(session, customer.id)
    entitled_subscription = None
    if subscription is not None:
        unpaid = (entitlements_repository.oldest_open_invoice(session, subscription.id)
                  if subscription.status == S.PAST_DUE else None)
        entitled_subscription = EntitledSubscription(
            id=subscription.id, status=subscription.status,
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            trial_end=subscription.trial_end if subscription.status == S.TRIALING else None,
            cancel_at_period_end=subscription.cancel_at_period_end,
            past_due_invoice_id=unpaid.id if unpaid else None,
            next_payment_attempt_at=unpaid.next_collection_at if unpaid else None,
        )
    return Entitlements(
        customer_id=customer.id,
        external_id=customer.external_id,
        access=subscription is not None and subscription.status in ACCESS_STATUSES,
        plan=EntitledPlan.model_validate(plan) if plan else None,
        subscription=entitled_subscription,
        features=list(plan.features) if plan else [],
        limits=Limits(
            max_projects=plan.max_projects if plan else 0,
            max_users=plan.max_users if plan else 0,
            storage_quota_bytes=storage.quota_bytes,
        ),
        usage_period_start=summary.period_start,
        usage_period_end=summary.period_end,
        usage=[
            MeterUsage(metric=m.metric, label=m.label, used=m.used, included=m.included,
                       remaining_included=max(0, m.included - m.used), billable_packages=m.packages,
                       amount=0 if summary.trial else m.amount, currency=m.currency)
            for m in summary.metrics
        ],
        storage=StorageUse(used_bytes=storage.used_bytes, quota_bytes=storage.quota_bytes,
                           left_bytes=storage.left_bytes),
    )
