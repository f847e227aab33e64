"""The sandbox's minimal Stripe Checkout, driven through the gateway and over HTTP as a browser would."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing_portal.gateways.stripe_gateway import StripeGateway, StripeGatewayError
from tests.gateways.conftest import WEBHOOK_SECRET, gw, ls, stripe_env  # noqa: F401  (fixtures)
from tests.support.stand_ins import LOOPBACK, http_request


@pytest.fixture
def customer_id(gw) -> str:
    return gw.ensure_customer(stripe_customer_id=None, email="ada@example.com", name="Ada",
                              idempotency_key="customer:sandbox-checkout")


def new_session(gw: StripeGateway, customer_id: str, *, key: str = "invoice:7:checkout", amount: int = 1500):
    return gw.create_checkout_session(
        stripe_customer_id=customer_id, invoice_id=7, amount=amount, currency="USD",
        description="Invoice INV-2026-000007", idempotency_key=key,
        success_url="http://portal.test/checkout/success?invoice=INV-2026-000007&session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://portal.test/checkout?price=1&canceled=1", metadata={"customer_id": 3},
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def press_pay(url: str, card: str = "4242 4242 4242 4242") -> tuple[int, str, str]:
    """(status, Location, body) of the hosted page's form post, without following the redirect."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode({"card_number": card}).encode(),
                                     method="POST")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


class Receiver:
    """A webhook endpoint: keeps every (body, Stripe-Signature) it is sent."""

    def __init__(self):
        self.received: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event_type: str, timeout: float = 10) -> tuple[bytes, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, header in self.received:
                if json.loads(body)["type"] == event_type:
                    return body, header
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} within {timeout} s: {[json.loads(b)['type'] for b, _ in self.received]}")


@pytest.fixture
def receiver(ls):
    hook = Receiver()
    data = urllib.parse.urlencode({"url": hook.url, "secret": WEBHOOK_SECRET, "events[0]": "checkout.session.completed",
                                   "events[1]": "checkout.session.expired"}).encode()
    assert http_request("POST", ls.url + "/_config/webhooks/sandbox-checkout", data=data)[0] == 200
    yield hook
    # localstripe cannot forget a webhook: point this one at an event that never happens.
    never = urllib.parse.urlencode({"url": hook.url, "secret": WEBHOOK_SECRET, "events[0]": "never.happens"})
    http_request("POST", ls.url + "/_config/webhooks/sandbox-checkout", data=never.encode())
    hook.server.shutdown()
    hook.server.server_close()


def test_a_session_is_created_open_and_unpaid_with_a_hosted_page(gw, ls, customer_id):
    session = new_session(gw, customer_id)
    assert session.id.startswith("cs_test_") and (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency, session.invoice_id) == (1500, "USD", 7)
    assert session.customer_id == customer_id and session.payment_intent_id is None
    status, page = http_request("GET", session.url)
    assert status == 200 and b"$15.00" in page and b"Pay</button>" in page


def test_the_same_idempotency_key_returns_the_same_session(gw, customer_id):
    first = new_session(gw, customer_id)
    assert new_session(gw, customer_id).id == first.id
    assert new_session(gw, customer_id, key="invoice:7:checkout:after:" + first.id).id != first.id


def test_paying_completes_the_session_redirects_and_sends_a_signed_event(gw, ls, customer_id, receiver):
    session = new_session(gw, customer_id)
    status, location, page = press_pay(session.url)
    assert status == 303, page
    assert location == f"http://portal.test/checkout/success?invoice=INV-2026-000007&session_id={session.id}"

    paid = gw.retrieve_checkout_session(session.id)
    assert (paid.status, paid.payment_status, paid.amount_total) == ("complete", "paid", 1500)
    intent = ls.get(f"/v1/payment_intents/{paid.payment_intent_id}")
    assert (intent["status"], intent["amount"], intent["customer"]) == ("succeeded", 1500, customer_id)
    assert intent["metadata"]["invoice_id"] == "7" and intent["metadata"]["idempotency_key"] == "invoice:7:checkout"
    # setup_future_usage: the card stays with the customer for renewals.
    assert [card.last4 for card in gw.list_cards(customer_id)] == ["4242"]

    body, header = receiver.wait_for("checkout.session.completed")
    event = gw.verify_webhook(body, header)  # Stripe's signing scheme, our secret
    assert event["data"]["object"]["id"] == session.id
    assert event["data"]["object"]["payment_status"] == "paid"

    # Paying again (back button) only redirects; nothing is charged twice.
    assert press_pay(session.url)[:2] == (303, location)
    assert len(ls.get("/v1/payment_intents")["data"]) == 1


def test_a_declined_card_shows_the_page_again_and_the_session_stays_open(gw, customer_id):
    session = new_session(gw, customer_id)
    status, _, page = press_pay(session.url, "4000 0000 0000 0341")
    assert status == 200 and "declined" in page
    assert gw.retrieve_checkout_session(session.id).status == "open"


def test_an_expired_session_cannot_be_paid(gw, customer_id, receiver):
    session = new_session(gw, customer_id)
    expired = gw.expire_checkout_session(session.id)
    assert (expired.status, expired.payment_status) == ("expired", "unpaid")
    body, header = receiver.wait_for("checkout.session.expired")
    assert gw.verify_webhook(body, header)["data"]["object"]["status"] == "expired"
    assert press_pay(session.url)[0] == 410
    with pytest.raises(StripeGatewayError):
        gw.expire_checkout_session(session.id)


def test_an_unknown_session_is_a_clear_error(gw):
    with pytest.raises(StripeGatewayError) as caught:
        gw.retrieve_checkout_session("cs_test_nope")
    assert "No such checkout.session" in str(caught.value)


def test_the_cancel_link_goes_back_to_the_portal(gw, customer_id):
    session = new_session(gw, customer_id)
    cancel = session.url.replace("/pay/", "/cancel/")
    with pytest.raises(urllib.error.HTTPError) as caught:
        _OPENER.open(cancel, timeout=10)
    assert caught.value.code == 303 and caught.value.headers["Location"] == "http://portal.test/checkout?price=1&canceled=1"
