"""Every query of the revenue analytics: what the rollup job reads from the billing tables, and
what the dashboard reads from the rollups. Kept beside the analytics (not in billing/repository.py)
because nothing else runs them; each one is backed by an index named in models/."""

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import BigInteger, cast, delete, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from billing_portal.billing.analytics.mrr import PeriodLine
from billing_portal.models import (
    AnalyticsAlert,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    MrrMonth,
    MrrSnapshot,
    Payment,
    PaymentDay,
    PaymentStatus,
    Plan,
    Price,
    Refund,
    RefundStatus,
    RollupCursor,
    Subscription,
)

PERIOD_REASONS = ("subscription_create", "subscription_cycle")
OUTCOMES = (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED)
# A refund moves a payment to these; for the rollups it still succeeded (refunds count apart).
SUCCEEDED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def lock_cursor(session: Session, name: str) -> RollupCursor:
    """The job's cursor, locked so two runners refresh one after the other."""
    while True:
        locked = select(RollupCursor).where(RollupCursor.name == name).with_for_update()
        cursor = session.exec(locked.execution_options(populate_existing=True)).first()
        if cursor is not None:
            return cursor
        try:
            with session.begin_nested():
                session.add(RollupCursor(name=name))
        except IntegrityError:
            continue  # another runner created it first: lock theirs


# ---- payments and refunds, by UTC day


def max_ids(session: Session) -> tuple[int, int]:
    payment = session.exec(select(func.coalesce(func.max(Payment.id), 0))).one()
    refund = session.exec(select(func.coalesce(func.max(Refund.id), 0))).one()
    return payment, refund


def cursor_state(session: Session, name: str) -> RollupCursor | None:
    """The cursor as last committed, without a lock (the cheap "anything new?" check reads it)."""
    return session.get(RollupCursor, name)


def outcome_since(session: Session, *, since: datetime) -> bool:
    """Whether a payment's outcome arrived since `since` (index on updated_at)."""
    return session.exec(
        select(Payment.id).where(Payment.updated_at >= since, Payment.status.in_(OUTCOMES)).limit(1)
    ).first() is not None


def new_payments_span(session: Session, *, after_id: int, up_to_id: int) -> tuple[datetime | None, datetime | None]:
    """When the payments added since the last run were made (first and last)."""
    return session.exec(
        select(func.min(Payment.created_at), func.max(Payment.created_at)).where(
            Payment.id > after_id, Payment.id <= up_to_id
        )
    ).one()


def changed_payment_times(session: Session, *, since: datetime) -> Sequence[datetime]:
    """When payments whose outcome arrived since `since` were made (their day must be redone)."""
    return session.exec(
        select(Payment.created_at)
        .where(Payment.updated_at >= since, Payment.status.in_(OUTCOMES))
        .distinct()
    ).all()


def refund_decision_times(session: Session, *, after_id: int, up_to_id: int, since: datetime | None) -> Sequence[datetime]:
    """When refunds added (or decided) since the last run were decided."""
    new = (Refund.id > after_id) & (Refund.id <= up_to_id)
    condition = new if since is None else or_(new, Refund.decided_at >= since)
    return session.exec(
        select(Refund.decided_at).where(condition, Refund.status == RefundStatus.SUCCEEDED).distinct()
    ).all()


