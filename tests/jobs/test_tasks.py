"""Jobs find their work in the database and do it once, however many runners run them."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from billing_portal.billing import payments, subscriptions
from billing_portal.jobs import runner, tasks
from billing_portal.models import Invoice, Subscription
from tests.support.builders import T0, make_customer, make_plan


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
    barrier = threading.Barrier(4)
    results = []

    def run():
        barrier.wait()
        results.append(tasks.renew_due_subscriptions(now))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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
    assert runner.run_once(now, only={"revenue-rollups"}) == {"revenue-rollups": 1}  # the running month only
