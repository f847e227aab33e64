"""State helpers that need no browser: the sign-in redirect target and the pricing-card view."""

import pytest

from billing_portal.billing.catalog import PRICING_INTERVALS, PricingCard
from billing_portal.state.auth import AFTER_SIGN_IN, safe_next_path
from billing_portal.state.pricing import DEFAULT_INTERVAL, INTERVAL_OPTIONS, card_view


@pytest.mark.parametrize(
    "asked, expected",
    [
        ("/pricing", "/pricing"),
        ("/billing/invoices?page=2", "/billing/invoices?page=2"),
        (None, AFTER_SIGN_IN),
        ("", AFTER_SIGN_IN),
        ("//evil.example/x", AFTER_SIGN_IN),
        ("/\\evil.example", AFTER_SIGN_IN),
        ("https://evil.example/", AFTER_SIGN_IN),
        ("javascript:alert(1)", AFTER_SIGN_IN),
        ("pricing", AFTER_SIGN_IN),
        ("/login", AFTER_SIGN_IN),
        ("/signup?x=1", AFTER_SIGN_IN),
    ],
)
def test_only_same_site_paths_are_followed_after_sign_in(asked, expected):
    assert safe_next_path(asked) == expected


def test_the_interval_toggle_offers_the_catalog_intervals_monthly_first():
    assert [label for _, label in INTERVAL_OPTIONS] == [label for *_, label in PRICING_INTERVALS]
    assert DEFAULT_INTERVAL == "month-1"


def _card(**overrides) -> PricingCard:
    fields = dict(
        plan_slug="pro", plan_name="Pro", tier=2, description="For teams.", features=["10 users"],
        price_id=7, price_label="₩374,400", period_label="per year",
        monthly_equivalent_label="₩31,200 / month", savings_percent=20, is_free=False, is_current=False,
    )
    return PricingCard(**(fields | overrides))


def test_a_card_view_keeps_only_display_strings_and_the_checkout_link():
    view = card_view(_card())
    assert view.checkout_href == "/checkout?price=7"
    assert view.savings_label == "Save 20%"
    assert view.price_label == "₩374,400" and view.monthly_label == "₩31,200 / month"
    assert view.features == ["10 users"]


def test_no_badge_without_savings_and_no_link_without_a_price():
    view = card_view(_card(savings_percent=0, price_id=None))
    assert view.savings_label == ""
    assert view.checkout_href == ""
