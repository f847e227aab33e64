"""Jobs find their work in the database and do it once, however many runners run them."""

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from billing_portal.billing import analytics, payments, subscriptions
from billing_portal.billing.analytics import rollups
from billing_portal.jobs import runner, tasks
from billing_portal.models import Invoice, Payment, Subscription
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer, make_plan
from tests.support.concurrency import all_at_once


@pytest.fixture
def paid_subscription(session) -> int:
    customer = make_customer(session)
    _, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
    started = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id, now=T0)
    payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key="first", succeeded=True, now=T0)
    session.commit()
    return started.subscription.id


def invoice_count(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Invoice)).one()


def test_renewal_job_catches_up_every_missed_period_once(engine, paid_subscription):
    # Started 31 Jan; periods end 28 Feb, 31 Mar, 30 Apr. At 1 May three renewals are due.
    now = T0 + timedelta(days=90)
    assert tasks.renew_due_subscriptions(now) == 3
    assert tasks.renew_due_subscriptions(now) == 0
    assert invoice_count(engine) == 4
    with Session(engine) as s:
        subscription = s.get(Subscription, paid_subscription)
        assert (subscription.current_period_start.month, subscription.current_period_start.day) == (4, 30)
        assert subscription.current_period_end.day == 31


def test_two_runners_at_once_renew_once(engine, db_url, paid_subscription):
    if db_url.startswith("sqlite"):
        pytest.skip("row locks (SELECT … FOR UPDATE) are PostgreSQL's; SQLite has one writer anyway")
    now = T0 + timedelta(days=90)
    results = all_at_once(4, lambda: tasks.renew_due_subscriptions(now))
    assert sum(results) == 3
    assert invoice_count(engine) == 4


def test_run_once_reports_each_job(engine):
    done = runner.run_once(T0)
    assert set(done) == {job.name for job in runner.JOBS} and done["renewals"] == 0
    assert runner.run_once(T0, only={"nothing"}) == {}


def test_revenue_rollups_job_fills_the_dashboard_tables_and_runs_again_cheaply(engine, paid_subscription):
    from billing_portal.models import MrrMonth, PaymentDay

    now = T0 + timedelta(days=1)  # 1 Feb: January is final, February runs
    assert runner.run_once(now, only={"revenue-rollups"})["revenue-rollups"] > 0
    with Session(engine) as s:
        months = s.exec(select(MrrMonth).order_by(MrrMonth.month))
        assert [(m.month.month, m.currency, m.mrr, m.subscribers) for m in months] == [
            (1, "USD", 1000, 1), (2, "USD", 1000, 1),
        ]
        assert [(d.currency, d.succeeded_amount) for d in s.exec(select(PaymentDay))] == [("USD", 1000)]
    # Nothing new: the tick reads and writes nothing; five minutes on, the running month is measured again.
    assert runner.run_once(now, only={"revenue-rollups"}) == {"revenue-rollups": 0}
    assert runner.run_once(now + rollups.FULL_EVERY, only={"revenue-rollups"}) == {"revenue-rollups": 1}


def test_a_payment_shows_in_the_rollups_at_the_next_tick_not_after_five_minutes(engine, session, paid_subscription):
    from billing_portal.models import PaymentDay

    now = T0 + timedelta(days=1)
    runner.run_once(now, only={"revenue-rollups"})
    customer = make_customer(session, email="second@example.com")
    price_id = session.get(Subscription, paid_subscription).price_id
    started = subscriptions.subscribe(session, customer_id=customer.id, price_id=price_id, now=now)
    session.commit()
    # An unpaid subscription is no payment: it waits for the five-minute refresh.
    assert runner.run_once(now + timedelta(seconds=5), only={"revenue-rollups"}) == {"revenue-rollups": 0}
    # The payment lands a minute later: the next tick (5 s) refreshes its day and the running month.
    landed = now + timedelta(minutes=1)
    payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key="second", succeeded=True, now=landed)
    session.commit()
    assert runner.run_once(landed + timedelta(seconds=5), only={"revenue-rollups"})["revenue-rollups"] >= 2
    with Session(engine) as s:
        days = {(d.day.isoformat(), d.succeeded_amount) for d in s.exec(select(PaymentDay))}
        assert (landed.date().isoformat(), 1000) in days
        assert analytics.as_of(s) == landed + timedelta(seconds=5)


def test_two_runners_at_once_charge_each_renewal_and_retry_once(engine, db_url, session, localstripe_clean, monkeypatch):
    """Runners racing over the renewals and dunning jobs against localstripe (which ignores
    Idempotency-Key, so a second charge would show there): one PaymentIntent per key, one payment
    row for each."""
    if db_url.startswith("sqlite"):
        pytest.skip("row locks (SELECT … FOR UPDATE SKIP LOCKED) are PostgreSQL's")
    from tests.billing.test_dunning import DECLINED_AT_CHARGE, FEB28, VISA, save_default_card
    from tests.gateways.conftest import SECRET_KEY, LocalStripeHelper

    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    _, prices = make_plan(session, "pro", tier=2, prices={("USD", "month", 1): 1500})
    for n in range(6):
        customer = make_customer(session, f"c{n}@example.com")
        save_default_card(session, customer, VISA if n % 2 else DECLINED_AT_CHARGE)
        started = subscriptions.subscribe(session, customer_id=customer.id,
                                          price_id=prices[("USD", "month", 1)].id, now=T0)
        payments.record_payment(session, invoice_id=started.invoice.id, idempotency_key=f"first:{n}",
                                succeeded=True, now=T0)
    session.commit()

    def race(now, runners=4):
        all_at_once(runners, lambda: runner.run_once(now, only={"renewals", "dunning"}))

    race(FEB28)  # renewals: 3 paid, 3 declined
    race(FEB28 + timedelta(days=1))  # first retries of the 3 declined
    race(FEB28 + timedelta(days=1))

    intents = LocalStripeHelper(localstripe_clean.url).get("/v1/payment_intents?limit=100")["data"]
    keys = [intent["metadata"]["idempotency_key"] for intent in intents]
    with Session(engine) as s:
        rows = s.exec(select(Payment).where(Payment.stripe_payment_intent_id.is_not(None))).all()
        invoices = s.exec(select(Invoice).where(Invoice.billing_reason == "subscription_cycle")).all()
    assert len(keys) == len(set(keys)) == 9
    assert sorted(keys) == sorted(p.idempotency_key for p in rows)
    assert sorted(i.collection_attempts for i in invoices) == [1, 1, 1, 2, 2, 2]
    assert sorted(i.status for i in invoices) == ["open"] * 3 + ["paid"] * 3
