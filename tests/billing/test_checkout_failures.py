"""Checkout's failure paths against localstripe over HTTP, on SQLite and PostgreSQL: a card that
does not pay is never the default and is not kept; a declined one-off purchase (credit pack) is
no debt, while a declined subscription invoice stays open for dunning; saved cards pay every
checkout; the billing country is asked before the first taxable payment."""

import pytest
from sqlmodel import select

from billing_portal.billing import checkout, credits, invoices, payment_methods, repository
from billing_portal.billing.errors import DomainError
from billing_portal.billing.invoices import DraftLine
from billing_portal.models import Customer, Invoice, Payment, PaymentMethod
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from tests.billing.test_checkout import (  # noqa: F401 (fixtures)
    DECLINED_AT_CHARGE, THREE_DS, VISA, _cheap_password_hashing, count, ls, pack, price, save_card, user, user_of,
)
from tests.support.builders import make_customer


def listed_cards(session, user) -> list[tuple[str, bool]]:
    return [(c.last4, c.is_default) for c in payment_methods.list_cards(session, user=user, now=utcnow())]


def subscribed_with_visa(session, ls, user, price):
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, VISA), price_id=price.id)
    assert outcome.status == "succeeded"
    return outcome


def test_a_card_declined_at_a_pack_checkout_is_let_go_and_the_working_card_stays_default(session, ls, user, price,
                                                                                          pack):
    subscribed_with_visa(session, ls, user, price)
    seti = save_card(session, ls, user, DECLINED_AT_CHARGE)
    declined_pm = ls.get(f"/v1/setup_intents/{seti}")["payment_method"]

    outcome = checkout.pay(session, user=user, setup_intent_id=seti, pack_slug=pack.slug)

    assert outcome.status == "failed" and "declined" in outcome.message
    assert listed_cards(session, user) == [("4242", True)]
    customer = session.get(Customer, user.customer_id)
    assert customer.card_last4 == "4242"
    assert ls.get(f"/v1/customers/{customer.stripe_customer_id}")["invoice_settings"]["default_payment_method"] \
        == customer.default_payment_method_id
    assert ls.get(f"/v1/payment_methods/{declined_pm}")["customer"] is None  # detached at Stripe
    assert session.exec(select(PaymentMethod).where(PaymentMethod.stripe_payment_method_id == declined_pm)).first() \
        is None


def test_a_declined_pack_leaves_no_debt_but_a_declined_subscription_invoice_stays_open(session, ls, user, price,
                                                                                       pack):
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, DECLINED_AT_CHARGE),
                           pack_slug=pack.slug)
    assert outcome.status == "failed"
    pack_invoice = session.exec(select(Invoice)).one()
    assert pack_invoice.status == "void" and pack_invoice.number  # numbered, so numbering stays gapless
    assert repository.open_invoice_totals(session, user.customer_id) == (0, "", 0)
    assert repository.oldest_open_invoice_id(session, user.customer_id) is None
    assert credits.balance(session, user.customer_id) == 0

    # The same decline on a subscription's first invoice keeps it open (dunning's rules apply).
    checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, DECLINED_AT_CHARGE),
                 price_id=price.id)
    first = session.exec(select(Invoice).where(Invoice.subscription_id.is_not(None))).one()
    assert first.status == "open"
    assert repository.open_invoice_totals(session, user.customer_id) == (1500, "USD", 1)
    assert repository.oldest_open_invoice_id(session, user.customer_id) == first.id
    assert listed_cards(session, user) == []


def test_a_pack_left_unpaid_is_not_waiting_for_payment(session, ls, user, pack):
    """3-D Secure never finished: the pack's invoice is open at Stripe's word, but owed by nobody."""
    outcome = checkout.pay(session, user=user, setup_intent_id=save_card(session, ls, user, THREE_DS),
                           pack_slug=pack.slug)
    assert outcome.status == "requires_action"
    assert session.exec(select(Invoice)).one().status == "open"
    assert repository.open_invoice_totals(session, user.customer_id) == (0, "", 0)
    assert repository.oldest_open_invoice_id(session, user.customer_id) is None
    assert listed_cards(session, user) == []  # not kept before it paid


@pytest.mark.parametrize("success", [True, False])
def test_a_card_that_needs_3d_secure_is_kept_only_once_it_paid(session, ls, user, pack, success):
    seti = save_card(session, ls, user, THREE_DS)
    pm = ls.get(f"/v1/setup_intents/{seti}")["payment_method"]
    outcome = checkout.pay(session, user=user, setup_intent_id=seti, pack_slug=pack.slug)
    ls.authenticate_payment(outcome.client_secret, success=success)
    done = checkout.confirm_after_action(session, user=user, payment_intent_id=outcome.payment_intent_id)

    invoice = session.exec(select(Invoice)).one()
    if success:
        assert done.status == "succeeded" and invoice.status == "paid"
        assert listed_cards(session, user) == [("3155", True)]
    else:
        assert done.status == "failed" and invoice.status == "void"
        assert listed_cards(session, user) == []
        assert ls.get(f"/v1/payment_methods/{pm}")["customer"] is None


