"""What a checkout link may ask for: a price, a pack, or one invoice id; nothing mixed."""

import pytest

from billing_portal.state.checkout import CheckoutTarget, parse_target, target_path


@pytest.mark.parametrize("params, target", [
    ({"price": "7"}, CheckoutTarget(price_id=7)),
    ({"pack": "credits-1000-krw", "quantity": "2"}, CheckoutTarget(pack_slug="credits-1000-krw", quantity=2)),
    ({"invoice": "42"}, CheckoutTarget(invoice_id=42)),
    ({"invoice": "42", "price": "7"}, None),
    ({"invoice": "42", "quantity": "2"}, None),
    ({"invoice": "-1"}, None),
    ({"invoice": "1 or 1=1"}, None),
    ({"invoice": "9" * 19}, None),
])
def test_parse_target(params, target):
    assert parse_target(params) == target


def test_an_invoice_link_survives_the_sign_in_round_trip():
    assert target_path(CheckoutTarget(invoice_id=42)) == "/checkout?invoice=42"
    assert parse_target({"invoice": "42"}) == CheckoutTarget(invoice_id=42)


def test_the_first_guess_at_the_billing_country_comes_from_the_browser_language():
    from billing_portal.state.checkout import country_of_language

    assert country_of_language("ko-KR,ko;q=0.9,en;q=0.8") == "KR"
    assert country_of_language("en_us") == "US"
    assert country_of_language("en") == country_of_language("") == country_of_language("zh-Hant") == ""
