"""The payment-methods and pay-an-invoice states without a browser: what reaches the page, ids from
the page, and the server-side check of the signed-in user (on SQLite and PostgreSQL)."""

import inspect

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts, payment_methods
from billing_portal.billing.errors import NotFound
from billing_portal.state.checkout import (
    NEW_CARD,
    CheckoutState,
    CheckoutTarget,
    SavedCardView,
    invoice_path,
    parse_target,
    saved_card_view,
    target_path,
)
from billing_portal.state.payment_methods import (
    ROUTE,
    CardRowView,
    PaymentMethodsState,
    _as_customer,
    card_id_of,
    card_row_view,
)

VIEW = payment_methods.CardView(id=7, brand="Visa", last4="4242", expiry_label="03/2027", is_default=True,
                                expiry_status="expiring",
                                expiry_message="This card expires at the end of this month. Add a new card soon.")


def test_a_card_reaches_the_page_as_display_strings_only():
    assert card_row_view(VIEW) == CardRowView("7", "Visa", "4242", "03/2027", True, "expiring", VIEW.expiry_message)
    assert saved_card_view(VIEW) == SavedCardView("7", "Visa •••• 4242", "03/2027", True, False)
    assert saved_card_view(payment_methods.CardView(**{**VIEW.__dict__, "expiry_status": "expired"})).expired


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (12, 12), ("", -1), (None, -1), ("abc", -1), ("-3", -1), ("1.5", -1), ("9" * 19, -1),
])
def test_card_ids_from_the_page_are_whole_numbers_or_match_no_card(value, expected):
    assert card_id_of(value) == expected


@pytest.mark.parametrize("params, expected", [
    ({"invoice": "12"}, CheckoutTarget(invoice_id=12)),
    ({"invoice": " 12 "}, CheckoutTarget(invoice_id=12)),
    ({"invoice": "x12"}, None),
    ({"invoice": "12", "price": "3"}, None),
    ({"invoice": "12", "quantity": "2"}, None),
    ({"invoice": "9" * 19}, None),
    ({"price": "3"}, CheckoutTarget(price_id=3)),
])
def test_the_checkout_link_of_an_open_invoice(params, expected):
    assert parse_target(params) == expected


def test_pay_now_links_round_trip():
    assert invoice_path(12) == "/checkout?invoice=12"
    assert target_path(CheckoutTarget(invoice_id=12)) == invoice_path(12)
    assert parse_target({"invoice": invoice_path(12).split("=")[1]}) == CheckoutTarget(invoice_id=12)


def test_states_keep_no_customer_ids_or_stripe_ids():
    for state in (PaymentMethodsState, CheckoutState):
        names = set(state.base_vars) | set(state.computed_vars)
        assert not {n for n in names if n.endswith(("customer_id", "user_id", "role", "payment_method_id"))}
    assert CheckoutState.get_fields()["selected_card"].default == NEW_CARD
    assert ROUTE == "/billing/payment-methods"


def test_every_handler_touching_cards_checks_the_signed_in_user_on_the_server():
    checks = ("_as_customer(", "self._customer(", "user_for_token(", "begin_card_setup(token")
    for name in ("on_load", "set_default", "confirm_remove", "save", "card_set_up"):
        handler = getattr(PaymentMethodsState, name)
        source = inspect.getsource(handler.fn)
        if "self._change(" in source:
            source += inspect.getsource(PaymentMethodsState._change)
        assert any(check in source for check in checks), name


@pytest.fixture
def token(session, monkeypatch) -> str:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    token = accounts.start_session(
        session, accounts.sign_up(session, email="ana@example.com", password="correct horse battery", name="Ana"))
    session.commit()
    return token


def test_nobody_signed_in_gets_nothing_and_nothing_runs(engine):
    ran = []
    assert _as_customer("", lambda session, user: ran.append(user)) is None
    assert _as_customer("not-a-token", lambda session, user: ran.append(user)) is None
    assert ran == []


def test_the_signed_in_customer_is_resolved_on_the_server(engine, token):
    seen = []
    result, cards = _as_customer(token, lambda session, user: seen.append(user.email) or "done")
    assert (result, cards, seen) == ("done", [], ["ana@example.com"])
    with pytest.raises(NotFound):  # a card id that is not theirs
        _as_customer(token, lambda session, user: payment_methods.set_default(
            session, user=user, card_id=card_id_of("99"), now=None))
