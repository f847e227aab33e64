"""The Stripe gateway against a real localstripe over HTTP, and against a scripted Stripe for the
answers localstripe never gives (5xx, 429, timeouts, Stripe's own 402 shapes).
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse

import pytest

from billing_portal.billing.errors import InvalidAmount
from billing_portal.gateways import stripe_gateway
from billing_portal.gateways.stripe_gateway import (
    GENERIC_DECLINE_MESSAGE,
    PROVIDER_UNAVAILABLE_MESSAGE,
    REQUIRES_ACTION_MESSAGE,
    CardDeclined,
    CardInfo,
    ChargeResult,
    InvalidWebhook,
    PaymentProviderUnavailable,
    RefundRejected,
    StripeGateway,
    StripeGatewayError,
    customer_message_for,
    from_stripe_amount,
    to_stripe_amount,
)
from tests.gateways.conftest import PROXY, SECRET_KEY, WEBHOOK_SECRET, Answer
from tests.support.stand_ins import free_port
from tests.support.stripe_signing import sign_payload, signed_event

VISA = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
THREE_DS = "4000002500003155"
DECLINED_AT_ATTACH = "4000000000000002"


def charge(gw, customer_id, pm_id, *, amount=1500, currency="USD", key="invoice:42:attempt:1",
           off_session=False, **extra):
    return gw.charge(stripe_customer_id=customer_id, payment_method_id=pm_id, amount=amount,
                     currency=currency, idempotency_key=key, off_session=off_session,
                     description=extra.pop("description", "Invoice INV-0042"),
                     metadata=extra.pop("metadata", {"invoice_id": 42}), **extra)


# --------------------------------------------------------------------------------------------
# Settings and construction


def test_gateway_is_built_from_settings(stripe_env, localstripe):
    stripe_env(localstripe.url)
    gw = stripe_gateway.gateway()
    assert gw is stripe_gateway.gateway()  # reused while the settings stay the same
    assert gw.api_base == localstripe.url
    assert gw.stand_in is True
    assert SECRET_KEY not in repr(gw) and WEBHOOK_SECRET not in repr(gw)


def test_stripes_own_host_is_not_a_stand_in(stripe_env):
    stripe_env("https://api.stripe.com")
    assert StripeGateway.from_settings().stand_in is False


def test_results_are_plain_frozen_dataclasses():
    result = ChargeResult(status="succeeded", payment_intent_id="pi_1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "failed"  # type: ignore[misc]
    assert result.paid


# --------------------------------------------------------------------------------------------
# Customers


def test_ensure_customer_creates_then_updates_the_same_customer(gw, ls):
    created = gw.ensure_customer(
        stripe_customer_id=None, email="kim@example.com", name="Kim Minji",
        address_line1="1 Sejong-daero", address_line2="Floor 3", city="Seoul",
        postal_code="04524", country="kr", idempotency_key="customer:7",
        metadata={"customer_id": 7},
    )
    stored = ls.get(f"/v1/customers/{created}")
    assert (stored["email"], stored["name"]) == ("kim@example.com", "Kim Minji")
    assert stored["address"]["line2"] == "Floor 3" and stored["address"]["country"] == "KR"
    assert stored["metadata"] == {"customer_id": "7"}

    updated = gw.ensure_customer(
        stripe_customer_id=created, email="minji@example.com", name="Minji Kim",
        address_line1="2 Sejong-daero", city="Seoul", postal_code="04524", country="KR",
        idempotency_key="customer:7",
    )
    assert updated == created
    stored = ls.get(f"/v1/customers/{created}")
    assert (stored["email"], stored["name"]) == ("minji@example.com", "Minji Kim")
    assert stored["address"]["line1"] == "2 Sejong-daero"
    assert stored["address"]["line2"] == ""  # a removed line is cleared, not kept


def test_ensure_customer_replaces_a_customer_stripe_no_longer_knows(gw, ls):
    new_id = gw.ensure_customer(stripe_customer_id="cus_forgotten", email="a@example.com",
                                name="A", idempotency_key="customer:8")
    assert new_id.startswith("cus_") and new_id != "cus_forgotten"
    assert ls.get(f"/v1/customers/{new_id}")["email"] == "a@example.com"


# --------------------------------------------------------------------------------------------
# Cards


def test_card_saved_through_setup_intent_is_listed_made_default_and_detached(gw, ls, customer_id):
    intent = gw.create_setup_intent(customer_id)
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(intent.id + "_secret_")

    pm_id = ls.confirm_card_setup(intent.client_secret, VISA)  # the browser's part
    confirmed = gw.retrieve_setup_intent(intent.id)
    assert (confirmed.status, confirmed.payment_method_id, confirmed.customer_id) == (
        "succeeded", pm_id, customer_id)

    card = gw.attach_payment_method(pm_id, customer_id)
    stored_card = ls.get(f"/v1/payment_methods/{pm_id}")["card"]
    assert card == CardInfo(id=pm_id, brand="visa", last4="4242", exp_month=12, exp_year=2030,
                            fingerprint=stored_card["fingerprint"], country=stored_card["country"])
    assert card.fingerprint
    assert gw.attach_payment_method(pm_id, customer_id) == card  # already theirs: a no-op
    assert gw.list_cards(customer_id) == [card]

    gw.set_default_card(customer_id, pm_id)
    stored = ls.get(f"/v1/customers/{customer_id}")
    assert stored["invoice_settings"]["default_payment_method"] == pm_id

    gw.detach_card(pm_id, stripe_customer_id=customer_id)
    assert gw.list_cards(customer_id) == []
    gw.detach_card(pm_id)  # already detached: fine


def test_pm_card_visa_test_alias_can_be_attached(gw, customer_id):
    card = gw.attach_payment_method("pm_card_visa", customer_id)
    assert card.id.startswith("pm_") and card.id != "pm_card_visa"
    assert (card.brand, card.last4) == ("visa", "4242")
    assert gw.list_cards(customer_id) == [card]


def test_3ds_card_can_be_saved(save_card, gw, customer_id):
    pm_id = save_card(THREE_DS)
    assert [c.last4 for c in gw.list_cards(customer_id)] == ["3155"]
    assert pm_id.startswith("pm_")


def test_card_declined_when_attached_raises_card_declined(gw, ls, customer_id):
    pm_id = ls.create_payment_method(DECLINED_AT_ATTACH)
    with pytest.raises(CardDeclined) as caught:
        gw.attach_payment_method(pm_id, customer_id)
    assert caught.value.customer_message == GENERIC_DECLINE_MESSAGE
    assert caught.value.code == "card_declined"
    assert gw.list_cards(customer_id) == []


def test_a_card_of_another_customer_is_neither_attached_nor_detached(gw, save_card, customer_id):
    pm_id = save_card(VISA)
    other = gw.ensure_customer(stripe_customer_id=None, email="eve@example.com", name="Eve",
                               idempotency_key="customer:666")
    with pytest.raises(StripeGatewayError, match="another customer"):
        gw.attach_payment_method(pm_id, other)
    with pytest.raises(StripeGatewayError, match="not saved for this customer"):
        gw.detach_card(pm_id, stripe_customer_id=other)
    with pytest.raises(StripeGatewayError, match="not saved for this customer"):
        gw.set_default_card(other, pm_id)
    assert [c.id for c in gw.list_cards(customer_id)] == [pm_id]


# --------------------------------------------------------------------------------------------
# Charges


def test_charge_with_4242_succeeds(gw, ls, save_card, customer_id):
    pm_id = save_card(VISA)
    result = charge(gw, customer_id, pm_id, amount=1500, currency="usd", off_session=True)
    assert result.status == "succeeded" and result.paid
    assert (result.card_brand, result.card_last4) == ("visa", "4242")
    assert (result.amount, result.currency) == (1500, "USD")
    assert result.client_secret is None and result.customer_message is None

    stored = ls.get(f"/v1/payment_intents/{result.payment_intent_id}")
    assert (stored["amount"], stored["currency"], stored["status"]) == (1500, "usd", "succeeded")
    assert stored["metadata"] == {"invoice_id": "42", "idempotency_key": "invoice:42:attempt:1",
                                  "description": "Invoice INV-0042"}
    assert gw.retrieve_payment_intent(result.payment_intent_id) == result


def test_intents_for_invoice_finds_the_customers_charges_of_that_invoice_only(gw, save_card, customer_id):
    pm_id = save_card(VISA)
    made = charge(gw, customer_id, pm_id, key="invoice:42:pm:a", metadata={"invoice_id": 42})
    charge(gw, customer_id, pm_id, key="invoice:43:pm:a", metadata={"invoice_id": 43})
    other = gw.ensure_customer(stripe_customer_id=None, email="bo@example.com", name="Bo", idempotency_key="customer:2")
    charge(gw, other, save_card(VISA, other), key="invoice:42:pm:b", metadata={"invoice_id": 42})

    [found] = gw.intents_for_invoice(customer_id, 42)

    assert (found.id, found.status, found.amount, found.currency) == (made.payment_intent_id, "succeeded", 1500, "USD")
    assert found.metadata["idempotency_key"] == "invoice:42:pm:a"
    assert gw.intents_for_invoice(customer_id, 44) == []


def test_krw_amount_is_passed_through_unchanged(gw, ls, save_card, customer_id):
    result = charge(gw, customer_id, save_card(VISA), amount=15000, currency="KRW")
    assert result.status == "succeeded"
    stored = ls.get(f"/v1/payment_intents/{result.payment_intent_id}")
    assert (stored["amount"], stored["currency"]) == (15000, "krw")
    assert (result.amount, result.currency) == (15000, "KRW")


def test_isk_is_sent_in_stripes_hundredths(gw, ls, save_card, customer_id):
    result = charge(gw, customer_id, save_card(VISA), amount=4900, currency="ISK")
    stored = ls.get(f"/v1/payment_intents/{result.payment_intent_id}")
    assert (stored["amount"], stored["currency"]) == (490000, "isk")
    assert (result.amount, result.currency) == (4900, "ISK")


def test_amount_conversion_table():
    assert to_stripe_amount(15000, "KRW") == 15000
    assert to_stripe_amount(500, "jpy") == 500
    assert to_stripe_amount(1999, "USD") == 1999
    assert to_stripe_amount(1230, "KWD") == 1230
    assert to_stripe_amount(49, "ISK") == 4900
    assert from_stripe_amount(4900, "ISK") == 49
    with pytest.raises(TypeError):
        to_stripe_amount(12.5, "USD")  # type: ignore[arg-type]


def test_card_0341_declines_at_charge_with_a_customer_message(gw, ls, save_card, customer_id):
    pm_id = save_card(DECLINED_AT_CHARGE)
    result = charge(gw, customer_id, pm_id, off_session=True)
    assert result.status == "failed" and not result.paid
    assert result.failure_code == "card_declined"
    assert result.customer_message == "Your card was declined."
    assert result.payment_intent_id and result.payment_intent_id.startswith("pi_")
    assert result.card_last4 == "0341" and result.client_secret is None
    retrieved = gw.retrieve_payment_intent(result.payment_intent_id)
    assert (retrieved.status, retrieved.failure_code) == ("failed", "card_declined")


@pytest.mark.parametrize("off_session", [False, True], ids=["on-session", "off-session"])
def test_3ds_card_requires_action_then_completes_in_the_browser(gw, ls, save_card, customer_id,
                                                                off_session):
    pm_id = save_card(THREE_DS)
    result = charge(gw, customer_id, pm_id, off_session=off_session)
    assert result.status == "requires_action"
    assert result.customer_message == REQUIRES_ACTION_MESSAGE
    assert result.client_secret.startswith(result.payment_intent_id + "_secret_")

    ls.authenticate_payment(result.client_secret)  # confirmCardPayment + "Complete authentication"
    done = gw.retrieve_payment_intent(result.payment_intent_id)
    assert (done.status, done.card_last4, done.client_secret) == ("succeeded", "3155", None)


def test_failed_3ds_authentication_reads_as_failed(gw, ls, save_card, customer_id):
    result = charge(gw, customer_id, save_card(THREE_DS))
    ls.authenticate_payment(result.client_secret, success=False)
    done = gw.retrieve_payment_intent(result.payment_intent_id)
    assert done.status == "failed"
    assert done.failure_code == "payment_intent_authentication_failure"
    assert "could not confirm" in done.customer_message


@pytest.mark.parametrize("bad, error", [
    ({"amount": 0}, ValueError),
    ({"amount": -5}, ValueError),
    ({"amount": 15.0}, TypeError),
    ({"amount": True}, TypeError),
    ({"key": ""}, ValueError),
    ({"currency": "ZZZ"}, InvalidAmount),
], ids=["zero", "negative", "float", "bool", "no-key", "unknown-currency"])
def test_charge_refuses_bad_input_before_calling_stripe(scripted_stripe, stripe_env, bad, error):
    server = scripted_stripe([Answer(200, fake_intent())])
    with pytest.raises(error):
        charge(scripted_gateway(stripe_env, server), "cus_fake", "pm_fake", **bad)
    assert server.requests == []


@pytest.mark.parametrize("code, decline_code, message", [
    ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", None, "Your card has expired."),
    ("card_declined", "expired_card", "Your card has expired."),
    ("incorrect_cvc", None, "Your card's security code is incorrect."),
    ("authentication_required", "authentication_required", REQUIRES_ACTION_MESSAGE),
    ("card_declined", "generic_decline", "Your card was declined."),
    ("card_declined", "stolen_card", "Your card was declined."),
    ("card_declined", None, "Your card was declined."),
    (None, None, "Your card was declined."),
])
def test_decline_message_table(code, decline_code, message):
    assert customer_message_for(code, decline_code) == message


# --------------------------------------------------------------------------------------------
# Refunds


def test_full_refund(gw, ls, save_card, customer_id):
    paid = charge(gw, customer_id, save_card(VISA), amount=2000)
    refund = gw.refund(payment_intent_id=paid.payment_intent_id, amount=2000,
                       idempotency_key="refund:1", reason="requested_by_customer")
    assert (refund.status, refund.amount, refund.currency) == ("succeeded", 2000, "USD")
    stored = ls.get(f"/v1/refunds/{refund.id}")
    assert stored["metadata"] == {"idempotency_key": "refund:1", "reason": "requested_by_customer"}
    with pytest.raises(RefundRejected) as caught:
        gw.refund(payment_intent_id=paid.payment_intent_id, amount=1, idempotency_key="refund:2")
    assert caught.value.refundable == 0


def test_partial_refunds_never_exceed_what_remains(gw, ls, save_card, customer_id):
    paid = charge(gw, customer_id, save_card(VISA), amount=1000)
    first = gw.refund(payment_intent_id=paid.payment_intent_id, amount=300,
                      idempotency_key="refund:a")
    assert (first.status, first.amount) == ("succeeded", 300)

    with pytest.raises(RefundRejected) as caught:
        gw.refund(payment_intent_id=paid.payment_intent_id, amount=800, idempotency_key="refund:b")
    assert caught.value.refundable == 700
    assert "larger than what remains" in str(caught.value)
    refunds = ls.get(f"/v1/refunds?payment_intent={paid.payment_intent_id}")["data"]
    assert [r["amount"] for r in refunds] == [300]  # localstripe was never asked

    rest = gw.refund(payment_intent_id=paid.payment_intent_id, amount=700, idempotency_key="refund:c")
    assert rest.amount == 700


def test_refund_replayed_with_the_same_key_is_the_same_refund(gw, ls, save_card, customer_id):
    paid = charge(gw, customer_id, save_card(VISA), amount=1000)
    once = gw.refund(payment_intent_id=paid.payment_intent_id, amount=1000, idempotency_key="r:1")
    again = gw.refund(payment_intent_id=paid.payment_intent_id, amount=1000, idempotency_key="r:1")
    assert again == once
    assert len(ls.get(f"/v1/refunds?payment_intent={paid.payment_intent_id}")["data"]) == 1


def test_refund_of_a_declined_payment_is_rejected(gw, save_card, customer_id):
    failed = charge(gw, customer_id, save_card(DECLINED_AT_CHARGE))
    with pytest.raises(RefundRejected, match="did not go through"):
        gw.refund(payment_intent_id=failed.payment_intent_id, amount=100, idempotency_key="r:x")


# --------------------------------------------------------------------------------------------
# Webhooks


EVENT = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": 1,
         "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 1500}}}


@pytest.fixture
def hooks(stripe_env) -> StripeGateway:
    stripe_env("http://127.0.0.1:9")  # never called
    return StripeGateway.from_settings()


def test_webhook_with_a_good_signature_is_accepted(hooks):
    body, header = signed_event(EVENT, WEBHOOK_SECRET)
    event = hooks.verify_webhook(body, header)
    assert event == EVENT and type(event) is dict


def test_webhook_within_tolerance_is_accepted(hooks):
    body, header = signed_event(EVENT, WEBHOOK_SECRET, timestamp=int(time.time()) - 280)
    assert hooks.verify_webhook(body, header)["id"] == "evt_1"


@pytest.mark.parametrize("make, reason", [
    (lambda body: sign_payload(body, "whsec_wrong"), "bad_signature"),
    (lambda body: sign_payload(body, WEBHOOK_SECRET, int(time.time()) - 301), "stale_signature"),
    (lambda body: sign_payload(body + b" ", WEBHOOK_SECRET), "bad_signature"),
    (lambda body: "not a signature", "bad_signature"),
    (lambda body: f"t={int(time.time())}", "bad_signature"),
    (lambda body: None, "missing_signature"),
    (lambda body: "", "missing_signature"),
], ids=["wrong-secret", "stale", "tampered-body", "garbage-header", "no-v1", "no-header",
        "empty-header"])
def test_webhook_without_a_valid_fresh_signature_is_refused(hooks, make, reason):
    body = json.dumps(EVENT).encode()
    with pytest.raises(InvalidWebhook) as caught:
        hooks.verify_webhook(body, make(body))
    assert caught.value.reason == reason
    assert WEBHOOK_SECRET not in str(caught.value)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"id": "evt_1"}', b""],
                         ids=["garbage", "not-utf8", "array", "no-type", "empty"])
def test_webhook_with_a_malformed_body_is_refused_even_when_signed(hooks, body):
    with pytest.raises(InvalidWebhook) as caught:
        hooks.verify_webhook(body, sign_payload(body, WEBHOOK_SECRET))
    assert caught.value.reason == "malformed_body"


# --------------------------------------------------------------------------------------------
# Retries, timeouts and unreachable Stripe (scripted server)


def fake_intent(**overrides):
    intent = {
        "id": "pi_fake123", "object": "payment_intent", "amount": 1500, "currency": "usd",
        "status": "succeeded", "client_secret": "pi_fake123_secret_abc", "customer": "cus_fake",
        "payment_method": {"id": "pm_fake", "object": "payment_method", "type": "card",
                           "card": {"brand": "visa", "last4": "4242", "exp_month": 12,
                                    "exp_year": 2030}},
        "last_payment_error": None, "latest_charge": None, "next_action": None, "metadata": {},
    }
    intent.update(overrides)
    return intent


SERVER_ERROR = Answer(500, {"error": {"type": "api_error", "message": "Something broke."}})


def scripted_gateway(stripe_env, server, **overrides) -> StripeGateway:
    stripe_env(server.url)
    return StripeGateway.from_settings(**{"max_network_retries": 2, **overrides})


def test_5xx_is_retried_with_the_same_idempotency_key(gw, ls, save_card, customer_id,
                                                      scripted_stripe, stripe_env):
    pm_id = save_card(VISA)
    server = scripted_stripe([SERVER_ERROR, SERVER_ERROR, PROXY], proxy_to=ls.url)
    flaky = scripted_gateway(stripe_env, server)

    result = charge(flaky, customer_id, pm_id, key="invoice:42:attempt:1")

    assert result.status == "succeeded" and result.card_last4 == "4242"
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 3
    assert {r.headers["idempotency-key"] for r in posts} == {"invoice:42:attempt:1"}
    assert len({r.body for r in posts}) == 1  # the same request each time
    assert len(ls.get("/v1/payment_intents")["data"]) == 1  # store emptied per test


def test_429_is_retried_with_the_same_idempotency_key(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(429, {"error": {"type": "invalid_request_error",
                                                     "code": "rate_limit", "message": "Slow down"}}),
                              Answer(200, fake_intent())])
    result = charge(scripted_gateway(stripe_env, server), "cus_fake", "pm_fake", key="renewal:9:1")
    assert result.status == "succeeded"
    assert [r.headers["idempotency-key"] for r in server.requests] == ["renewal:9:1"] * 2


def test_a_timed_out_request_is_retried_with_the_same_idempotency_key(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(200, fake_intent(), delay=1.0), Answer(200, fake_intent())])
    gw = scripted_gateway(stripe_env, server, timeout=(2.0, 0.3))
    result = charge(gw, "cus_fake", "pm_fake", key="invoice:5:attempt:2")
    assert result.status == "succeeded" and result.payment_intent_id == "pi_fake123"
    assert [r.headers["idempotency-key"] for r in server.requests] == ["invoice:5:attempt:2"] * 2


def test_stripe_always_503_raises_provider_unavailable_without_secrets(scripted_stripe, stripe_env,
                                                                       caplog):
    server = scripted_stripe([Answer(503, {"error": {"type": "api_error",
                                                     "message": f"down (key {SECRET_KEY})"}})])
    gw = scripted_gateway(stripe_env, server)
    with caplog.at_level("DEBUG"), pytest.raises(PaymentProviderUnavailable) as caught:
        charge(gw, "cus_fake", "pm_fake")
    exc = caught.value
    assert str(exc) == PROVIDER_UNAVAILABLE_MESSAGE
    assert exc.http_status == 503
    assert len(server.requests) == 3  # one try and the SDK's two retries
    assert {r.headers["idempotency-key"] for r in server.requests} == {"invoice:42:attempt:1"}
    for text in (str(exc), repr(exc), repr(exc.args), caplog.text):
        assert SECRET_KEY not in text
    assert exc.__cause__ is None and exc.__suppress_context__


def test_unreachable_stripe_raises_provider_unavailable(stripe_env):
    stripe_env(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    gw = StripeGateway.from_settings(max_network_retries=1)
    with pytest.raises(PaymentProviderUnavailable) as caught:
        gw.ensure_customer(stripe_customer_id=None, email="a@b.c", name="A", idempotency_key="c:1")
    assert SECRET_KEY not in str(caught.value)


def test_refund_when_stripe_is_down_says_a_retry_never_refunds_twice(scripted_stripe, stripe_env):
    server = scripted_stripe([SERVER_ERROR])
    gw = scripted_gateway(stripe_env, server, max_network_retries=0)
    with pytest.raises(PaymentProviderUnavailable, match="never made twice"):
        gw.refund(payment_intent_id="pi_1", amount=100, idempotency_key="refund:1")


def test_a_rejected_api_key_is_a_configuration_error_not_an_outage(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(401, {"error": {
        "type": "invalid_request_error",
        "message": f"Invalid API Key provided: {SECRET_KEY}"}})])
    with pytest.raises(StripeGatewayError) as caught:
        charge(scripted_gateway(stripe_env, server), "cus_fake", "pm_fake")
    assert not isinstance(caught.value, PaymentProviderUnavailable)
    assert "STRIPE_SECRET_KEY" in str(caught.value) and SECRET_KEY not in str(caught.value)
    assert len(server.requests) == 1  # never retried


# ---- Stripe's own answers, which localstripe does not give


def test_stripes_off_session_authentication_required_402_becomes_requires_action(scripted_stripe,
                                                                                 stripe_env):
    intent = fake_intent(status="requires_payment_method", payment_method="pm_3ds",
                         last_payment_error={"code": "authentication_required",
                                             "decline_code": "authentication_required"})
    server = scripted_stripe([Answer(402, {"error": {
        "type": "card_error", "code": "authentication_required",
        "decline_code": "authentication_required",
        "message": "Your card was declined. This transaction requires authentication.",
        "payment_intent": intent,
        "payment_method": {"id": "pm_3ds", "object": "payment_method", "type": "card",
                           "card": {"brand": "visa", "last4": "3155"}},
    }})])
    result = charge(scripted_gateway(stripe_env, server), "cus_fake", "pm_3ds", off_session=True)
    assert result.status == "requires_action"
    assert result.customer_message == REQUIRES_ACTION_MESSAGE
    assert (result.payment_intent_id, result.client_secret) == ("pi_fake123", "pi_fake123_secret_abc")
    assert (result.card_brand, result.card_last4) == ("visa", "3155")
    assert len(server.requests) == 1  # a decline is an answer, not an outage: no retry


def test_stripes_insufficient_funds_decline(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(402, {"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_intent": fake_intent(status="requires_payment_method"),
    }})])
    result = charge(scripted_gateway(stripe_env, server), "cus_fake", "pm_fake", off_session=True)
    assert (result.status, result.failure_code, result.decline_code) == (
        "failed", "card_declined", "insufficient_funds")
    assert result.customer_message == "Your card has insufficient funds."
    assert result.client_secret is None


def test_parameters_localstripe_refuses_are_sent_to_stripe_itself(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(200, fake_intent())])
    gw = scripted_gateway(stripe_env, server, stand_in=False)
    charge(gw, "cus_fake", "pm_fake", off_session=True, description="Renewal, Pro plan")
    sent = urllib.parse.parse_qs(server.requests[0].body.decode())
    assert sent["description"] == ["Renewal, Pro plan"]
    assert sent["metadata[description]"] == ["Renewal, Pro plan"]
    assert sent["metadata[idempotency_key]"] == ["invoice:42:attempt:1"]
    assert sent["off_session"] == ["true"] and sent["confirm"] == ["true"]
    assert sent["payment_method_types[0]"] == ["card"]
    assert (sent["amount"], sent["currency"]) == (["1500"], ["usd"])


def test_idempotency_keys_on_the_wire_for_customer_writes(scripted_stripe, stripe_env):
    server = scripted_stripe([Answer(200, {"id": "cus_fake", "object": "customer"})])
    gw = scripted_gateway(stripe_env, server)
    for name in ("Ada", "Ada", "Ada L."):
        gw.ensure_customer(stripe_customer_id=None, email="a@b.c", name=name, idempotency_key="customer:1")
    gw.ensure_customer(stripe_customer_id="cus_fake", email="a@b.c", name="Ada", idempotency_key="customer:1")
    gw.ensure_customer(stripe_customer_id="cus_fake", email="a@b.c", name="Ada", idempotency_key="customer:1")
    keys = [r.headers["idempotency-key"] for r in server.requests]
    # Creating: the caller's key plus a digest of the details, so the same creation replays.
    assert keys[0] == keys[1] != keys[2] and keys[0].startswith("customer:1:create:")
    # Updating sets values: a fresh key per call, or A -> B -> A would replay the first answer.
    assert keys[3] != keys[4] and not keys[3].startswith("customer:1")
