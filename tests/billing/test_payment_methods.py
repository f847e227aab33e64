"""Saved cards and paying an open invoice, against localstripe over HTTP, on SQLite and PostgreSQL.

Cards are saved the way the page's Stripe.js does it (SetupIntent confirmed with the publishable
key); the webhook events localstripe never sends for cards are built from the objects it stores.
"""

import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from billing_portal.billing import checkout, payment_methods, portal, repository, subscriptions, webhooks
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import Customer, Invoice, Payment, PaymentMethod, Subscription
from tests.billing.test_checkout import (  # noqa: F401  (fixtures)
    VISA,
    _cheap_password_hashing,
    count,
    ls,
    price,
    save_card,
    user,
    user_of,
)
from tests.support.builders import make_customer, make_plan

MASTERCARD = "5555555555554444"
NOW = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)


def add_card(session, ls, user, number=VISA):
    """The payment-methods page: a SetupIntent, Stripe.js confirms it, the server keeps the card."""
    return payment_methods.save_card(session, user=user, setup_intent_id=save_card(session, ls, user, number), now=NOW)


def stripe_customer(session, ls, user) -> dict:
    return ls.get(f"/v1/customers/{session.get(Customer, user.customer_id).stripe_customer_id}")


def test_the_first_card_is_kept_without_its_number_and_becomes_the_default(session, ls, user):
    view = add_card(session, ls, user)

    assert (view.brand, view.last4, view.expiry_label, view.is_default, view.expiry_status) == (
        "Visa", "4242", "12/2030", True, "")
    row = session.exec(select(PaymentMethod)).one()
    stored = ls.get(f"/v1/payment_methods/{row.stripe_payment_method_id}")
    assert (row.brand, row.last4, row.exp_month, row.exp_year) == ("visa", "4242", 12, 2030)
    assert row.fingerprint == stored["card"]["fingerprint"] and row.fingerprint
    assert stored["customer"] == session.get(Customer, user.customer_id).stripe_customer_id
    assert stripe_customer(session, ls, user)["invoice_settings"]["default_payment_method"] == row.stripe_payment_method_id
    customer = session.get(Customer, user.customer_id)
    assert (customer.default_payment_method_id, customer.card_last4) == (row.stripe_payment_method_id, "4242")
    assert payment_methods.list_cards(session, user=user, now=NOW) == [view]