def _utc_day(session: Session, column):
    """The UTC calendar day of a timestamp column, as SQL (the stored values are UTC)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)  # stored as "YYYY-MM-DD HH:MM:SS" in UTC
    return func.date(func.timezone("UTC", column))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def payment_outcomes(session: Session, start: datetime, end: datetime) -> list[tuple]:
    """(day, currency, plan_id, status, count, amount) of the payments made in [start, end)."""
    day = _utc_day(session, Payment.created_at)
    rows = session.exec(
        select(day, Payment.currency, Price.plan_id, Payment.status, func.count(), func.sum(Payment.amount))
        .select_from(Payment)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(Subscription, Subscription.id == Invoice.subscription_id)
        .outerjoin(Price, Price.id == Subscription.price_id)
        .where(Payment.created_at >= start, Payment.created_at < end)
        .group_by(day, Payment.currency, Price.plan_id, Payment.status)
    ).all()
    return [(_as_date(d), *rest) for d, *rest in rows]


def refund_totals(session: Session, start: datetime, end: datetime) -> list[tuple]:
    """(day, currency, plan_id, count, amount) of the refunds that succeeded in [start, end)."""
    day = _utc_day(session, Refund.decided_at)
    rows = session.exec(
        select(day, Refund.currency, Price.plan_id, func.count(), func.sum(Refund.amount))
        .select_from(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(Subscription, Subscription.id == Invoice.subscription_id)
        .outerjoin(Price, Price.id == Subscription.price_id)
        .where(Refund.status == RefundStatus.SUCCEEDED, Refund.decided_at >= start, Refund.decided_at < end)
        .group_by(day, Refund.currency, Price.plan_id)
    ).all()
    return [(_as_date(d), *rest) for d, *rest in rows]


def _insert_all(session: Session, model, rows: list[dict]) -> None:
    """Many rows at once: a first refresh writes about a million, and ORM objects (a validated
    instance each) or executemany (a statement per row) made that take hours on PostgreSQL, so
    there they go through COPY on the session's own connection (same transaction)."""
    if not rows:
        return
    table = model.__table__
    if session.get_bind().dialect.name != "postgresql":
        session.exec(insert(table), params=rows)
        return
    columns = list(rows[0])
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def replace_payment_days(session: Session, first: date, last: date, rows: list[dict]) -> None:
    session.exec(delete(PaymentDay).where(PaymentDay.day >= first, PaymentDay.day <= last))
    _insert_all(session, PaymentDay, rows)


PAYMENT_DAY_COUNTS = ("succeeded_count", "succeeded_amount", "failed_count", "canceled_count", "refund_count",
                      "refund_amount")


def payment_totals_between(session: Session, first: date, last: date) -> Sequence[tuple]:
    """The daily rows of [first, last] summed per currency and plan (a few rows whatever the range):
    named like PaymentDay's columns (currency, plan_id, succeeded_count, ...)."""
    sums = [cast(func.sum(getattr(PaymentDay, name)), BigInteger).label(name) for name in PAYMENT_DAY_COUNTS]
    return session.exec(
        select(PaymentDay.currency, PaymentDay.plan_id, *sums)
        .where(PaymentDay.day >= first, PaymentDay.day <= last)
        .group_by(PaymentDay.currency, PaymentDay.plan_id)
        .order_by(PaymentDay.currency, PaymentDay.plan_id)
    ).all()


# ---- MRR


def first_period_start(session: Session) -> datetime | None:
    return session.exec(
        select(func.min(InvoiceLine.period_start))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.subscription_id.is_not(None), Invoice.billing_reason.in_(PERIOD_REASONS))
    ).one()


def period_lines_at(session: Session, at: datetime) -> list[PeriodLine]:
    """Recurring lines of period invoices (open or paid) whose period runs at `at`.

    Only periods ending after `at` are read (index on period_end): the current ones, not history.
    """
    rows = session.exec(
        select(
            Invoice.id, Invoice.subscription_id, Invoice.customer_id, Price.plan_id, Invoice.currency,
            Invoice.status, Invoice.billing_reason, Subscription.trial_end, Subscription.canceled_at,
            Subscription.paused_at, InvoiceLine.period_start, InvoiceLine.period_end, InvoiceLine.amount,
            InvoiceLine.tax_amount, InvoiceLine.tax_inclusive,
        )
        .select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Subscription, Subscription.id == Invoice.subscription_id)
        .join(Price, Price.id == Subscription.price_id)
        .where(
            InvoiceLine.period_end > at,
            InvoiceLine.period_start <= at,
            InvoiceLine.proration.is_(False),
            Invoice.billing_reason.in_(PERIOD_REASONS),
            Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PAID)),
        )
    ).all()
    return [
        PeriodLine(
            invoice_id=invoice_id, subscription_id=subscription_id, customer_id=customer_id, plan_id=plan_id,
            currency=currency, invoice_paid=status == InvoiceStatus.PAID,
            first_invoice=reason == "subscription_create" or (trial_end is not None and start == trial_end),
            period_start=start, period_end=end, net_amount=amount - tax if inclusive else amount,
            canceled_at=canceled_at, paused_at=paused_at,
        )
        for (invoice_id, subscription_id, customer_id, plan_id, currency, status, reason, trial_end, canceled_at,
             paused_at, start, end, amount, tax, inclusive) in rows
    ]


def replace_snapshot(session: Session, month: date, rows: list[dict]) -> None:
    session.exec(delete(MrrSnapshot).where(MrrSnapshot.month == month))
    _insert_all(session, MrrSnapshot, rows)


