"""The "revenue-rollups" job: keep the analytics tables up to date, incrementally.

- Payment days: only the UTC days that changed since the last run are recomputed: days of
  payments added since (by id), of payments whose outcome arrived since, and of refunds decided
  since. Each day is one GROUP BY over that day's payments (index on created_at).
- MRR months: months up to the last final one are never touched again; the months after it are
  recomputed (the running month on every run, measured at `now`). A month becomes final once a run
  measures it at its end. The first run fills every month since the first billed period.
- Alerts: checked for every month recomputed, raised once per kind, currency and month.

Runs in one transaction under the cursor's row lock, so two runners refresh one after the other.

The job is asked every few seconds but refreshes only when `due`: a payment or refund was added,
a payment's outcome arrived, or FULL_EVERY passed (the running month's MRR moves with time, and
subscription changes without a payment show then). So a payment shows on the dashboard seconds
after it lands, and an idle install does three small reads per tick and writes nothing.
"""

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from billing_portal.billing.analytics import alerts, queries
from billing_portal.billing.analytics.mrr import (
    CustomerKey,
    Movements,
    add_month,
    month_end_instant,
    month_start,
    movements,
    per_customer,
    subscription_mrr,
)
from billing_portal.models import MrrMonth, PaymentStatus

CURSOR = "revenue"
# A payment committed a little after the last run may carry an earlier updated_at: look back.
OVERLAP = timedelta(minutes=10)
FULL_EVERY = timedelta(minutes=5)
LATE_COMMIT = timedelta(seconds=15)


@dataclass(frozen=True)
class Refreshed:
    days: int
    months: int
    alerts: int

    @property
    def total(self) -> int:
        return self.days + self.months + self.alerts


def refresh(now: datetime, *, session_scope: Callable[[], AbstractContextManager[Session]]) -> Refreshed:
    with session_scope() as session:
        return refresh_in(session, now)


def refresh_if_due(now: datetime, *, session_scope: Callable[[], AbstractContextManager[Session]]) -> Refreshed:
    """The job's tick: a refresh when `due`, else nothing (and no write)."""
    with session_scope() as session:
        return refresh_in(session, now) if due(session, now) else Refreshed(days=0, months=0, alerts=0)


def due(session: Session, now: datetime) -> bool:
    """Whether the rollups miss something: new payments or refunds, an outcome, or FULL_EVERY passed."""
    cursor = queries.cursor_state(session, CURSOR)
    if cursor is None or cursor.last_run_at is None or now - cursor.last_run_at >= FULL_EVERY:
        return True
    if queries.max_ids(session) != (cursor.last_payment_id, cursor.last_refund_id):
        return True
    # An outcome committed while the last run read may carry an updated_at just before it: look
    # back a little (a few extra refreshes after each outcome; the full refresh covers the rest).
    return queries.outcome_since(session, since=cursor.last_run_at - LATE_COMMIT)


def as_of(session: Session) -> datetime | None:
    """When the rollups were last refreshed: what the dashboard's figures are as of."""
    cursor = queries.cursor_state(session, CURSOR)
    return cursor.last_run_at if cursor else None


def refresh_in(session: Session, now: datetime) -> Refreshed:
    """One refresh in the caller's transaction (tests call it directly)."""
    cursor = queries.lock_cursor(session, CURSOR)
    last_payment_id, last_refund_id = queries.max_ids(session)
    spans = _touched_days(session, cursor.last_payment_id, last_payment_id, cursor.last_refund_id,
                          last_refund_id, cursor.last_run_at)
    days = sum(_refresh_days(session, first, last) for first, last in spans)

    months = _open_months(session, cursor.mrr_final_through, now)
    for month in months:
        _refresh_month(session, month, now)
        if month_end_instant(month) <= now:
            cursor.mrr_final_through = month

    checked = sorted(set(months).union(*(_months_of(first, last) for first, last in spans)))
    raised = sum(alerts.check_month(session, month, now) for month in checked)

    cursor.last_payment_id, cursor.last_refund_id, cursor.last_run_at = last_payment_id, last_refund_id, now
    session.add(cursor)
    session.flush()
    return Refreshed(days=days, months=len(months), alerts=raised)


