"""Hosted Stripe Checkout and wallet payments (Alipay, WeChat Pay), on SQLite and PostgreSQL.

Hosted: against the sandbox's Checkout (localstripe plus billing_portal/sandbox/checkout_sessions.py)
over HTTP; the customer's "Pay" on the hosted page is a form post, as the browser sends it.
Wallets: localstripe has no Alipay or WeChat Pay, so Stripe is a scripted server answering the
PaymentIntent shapes Stripe documents; the payment_intent.succeeded that settles it goes through
the webhook intake and job.
"""

import urllib.parse

import pytest
from sqlmodel import select

from billing_portal.billing import checkout, credits, webhooks
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import Customer, Invoice, Payment, Subscription
from billing_portal.settings import get_settings
from tests.billing.test_checkout import (  # noqa: F401  (fixtures)
    _cheap_password_hashing,
    count,
    ls,
    pack,
    price,
    user,
    user_of,
)
from tests.billing.test_webhooks import event, payment_intent
from tests.gateways.conftest import SECRET_KEY, WEBHOOK_SECRET, Answer, scripted_stripe  # noqa: F401
from tests.sandbox.test_checkout_sessions import press_pay
from tests.support.builders import make_customer, make_plan

SUCCESS = "http://portal.test/checkout/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://portal.test/checkout?price=1"


def begin(session, user, **target):
    return checkout.begin_hosted_checkout(session, user=user, success_url=SUCCESS, cancel_url=CANCEL, **target)


def test_a_subscription_is_paid_on_stripes_page_and_recorded_on_return(session, ls, user, price):
    hosted = begin(session, user, price_id=price.id)
    invoice = session.exec(select(Invoice)).one()
    subscription = session.exec(select(Subscription)).one()
    assert (invoice.status, subscription.status, hosted.invoice_number) == ("open", "incomplete", invoice.number)
    # The session asks exactly the invoice's amount due, for this customer, naming the invoice.
    customer = session.get(Customer, user.customer_id)
    stripe_session = ls.get(f"/v1/checkout/sessions/{hosted.checkout_session_id}")
    assert (stripe_session["amount_total"], stripe_session["currency"], stripe_session["customer"]) == (
        1500, "usd", customer.stripe_customer_id)
    assert stripe_session["metadata"]["invoice_id"] == str(invoice.id)
    assert stripe_session["metadata"]["idempotency_key"] == f"invoice:{invoice.id}:checkout"
    # A double click: the same invoice, the same session.
    assert begin(session, user, price_id=price.id) == hosted

    status, location, _ = press_pay(hosted.url)
    assert status == 303 and location == SUCCESS.replace("{CHECKOUT_SESSION_ID}", hosted.checkout_session_id)
    number = checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    assert number == invoice.number
    assert (session.get(Invoice, invoice.id).status, session.get(Invoice, invoice.id).amount_paid) == ("paid", 1500)
    assert session.get(Subscription, subscription.id).status == "active"
    payment = session.exec(select(Payment)).one()
    assert (payment.status, payment.idempotency_key) == ("succeeded", f"checkout_session:{hosted.checkout_session_id}")
    # The card paid with on Stripe's page is the default for renewals, here and at Stripe.
    customer = session.get(Customer, user.customer_id)
    assert (customer.card_brand, customer.card_last4) == ("visa", "4242")
    stripe_customer = ls.get(f"/v1/customers/{customer.stripe_customer_id}")
    assert stripe_customer["invoice_settings"]["default_payment_method"] == customer.default_payment_method_id
    # Coming back twice (reload) records nothing more.
    checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    assert count(session, Payment) == 1
    with pytest.raises(DomainError, match="already have a subscription"):
        begin(session, user, price_id=price.id)


def test_returning_before_paying_records_nothing(session, ls, user, price):
    hosted = begin(session, user, price_id=price.id)
    assert checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    assert count(session, Payment) == 0
    assert session.exec(select(Subscription)).one().status == "incomplete"


