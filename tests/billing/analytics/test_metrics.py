"""Every revenue metric against a small history worked out by hand, built through the services.

The history (2026, all at 12:00 UTC; plan Basic: USD 10.00/month, 27.00/quarter, 120.00/year and
KRW 15,000/month; plan Team: USD 50.00/month with a 14-day trial). No tax.

  A  Basic monthly × 2   10 Jan, paid; renewed 10 Feb, paid; 24 Feb (half of its period)
     goes to × 3: proration invoice 5.00 (−10.00 + 15.00), paid; renewed 10 Mar at 30.00, paid.
  B  Basic quarterly     15 Jan, paid 27.00 (9.00 a month); 7.00 of it refunded 12 Mar.
  C  Basic yearly        20 Jan, paid 120.00 (10.00 a month); paused 5 Mar.
  D  Basic KRW monthly   5 Jan, paid ₩15,000; renewal 5 Feb fails (past_due); canceled 25 Feb
                         (its open invoice voided); subscribes again 20 Mar, paid.
  E  Team trial          25 Jan → trial ends 8 Feb, first invoice 50.00 paid; on 1 Mar schedules
                         Basic monthly, which applies at its renewal on 8 Mar: 10.00, paid.
  F  Team trial          1 Feb → ends 15 Feb; the invoice's payment fails: never converts.
  G  Basic monthly       12 Jan, paid; renewed 12 Feb, paid; canceled now 20 Feb.
  H  Basic monthly       3 Mar, paid.

The rollups are refreshed at 00:00 on 1 Feb, 1 Mar and 1 Apr, as the job would.

MRR at month ends (USD): Jan A 20 + B 9 + C 10 + G 10 = 49.00; Feb A 20 + B 9 + C 10 + E 50 = 89.00
(G churned; A's upgrade shows from its next period invoice); Mar A 30 + B 9 + E 10 + H 10 = 59.00
(C paused). KRW: Jan 15,000; Feb 0 (D canceled, past_due until then); Mar 15,000 (D back).
"""

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from billing_portal.billing import accounts, analytics, payments, repository, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.analytics import alerts, rollups
from billing_portal.billing.analytics.alerts import CHURN, FAILURE, SUCCESS
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import AnalyticsAlert, AuditEntry, MrrMonth, MrrSnapshot, Payment, PaymentDay, PaymentStatus
from billing_portal.settings import get_settings
from tests.support.builders import make_customer, make_plan

JAN, FEB, MAR, APR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)
USD_M, USD_Q, USD_Y, KRW_M = ("USD", "month", 1), ("USD", "month", 3), ("USD", "year", 1), ("KRW", "month", 1)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def pay(session, invoice, now, *, succeeded=True):
    return payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=f"invoice:{invoice.id}:{now.isoformat()}",
        succeeded=succeeded, now=now,
    )


def start(session, customer, price, now, *, quantity=1, paid=True):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, quantity=quantity, now=now)
    if subscribed.invoice is not None and paid:
        pay(session, subscribed.invoice, now)
    return subscribed.subscription


def renew(session, subscription, now, *, succeeded=True):
    invoice = subscriptions.renew(session, subscription.id, now=now)
    assert invoice is not None
    return pay(session, invoice, now, succeeded=succeeded)


