"""Gateway: Alipay and WeChat Pay PaymentIntents, and reading Checkout Sessions.

localstripe has neither wallet, so Stripe is the scripted server answering the PaymentIntents
Stripe documents for them (status requires_action with its next_action); the requests it records
show what the gateway sent. Hosted Checkout against the sandbox is in tests/sandbox.
"""

import urllib.parse

import pytest

from billing_portal.gateways.stripe_gateway import WALLET_CURRENCIES, StripeGateway, checkout_session_info
from tests.billing.test_checkout_hosted import wallet_intent
from tests.billing.test_webhooks_checkout import stripe_checkout_session
from tests.gateways.conftest import Answer


def wallet_gateway(scripted_stripe, stripe_env, answer: dict):
    server = scripted_stripe([Answer(200, answer)])
    stripe_env(server.url)
    return StripeGateway.from_settings(max_network_retries=0), server


def start(gw, method: str, currency: str = "USD"):
    return gw.start_wallet_payment(method=method, stripe_customer_id="cus_wallet", amount=1500, currency=currency,
                                   idempotency_key="invoice:9:" + method, return_url="http://portal.test/back",
                                   metadata={"invoice_id": 9})


def sent(server) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(server.requests[-1].body.decode())


def test_alipay_answers_requires_action_with_the_redirect(scripted_stripe, stripe_env):
    gw, server = wallet_gateway(scripted_stripe, stripe_env, wallet_intent("alipay"))
    result = start(gw, "alipay")
    assert (result.status, result.payment_intent_id) == ("requires_action", "pi_wallet123")
    assert result.redirect_url.startswith("https://hooks.stripe.com/redirect/authenticate/")
    assert result.qr_image_url is None and result.client_secret == "pi_wallet123_secret_xyz"
    body = sent(server)
    assert body["payment_method_types[0]"] == ["alipay"] and body["payment_method_data[type]"] == ["alipay"]
    assert body["confirm"] == ["true"] and body["return_url"] == ["http://portal.test/back"]
    assert body["metadata[idempotency_key]"] == ["invoice:9:alipay"] and body["metadata[invoice_id]"] == ["9"]
    assert server.requests[-1].headers["idempotency-key"] == "invoice:9:alipay"


def test_alipays_own_next_action_type_is_read_too(scripted_stripe, stripe_env):
    intent = wallet_intent("alipay")
    intent["next_action"] = {"type": "alipay_handle_redirect", "alipay_handle_redirect": {
        "native_data": None, "native_url": None, "return_url": "http://portal.test/back",
        "url": "https://hooks.stripe.com/alipay/alipay/hosted/test"}}
    gw, _ = wallet_gateway(scripted_stripe, stripe_env, intent)
    assert start(gw, "alipay").redirect_url == "https://hooks.stripe.com/alipay/alipay/hosted/test"


def test_wechat_pay_answers_requires_action_with_the_qr_code(scripted_stripe, stripe_env):
    gw, server = wallet_gateway(scripted_stripe, stripe_env, wallet_intent("wechat_pay"))
    result = start(gw, "wechat_pay", "CNY")
    assert result.status == "requires_action"
    assert (result.qr_image_url, result.qr_code_data) == ("https://qr.stripe.com/test_abc.png",
                                                          "weixin://wxpay/bizpayurl?pr=abc123")
    assert result.redirect_url == "https://payments.stripe.com/wechat_pay/qr/test_abc"
    body = sent(server)
    assert body["payment_method_options[wechat_pay][client]"] == ["web"] and "return_url" not in body
    assert body["currency"] == ["cny"]


def test_a_succeeded_wallet_payment_has_no_next_action(scripted_stripe, stripe_env):
    gw, _ = wallet_gateway(scripted_stripe, stripe_env, {**wallet_intent("alipay"), "status": "succeeded",
                                                         "next_action": None})
    result = start(gw, "alipay")
    assert result.paid and result.redirect_url is None


@pytest.mark.parametrize("method, currency", [("alipay", "KRW"), ("wechat_pay", "BRL"), ("alipay", "CHF")])
def test_a_currency_the_wallet_does_not_take_is_refused_before_calling_stripe(scripted_stripe, stripe_env,
                                                                             method, currency):
    gw, server = wallet_gateway(scripted_stripe, stripe_env, wallet_intent(method))
    with pytest.raises(ValueError, match=f"does not take {currency}"):
        start(gw, method, currency)
    assert server.requests == []
    assert currency not in WALLET_CURRENCIES[method]


def test_checkout_session_payloads_are_read_in_our_units():
    info = checkout_session_info(stripe_checkout_session(42, cs_id="cs_test_x", amount=15000, currency="krw"))
    assert (info.id, info.invoice_id, info.amount_total, info.currency) == ("cs_test_x", 42, 15000, "KRW")
    assert (info.status, info.payment_status, info.customer_id, info.payment_intent_id) == (
        "complete", "paid", "cus_hosted", "pi_hosted")
    missing = checkout_session_info(stripe_checkout_session(42, amount=None))
    assert missing.amount_total is None
    isk = checkout_session_info(stripe_checkout_session(42, amount=150000, currency="isk"))
    assert isk.amount_total == 1500  # Stripe counts ISK in hundredths
    assert checkout_session_info({"id": "cs_1", "metadata": {"invoice_id": "x"}}).invoice_id is None


def test_checkout_session_creation_on_the_wire(scripted_stripe, stripe_env):
    gw, server = wallet_gateway(scripted_stripe, stripe_env,
                                stripe_checkout_session(9, payment_status="unpaid", status="open", pi_id=None))
    gw.create_checkout_session(stripe_customer_id="cus_hosted", invoice_id=9, amount=15000, currency="KRW",
                               description="Invoice INV-9", success_url="http://p/s?id={CHECKOUT_SESSION_ID}",
                               cancel_url="http://p/c", idempotency_key="invoice:9:checkout")
    body = sent(server)
    assert body["mode"] == ["payment"] and body["customer"] == ["cus_hosted"]
    assert body["line_items[0][price_data][unit_amount]"] == ["15000"]
    assert body["line_items[0][price_data][currency]"] == ["krw"]
    assert body["line_items[0][quantity]"] == ["1"]
    assert body["metadata[invoice_id]"] == ["9"] and body["client_reference_id"] == ["9"]
    assert body["payment_intent_data[setup_future_usage]"] == ["off_session"]
    assert body["success_url"] == ["http://p/s?id={CHECKOUT_SESSION_ID}"]
    assert server.requests[-1].headers["idempotency-key"] == "invoice:9:checkout"