def test_a_credit_pack_is_paid_through_checkout_and_grants_its_credits_once(session, ls, user, pack):
    hosted = begin(session, user, pack_slug=pack.slug, quantity=2)
    assert begin(session, user, pack_slug=pack.slug, quantity=2).checkout_session_id == hosted.checkout_session_id
    assert count(session, Invoice) == 1
    assert ls.get(f"/v1/checkout/sessions/{hosted.checkout_session_id}")["amount_total"] == 2000
    press_pay(hosted.url)
    checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    assert credits.balance(session, user.customer_id) == 2200


def test_the_webhook_and_the_return_record_one_payment(session, ls, user, price):
    hosted = begin(session, user, price_id=price.id)
    press_pay(hosted.url)
    sent = ls.get(f"/v1/checkout/sessions/{hosted.checkout_session_id}")
    completed = event("checkout.session.completed", sent)
    webhooks.receive(session, completed)
    assert webhooks.replay(session, completed["id"]).status == "processed"
    checkout.finish_hosted_checkout(session, user=user, checkout_session_id=hosted.checkout_session_id)
    assert count(session, Payment) == 1
    assert session.exec(select(Invoice)).one().amount_paid == 1500


def test_a_trial_needs_the_card_form(session, ls, user):
    _plan, prices = make_plan(session, "team", tier=3, prices={("USD", "month", 1): 3000}, trial_days=14)
    with pytest.raises(DomainError, match="free trial"):
        begin(session, user, price_id=prices[("USD", "month", 1)].id)


def test_another_customers_session_is_not_found(session, ls, user, price):
    hosted = begin(session, user, price_id=price.id)
    press_pay(hosted.url)
    stranger = user_of(make_customer(session, email="eve@example.com"))
    with pytest.raises(NotFound, match="No such payment.") as theirs:
        checkout.finish_hosted_checkout(session, user=stranger, checkout_session_id=hosted.checkout_session_id)
    with pytest.raises(NotFound) as unknown:  # unknown at Stripe: told apart from another's by nothing
        checkout.finish_hosted_checkout(session, user=stranger, checkout_session_id="cs_test_doesnotexist")
    assert str(unknown.value) == str(theirs.value)
    for bad in ("", "pi_123", "cs_" + "x" * 300, None):
        with pytest.raises(NotFound):
            checkout.finish_hosted_checkout(session, user=user, checkout_session_id=bad)
    assert count(session, Payment) == 0


def test_an_expired_session_is_replaced_by_a_new_one_for_the_same_invoice(session, ls, user, price):
    from billing_portal.gateways.stripe_gateway import gateway

    first = begin(session, user, price_id=price.id)
    gateway().expire_checkout_session(first.checkout_session_id)
    second = begin(session, user, price_id=price.id)
    assert second.checkout_session_id != first.checkout_session_id
    assert second.invoice_number == first.invoice_number and count(session, Invoice) == 1


# --------------------------------------------------------------------------------------------
# Alipay and WeChat Pay


def wallet_intent(method: str, pi_id: str = "pi_wallet123", amount: int = 1500) -> dict:
    """A confirmed wallet PaymentIntent as Stripe answers it (status requires_action)."""
    if method == "alipay":
        action = {"type": "redirect_to_url", "redirect_to_url": {
            "return_url": "http://portal.test/checkout/return",
            "url": f"https://hooks.stripe.com/redirect/authenticate/src_1?client_secret=src_client_secret_1"}}
    else:
        action = {"type": "wechat_pay_display_qr_code", "wechat_pay_display_qr_code": {
            "data": "weixin://wxpay/bizpayurl?pr=abc123",
            "hosted_instructions_url": "https://payments.stripe.com/wechat_pay/qr/test_abc",
            "image_data_url": "data:image/png;base64,iVBORw0KGgo=",
            "image_url_png": "https://qr.stripe.com/test_abc.png",
            "image_url_svg": "https://qr.stripe.com/test_abc.svg"}}
    return {"id": pi_id, "object": "payment_intent", "amount": amount, "amount_received": 0,
            "capture_method": "automatic", "client_secret": f"{pi_id}_secret_xyz", "confirmation_method": "automatic",
            "created": 1_790_000_000, "currency": "usd", "customer": "cus_wallet", "last_payment_error": None,
            "latest_charge": None, "livemode": False, "metadata": {"idempotency_key": "invoice:1:" + method},
            "next_action": action, "payment_method": "pm_wallet", "payment_method_types": [method],
            "status": "requires_action"}


