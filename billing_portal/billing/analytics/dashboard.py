"""What the admin dashboard shows for a date range, read from the rollups only (a few rows per
month and per day), per currency. Definitions in billing/analytics/__init__.py."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from sqlmodel import Session

from billing_portal.billing.analytics import queries
from billing_portal.billing.analytics.mrr import month_start, percent
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import round_half_up

MAX_RANGE_DAYS = 366 * 5
ONE_OFF = "One-off"


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    as_of: datetime | None  # when the MRR was measured (the running month: the last job run)
    mrr: int
    arr: int
    subscribers: int
    arpu: int | None
    logo_churn: Decimal | None  # percent per month
    revenue_churn: Decimal | None  # percent per month
    ltv: int | None
    trials_ended: int
    trial_conversion: Decimal | None  # percent
    payments_succeeded: int
    payments_failed: int
    payments_canceled: int
    success_rate: Decimal | None  # percent
    failure_rate: Decimal | None  # percent
    payments_amount: int
    refunds_count: int
    refunds_amount: int
    revenue: int  # payments − refunds


@dataclass(frozen=True)
class MonthPoint:
    month: date
    currency: str
    mrr: int
    arr: int
    subscribers: int
    new: int
    expansion: int
    contraction: int
    churn: int
    reactivation: int


@dataclass(frozen=True)
class PlanRevenue:
    currency: str
    plan: str
    revenue: int


@dataclass(frozen=True)
class Dashboard:
    start: date
    end: date
    currencies: tuple[CurrencyFigures, ...]
    months: tuple[MonthPoint, ...]
    by_plan: tuple[PlanRevenue, ...]
    open_alerts: int


def dashboard(session: Session, *, start: date, end: date) -> Dashboard:
    """Figures for the days start..end (both included); MRR is the one at the end of the range."""
    if end < start:
        raise DomainError("The range ends before it starts.")
    if (end - start).days > MAX_RANGE_DAYS:
        raise DomainError("Pick a range of at most five years.")
    first_month, last_month = month_start(start), month_start(end)
    months = queries.months_between(session, first_month, last_month)
    latest = {row.currency: row for row in queries.latest_months_up_to(session, last_month)}
    days = queries.payment_totals_between(session, start, end)

    pooled: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in months:
        p = pooled[row.currency]
        for name in ("start_subscribers", "churned_customers", "start_mrr", "churned_mrr", "contraction_mrr",
                     "trials_ended", "trials_converted"):
            p[name] += getattr(row, name)
    paid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    plan_revenue: dict[tuple[str, int | None], int] = defaultdict(int)
    for row in days:
        p = paid[row.currency]
        for name in ("succeeded_count", "failed_count", "canceled_count", "succeeded_amount", "refund_count",
                     "refund_amount"):
            p[name] += getattr(row, name)
        plan_revenue[(row.currency, row.plan_id)] += row.succeeded_amount - row.refund_amount

    figures = []
    for currency in sorted(set(latest) | set(pooled) | set(paid)):
        last = latest.get(currency)
        mrr, subscribers = (last.mrr, last.subscribers) if last else (0, 0)
        p, q = pooled[currency], paid[currency]
        arpu = round_half_up(Fraction(mrr, subscribers)) if subscribers else None
        lost = p["churned_mrr"] + p["contraction_mrr"]
        ltv = round_half_up(Fraction(arpu) * p["start_mrr"] / lost) if arpu is not None and lost else None
        attempts = q["succeeded_count"] + q["failed_count"] + q["canceled_count"]
        figures.append(CurrencyFigures(
            currency=currency, as_of=last.as_of if last else None, mrr=mrr, arr=12 * mrr, subscribers=subscribers,
            arpu=arpu, logo_churn=percent(p["churned_customers"], p["start_subscribers"]),
            revenue_churn=percent(lost, p["start_mrr"]), ltv=ltv, trials_ended=p["trials_ended"],
            trial_conversion=percent(p["trials_converted"], p["trials_ended"]),
            payments_succeeded=q["succeeded_count"], payments_failed=q["failed_count"],
            payments_canceled=q["canceled_count"], success_rate=percent(q["succeeded_count"], attempts),
            failure_rate=percent(q["failed_count"], attempts), payments_amount=q["succeeded_amount"],
            refunds_count=q["refund_count"], refunds_amount=q["refund_amount"],
            revenue=q["succeeded_amount"] - q["refund_amount"],
        ))

    names = queries.plan_names(session, {plan_id for _, plan_id in plan_revenue if plan_id is not None})
    by_plan = sorted(
        (PlanRevenue(currency, names.get(plan_id, ONE_OFF) if plan_id else ONE_OFF, amount)
         for (currency, plan_id), amount in plan_revenue.items()),
        key=lambda r: (r.currency, -r.revenue, r.plan),
    )
    points = tuple(
        MonthPoint(month=row.month, currency=row.currency, mrr=row.mrr, arr=12 * row.mrr, subscribers=row.subscribers,
                   new=row.new_mrr, expansion=row.expansion_mrr, contraction=row.contraction_mrr,
                   churn=row.churned_mrr, reactivation=row.reactivation_mrr)
        for row in months
    )
    return Dashboard(start=start, end=end, currencies=tuple(figures), months=points, by_plan=tuple(by_plan),
                     open_alerts=queries.open_alert_count(session))