@pytest.fixture
def history(session):
    _, basic = make_plan(session, "basic", tier=1, prices={USD_M: 1000, USD_Q: 2700, USD_Y: 12000, KRW_M: 15000})
    team_plan, team = make_plan(session, "team", tier=2, prices={USD_M: 5000}, trial_days=14)
    c = SimpleNamespace(**{name: make_customer(session, f"{name.lower()}@example.com", currency="USD")
                           for name in "ABCDEFGH"})
    refreshes = []

    def refresh(now):
        refreshes.append(rollups.refresh_in(session, now))

    d_first = start(session, c.D, basic[KRW_M], at(1, 5))
    a = start(session, c.A, basic[USD_M], at(1, 10), quantity=2)
    g = start(session, c.G, basic[USD_M], at(1, 12))
    b = start(session, c.B, basic[USD_Q], at(1, 15))
    start(session, c.C, basic[USD_Y], at(1, 20))
    e = start(session, c.E, team[USD_M], at(1, 25))
    refresh(at(2, 1, 0))

    f = start(session, c.F, team[USD_M], at(2, 1))
    renew(session, d_first, at(2, 5), succeeded=False)
    renew(session, e, at(2, 8))  # the trial converts
    renew(session, a, at(2, 10))
    renew(session, g, at(2, 12))
    renew(session, f, at(2, 15), succeeded=False)  # the trial does not convert
    subscriptions.cancel(session, g.id, at_period_end=False, reason="", now=at(2, 20))
    upgrade = subscriptions.change(session, a.id, price_id=basic[USD_M].id, quantity=3, now=at(2, 24))
    assert upgrade.invoice.total == 500
    pay(session, upgrade.invoice, at(2, 24))
    subscriptions.cancel(session, d_first.id, at_period_end=False, reason="", now=at(2, 25))
    refresh(at(3, 1, 0))

    subscriptions.change(session, e.id, price_id=basic[USD_M].id, quantity=1, now=at(3, 1))  # at renewal
    start(session, c.H, basic[USD_M], at(3, 3))
    subscriptions.pause(session, c_subscription(session, c.C).id, now=at(3, 5))
    renew(session, e, at(3, 8))
    renew(session, a, at(3, 10))
    b_payment = session.exec(select(Payment).where(Payment.customer_id == c.B.id)).one()
    payments.record_refund(session, payment_id=b_payment.id, amount=700, reason="goodwill", now=at(3, 12))
    start(session, c.D, basic[KRW_M], at(3, 20))
    refresh(at(4, 1, 0))
    return SimpleNamespace(customers=c, basic=basic, team_plan=team_plan, refreshes=refreshes, b=b)


def c_subscription(session, customer):
    return repository.live_subscription(session, customer.id)


def month_rows(session) -> dict[tuple[date, str], dict]:
    rows = session.exec(select(MrrMonth)).all()
    return {(r.month, r.currency): {k: v for k, v in r.model_dump().items() if k not in ("id", "month", "currency", "as_of")}
            for r in rows}


def movement(**values):
    base = dict(start_mrr=0, start_subscribers=0, mrr=0, subscribers=0, new_mrr=0, expansion_mrr=0,
                contraction_mrr=0, churned_mrr=0, reactivation_mrr=0, new_customers=0, churned_customers=0,
                reactivated_customers=0, trials_ended=0, trials_converted=0)
    return base | values


def test_mrr_and_its_movements_month_by_month(session, history):
    closed = {key: row for key, row in month_rows(session).items() if key[0] < APR}
    assert closed == {
        (JAN, "USD"): movement(mrr=4900, subscribers=4, new_mrr=4900, new_customers=4),
        (JAN, "KRW"): movement(mrr=15000, subscribers=1, new_mrr=15000, new_customers=1),
        (FEB, "USD"): movement(start_mrr=4900, start_subscribers=4, mrr=8900, subscribers=4, new_mrr=5000,
                               new_customers=1, churned_mrr=1000, churned_customers=1, trials_ended=2,
                               trials_converted=1),
        (FEB, "KRW"): movement(start_mrr=15000, start_subscribers=1, churned_mrr=15000, churned_customers=1),
        (MAR, "USD"): movement(start_mrr=8900, start_subscribers=4, mrr=5900, subscribers=4, new_mrr=1000,
                               new_customers=1, expansion_mrr=1000, contraction_mrr=4000, churned_mrr=1000,
                               churned_customers=1),
        (MAR, "KRW"): movement(mrr=15000, subscribers=1, reactivation_mrr=15000, reactivated_customers=1),
    }
    # Each month: start + new + reactivation + expansion − contraction − churn = end.
    for row in month_rows(session).values():
        assert row["start_mrr"] + row["new_mrr"] + row["reactivation_mrr"] + row["expansion_mrr"] \
            - row["contraction_mrr"] - row["churned_mrr"] == row["mrr"]


