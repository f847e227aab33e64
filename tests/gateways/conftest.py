"""Fixtures for the Stripe gateway tests: a gateway on localstripe, the browser's part of the card
flow (what Stripe.js does with the publishable key), and a scripted stand-in for Stripe that
answers errors on demand and records every request (to check retries and idempotency keys).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from billing_portal.gateways.stripe_gateway import StripeGateway
from billing_portal.settings import get_settings
from tests.support.fault_proxy import serve_on_loopback
from tests.support.stand_ins import http_request

SECRET_KEY = "sk_test_gatewaySECRETkey0123456789"
PUBLISHABLE_KEY = "pk_test_gateway"
WEBHOOK_SECRET = "whsec_gatewayWEBHOOKsecret"


# --------------------------------------------------------------------------------------------
# localstripe, as the gateway and as the browser see it


class LocalStripeHelper:
    """Direct HTTP access to localstripe: read objects as Stripe stores them, act as Stripe.js."""

    def __init__(self, url: str):
        self.url = url

    def get(self, path: str) -> dict[str, Any]:
        status, body = http_request("GET", self.url + path,
                                    headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def create_payment_method(self, number: str) -> str:
        """A card PaymentMethod from a raw test number (server-side, as only a test may)."""
        data = (f"type=card&card[number]={number}&card[exp_month]=12&card[exp_year]=2030"
                f"&card[cvc]=123").encode()
        status, body = http_request(
            "POST", self.url + "/v1/payment_methods", data=data,
            headers={"Authorization": f"Bearer {SECRET_KEY}",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200, (status, body[:300])
        return json.loads(body)["id"]

    def _browser_post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"key": PUBLISHABLE_KEY, **payload}).encode()
        status, answer = http_request("POST", self.url + path, data=body,
                                      headers={"Content-Type": "application/json"})
        return status, json.loads(answer)

    def confirm_card_setup(self, client_secret: str, number: str) -> str:
        """What `stripe.confirmCardSetup(secret, {payment_method: {card}})` does; the new pm id.

        A 3-D Secure card answers requires_action and is confirmed again ("Complete
        authentication" in the modal).
        """
        seti = client_secret.split("_secret_")[0]
        path = f"/v1/setup_intents/{seti}/confirm"
        status, body = self._browser_post(path, {
            "use_stripe_sdk": True, "client_secret": client_secret,
            "payment_method_data": {"type": "card", "card": {
                "number": number, "exp_month": "12", "exp_year": "30", "cvc": "123"}},
        })
        assert status == 200, body
        if body["status"] == "requires_action":
            status, body = self._browser_post(path, {"use_stripe_sdk": True,
                                                     "client_secret": client_secret})
            assert status == 200, body
        assert body["status"] == "succeeded", body
        return body["payment_method"]

    def authenticate_payment(self, client_secret: str, success: bool = True) -> dict[str, Any]:
        """What `stripe.confirmCardPayment(secret)` does after the 3-D Secure modal."""
        pi = client_secret.split("_secret_")[0]
        flag = "true" if success else "false"
        status, body = self._browser_post(f"/v1/payment_intents/{pi}/_authenticate?success={flag}",
                                          {"client_secret": client_secret})
        assert status == 200, body
        return body


@pytest.fixture
def ls(localstripe_clean) -> LocalStripeHelper:
    return LocalStripeHelper(localstripe_clean.url)


@pytest.fixture
def stripe_env(monkeypatch) -> Callable[[str], None]:
    """Point the settings at an API base (with this file's keys)."""
    def apply(api_base: str) -> None:
        monkeypatch.setenv("STRIPE_API_BASE", api_base)
        monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        get_settings.cache_clear()
    return apply


@pytest.fixture
def gw(ls, stripe_env) -> StripeGateway:
    """A gateway on a freshly emptied localstripe, built from settings like the app's."""
    stripe_env(ls.url)
    return StripeGateway.from_settings()


@pytest.fixture
def customer_id(gw) -> str:
    return gw.ensure_customer(stripe_customer_id=None, email="ada@example.com", name="Ada Lovelace",
                              country="GB", idempotency_key="customer:1")


@pytest.fixture
def save_card(gw, ls, customer_id) -> Callable[..., str]:
    """Save a card the way the checkout page does: SetupIntent, Stripe.js confirm, attach."""
    def save(number: str, customer: str | None = None) -> str:
        customer = customer or customer_id
        intent = gw.create_setup_intent(customer)
        pm_id = ls.confirm_card_setup(intent.client_secret, number)
        return gw.attach_payment_method(pm_id, customer).id
    return save


# --------------------------------------------------------------------------------------------
# A scripted Stripe: errors on demand, every request recorded


PROXY = "proxy"  # script step: forward the request to `proxy_to` and answer what it answers


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    delay: float = 0.0  # seconds to wait before answering (to make the client time out)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedStripe:
    """Answers requests from `script` in order; the last step repeats once the script runs out."""

    def __init__(self, script: Sequence[Answer | str], proxy_to: str | None = None):
        self.script = list(script)
        self.proxy_to = proxy_to
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server, self.url = serve_on_loopback(self._handle)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(Recorded(handler.command, handler.path,
                                          {k.lower(): v for k, v in handler.headers.items()}, body))
            step = self.script[min(len(self.requests), len(self.script)) - 1]
        headers = {"Content-Type": "application/json", "Request-Id": f"req_{len(self.requests)}"}
        if step == PROXY:
            assert self.proxy_to, "PROXY needs proxy_to"
            forward = {k: handler.headers[k] for k in
                       ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version")
                       if handler.headers.get(k)}
            status, payload = http_request(handler.command, self.proxy_to + handler.path,
                                           data=body or None, headers=forward)
        else:
            assert isinstance(step, Answer)
            if step.delay:
                time.sleep(step.delay)
            status, payload = step.status, json.dumps(step.body).encode()
            headers.update(step.headers)
        try:
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (timeout test)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted_stripe() -> Iterator[Callable[..., ScriptedStripe]]:
    started: list[ScriptedStripe] = []

    def start(script: Sequence[Answer | str], proxy_to: str | None = None) -> ScriptedStripe:
        server = ScriptedStripe(script, proxy_to)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
