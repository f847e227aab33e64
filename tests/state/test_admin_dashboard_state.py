"""The dashboard and alerts states as an admin: figures per currency, charts, acknowledging."""

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from billing_portal.billing import analytics, payments, subscriptions
from billing_portal.billing.analytics import rollups
from billing_portal.db import session_scope
from billing_portal.models import AnalyticsAlert, AuditEntry, Role
from billing_portal.state.admin_dashboard import AlertsState, DashboardState
from tests.state.test_admin_state import sign_in_as, state_of
from tests.support.builders import make_customer, make_plan


@pytest.fixture
def admin_token(engine):
    return sign_in_as(engine, Role.ADMIN, "root@example.com")


@pytest.fixture
def revenue(engine):
    """One KRW subscriber paying ₩15,000 a month since 5 Jan, one failed USD payment in January."""
    with Session(engine, expire_on_commit=False) as session:
        _, prices = make_plan(session, "starter", tier=1, prices={("KRW", "month", 1): 15000, ("USD", "month", 1): 1200})
        kim = make_customer(session, "kim@example.com", currency="KRW")
        ana = make_customer(session, "ana@example.com")
        started = subscriptions.subscribe(session, customer_id=kim.id, price_id=prices[("KRW", "month", 1)].id,
                                          now=datetime(2026, 1, 5, tzinfo=UTC))
        payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key="k1", succeeded=True,
                                now=datetime(2026, 1, 5, tzinfo=UTC))
        failed = subscriptions.subscribe(session, customer_id=ana.id, price_id=prices[("USD", "month", 1)].id,
                                         now=datetime(2026, 1, 7, tzinfo=UTC))
        payments.record_payment(session, invoice_id=failed.invoice.id, idempotency_key="a1", succeeded=False,
                                now=datetime(2026, 1, 7, tzinfo=UTC))
        rollups.refresh_in(session, datetime(2026, 1, 20, tzinfo=UTC))
        session.commit()


def test_the_dashboard_shows_each_currency_and_its_charts(engine, admin_token, revenue):
    state = state_of(DashboardState, admin_token)
    state.apply_range({"start": "2026-01-01", "end": "2026-01-31"})
    assert state.admin_access == "ok" and state.error == ""
    views = {view.currency: {m.key: m.value for m in view.metrics} for view in state.currencies}
    assert views["KRW"]["mrr"] == "₩15,000" and views["KRW"]["arr"] == "₩180,000"
    assert views["KRW"]["subscribers"] == "1" and views["KRW"]["ltv"] == "—"
    assert views["USD"]["failure_rate"] == "100.00 %" and views["USD"]["mrr"] == "$0.00"
    assert state.chart_currencies == ["KRW", "USD"] and state.chart_currency == "KRW"
    assert [trace["name"] for trace in state.mrr_figure["data"]] == ["MRR", "ARR"]
    assert len(state.currency_figure["data"]) == 2  # one bar group per currency, each on its own axis
    assert state.open_alerts == 2  # USD failure and success rates in January

    state.set_chart_currency("USD")
    assert state.chart_currency == "USD"
    state.apply_range({"start": "2026-02-01", "end": "2026-01-01"})
    assert state.error == "The range ends before it starts."
    state.apply_range({"start": "nope", "end": ""})
    assert state.error == "Pick a start and an end date."


def test_the_figures_say_how_old_they_are_and_refresh_brings_in_a_payment(engine, admin_token, revenue):
    state = state_of(DashboardState, admin_token)
    state.apply_range({"start": "2026-01-01", "end": "2026-01-31"})
    assert state.as_of_label == "Figures as of 20 Jan 2026 00:00 UTC"
    assert state.open_alerts_label == "2 open alerts"
    with Session(engine) as session:  # a second KRW payment lands after the last refresh
        _, prices = make_plan(session, "team", tier=2, prices={("KRW", "month", 1): 30000})
        lee = make_customer(session, "lee@example.com", currency="KRW")
        started = subscriptions.subscribe(session, customer_id=lee.id, price_id=prices[("KRW", "month", 1)].id,
                                          now=datetime(2026, 1, 10, tzinfo=UTC))
        payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key="l1", succeeded=True,
                                now=datetime(2026, 1, 10, tzinfo=UTC))
        session.commit()
    state.apply_range({"start": "2026-01-01", "end": "2026-01-31"})
    assert {m.key: m.value for m in state.currencies[0].metrics}["revenue"] == "₩15,000"  # not yet in the rollups
    state.refresh_now()
    assert state.error == ""
    assert {m.key: m.value for m in state.currencies[0].metrics}["revenue"] == "₩45,000"
    assert state.as_of_label.startswith("Figures as of ") and "20 Jan 2026" not in state.as_of_label


def test_acknowledging_from_the_alerts_page_is_audited(engine, admin_token, revenue):
    state = state_of(AlertsState, admin_token)
    state.on_load()
    assert [row.kind_label for row in state.rows] == ["Payment success rate", "Payment failure rate"]
    state.acknowledge(state.rows[0].id)
    assert state.notice.startswith("Acknowledged:") and len(state.rows) == 1
    state.set_show_all(True)
    assert len(state.rows) == 2 and state.rows[0].acknowledged_label != ""
    state.acknowledge("x")
    assert state.error == "No such alert."
    with session_scope() as session:
        actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.subject_type == "analytics_alert"))]
        assert actions == ["analytics_alert.acknowledge"]
        assert analytics.dashboard(session, start=datetime(2026, 1, 1).date(), end=datetime(2026, 1, 31).date()).open_alerts == 1
        assert session.exec(select(AnalyticsAlert).where(AnalyticsAlert.acknowledged_at.is_not(None))).one().acknowledged_by


def test_a_reconciliation_alert_is_listed_with_the_way_to_the_reconciliation_page(engine, admin_token):
    night = datetime(2026, 3, 2, 3, tzinfo=UTC)
    with session_scope() as session:
        analytics.reconciliation_found(session, discrepancies=3, first_day=night.date().replace(day=1),
                                       last_day=night.date(), now=night)
    state = state_of(AlertsState, admin_token)
    state.on_load()
    [row] = state.rows
    assert (row.kind_label, row.currency, row.month_label, row.value, row.threshold, row.link) == (
        "Reconciliation", "", "02 March 2026", "3 found", "", "/admin/reconciliation")
    assert row.message == ("3 discrepancies with Stripe for 2026-03-01 to 2026-03-02: "
                           "review and heal them at /admin/reconciliation")