def test_a_saved_card_pays_a_pack_one_invoice_per_attempt(session, ls, user, price, pack):
    subscribed_with_visa(session, ls, user, price)
    card_id = payment_methods.list_cards(session, user=user, now=utcnow())[0].id

    first = checkout.pay(session, user=user, card_id=card_id, attempt="a1", pack_slug=pack.slug)
    again = checkout.pay(session, user=user, card_id=card_id, attempt="a1", pack_slug=pack.slug)  # double click
    assert first.status == again.status == "succeeded" and first.payment_intent_id == again.payment_intent_id
    second = checkout.pay(session, user=user, card_id=card_id, attempt="a2", pack_slug=pack.slug)
    assert second.status == "succeeded" and second.invoice_number != first.invoice_number
    assert credits.balance(session, user.customer_id) == 2200
    assert count(session, Payment) == 3  # the subscription and two packs

    with pytest.raises(DomainError):
        checkout.pay(session, user=user, card_id=card_id, attempt="bad:key", pack_slug=pack.slug)
    with pytest.raises(DomainError):
        checkout.pay(session, user=user, card_id=card_id, setup_intent_id="seti_x", attempt="a3", pack_slug=pack.slug)


def test_another_customers_saved_card_pays_nothing(session, ls, user, price, pack):
    subscribed_with_visa(session, ls, user, price)
    theirs = payment_methods.list_cards(session, user=user, now=utcnow())[0].id
    other = user_of(make_customer(session, "other@example.com"))
    with pytest.raises(DomainError):
        checkout.pay(session, user=other, card_id=theirs, attempt="x1", pack_slug=pack.slug)
    assert count(session, Payment) == 1 and count(session, Invoice) == 1


def test_a_declined_saved_card_stays_saved_and_another_card_keeps_the_default(session, ls, user, price):
    subscribed_with_visa(session, ls, user, price)
    declined = payment_methods.save_card(session, user=user, setup_intent_id=save_card(session, ls, user,
                                                                                          DECLINED_AT_CHARGE),
                                         now=utcnow())
    assert listed_cards(session, user) == [("0341", False), ("4242", True)]
    draft = invoices.create_draft(session, customer_id=user.customer_id, currency="USD",
                                  lines=[DraftLine("Extra seats", 3000)])
    invoice = invoices.finalize(session, draft.id)

    outcome = checkout.pay_invoice(session, user=user, invoice_id=invoice.id, card_id=declined.id)
    assert outcome.status == "failed"
    # The customer saved it on purpose: it stays, and the default is still the card that works.
    assert listed_cards(session, user) == [("0341", False), ("4242", True)]
    assert session.get(Invoice, invoice.id).status == "open"  # not a pack: still owed


@pytest.fixture
def taxed(monkeypatch, ls):
    monkeypatch.setenv("TAX_RATES", '{"KR": {"rate": "10", "inclusive": true}, "DE": {"rate": "19"}}')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_billing_country_is_asked_before_the_first_taxable_payment(session, ls, user, price, taxed):
    summary = checkout.checkout_summary(session, user=user, price_id=price.id)
    assert summary.country_needed and summary.country == ""
    assert summary.tax_rule_label == checkout.TAX_DEPENDS

    seti = save_card(session, ls, user, VISA)
    with pytest.raises(DomainError, match="billing country"):
        checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id)
    with pytest.raises(DomainError, match="billing country"):
        checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id, billing_country="XX")
    assert count(session, Invoice) == 0 and count(session, Payment) == 0

    german = checkout.checkout_summary(session, user=user, price_id=price.id, billing_country="de")
    assert (german.country, german.total_label, german.tax_label) == ("DE", "$17.85", "$2.85")
    assert german.tax_rule_label == "19 % for DE, added to the price"
    american = checkout.checkout_summary(session, user=user, price_id=price.id, billing_country="US")
    assert (american.total_label, american.tax_rule_label) == ("$15.00", "No tax in US")

    outcome = checkout.pay(session, user=user, setup_intent_id=seti, price_id=price.id, billing_country="DE")
    assert outcome.status == "succeeded" and outcome.amount_label == "$17.85"
    assert session.get(Customer, user.customer_id).country == "DE"
    # Known now: not asked again, and a country sent later changes nothing.
    summary = checkout.checkout_summary(session, user=user, price_id=price.id, billing_country="US")
    assert not summary.country_needed and summary.country == "DE"


def test_a_known_country_names_its_rule_and_no_tax_rates_asks_nothing(session, ls, price, taxed, monkeypatch):
    korean = user_of(make_customer(session, "kr@example.com", country="KR"))
    summary = checkout.checkout_summary(session, user=korean, price_id=price.id)
    assert not summary.country_needed
    assert summary.tax_rule_label == "10 % for KR, included in the price"

    monkeypatch.delenv("TAX_RATES")
    get_settings.cache_clear()
    nowhere = user_of(make_customer(session, "none@example.com"))
    summary = checkout.checkout_summary(session, user=nowhere, price_id=price.id)
    assert not summary.country_needed and summary.tax_label == "$0.00"