def test_snapshots_hold_each_paying_subscription_normalised(session, history):
    c = history.customers
    march = {(s.customer_id, s.currency): s.mrr for s in session.exec(select(MrrSnapshot).where(MrrSnapshot.month == MAR))}
    assert march == {(c.A.id, "USD"): 3000, (c.B.id, "USD"): 900, (c.E.id, "USD"): 1000, (c.H.id, "USD"): 1000,
                     (c.D.id, "KRW"): 15000}
    january = {(s.customer_id, s.currency): s.mrr for s in session.exec(select(MrrSnapshot).where(MrrSnapshot.month == JAN))}
    # B's quarter counts 27.00 / 3, C's year 120.00 / 12; E is trialing, so absent.
    assert january == {(c.A.id, "USD"): 2000, (c.B.id, "USD"): 900, (c.C.id, "USD"): 1000, (c.G.id, "USD"): 1000,
                       (c.D.id, "KRW"): 15000}


def test_payment_days_per_currency_and_plan(session, history):
    rows = session.exec(select(PaymentDay).order_by(PaymentDay.day, PaymentDay.currency)).all()
    summary = {(r.day.isoformat(), r.currency, r.plan_id): (r.succeeded_count, r.succeeded_amount, r.failed_count,
                                                            r.refund_count, r.refund_amount) for r in rows}
    basic, team = history.basic[USD_M].plan_id, history.team_plan.id
    assert summary == {
        ("2026-01-05", "KRW", basic): (1, 15000, 0, 0, 0),
        ("2026-01-10", "USD", basic): (1, 2000, 0, 0, 0),
        ("2026-01-12", "USD", basic): (1, 1000, 0, 0, 0),
        ("2026-01-15", "USD", basic): (1, 2700, 0, 0, 0),
        ("2026-01-20", "USD", basic): (1, 12000, 0, 0, 0),
        ("2026-02-05", "KRW", basic): (0, 0, 1, 0, 0),
        ("2026-02-08", "USD", team): (1, 5000, 0, 0, 0),  # rolled up while E was on Team
        ("2026-02-10", "USD", basic): (1, 2000, 0, 0, 0),
        ("2026-02-12", "USD", basic): (1, 1000, 0, 0, 0),
        ("2026-02-15", "USD", team): (0, 0, 1, 0, 0),
        ("2026-02-24", "USD", basic): (1, 500, 0, 0, 0),
        ("2026-03-03", "USD", basic): (1, 1000, 0, 0, 0),
        ("2026-03-08", "USD", basic): (1, 1000, 0, 0, 0),
        ("2026-03-10", "USD", basic): (1, 3000, 0, 0, 0),
        ("2026-03-12", "USD", basic): (0, 0, 0, 1, 700),
        ("2026-03-20", "KRW", basic): (1, 15000, 0, 0, 0),
    }


