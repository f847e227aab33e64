"""Revenue alerts: a month's payment failure rate above ALERT_PAYMENT_FAILURE_RATE, its success rate
below ALERT_PAYMENT_SUCCESS_RATE, or its logo churn above ALERT_CHURN_RATE (percent, settings).

Raised by the rollup job once per kind, currency and month (a unique key), kept until an admin
acknowledges them; acknowledging is written to the audit log.

The nightly reconciliation job raises the same kind of alert ("reconciliation") when our books and
Stripe's differ: once per day it runs (its `month` column holds that day), no currency, the
number of discrepancies as its value, pointing the admin at /admin/reconciliation.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from billing_portal.billing import audit, outgoing_webhooks
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.analytics import queries
from billing_portal.billing.analytics.mrr import above, add_month, below, percent
from billing_portal.billing.errors import NotFound
from billing_portal.models import AnalyticsAlert
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

FAILURE, SUCCESS, CHURN = "payment_failure_rate", "payment_success_rate", "churn_rate"
RECONCILIATION = "reconciliation"
RECONCILIATION_ROUTE = "/admin/reconciliation"


def check_month(session: Session, month: date, now: datetime) -> int:
    """Raise the alerts `month` deserves (month to date while it runs); returns how many are new."""
    settings = get_settings()
    attempts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # succeeded, failed, canceled
    last_day = add_month(month) - timedelta(days=1)
    for row in queries.payment_totals_between(session, month, last_day):
        counts = attempts[row.currency]
        counts[0] += row.succeeded_count
        counts[1] += row.failed_count
        counts[2] += row.canceled_count
    found: list[tuple[str, str, int, int, Decimal, str]] = []
    for currency, (succeeded, failed, canceled) in sorted(attempts.items()):
        total = succeeded + failed + canceled
        if above(failed, total, settings.alert_payment_failure_rate):
            found.append((FAILURE, currency, failed, total, settings.alert_payment_failure_rate,
                          f"{failed} of {total} {currency} payments failed in {month:%B %Y}"))
        if below(succeeded, total, settings.alert_payment_success_rate):
            found.append((SUCCESS, currency, succeeded, total, settings.alert_payment_success_rate,
                          f"Only {succeeded} of {total} {currency} payments succeeded in {month:%B %Y}"))
    for row in queries.months_between(session, month, month):
        if above(row.churned_customers, row.start_subscribers, settings.alert_churn_rate):
            found.append((CHURN, row.currency, row.churned_customers, row.start_subscribers, settings.alert_churn_rate,
                          f"{row.churned_customers} of {row.start_subscribers} {row.currency} subscribers "
                          f"churned in {month:%B %Y}"))
    raised = 0
    for kind, currency, numerator, denominator, threshold, message in found:
        if queries.alert_exists(session, kind, currency, month):
            continue
        _raise(session, AnalyticsAlert(
            kind=kind, currency=currency, month=month, value=percent(numerator, denominator),
            threshold=threshold, message=message, created_at=now,
        ), now)
        raised += 1
    session.flush()
    return raised


def reconciliation_found(session: Session, *, discrepancies: int, first_day: date, last_day: date,
                         now: datetime) -> bool:
    """The nightly reconciliation found differences with Stripe: one alert for the day it ran
    (False when that day has one already)."""
    day = now.date()
    if discrepancies <= 0 or queries.alert_exists(session, RECONCILIATION, "", day):
        return False
    plural = "discrepancy" if discrepancies == 1 else "discrepancies"
    _raise(session, AnalyticsAlert(
        kind=RECONCILIATION, currency="", month=day, value=Decimal(min(discrepancies, 999)), threshold=Decimal(0),
        message=f"{discrepancies} {plural} with Stripe for {first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}: "
                f"review and heal them at {RECONCILIATION_ROUTE}",
        created_at=now,
    ), now)
    return True


def _raise(session: Session, alert: AnalyticsAlert, now: datetime) -> None:
    """Keep the alert, send `alert.raised` and email each admin once (outgoing_webhooks.service)."""
    session.add(alert)
    session.flush()
    outgoing_webhooks.service.alert_raised(session, alert, now=now)


def alerts_page(session: Session, *, open_only: bool = False, limit: int = 50, offset: int = 0) -> Sequence[AnalyticsAlert]:
    return queries.alerts(session, open_only=open_only, limit=limit, offset=offset)


def acknowledge(session: Session, alert_id: int, *, actor: CurrentUser, now: datetime | None = None) -> AnalyticsAlert:
    """An admin has seen the alert. Acknowledging twice changes nothing."""
    if not actor.is_admin:
        raise NotFound("No such alert.")
    now = now or utcnow()
    alert = queries.lock_alert(session, alert_id)
    if alert is None:
        raise NotFound("No such alert.")
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_at, alert.acknowledged_by = now, actor.user_id
    session.add(alert)
    audit.record(session, actor=actor, action="analytics_alert.acknowledge", subject_type="analytics_alert",
                 subject_id=alert.id, before={"acknowledged_at": None},
                 after={"acknowledged_at": now.isoformat(), "kind": alert.kind, "currency": alert.currency,
                        "month": alert.month.isoformat()}, now=now)
    session.flush()
    return alert
