"""Metered usage: record it, sum it per period, and turn a closed period into invoice lines.

Rules (written down once, here and in the README):
- A report is a positive whole quantity of one metric, at a moment (`at`, default now, never more
  than FUTURE_TOLERANCE ahead). It is kept against the customer's running subscription (active,
  past due or trialing) and the plan's active metered price for that metric and currency at that
  moment: a later price change does not reprice it.
- The caller's idempotency key is unique per customer: the same key again returns the first
  record (a replay); the same key with another metric or quantity is an IdempotencyConflict.
- A report may not fall before the current period's start: that period was invoiced already.
  A moment after the current period's end is accepted (the renewal job may lag behind the clock);
  it is billed with the period it falls in.
- Package pricing per metered price and period: units past the included ones are charged per
  started package, `ceil((used - included) / package_size) × package_amount` (integer minor
  units). Usage in a trial period is recorded but not charged (the trial is free).
- The renewal invoice for period N+1 carries period N's usage (subscriptions.renew). When a period
  ends without a renewal (the plan ends, at the period end or now; an interval change restarts the
  period), its usage so far gets an invoice of its own (billing_reason "subscription_usage").
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.errors import DomainError
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import MeteredPrice, Price, Subscription, UsageRecord
from billing_portal.models import SubscriptionStatus as S
from billing_portal.models.types import utcnow

MAX_QUANTITY = 1_000_000_000  # per report; larger totals are many reports
MAX_KEY_LENGTH = 255
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of callers drift
RECORDING_STATUSES = (S.ACTIVE, S.PAST_DUE, S.TRIALING)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII: what fits an HTTP header unchanged
_MAX_LINE_QUANTITY = 2**31 - 1  # invoice_lines.quantity is a 32-bit integer
_NEEDS_ZONE = "The timestamp needs a time zone, e.g. 2026-12-03T09:00:00Z."


class IdempotencyConflict(DomainError):
    """The key was used before for a different report."""


@dataclass(frozen=True)
class Recorded:
    record: UsageRecord
    replayed: bool  # True when the key had been used for this same report before


@dataclass(frozen=True)
class MetricCharge:
    """What one metered price charges for the units used in a period."""

    metered_price_id: int
    metric: str
    label: str
    currency: str
    used: int
    included: int
    package_size: int
    package_amount: int
    packages: int
    amount: int  # packages × package_amount, in minor units


@dataclass(frozen=True)
class UsageSummary:
    has_subscription: bool
    currency: str = ""
    period_start: datetime | None = None
    period_end: datetime | None = None
    trial: bool = False  # usage in this period is not charged
    metrics: tuple[MetricCharge, ...] = ()  # the plan's meters now, used or not
    # Usage this period under other terms (an archived price, the plan before a change).
    earlier: tuple[MetricCharge, ...] = ()
    amount: int = 0  # what the usage adds to the next invoice, before tax


def record_usage(
    session: Session,
    customer_id: int,
    metric: str,
    quantity: int,
    idempotency_key: str,
    at: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Recorded:
    now = now or utcnow()
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise DomainError(f"The idempotency key is 1–{MAX_KEY_LENGTH} visible ASCII characters without spaces.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise DomainError(f"The quantity is a whole number from 1 to {MAX_QUANTITY:,}.")
    if not isinstance(metric, str) or not metric.strip():
        raise DomainError("Name the metric, e.g. api_calls.")
    existing = repository.usage_by_key(session, customer_id, idempotency_key)
    if existing:
        return _replay(existing, metric, quantity)

    at = now if at is None else at
    if at.tzinfo is None:
        raise DomainError(_NEEDS_ZONE)
    if at > now + FUTURE_TOLERANCE:
        raise DomainError("The timestamp is in the future.")
    live = repository.live_subscription(session, customer_id)
    subscription = repository.share_lock_subscription(session, live.id) if live else None
    if subscription is None or subscription.status not in RECORDING_STATUSES:
        raise DomainError("There is no running subscription to record usage against.")
    if at < subscription.current_period_start:
        raise DomainError(
            f"The timestamp is before the current billing period (from "
            f"{subscription.current_period_start.isoformat()}): that period was invoiced already."
        )
    price = session.get(Price, subscription.price_id)
    metered = repository.active_metered_price(session, plan_id=price.plan_id, metric=metric, currency=price.currency)
    if metered is None:
        raise DomainError(f"Your plan has no metered price for {metric[:64]!r}.")
    record = UsageRecord(
        customer_id=customer_id, subscription_id=subscription.id, metered_price_id=metered.id, metric=metric,
        quantity=quantity, recorded_at=at, idempotency_key=idempotency_key, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:  # the same key raced us in and won: answer as a replay of it
        return _replay(repository.usage_by_key(session, customer_id, idempotency_key), metric, quantity)
    return Recorded(record, replayed=False)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 moment with a time zone ("2026-12-03T09:00:00Z"), as the API and CLI take it."""
    if not isinstance(text, str) or len(text) > 40:
        raise DomainError("The timestamp is an ISO 8601 string, e.g. 2026-12-03T09:00:00Z.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(f"{text!r} is not an ISO 8601 timestamp, e.g. 2026-12-03T09:00:00Z.") from None
    if moment.tzinfo is None:
        raise DomainError(_NEEDS_ZONE)
    return moment


def _replay(existing: UsageRecord, metric: str, quantity: int) -> Recorded:
    if (existing.metric, existing.quantity) != (metric, quantity):
        raise IdempotencyConflict(
            f"This idempotency key was used already for {existing.quantity:,} {existing.metric}. "
            "A retry sends the same metric and quantity; new usage needs a new key."
        )
    return Recorded(existing, replayed=True)


def charge_for(price: MeteredPrice, used: int) -> MetricCharge:
    billable = max(0, used - price.included_units)
    packages = -(-billable // price.package_size)  # every started package counts
    return MetricCharge(
        metered_price_id=price.id, metric=price.metric, label=price.label, currency=price.currency, used=used,
        included=price.included_units, package_size=price.package_size, package_amount=price.package_amount,
        packages=packages, amount=packages * price.package_amount,
    )


def is_trial_period(subscription: Subscription, period_end: datetime) -> bool:
    return subscription.trial_end is not None and period_end <= subscription.trial_end


def period_charges(session: Session, subscription: Subscription, period_start: datetime, period_end: datetime) -> list[MetricCharge]:
    """One charge per metered price with usage in [period_start, period_end)."""
    return [
        charge_for(session.get(MeteredPrice, price_id), used)
        for price_id, used in repository.usage_totals(session, subscription.id, period_start, period_end)
    ]


def usage_lines(session: Session, subscription: Subscription, period_start: datetime, period_end: datetime) -> list[DraftLine]:
    """Invoice lines for the usage of a closed period: one per metered price that charges something."""
    if is_trial_period(subscription, period_end):
        return []
    lines = []
    for charge in period_charges(session, subscription, period_start, period_end):
        if charge.packages == 0:
            continue
        description = (
            f"{charge.label}: {charge.used:,} used, {charge.included:,} included, "
            f"per {charge.package_size:,}"
        )
        quantity, unit = charge.packages, charge.package_amount
        if quantity > _MAX_LINE_QUANTITY:
            quantity, unit = 1, charge.amount
        lines.append(DraftLine(
            description=description, unit_amount=unit, quantity=quantity,
            period_start=period_start, period_end=period_end,
        ))
    return lines


def summary(session: Session, customer_id: int) -> UsageSummary:
    """The current period's usage per metered price, with what it adds to the next invoice before tax."""
    subscription = repository.live_subscription(session, customer_id)
    if subscription is None:
        return UsageSummary(has_subscription=False)
    price = session.get(Price, subscription.price_id)
    start, end = subscription.current_period_start, subscription.current_period_end
    charges = {c.metered_price_id: c for c in period_charges(session, subscription, start, end)}
    metrics = tuple(
        charges.pop(metered.id, None) or charge_for(metered, 0)
        for metered in repository.active_metered_prices(session, plan_id=price.plan_id, currency=price.currency)
    )
    earlier = tuple(charges.values())
    trial = is_trial_period(subscription, end)
    return UsageSummary(
        has_subscription=True, currency=price.currency, period_start=start, period_end=end, trial=trial,
        metrics=metrics, earlier=earlier, amount=0 if trial else sum(c.amount for c in metrics + earlier),
    )