def test_dashboard_figures_for_the_quarter(session, history):
    board = analytics.dashboard(session, start=JAN, end=date(2026, 3, 31))
    figures = {f.currency: asdict(f) for f in board.currencies}
    usd, krw = figures["USD"], figures["KRW"]
    assert usd | {"as_of": None} == {
        "currency": "USD", "as_of": None, "mrr": 5900, "arr": 70800, "subscribers": 4, "arpu": 1475,
        # churned 0 + 1 + 1 customers of 0 + 4 + 4 at the months' starts
        "logo_churn": Decimal("25.00"),
        # (churn + contraction) (1000) + (1000 + 4000) of start MRR 4900 + 8900 = 6000 / 13800
        "revenue_churn": Decimal("43.48"),
        # ARPU / revenue churn = 1475 × 13800 / 6000 = 3392.5
        "ltv": 3393,
        "trials_ended": 2, "trial_conversion": Decimal("50.00"),
        "payments_succeeded": 11, "payments_failed": 1, "payments_canceled": 0,
        "success_rate": Decimal("91.67"), "failure_rate": Decimal("8.33"),
        "payments_amount": 17700 + 8500 + 5000, "refunds_count": 1, "refunds_amount": 700, "revenue": 30500,
    }
    assert usd["as_of"] == datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert krw | {"as_of": None} == {
        "currency": "KRW", "as_of": None, "mrr": 15000, "arr": 180000, "subscribers": 1, "arpu": 15000,
        "logo_churn": Decimal("100.00"), "revenue_churn": Decimal("100.00"), "ltv": 15000,
        "trials_ended": 0, "trial_conversion": None,
        "payments_succeeded": 2, "payments_failed": 1, "payments_canceled": 0,
        "success_rate": Decimal("66.67"), "failure_rate": Decimal("33.33"),
        "payments_amount": 30000, "refunds_count": 0, "refunds_amount": 0, "revenue": 30000,
    }
    # Revenue by plan, each currency on its own.
    assert [(r.currency, r.plan, r.revenue) for r in board.by_plan] == [
        ("KRW", "Basic", 30000), ("USD", "Basic", 25500), ("USD", "Team", 5000),
    ]
    assert [(p.month, p.currency, p.mrr, p.arr) for p in board.months if p.currency == "USD"] == [
        (JAN, "USD", 4900, 58800), (FEB, "USD", 8900, 106800), (MAR, "USD", 5900, 70800),
    ]


def test_a_range_inside_one_month(session, history):
    board = analytics.dashboard(session, start=date(2026, 2, 1), end=date(2026, 2, 28))
    usd = next(f for f in board.currencies if f.currency == "USD")
    assert (usd.mrr, usd.subscribers, usd.logo_churn, usd.revenue_churn) == (8900, 4, Decimal("25.00"), Decimal("20.41"))
    assert (usd.payments_succeeded, usd.payments_failed, usd.failure_rate) == (4, 1, Decimal("20.00"))
    assert usd.ltv == 10903  # ARPU 8900 / 4 = 2225; 2225 / (1000 / 4900) = 10902.5


def test_alerts_are_raised_once_per_kind_currency_and_month(session, history):
    raised = {(a.kind, a.currency, a.month, a.value) for a in session.exec(select(AnalyticsAlert))}
    assert raised == {
        (FAILURE, "USD", FEB, Decimal("20.0000")), (SUCCESS, "USD", FEB, Decimal("80.0000")),
        (CHURN, "USD", FEB, Decimal("25.0000")), (FAILURE, "KRW", FEB, Decimal("100.0000")),
        (SUCCESS, "KRW", FEB, Decimal("0.0000")), (CHURN, "KRW", FEB, Decimal("100.0000")),
        (CHURN, "USD", MAR, Decimal("25.0000")),
    }
    rollups.refresh_in(session, at(4, 1, 1))
    assert len(session.exec(select(AnalyticsAlert)).all()) == 7


def test_thresholds_come_from_settings(session, history, monkeypatch):
    monkeypatch.setenv("ALERT_CHURN_RATE", "30")
    get_settings.cache_clear()
    for alert in session.exec(select(AnalyticsAlert)).all():
        session.delete(alert)
    session.flush()
    alerts.check_month(session, MAR, at(4, 1))
    assert session.exec(select(AnalyticsAlert)).all() == []  # 25 % is under 30 %


