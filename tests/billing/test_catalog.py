"""The catalog: pricing table, savings, admin changes, used prices archived not edited."""

import pytest

from billing_portal.billing import catalog, subscriptions
from billing_portal.billing.errors import DomainError
from tests.support.builders import T0, make_customer, make_plan

PRICES = {
    ("USD", "month", 1): 1200, ("USD", "month", 3): 3240, ("USD", "year", 1): 11520,
    ("KRW", "month", 1): 15000, ("KRW", "month", 3): 40500, ("KRW", "year", 1): 144000,
}


@pytest.fixture
def plans(session):
    free, _ = make_plan(session, "free", tier=0, prices={key: 0 for key in PRICES})
    starter, prices = make_plan(session, "starter", tier=1, prices=PRICES)
    return free, starter, prices


def test_pricing_table_in_usd_monthly(session, plans):
    cards = catalog.pricing_table(session, currency="usd", interval="month", interval_count=1, locale="en_US")
    assert [(c.plan_slug, c.price_label, c.period_label, c.savings_percent) for c in cards] == [
        ("free", "$0.00", "per month", 0),
        ("starter", "$12.00", "per month", 0),
    ]
    assert cards[0].is_free and not cards[1].is_free


def test_pricing_table_in_krw_shows_savings_for_longer_intervals(session, plans):
    quarterly = catalog.pricing_table(session, currency="KRW", interval="month", interval_count=3, locale="ko_KR")
    starter = quarterly[1]
    # 3 × ₩15,000 = ₩45,000 monthly; ₩40,500 saves ₩4,500 = 10 %.
    assert (starter.price_label, starter.period_label, starter.savings_percent) == ("₩40,500", "every 3 months", 10)
    assert starter.monthly_equivalent_label == "₩13,500 / month"
    annual = catalog.pricing_table(session, currency="KRW", interval="year", interval_count=1, locale="ko_KR")[1]
    # 12 × ₩15,000 = ₩180,000; ₩144,000 saves 20 %.
    assert (annual.price_label, annual.savings_percent) == ("₩144,000", 20)


def test_current_plan_is_marked(session, plans):
    _, _, prices = plans
    customer = make_customer(session)
    subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id, now=T0)
    cards = catalog.pricing_table(
        session, currency="USD", interval="year", interval_count=1, locale="en_US", customer_id=customer.id
    )
    assert {c.plan_slug: c.is_current for c in cards} == {"free": False, "starter": True}


def test_archived_plans_and_prices_leave_the_table(session, plans):
    free, starter, prices = plans
    catalog.archive_price(session, prices[("USD", "month", 1)].id)
    catalog.archive_plan(session, free.id)
    assert catalog.pricing_table(session, currency="USD", interval="month", interval_count=1, locale="en_US") == []
    assert catalog.pricing_currencies(session) == ["KRW", "USD"]
    with pytest.raises(DomainError, match="not available"):
        catalog.sellable_price(session, prices[("USD", "month", 1)].id)


def test_a_used_price_is_never_edited(session, plans):
    _, _, prices = plans
    unused, used = prices[("USD", "year", 1)], prices[("USD", "month", 1)]
    assert catalog.update_price(session, unused.id, unit_amount=11000, trial_days=7).unit_amount == 11000
    customer = make_customer(session)
    subscriptions.subscribe(session, customer_id=customer.id, price_id=used.id, now=T0)
    with pytest.raises(DomainError, match="archive it and add a new one"):
        catalog.update_price(session, used.id, unit_amount=1300, trial_days=0)
    session.refresh(used)
    assert used.unit_amount == 1200


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"currency": "XXZ"}, "currency"),
        ({"interval": "week"}, "month or year"),
        ({"interval_count": 0}, "between 1 and 36"),
        ({"unit_amount": 12.5}, "whole number"),
        ({"unit_amount": -1}, "between 0"),
        ({"trial_days": True}, "whole number"),
    ],
)
def test_bad_prices_are_refused(session, plans, kwargs, message):
    _, starter, _ = plans
    fields = dict(plan_id=starter.id, currency="USD", interval="month", interval_count=1, unit_amount=100)
    with pytest.raises(DomainError, match=message):
        catalog.create_price(session, **(fields | kwargs))


def test_plan_admin_rules(session, plans):
    _, starter, _ = plans
    with pytest.raises(DomainError, match="exists already"):
        catalog.create_plan(session, slug="starter", name="Again", tier=1)
    with pytest.raises(DomainError, match="slug"):
        catalog.create_plan(session, slug="Bad Slug", name="Bad", tier=1)
    with pytest.raises(DomainError, match="cannot be changed: slug"):
        catalog.update_plan(session, starter.id, slug="other")
    updated = catalog.update_plan(session, starter.id, name="Starter+", max_users=5, features=["a", " ", "b"])
    assert (updated.name, updated.max_users, updated.features) == ("Starter+", 5, ["a", "b"])


def test_the_half_year_is_offered_only_where_a_plan_has_such_a_price(session, plans):
    _, starter, _ = plans
    labels = lambda currency: [label for *_, label in catalog.pricing_intervals(session, currency=currency)]  # noqa: E731
    assert labels("USD") == ["Monthly", "Quarterly", "Annual"]
    catalog.create_price(session, plan_id=starter.id, currency="USD", interval="month", interval_count=6,
                         unit_amount=6120)
    assert labels("USD") == ["Monthly", "Quarterly", "Half-yearly", "Annual"]
    assert labels("KRW") == ["Monthly", "Quarterly", "Annual"]
    [card] = catalog.pricing_table(session, currency="USD", interval="month", interval_count=6, locale="en_US")
    # 6 × $12.00 = $72.00; $61.20 saves 15 %.
    assert (card.plan_slug, card.price_label, card.period_label, card.savings_percent) == (
        "starter", "$61.20", "every 6 months", 15)
    assert card.monthly_equivalent_label == "$10.20 / month"
