"""The /billing/usage read model and the overview's next amount, with usage and tax worked out by hand."""

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts, api_keys, catalog, portal, subscriptions, usage, usage_portal
from billing_portal.billing.accounts import CurrentUser
from billing_portal.settings import get_settings
from tests.billing.test_usage import DAY, active
from tests.support.builders import T0, make_customer, make_plan


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def german_customer(session, monkeypatch):
    """Basic $10 a month with API calls at $2.50 per 1,000 after 10,000; 19 % VAT added."""
    monkeypatch.setenv("TAX_RATES", '{"DE": {"rate": "19"}}')
    get_settings.cache_clear()
    plan, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
    catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls", currency="USD",
                                 package_size=1000, package_amount=250, included_units=10_000)
    customer = make_customer(session, country="DE")
    active(session, customer, prices[("USD", "month", 1)])
    return customer


def test_the_page_shows_each_meter_with_tax_as_the_invoice_adds_it(session, german_customer):
    usage.record_usage(session, german_customer.id, "api_calls", 12_001, "k", T0 + DAY, now=T0 + DAY)
    page = usage_portal.usage_page(session, german_customer.id)
    # 2,001 past the included: 3 packages × $2.50 = $7.50, plus 19 % = $8.93 (892.5 rounds half up).
    [meter] = page.meters
    assert (meter.used_label, meter.included_label, meter.rate_label, meter.amount_label) == (
        "12,001", "10,000", "$2.50 per 1,000", "$8.93")
    assert (meter.percent, meter.over, meter.earlier) == (100, True, False)
    assert meter.detail == "2,001 over the included 10,000: 3 started packages."
    assert (page.period_label, page.total_label) == ("31 Jan 2026 – 28 Feb 2026", "$8.93")
    assert page.note == "Billed on the invoice of 28 February 2026, with the next period of your plan."
    # The overview's next amount is the renewal invoice: $10 + $7.50, each line taxed: 1190 + 893.
    assert portal.overview(session, german_customer.id, T0 + DAY).next_renewal_amount_label == "$20.83"


def test_unused_meters_show_what_is_left_and_keys_are_listed(session, german_customer):
    usage.record_usage(session, german_customer.id, "api_calls", 2500, "k", T0 + DAY, now=T0 + DAY)
    user = CurrentUser(user_id=german_customer.user_id, email="ana@example.com", role="customer",
                       customer_id=german_customer.id, name="", currency="USD", locale="en_US")
    created = api_keys.create(session, user=user, name="ci", now=T0 + DAY)
    api_keys.authenticate(session, created.token, now=T0 + 2 * DAY)
    page = usage_portal.usage_page(session, german_customer.id)
    [meter] = page.meters
    assert (meter.amount_label, meter.percent, meter.over) == ("$0.00", 25, False)
    assert meter.detail == "7,500 of the included 10,000 left."
    [key] = page.keys
    assert (key.name, key.prefix, key.created_label, key.last_used_label) == (
        "ci", created.token[:12], "1 February 2026", "2 February 2026")


def test_no_subscription_still_lists_keys(session):
    customer = make_customer(session)
    page = usage_portal.usage_page(session, customer.id)
    assert (page.has_subscription, page.meters, page.keys) == (False, (), ())


def test_a_trial_says_usage_is_free(session):
    plan, prices = make_plan(session, "team", tier=2, prices={("USD", "month", 1): 5000}, trial_days=14)
    catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls", currency="USD",
                                 package_size=100, package_amount=100)
    customer = make_customer(session)
    subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id, now=T0)
    usage.record_usage(session, customer.id, "api_calls", 150, "k", T0 + timedelta(hours=1), now=T0 + DAY)
    page = usage_portal.usage_page(session, customer.id)
    assert (page.total_label, page.meters[0].amount_label) == ("$0.00", "$0.00")
    assert page.note == "Usage during your trial is free: nothing is added to the invoice on 14 February 2026."