@pytest.fixture
def wallets(monkeypatch, engine, scripted_stripe):
    """Stripe answering one customer creation, then wallet PaymentIntents (both methods enabled)."""
    def start(method: str):
        server = scripted_stripe([Answer(200, {"id": "cus_wallet", "object": "customer"}),
                                  Answer(200, wallet_intent(method))])
        monkeypatch.setenv("STRIPE_API_BASE", server.url)
        monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("ALIPAY_ENABLED", "true")
        monkeypatch.setenv("WECHAT_PAY_ENABLED", "true")
        get_settings.cache_clear()
        return server
    return start


@pytest.mark.parametrize("method", ["alipay", "wechat_pay"])
def test_a_wallet_payment_requires_action_then_the_webhook_activates_the_plan(session, wallets, user, price, method):
    server = wallets(method)
    outcome = checkout.pay_with_wallet(session, user=user, method=method, price_id=price.id,
                                       return_url="http://portal.test/checkout/return")
    assert outcome.status == "requires_action" and outcome.payment_intent_id == "pi_wallet123"
    if method == "alipay":
        assert outcome.redirect_url.startswith("https://hooks.stripe.com/redirect/authenticate/")
    else:
        assert (outcome.qr_image_url, outcome.qr_code_data) == ("https://qr.stripe.com/test_abc.png",
                                                                "weixin://wxpay/bizpayurl?pr=abc123")
    invoice = session.exec(select(Invoice)).one()
    intent_request = server.requests[-1]
    sent = urllib.parse.parse_qs(intent_request.body.decode())
    assert sent["payment_method_types[0]"] == [method] and sent["amount"] == ["1500"] and sent["currency"] == ["usd"]
    assert intent_request.headers["idempotency-key"] == f"invoice:{invoice.id}:{method}"
    assert session.exec(select(Payment)).one().status == "requires_action"
    assert session.exec(select(Subscription)).one().status == "incomplete"

    succeeded = event("payment_intent.succeeded",
                      {**payment_intent("pi_wallet123", "succeeded"), "payment_method_types": [method],
                       "payment_method": "pm_wallet"}, created=1_790_000_100)
    webhooks.receive(session, succeeded)
    assert webhooks.replay(session, succeeded["id"]).status == "processed"
    assert (session.get(Invoice, invoice.id).status, session.exec(select(Subscription)).one().status) == (
        "paid", "active")


def test_a_wallet_refuses_a_currency_it_does_not_take(session, wallets, user):
    wallets("alipay")
    _plan, prices = make_plan(session, "pro-krw", tier=2, prices={("KRW", "month", 1): 15000})
    with pytest.raises(DomainError) as caught:
        checkout.pay_with_wallet(session, user=user, method="alipay", price_id=prices[("KRW", "month", 1)].id,
                                 return_url="http://portal.test/checkout/return")
    assert str(caught.value).startswith("Alipay does not take payments in KRW; it takes AUD, CAD, CNY")
    assert count(session, Invoice) == 0 and count(session, Subscription) == 0


def test_a_disabled_wallet_is_refused(session, wallets, user, price, monkeypatch):
    wallets("wechat_pay")
    monkeypatch.setenv("WECHAT_PAY_ENABLED", "false")
    get_settings.cache_clear()
    with pytest.raises(DomainError, match="not available"):
        checkout.pay_with_wallet(session, user=user, method="wechat_pay", price_id=price.id, return_url="http://x")
    assert count(session, Subscription) == 0
