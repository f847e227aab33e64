"""The pure rules of MRR: which period invoice counts at an instant, what it is worth per month,
and how two month ends compare (movements). Definitions in billing/analytics/__init__.py."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from billing_portal.billing.money import round_half_up


@dataclass(frozen=True)
class PeriodLine:
    """A recurring line of a subscription's period invoice, with what the rules need to know."""

    invoice_id: int
    subscription_id: int
    customer_id: int
    plan_id: int | None
    currency: str
    invoice_paid: bool  # else open
    first_invoice: bool  # the first payment of the subscription (after a trial, too)
    period_start: datetime
    period_end: datetime
    net_amount: int  # without tax
    canceled_at: datetime | None
    paused_at: datetime | None


@dataclass(frozen=True)
class SubscriptionMrr:
    subscription_id: int
    customer_id: int
    plan_id: int | None
    currency: str
    mrr: int


@dataclass
class Movements:
    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0  # positive: MRR lost
    reactivation: int = 0
    new_customers: int = 0
    churned_customers: int = 0
    reactivated_customers: int = 0
    start_mrr: int = 0
    start_subscribers: int = 0
    mrr: int = 0
    subscribers: int = 0


@dataclass(frozen=True)
class CustomerKey:
    customer_id: int
    currency: str


def months_between(start: datetime, end: datetime) -> int:
    """Calendar months a period spans (31 Jan → 28 Feb is one: periods clamp to month ends)."""
    return max(1, (end.year - start.year) * 12 + end.month - start.month)


def month_start(day: date | datetime) -> date:
    return date(day.year, day.month, 1)


def add_month(month: date, months: int = 1) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return date(year, index + 1, 1)


def month_end_instant(month: date) -> datetime:
    """The last instant of the month (UTC): what "MRR at the end of the month" is measured at."""
    following = add_month(month)
    return datetime(following.year, following.month, 1, tzinfo=UTC) - timedelta(microseconds=1)


def subscription_mrr(lines: list[PeriodLine], at: datetime) -> list[SubscriptionMrr]:
    """The MRR of each subscription counting at `at`, from the period lines running then."""
    by_invoice: dict[int, list[PeriodLine]] = defaultdict(list)
    for line in lines:
        if line.period_start <= at < line.period_end:
            by_invoice[line.invoice_id].append(line)
    latest: dict[int, list[PeriodLine]] = {}
    for invoice_id in sorted(by_invoice):  # a later period invoice of the same subscription wins
        first = by_invoice[invoice_id][0]
        latest[first.subscription_id] = by_invoice[invoice_id]
    result = []
    for subscription_id, invoice_lines in sorted(latest.items()):
        head = invoice_lines[0]
        if head.canceled_at is not None and head.canceled_at <= at:
            continue
        if head.paused_at is not None and head.paused_at <= at:
            continue
        if head.first_invoice and not head.invoice_paid:
            continue  # incomplete, or a trial that has not converted: not a paying customer yet
        net = sum(line.net_amount for line in invoice_lines)
        mrr = round_half_up(Fraction(net, months_between(head.period_start, head.period_end)))
        if mrr > 0:
            result.append(SubscriptionMrr(subscription_id, head.customer_id, head.plan_id, head.currency, mrr))
    return result


def per_customer(rows: list[tuple[int, str, int]]) -> dict[CustomerKey, int]:
    """(customer_id, currency, mrr) rows summed per customer and currency."""
    totals: dict[CustomerKey, int] = defaultdict(int)
    for customer_id, currency, mrr in rows:
        totals[CustomerKey(customer_id, currency)] += mrr
    return {key: value for key, value in totals.items() if value > 0}


def movements(
    before: dict[CustomerKey, int], after: dict[CustomerKey, int], paid_earlier: set[CustomerKey]
) -> dict[str, Movements]:
    """Per currency: how MRR moved from one month end (`before`) to the next (`after`).

    `paid_earlier` names the customers with MRR at some month end before `before`: coming back
    from zero is a reactivation for them and new for everyone else.
    """
    result: dict[str, Movements] = defaultdict(Movements)
    for key in before.keys() | after.keys():
        old, new = before.get(key, 0), after.get(key, 0)
        m = result[key.currency]
        if old:
            m.start_mrr += old
            m.start_subscribers += 1
        if new:
            m.mrr += new
            m.subscribers += 1
        if not old and new:
            if key in paid_earlier:
                m.reactivation += new
                m.reactivated_customers += 1
            else:
                m.new += new
                m.new_customers += 1
        elif old and not new:
            m.churn += old
            m.churned_customers += 1
        elif new > old:
            m.expansion += new - old
        elif new < old:
            m.contraction += old - new
    return dict(result)


def percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator in percent, two decimals rounded half up; None when nothing to divide."""
    if denominator <= 0:
        return None
    hundredths = round_half_up(Fraction(numerator * 10_000, denominator))
    return Decimal(hundredths).scaleb(-2)


def above(numerator: int, denominator: int, threshold_percent: Decimal) -> bool:
    """numerator / denominator > threshold %, compared exactly (no rounding at the edge)."""
    return denominator > 0 and Fraction(numerator * 100, denominator) > Fraction(threshold_percent)


def below(numerator: int, denominator: int, threshold_percent: Decimal) -> bool:
    """numerator / denominator < threshold %, compared exactly."""
    return denominator > 0 and Fraction(numerator * 100, denominator) < Fraction(threshold_percent)