def test_a_second_card_is_listed_first_and_can_be_made_the_default(session, ls, user):
    first = add_card(session, ls, user)
    second = add_card(session, ls, user, MASTERCARD)
    assert not second.is_default
    assert [(c.last4, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        ("4444", False), ("4242", True)]

    made = payment_methods.set_default(session, user=user, card_id=second.id, now=NOW)

    assert made.is_default
    pm = session.get(PaymentMethod, second.id).stripe_payment_method_id
    assert stripe_customer(session, ls, user)["invoice_settings"]["default_payment_method"] == pm
    assert session.get(Customer, user.customer_id).card_last4 == "4444"
    assert [(c.id, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        (second.id, True), (first.id, False)]


def test_the_same_card_twice_is_refused_and_not_left_at_stripe(session, ls, user):
    add_card(session, ls, user)
    seti = save_card(session, ls, user, VISA)
    with pytest.raises(DomainError, match=r"This card \(Visa •••• 4242\) is already saved"):
        payment_methods.save_card(session, user=user, setup_intent_id=seti, now=NOW)
    assert count(session, PaymentMethod) == 1
    duplicate = ls.get(f"/v1/setup_intents/{seti}")["payment_method"]
    assert ls.get(f"/v1/payment_methods/{duplicate}")["customer"] is None


def test_the_same_card_typed_at_checkout_replaces_the_saved_one(session, ls, user, price):
    saved = add_card(session, ls, user)
    old_pm = session.get(PaymentMethod, saved.id).stripe_payment_method_id
    add_card(session, ls, user, MASTERCARD)
    seti = save_card(session, ls, user, VISA)
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "succeeded"
    assert [(c.last4, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        ("4242", True), ("4444", False)]
    assert session.get(PaymentMethod, saved.id) is None
    assert ls.get(f"/v1/payment_methods/{old_pm}")["customer"] is None


def test_removing_a_card_detaches_it_and_the_newest_other_card_becomes_the_default(session, ls, user):
    first = add_card(session, ls, user)
    second = add_card(session, ls, user, MASTERCARD)
    third = add_card(session, ls, user, "4000056655665556")
    first_pm = session.get(PaymentMethod, first.id).stripe_payment_method_id
    third_pm = session.get(PaymentMethod, third.id).stripe_payment_method_id

    payment_methods.remove(session, user=user, card_id=first.id, now=NOW)  # the default

    assert ls.get(f"/v1/payment_methods/{first_pm}")["customer"] is None
    assert session.get(PaymentMethod, first.id) is None
    assert stripe_customer(session, ls, user)["invoice_settings"]["default_payment_method"] == third_pm
    assert [(c.id, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        (third.id, True), (second.id, False)]

    payment_methods.remove(session, user=user, card_id=second.id, now=NOW)  # not the default
    assert session.get(Customer, user.customer_id).default_payment_method_id == third_pm


def test_the_only_card_stays_while_a_subscription_charges_it(session, ls, user, price):
    seti = save_card(session, ls, user, VISA)
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "succeeded"
    only = payment_methods.list_cards(session, user=user, now=NOW)  # checkout's card is listed too
    assert [(c.last4, c.is_default) for c in only] == [("4242", True)]

    with pytest.raises(DomainError, match="only card") as refused:
        payment_methods.remove(session, user=user, card_id=only[0].id, now=NOW)
    assert str(refused.value) == payment_methods.ONLY_CARD
    pm = session.get(PaymentMethod, only[0].id).stripe_payment_method_id
    assert ls.get(f"/v1/payment_methods/{pm}")["customer"] is not None  # nothing changed at Stripe

    subscription = session.exec(select(Subscription)).one()
    subscriptions.cancel(session, subscription.id, at_period_end=False, reason="done")
    payment_methods.remove(session, user=user, card_id=only[0].id, now=NOW)
    customer = session.get(Customer, user.customer_id)
    assert (customer.default_payment_method_id, customer.card_last4) == (None, "")
    assert payment_methods.list_cards(session, user=user, now=NOW) == []


def test_another_customers_card_is_not_found_and_unchanged(session, ls, user):
    mine = add_card(session, ls, user)
    other = user_of(make_customer(session, "eve@example.com"))
    assert payment_methods.list_cards(session, user=other, now=NOW) == []
    for action in (payment_methods.set_default, payment_methods.remove):
        with pytest.raises(NotFound, match="not saved on your account"):
            action(session, user=other, card_id=mine.id, now=NOW)
        with pytest.raises(NotFound):
            action(session, user=user, card_id="1", now=NOW)  # ids from the browser are checked
    assert session.get(PaymentMethod, mine.id) is not None


def test_a_setup_intent_of_another_customer_is_refused(session, ls, user):
    seti = save_card(session, ls, user, VISA)
    other = user_of(make_customer(session, "eve@example.com"))
    checkout.begin_card_setup(session, user=other)
    with pytest.raises(DomainError, match="not saved for your account"):
        payment_methods.save_card(session, user=other, setup_intent_id=seti, now=NOW)
    assert count(session, PaymentMethod) == 0


@pytest.mark.parametrize("month, year, status", [
    (3, 2027, "expiring"), (2, 2027, "expired"), (12, 2026, "expired"), (4, 2027, ""), (1, 2028, ""),
    (None, None, ""),
])
def test_expiry_warnings(month, year, status):
    assert payment_methods.expiry_status(month, year, NOW) == status


def test_an_expiring_card_says_so(session, ls, user):
    card = add_card(session, ls, user)
    in_december_2030 = datetime(2030, 12, 1, tzinfo=UTC)
    view = payment_methods.list_cards(session, user=user, now=in_december_2030)[0]
    assert (view.expiry_status, view.expiry_message) == (
        "expiring", "This card expires at the end of this month. Add a new card soon.")
    view = payment_methods.list_cards(session, user=user, now=datetime(2031, 1, 1, tzinfo=UTC))[0]
    assert view.id == card.id and view.expiry_status == "expired" and "expired at the end of 12/2030" in view.expiry_message


# --------------------------------------------------------------------------------------------
# Paying an open invoice


@pytest.fixture
def proration_invoice(session, ls, user, price) -> Invoice:
    """An active Pro subscription upgraded to Team at once: its open proration invoice."""
    seti = save_card(session, ls, user, VISA)
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "succeeded"
    _plan, prices = make_plan(session, "team", tier=3, prices={("USD", "month", 1): 4900})
    subscription = session.exec(select(Subscription)).one()
    changed = subscriptions.change(session, subscription.id, price_id=prices[("USD", "month", 1)].id, quantity=1)
    assert changed.invoice is not None and changed.invoice.status == "open"
    return changed.invoice


def test_an_open_proration_invoice_is_summarised_and_paid_with_the_saved_card(session, ls, user, proration_invoice):
    invoice = proration_invoice
    summary = checkout.invoice_summary(session, user=user, invoice_id=invoice.id)
    due = invoice.total - invoice.amount_paid
    assert (summary.kind, summary.invoice_id, summary.total_amount, summary.title) == (
        "invoice", invoice.id, due, f"Invoice {invoice.number}")
    assert len(summary.lines) == len(repository.invoice_lines(session, invoice.id))

    card = payment_methods.list_cards(session, user=user, now=NOW)[0]
    outcome = checkout.pay_invoice(session, user=user, invoice_id=invoice.id, card_id=card.id)

    assert outcome.status == "succeeded" and outcome.invoice_number == invoice.number
    assert session.get(Invoice, invoice.id).status == "paid"
    pm = session.get(PaymentMethod, card.id).stripe_payment_method_id
    payment = session.exec(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert (payment.idempotency_key, payment.amount) == (f"invoice:{invoice.id}:pm:{pm}", due)
    assert ls.get(f"/v1/payment_intents/{payment.stripe_payment_intent_id}")["amount"] == due
    # Again (a double click): the same outcome, no second charge; a paid invoice is not offered.
    again = checkout.pay_invoice(session, user=user, invoice_id=invoice.id, card_id=card.id)
    assert again.status == "succeeded" and count(session, Payment, Payment.invoice_id == invoice.id) == 1
    with pytest.raises(DomainError, match="is paid: there is nothing to pay"):
        checkout.invoice_summary(session, user=user, invoice_id=invoice.id)


def test_an_open_invoice_is_paid_with_a_new_card_which_becomes_the_default(session, ls, user, proration_invoice):
    seti = save_card(session, ls, user, MASTERCARD)
    outcome = checkout.pay_invoice(session, user=user, invoice_id=proration_invoice.id, setup_intent_id=seti)
    assert outcome.status == "succeeded"
    assert [(c.last4, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        ("4444", True), ("4242", False)]


def test_a_past_due_renewal_is_paid_with_a_new_card_and_the_plan_recovers(session, ls, user, price):
    seti = save_card(session, ls, user, VISA)
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "succeeded"
    subscription = session.exec(select(Subscription)).one()
    renewal = subscriptions.renew(session, subscription.id, now=subscription.current_period_end)
    subscriptions.invoice_payment_failed(session, renewal)  # the off-session charge failed
    assert session.get(Subscription, subscription.id).status == "past_due"

    # Only card while past due: it stays. A new card pays the renewal and becomes the default.
    with pytest.raises(DomainError, match="only card"):
        payment_methods.remove(session, user=user, card_id=payment_methods.list_cards(session, user=user, now=NOW)[0].id,
                               now=NOW)
    assert checkout.invoice_summary(session, user=user, invoice_id=renewal.id).total_amount == renewal.total
    outcome = checkout.pay_invoice(session, user=user, invoice_id=renewal.id,
                                   setup_intent_id=save_card(session, ls, user, MASTERCARD))
    assert outcome.status == "succeeded"
    assert session.get(Invoice, renewal.id).status == "paid"
    assert session.get(Subscription, subscription.id).status == "active"
    assert session.get(Customer, user.customer_id).card_last4 == "4444"


def test_the_billing_pages_offer_pay_now_for_the_open_invoice(session, ls, user, proration_invoice):
    overview = portal.overview(session, user.customer_id, NOW)
    assert overview.open_invoice_id == proration_invoice.id
    assert "open_invoice" in [banner.kind for banner in overview.banners]
    assert portal.plan_page(session, user.customer_id, interval=None, now=NOW).open_invoice_id == proration_invoice.id
    card = payment_methods.list_cards(session, user=user, now=NOW)[0]
    checkout.pay_invoice(session, user=user, invoice_id=proration_invoice.id, card_id=card.id)
    assert portal.overview(session, user.customer_id, NOW).open_invoice_id is None
    assert portal.plan_page(session, user.customer_id, interval=None, now=NOW).open_invoice_id is None


def test_the_overview_warns_when_the_default_card_expires(session, ls, user, price):
    seti = save_card(session, ls, user, VISA)
    assert checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id).status == "succeeded"

    def card_banner(now):
        return [(b.tone, b.message) for b in portal.overview(session, user.customer_id, now).banners
                if b.kind == "card_expiring"]

    assert card_banner(NOW) == []
    assert card_banner(datetime(2030, 12, 2, tzinfo=UTC)) == [
        ("amber", "Your default card (Visa •••• 4242) expires at the end of this month. Add a new card.")]
    assert card_banner(datetime(2031, 1, 2, tzinfo=UTC)) == [
        ("red", "Your default card (Visa •••• 4242) has expired. Add a new card so your plan renews.")]


def test_another_customers_invoice_shows_nothing_and_is_not_paid(session, ls, user, proration_invoice):
    other = user_of(make_customer(session, "eve@example.com"))
    with pytest.raises(NotFound) as denied:
        checkout.invoice_summary(session, user=other, invoice_id=proration_invoice.id)
    assert proration_invoice.number not in str(denied.value)
    checkout.begin_card_setup(session, user=other)
    with pytest.raises(NotFound):
        checkout.pay_invoice(session, user=other, invoice_id=proration_invoice.id,
                             setup_intent_id=save_card(session, ls, other, VISA))
    with pytest.raises(NotFound):
        checkout.invoice_summary(session, user=user, invoice_id=10_000)
    assert session.get(Invoice, proration_invoice.id).status == "open"
    assert count(session, Payment, Payment.invoice_id == proration_invoice.id) == 0


def test_paying_needs_exactly_one_card(session, ls, user, proration_invoice):
    with pytest.raises(DomainError, match="Pick a saved card or enter a new one"):
        checkout.pay_invoice(session, user=user, invoice_id=proration_invoice.id)


# --------------------------------------------------------------------------------------------
# Webhooks keep the list in step


def deliver(session, type_: str, obj: dict, *, previous: dict | None = None) -> str:
    data = {"object": obj, **({"previous_attributes": previous} if previous is not None else {})}
    event = {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2024-06-20",
             "created": int(NOW.timestamp()), "data": data, "livemode": False, "type": type_}
    webhooks.receive(session, event, now=NOW)
    return webhooks.process(session, repository.webhook_event_by_stripe_id(session, event["id"]), now=NOW).status


def test_card_events_add_and_remove_cards_saved_elsewhere(session, ls, user):
    checkout.begin_card_setup(session, user=user)
    customer = session.get(Customer, user.customer_id)
    pm_id = ls.create_payment_method(MASTERCARD)
    method = {**ls.get(f"/v1/payment_methods/{pm_id}"), "customer": customer.stripe_customer_id}

    assert deliver(session, "payment_method.attached", method) == "processed"
    assert deliver(session, "payment_method.attached", method) == "processed"  # twice: one card
    assert [(c.last4, c.is_default) for c in payment_methods.list_cards(session, user=user, now=NOW)] == [
        ("4444", True)]

    assert deliver(session, "payment_method.detached", {**method, "customer": None},
                   previous={"customer": customer.stripe_customer_id}) == "processed"
    assert payment_methods.list_cards(session, user=user, now=NOW) == []
    assert session.get(Customer, user.customer_id).default_payment_method_id is None


def test_a_setup_intent_the_page_never_reported_is_kept(session, ls, user):
    seti = save_card(session, ls, user, VISA)  # the browser closed before the server heard of it
    intent = ls.get(f"/v1/setup_intents/{seti}")

    assert deliver(session, "setup_intent.succeeded", intent) == "processed"

    row = session.exec(select(PaymentMethod)).one()
    assert (row.stripe_payment_method_id, row.last4) == (intent["payment_method"], "4242")
    assert ls.get(f"/v1/payment_methods/{row.stripe_payment_method_id}")["customer"] == intent["customer"]
    assert deliver(session, "setup_intent.succeeded", intent) == "processed"
    assert count(session, PaymentMethod) == 1