def snapshot_totals(session: Session, month: date) -> list[tuple[int, str, int]]:
    """(customer_id, currency, mrr) at the end of `month`."""
    return list(
        session.exec(
            select(MrrSnapshot.customer_id, MrrSnapshot.currency, func.sum(MrrSnapshot.mrr))
            .where(MrrSnapshot.month == month)
            .group_by(MrrSnapshot.customer_id, MrrSnapshot.currency)
        ).all()
    )


def paid_before(session: Session, month: date, customer_ids: set[int]) -> set[tuple[int, str]]:
    """Which of these customers had MRR at some month end before `month`, per currency."""
    if not customer_ids:
        return set()
    return set(
        session.exec(
            select(MrrSnapshot.customer_id, MrrSnapshot.currency)
            .where(MrrSnapshot.customer_id.in_(customer_ids), MrrSnapshot.month < month)
            .distinct()
        ).all()
    )


def trials_ended(session: Session, start: datetime, end: datetime) -> list[tuple[str, bool]]:
    """(currency, converted) of each trial that ended in [start, end]; converted = a paid invoice."""
    paid = (
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.subscription_id == Subscription.id, Invoice.status == InvoiceStatus.PAID)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Price.currency, paid)
        .select_from(Subscription)
        .join(Price, Price.id == Subscription.price_id)
        .where(Subscription.trial_end >= start, Subscription.trial_end <= end)
    ).all()
    return [(currency, count > 0) for currency, count in rows]


def replace_months(session: Session, month: date, rows: list[MrrMonth]) -> None:
    session.exec(delete(MrrMonth).where(MrrMonth.month == month))
    session.add_all(rows)
    session.flush()


def months_between(session: Session, first: date, last: date) -> Sequence[MrrMonth]:
    return session.exec(
        select(MrrMonth).where(MrrMonth.month >= first, MrrMonth.month <= last).order_by(MrrMonth.month, MrrMonth.currency)
    ).all()


def latest_months_up_to(session: Session, last: date) -> Sequence[MrrMonth]:
    """Per currency, its latest month row up to `last` (the MRR a range ending then shows)."""
    latest = (
        select(MrrMonth.currency, func.max(MrrMonth.month).label("month"))
        .where(MrrMonth.month <= last)
        .group_by(MrrMonth.currency)
        .subquery()
    )
    return session.exec(
        select(MrrMonth)
        .join(latest, (MrrMonth.currency == latest.c.currency) & (MrrMonth.month == latest.c.month))
        .order_by(MrrMonth.currency)
    ).all()


def plan_names(session: Session, plan_ids: set[int]) -> dict[int, str]:
    if not plan_ids:
        return {}
    return dict(session.exec(select(Plan.id, Plan.name).where(Plan.id.in_(plan_ids))).all())


def subscribers_by_plan(session: Session, month: date) -> list[tuple[str, int | None, int, int]]:
    """(currency, plan id, subscriptions, MRR) in the latest snapshot month up to `month` (the REST API's stats)."""
    latest = session.exec(select(func.max(MrrSnapshot.month)).where(MrrSnapshot.month <= month)).one()
    if latest is None:
        return []
    return [tuple(row) for row in session.exec(
        select(MrrSnapshot.currency, MrrSnapshot.plan_id, func.count(), func.sum(MrrSnapshot.mrr))
        .where(MrrSnapshot.month == latest)
        .group_by(MrrSnapshot.currency, MrrSnapshot.plan_id)
        .order_by(MrrSnapshot.currency, MrrSnapshot.plan_id)
    ).all()]


# ---- alerts


def alert_exists(session: Session, kind: str, currency: str, month: date) -> bool:
    found = select(AnalyticsAlert.id).where(
        AnalyticsAlert.kind == kind, AnalyticsAlert.currency == currency, AnalyticsAlert.month == month
    )
    return session.exec(found).first() is not None


def alerts(session: Session, *, open_only: bool, limit: int, offset: int = 0) -> Sequence[AnalyticsAlert]:
    query = select(AnalyticsAlert)
    if open_only:
        query = query.where(AnalyticsAlert.acknowledged_at.is_(None))
    return session.exec(
        query.order_by(AnalyticsAlert.created_at.desc(), AnalyticsAlert.id.desc()).limit(limit).offset(offset)
    ).all()


def open_alert_count(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(AnalyticsAlert).where(AnalyticsAlert.acknowledged_at.is_(None))
    ).one()


def lock_alert(session: Session, alert_id: int) -> AnalyticsAlert | None:
    locked = select(AnalyticsAlert).where(AnalyticsAlert.id == alert_id).with_for_update()
    return session.exec(locked.execution_options(populate_existing=True)).first()
