"""Metered usage on a real database (SQLite and PostgreSQL): recording with idempotency keys,
package pricing worked out by hand in USD and KRW, the renewal invoice that bills the period
that just closed, trials, archived prices, a plan that ends, and concurrent retries.

Dates: T0 is Sat 31 Jan 2026 12:00 UTC; a monthly subscription runs T0 -> 28 Feb 12:00 -> 31 Mar.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, func, select

from billing_portal.billing import accounts, catalog, payments, repository, subscriptions, usage
from billing_portal.billing.errors import DomainError
from billing_portal.billing.usage import IdempotencyConflict
from billing_portal.models import MeteredPrice, UsageRecord
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer, make_plan

FEB28, MAR31 = datetime(2026, 2, 28, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def plans(session):
    """Basic: $10 / ₩9,999 a month. API calls: $2.50 per 1,000 after 10,000 included;
    ₩1,000 per 1,000 after 5,000 included. Team has a 14-day trial and the same USD meter."""
    basic, basic_prices = make_plan(session, "basic", tier=1, prices={
        ("USD", "month", 1): 1000, ("USD", "year", 1): 15000, ("KRW", "month", 1): 9999,
    })
    team, team_prices = make_plan(session, "team", tier=2, prices={("USD", "month", 1): 5000}, trial_days=14)
    meter = lambda plan, currency, size, amount, included: catalog.create_metered_price(  # noqa: E731
        session, plan_id=plan.id, metric="api_calls", label="API calls", currency=currency,
        package_size=size, package_amount=amount, included_units=included,
    )
    return SimpleNamespace(
        usd=basic_prices[("USD", "month", 1)], usd_year=basic_prices[("USD", "year", 1)], krw=basic_prices[("KRW", "month", 1)], team=team_prices[("USD", "month", 1)],
        api_usd=meter(basic, "USD", 1000, 250, 10_000), api_krw=meter(basic, "KRW", 1000, 1000, 5000),
        team_api=meter(team, "USD", 1000, 250, 0), basic_plan=basic,
    )


def active(session, customer, price, now=T0):
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, now=now)
    payments.record_payment(session, invoice_id=subscribed.invoice.id, idempotency_key=f"pay:{subscribed.invoice.id}",
                            succeeded=True, now=now)
    return subscribed.subscription


def record(session, customer, quantity, key, at, metric="api_calls", now=None):
    return usage.record_usage(session, customer.id, metric, quantity, key, at, now=now or at)


def usage_rows(session) -> int:
    return session.exec(select(func.count()).select_from(UsageRecord)).one()


def lines(session, invoice):
    return [(row.description, row.quantity, row.unit_amount, row.amount, row.tax_amount)
            for row in repository.invoice_lines(session, invoice.id)]


# --- package pricing --------------------------------------------------------------------------


@pytest.mark.parametrize(("used", "packages"), [
    (0, 0), (10_000, 0),  # within the included units: nothing
    (10_001, 1),  # one unit past them starts a package
    (11_000, 1), (11_001, 2),  # a full package, then one more unit
    (11_501, 2),
])
def test_every_started_package_past_the_included_units_is_charged(used, packages):
    price = MeteredPrice(id=1, plan_id=1, metric="api_calls", label="API calls", currency="USD",
                         package_size=1000, package_amount=250, included_units=10_000)
    charge = usage.charge_for(price, used)
    assert (charge.packages, charge.amount) == (packages, packages * 250)


# --- the renewal invoice ----------------------------------------------------------------------


def test_the_renewal_invoice_charges_the_past_periods_usage_in_usd_with_tax(session, plans, monkeypatch):
    monkeypatch.setenv("TAX_RATES", '{"DE": {"rate": "19"}}')
    get_settings.cache_clear()
    customer = make_customer(session, country="DE")
    sub = active(session, customer, plans.usd)
    for quantity, key, when in ((4000, "a", T0 + DAY), (6500, "b", T0 + 10 * DAY), (1001, "c", FEB28 - timedelta(seconds=1))):
        assert not record(session, customer, quantity, key, when).replayed
    # After 28 Feb 12:00 the usage belongs to the next period, even before the renewal has run.
    record(session, customer, 50_000, "next", FEB28 + timedelta(minutes=1))

    invoice = subscriptions.renew(session, sub.id, now=FEB28 + timedelta(minutes=2))
    # 4,000 + 6,500 + 1,001 = 11,501 used; 1,501 past the 10,000 included = 2 started packages of 1,000
    # at $2.50 = $5.00. Tax 19 % exclusive per line: 1000 -> 190, 500 -> 95.
    assert lines(session, invoice) == [
        ("Basic (per month)", 1, 1000, 1000, 190),
        ("API calls: 11,501 used, 10,000 included, per 1,000", 2, 250, 500, 95),
    ]
    usage_line = repository.invoice_lines(session, invoice.id)[1]
    assert (usage_line.period_start, usage_line.period_end) == (T0, FEB28)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1500, 285, 1785)

    # The next renewal bills the 50,000 of the second period: 40 packages = $100.00.
    invoice = subscriptions.renew(session, sub.id, now=MAR31)
    assert lines(session, invoice)[1] == ("API calls: 50,000 used, 10,000 included, per 1,000", 40, 250, 10_000, 1900)
    assert subscriptions.renew(session, sub.id, now=MAR31) is None  # idempotent: nothing more is due


def test_krw_usage_with_inclusive_korean_vat(session, plans, monkeypatch):
    monkeypatch.setenv("TAX_RATES", '{"KR": {"rate": "10", "inclusive": true}}')
    get_settings.cache_clear()
    customer = make_customer(session, "minji@example.kr", country="KR", currency="KRW")
    sub = active(session, customer, plans.krw)
    record(session, customer, 12_345, "batch-1", T0 + DAY)
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    # 12,345 - 5,000 included = 7,345 -> 8 started packages × ₩1,000 = ₩8,000 (KRW has no minor unit).
    # VAT contained per line: round(9,999 × 10/110 = 908.99) = 909; round(8,000 × 10/110 = 727.27) = 727.
    assert lines(session, invoice) == [
        ("Basic (per month)", 1, 9999, 9999, 909),
        ("API calls: 12,345 used, 5,000 included, per 1,000", 8, 1000, 8000, 727),
    ]
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == ("KRW", 16363, 1636, 17999)


def test_usage_within_the_included_units_adds_no_line(session, plans):
    customer = make_customer(session)
    sub = active(session, customer, plans.usd)
    record(session, customer, 10_000, "k", T0 + DAY)
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    assert [row[0] for row in lines(session, invoice)] == ["Basic (per month)"]


def test_usage_in_a_trial_is_recorded_but_not_charged(session, plans):
    customer = make_customer(session)
    sub = subscriptions.subscribe(session, customer_id=customer.id, price_id=plans.team.id, now=T0).subscription
    record(session, customer, 3000, "trial", T0 + DAY)
    summary = usage.summary(session, customer.id)
    assert (summary.trial, summary.amount, summary.metrics[0].used, summary.metrics[0].amount) == (True, 0, 3000, 750)
    invoice = subscriptions.renew(session, sub.id, now=sub.trial_end)
    assert [row[0] for row in lines(session, invoice)] == ["Team (per month)"]


def test_a_plan_ending_at_its_period_end_gets_a_last_invoice_for_its_usage(session, plans):
    customer = make_customer(session)
    sub = active(session, customer, plans.usd)
    record(session, customer, 12_000, "k", T0 + DAY)
    subscriptions.cancel(session, sub.id, at_period_end=True, reason="done", now=T0 + 2 * DAY)
    assert subscriptions.renew(session, sub.id, now=FEB28) is None
    last = repository.invoice_by_key(session, f"usage:{sub.id}:{T0.isoformat()}")
    assert (last.billing_reason, last.status, last.total) == ("subscription_usage", "open", 500)
    assert lines(session, last) == [("API calls: 12,000 used, 10,000 included, per 1,000", 2, 250, 500, 0)]
    assert subscriptions.renew(session, sub.id, now=FEB28) is None  # canceled: nothing more


def test_canceling_now_bills_the_usage_so_far(session, plans):
    customer = make_customer(session)
    sub = active(session, customer, plans.usd)
    record(session, customer, 10_500, "k", T0 + DAY)
    subscriptions.cancel(session, sub.id, at_period_end=False, reason="done", now=T0 + 2 * DAY)
    last = repository.invoice_by_key(session, f"usage:{sub.id}:{T0.isoformat()}")
    assert (last.status, last.total) == ("open", 250)  # 500 past the included: one started package
    line = repository.invoice_lines(session, last.id)[0]
    assert (line.period_start, line.period_end) == (T0, T0 + 2 * DAY)


def test_an_interval_change_bills_the_usage_of_the_period_that_ends_early(session, plans):
    customer = make_customer(session)
    sub = active(session, customer, plans.usd)
    record(session, customer, 12_000, "before", T0 + DAY)
    changed = subscriptions.change(session, sub.id, price_id=plans.usd_year.id, quantity=1, now=T0 + 10 * DAY)
    usage_invoice = repository.invoice_by_key(session, f"usage:{sub.id}:{T0.isoformat()}")
    assert (usage_invoice.total, sub.current_period_start) == (500, T0 + 10 * DAY)
    assert all("API calls" not in row[0] for row in lines(session, changed.invoice))  # billed once
    record(session, customer, 10_001, "after", T0 + 11 * DAY)
    assert usage.summary(session, customer.id).metrics[0].used == 10_001


def test_usage_keeps_the_terms_it_was_recorded_under(session, plans):
    customer = make_customer(session)
    sub = active(session, customer, plans.usd)
    record(session, customer, 11_000, "old", T0 + DAY)  # 1 package at $2.50 under the first price
    catalog.archive_metered_price(session, plans.api_usd.id)
    with pytest.raises(DomainError, match="no metered price for 'api_calls'"):
        record(session, customer, 1, "between", T0 + 2 * DAY)
    newer = catalog.create_metered_price(
        session, plan_id=plans.basic_plan.id, metric="api_calls", label="API requests", currency="USD",
        package_size=500, package_amount=100, included_units=0,
    )
    record(session, customer, 600, "new", T0 + 3 * DAY)  # 2 packages of 500 at $1.00
    summary = usage.summary(session, customer.id)
    assert [(m.label, m.used, m.amount) for m in summary.metrics] == [("API requests", 600, 200)]
    assert [(m.label, m.used, m.amount) for m in summary.earlier] == [("API calls", 11_000, 250)]
    assert summary.amount == 450
    invoice = subscriptions.renew(session, sub.id, now=FEB28)
    assert [row[1:4] for row in lines(session, invoice)] == [(1, 1000, 1000), (1, 250, 250), (2, 100, 200)]
    assert newer.active and not session.get(MeteredPrice, plans.api_usd.id).active


# --- recording --------------------------------------------------------------------------------


def test_the_same_key_returns_the_first_record_and_a_changed_retry_is_a_conflict(session, plans):
    customer = make_customer(session)
    active(session, customer, plans.usd)
    first = record(session, customer, 7, "req-1", T0 + DAY)
    again = record(session, customer, 7, "req-1", T0 + 2 * DAY)  # a retry, later: still the first record
    assert (again.replayed, again.record.id, again.record.recorded_at) == (True, first.record.id, T0 + DAY)
    with pytest.raises(IdempotencyConflict, match="used already for 7 api_calls"):
        record(session, customer, 8, "req-1", T0 + DAY)
    assert usage_rows(session) == 1
    # Keys are the customer's own: another customer may use the same one.
    other = make_customer(session, "bo@example.com")
    active(session, other, plans.usd)
    assert not record(session, other, 8, "req-1", T0 + DAY).replayed
    assert usage_rows(session) == 2


@pytest.mark.parametrize(("quantity", "key", "metric", "at", "message"), [
    (0, "k", "api_calls", T0 + DAY, "whole number from 1 to 1,000,000,000"),
    (-5, "k", "api_calls", T0 + DAY, "whole number"),
    (1.5, "k", "api_calls", T0 + DAY, "whole number"),
    (True, "k", "api_calls", T0 + DAY, "whole number"),
    (1_000_000_001, "k", "api_calls", T0 + DAY, "whole number"),
    (1, "", "api_calls", T0 + DAY, "idempotency key"),
    (1, "has space", "api_calls", T0 + DAY, "idempotency key"),
    (1, "x" * 256, "api_calls", T0 + DAY, "idempotency key"),
    (1, "k", "storage_gb", T0 + DAY, "no metered price for 'storage_gb'"),
    (1, "k", "", T0 + DAY, "Name the metric"),
    (1, "k", "api_calls", datetime(2026, 2, 1, 12), "time zone"),
    (1, "k", "api_calls", T0 - DAY, "before the current billing period"),
])
def test_bad_reports_are_refused_and_change_nothing(session, plans, quantity, key, metric, at, message):
    customer = make_customer(session)
    active(session, customer, plans.usd)
    with pytest.raises(DomainError, match=message):
        usage.record_usage(session, customer.id, metric, quantity, key, at, now=T0 + 2 * DAY)
    assert usage_rows(session) == 0


def test_a_report_from_the_future_is_refused(session, plans):
    customer = make_customer(session)
    active(session, customer, plans.usd)
    with pytest.raises(DomainError, match="in the future"):
        record(session, customer, 1, "k", T0 + DAY + timedelta(minutes=6), now=T0 + DAY)
    record(session, customer, 1, "k", T0 + DAY + timedelta(minutes=4), now=T0 + DAY)  # within clock drift


def test_usage_for_an_invoiced_period_or_without_a_running_subscription_is_refused(session, plans):
    customer = make_customer(session)
    with pytest.raises(DomainError, match="no running subscription"):
        record(session, customer, 1, "none", T0)
    sub = active(session, customer, plans.usd)
    subscriptions.renew(session, sub.id, now=FEB28)
    with pytest.raises(DomainError, match="invoiced already"):
        record(session, customer, 1, "late", FEB28 - DAY, now=FEB28 + DAY)
    subscriptions.pause(session, sub.id, now=FEB28 + DAY)
    with pytest.raises(DomainError, match="no running subscription"):
        record(session, customer, 1, "paused", FEB28 + 2 * DAY)
    assert usage_rows(session) == 0


def test_the_summary_lists_every_meter_of_the_plan_with_what_it_adds(session, plans):
    customer = make_customer(session)
    assert not usage.summary(session, customer.id).has_subscription
    active(session, customer, plans.usd)
    summary = usage.summary(session, customer.id)
    assert (summary.currency, summary.period_start, summary.period_end, summary.amount) == ("USD", T0, FEB28, 0)
    assert [(m.metric, m.used, m.included) for m in summary.metrics] == [("api_calls", 0, 10_000)]
    record(session, customer, 25_000, "k", T0 + DAY)
    charge = usage.summary(session, customer.id).metrics[0]
    assert (charge.used, charge.packages, charge.amount) == (25_000, 15, 3750)


# --- catalog ----------------------------------------------------------------------------------


def test_metered_prices_are_checked_one_active_per_metric_and_never_edited(session, plans):
    create = lambda **over: catalog.create_metered_price(session, **{  # noqa: E731
        "plan_id": plans.basic_plan.id, "metric": "seats_hours", "label": "Seat hours", "currency": "usd",
        "package_size": 1, "package_amount": 5, **over,
    })
    for bad, message in (({"metric": "API Calls"}, "metric name"), ({"label": " "}, "label"),
                         ({"package_size": 0}, "package size"), ({"package_amount": -1}, "package amount"),
                         ({"included_units": 1.0}, "whole number"), ({"currency": "XYZ"}, "currency"),
                         ({"plan_id": 999}, "No such plan")):
        with pytest.raises(DomainError, match=message):
            create(**bad)
    made = create()
    assert (made.currency, made.included_units) == ("USD", 0)
    with pytest.raises(DomainError, match="already has an active USD price for seats_hours"):
        create()
    catalog.archive_metered_price(session, made.id)
    assert create().id != made.id
    assert not hasattr(catalog, "update_metered_price")


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_retries_of_one_key_store_one_record(engine, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has a single writer; concurrent inserts are tested on PostgreSQL")
    with Session(engine, expire_on_commit=False) as session:
        customer = make_customer(session)
        plan, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
        catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls",
                                     currency="USD", package_size=1, package_amount=1)
        active(session, customer, prices[("USD", "month", 1)], now=datetime.now(UTC) - DAY)
        session.commit()
    barrier = threading.Barrier(8)

    def report(_):
        with Session(engine) as session:
            barrier.wait()
            done = usage.record_usage(session, customer.id, "api_calls", 3, "same-key")
            session.commit()
            return done.replayed, done.record.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(report, range(8)))
    assert sorted(replayed for replayed, _ in results) == [False] + [True] * 7
    assert len({record_id for _, record_id in results}) == 1
    with Session(engine) as session:
        assert usage_rows(session) == 1


def test_a_report_waiting_on_a_renewal_is_refused_once_that_period_is_invoiced(engine, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has a single writer; row locks are tested on PostgreSQL")
    with Session(engine, expire_on_commit=False) as session:
        customer = make_customer(session)
        plan, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
        catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls",
                                     currency="USD", package_size=1, package_amount=1)
        sub = active(session, customer, prices[("USD", "month", 1)])
        session.commit()

    def report():
        with Session(engine) as session:
            usage.record_usage(session, customer.id, "api_calls", 5, "late", FEB28 - DAY, now=FEB28 + DAY)
            session.commit()

    with ThreadPoolExecutor(max_workers=1) as pool, Session(engine) as renewer:
        invoice_id = subscriptions.renew(renewer, sub.id, now=FEB28).id  # holds the subscription's row lock
        waiting = pool.submit(report)
        time.sleep(0.5)
        assert not waiting.done()  # the report waits for the renewal ...
        renewer.commit()
        with pytest.raises(DomainError, match="invoiced already"):  # ... then sees the new period
            waiting.result(timeout=10)
    with Session(engine) as session:
        assert len(repository.invoice_lines(session, invoice_id)) == 1