def test_acknowledging_an_alert_is_audited_and_admin_only(session, history):
    alert = session.exec(select(AnalyticsAlert).order_by(AnalyticsAlert.id)).first()
    customer = history.customers.A
    as_customer = CurrentUser(user_id=customer.user_id, email="a@example.com", role="customer",
                              customer_id=customer.id, name="A", currency="USD", locale="en_US")
    with pytest.raises(NotFound):
        analytics.acknowledge(session, alert.id, actor=as_customer)
    admin_user = accounts.create_user(session, email="boss@example.com", password="correct horse battery",
                                      name="Boss", role="admin")
    admin = CurrentUser(user_id=admin_user.id, email=admin_user.email, role="admin", customer_id=None,
                        name="Boss", currency="USD", locale="en_US")
    acknowledged = analytics.acknowledge(session, alert.id, actor=admin, now=at(4, 2))
    assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by) == (at(4, 2), admin_user.id)
    analytics.acknowledge(session, alert.id, actor=admin, now=at(4, 3))  # twice: nothing changes
    entries = session.exec(select(AuditEntry).where(AuditEntry.subject_type == "analytics_alert")).all()
    assert [(e.action, e.subject_id, e.actor_label) for e in entries] == [
        ("analytics_alert.acknowledge", str(alert.id), "boss@example.com")
    ]
    assert analytics.dashboard(session, start=JAN, end=date(2026, 3, 31)).open_alerts == 6
    assert [a.id for a in analytics.alerts_page(session, open_only=True)] == sorted(
        (a.id for a in session.exec(select(AnalyticsAlert)) if a.id != alert.id), reverse=True)
    with pytest.raises(NotFound):
        analytics.acknowledge(session, 999_999, actor=admin)


def test_final_months_are_not_recomputed_and_refresh_is_idempotent(session, history):
    before = month_rows(session)
    days = [r.model_dump() for r in session.exec(select(PaymentDay).order_by(PaymentDay.id))]
    again = rollups.refresh_in(session, at(4, 1, 0))
    assert (again.days, again.months) == (0, 1)  # only April, which runs
    assert {k: v for k, v in month_rows(session).items() if k[0] < APR} == {k: v for k, v in before.items() if k[0] < APR}
    assert [r.model_dump() for r in session.exec(select(PaymentDay).order_by(PaymentDay.id))] == days


def test_a_payment_settled_after_a_run_redoes_its_day(session, history):
    c = history.customers
    invoice = subscriptions.renew(session, history.b.id, now=at(4, 15))
    pending = payments.record_intent(session, invoice_id=invoice.id, idempotency_key="pi-b-april", status="pending",
                                     stripe_payment_intent_id="pi_b_april", observed_at=at(4, 15), now=at(4, 15))
    rollups.refresh_in(session, at(4, 15, 13))
    april = lambda: [(r.succeeded_count, r.succeeded_amount) for r in session.exec(  # noqa: E731
        select(PaymentDay).where(PaymentDay.day == date(2026, 4, 15)))]
    assert april() == []  # pending: not an outcome yet
    payments.apply_intent_status(session, pending, status=PaymentStatus.SUCCEEDED, observed_at=at(4, 15, 14),
                                 now=at(4, 15, 14))
    rollups.refresh_in(session, at(4, 15, 15))
    assert april() == [(1, 2700)]
    assert c.B.id == pending.customer_id


def test_an_empty_database_refreshes_to_nothing(session):
    done = rollups.refresh_in(session, at(4, 1))
    assert (done.days, done.months, done.alerts) == (0, 0, 0)
    board = analytics.dashboard(session, start=JAN, end=date(2026, 3, 31))
    assert (board.currencies, board.months, board.by_plan, board.open_alerts) == ((), (), (), 0)


def test_a_backwards_or_huge_range_is_refused(session):
    with pytest.raises(DomainError):
        analytics.dashboard(session, start=FEB, end=JAN)
    with pytest.raises(DomainError):
        analytics.dashboard(session, start=date(2000, 1, 1), end=date(2026, 1, 1))