def _touched_days(
    session: Session, after_payment: int, up_to_payment: int, after_refund: int, up_to_refund: int,
    last_run_at: datetime | None,
) -> list[tuple[date, date]]:
    """Spans of days to redo: the span of the new payments, and each day something else changed on."""
    spans: set[tuple[date, date]] = set()
    first, last = queries.new_payments_span(session, after_id=after_payment, up_to_id=up_to_payment)
    if first is not None:
        spans.add((first.date(), last.date()))
    since = last_run_at - OVERLAP if last_run_at else None
    changed = set(queries.changed_payment_times(session, since=since)) if since is not None else set()
    changed.update(queries.refund_decision_times(session, after_id=after_refund, up_to_id=up_to_refund, since=since))
    spans.update((at.date(), at.date()) for at in changed if at is not None)
    # Overlapping and adjacent spans merged: each day is recomputed once (a first run saw every
    # refund's day again inside the span of all payments, one query pair per day).
    merged: list[tuple[date, date]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _refresh_days(session: Session, first: date, last: date) -> int:
    """Recompute the days first..last from their payments and refunds: two GROUP BY queries."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    rows: dict[tuple[date, str, int | None], dict] = {}

    def row(day: date, currency: str, plan_id: int | None) -> dict:
        key = (day, currency, plan_id)
        if key not in rows:
            rows[key] = {"day": day, "currency": currency, "plan_id": plan_id,
                         **dict.fromkeys(queries.PAYMENT_DAY_COUNTS, 0)}
        return rows[key]

    for day, currency, plan_id, status, count, amount in queries.payment_outcomes(session, start, end):
        if status in queries.SUCCEEDED:
            target = row(day, currency, plan_id)
            target["succeeded_count"] += count
            target["succeeded_amount"] += amount
        elif status == PaymentStatus.FAILED:
            row(day, currency, plan_id)["failed_count"] += count
        elif status == PaymentStatus.CANCELED:
            row(day, currency, plan_id)["canceled_count"] += count
    for day, currency, plan_id, count, amount in queries.refund_totals(session, start, end):
        target = row(day, currency, plan_id)
        target["refund_count"] += count
        target["refund_amount"] += amount
    queries.replace_payment_days(session, first, last, list(rows.values()))
    return (last - first).days + 1


def _months_of(first: date, last: date) -> set[date]:
    months, month = set(), month_start(first)
    while month <= last:
        months.add(month)
        month = add_month(month)
    return months


def _open_months(session: Session, final_through: date | None, now: datetime) -> list[date]:
    if final_through is not None:
        first = add_month(final_through)
    else:
        started = queries.first_period_start(session)
        if started is None:
            return []
        first = month_start(started)
    return sorted(_months_of(first, now.date()))


def _refresh_month(session: Session, month: date, now: datetime) -> None:
    at = min(month_end_instant(month), now)
    counting = subscription_mrr(queries.period_lines_at(session, at), at)
    queries.replace_snapshot(session, month, [
        {"month": month, "customer_id": s.customer_id, "subscription_id": s.subscription_id, "plan_id": s.plan_id,
         "currency": s.currency, "mrr": s.mrr}
        for s in counting
    ])
    previous = add_month(month, -1)
    before = per_customer(queries.snapshot_totals(session, previous))
    after = per_customer([(s.customer_id, s.currency, s.mrr) for s in counting])
    returning = {key.customer_id for key in after.keys() - before.keys()}
    paid_earlier = {CustomerKey(c, cur) for c, cur in queries.paid_before(session, previous, returning)}
    moved = movements(before, after, paid_earlier)

    trials: dict[str, list[bool]] = defaultdict(list)
    month_began = datetime(month.year, month.month, 1, tzinfo=UTC)
    for currency, converted in queries.trials_ended(session, month_began, at):
        trials[currency].append(converted)

    queries.replace_months(session, month, [
        MrrMonth(
            month=month, currency=currency, as_of=at,
            start_mrr=m.start_mrr, start_subscribers=m.start_subscribers, mrr=m.mrr, subscribers=m.subscribers,
            new_mrr=m.new, expansion_mrr=m.expansion, contraction_mrr=m.contraction, churned_mrr=m.churn,
            reactivation_mrr=m.reactivation, new_customers=m.new_customers,
            churned_customers=m.churned_customers, reactivated_customers=m.reactivated_customers,
            trials_ended=len(trials[currency]), trials_converted=sum(trials[currency]),
        )
        for currency in sorted(moved.keys() | trials.keys())
        for m in [moved.get(currency, Movements())]
    ])
