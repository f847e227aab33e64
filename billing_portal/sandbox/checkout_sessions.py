"""A minimal Stripe Checkout for the sandbox: localstripe has no Checkout Sessions.

Routes (added to localstripe's app by `localstripe_server.main`):

    POST /v1/checkout/sessions                 create (mode "payment", inline `price_data` lines)
    GET  /v1/checkout/sessions/{id}            retrieve
    POST /v1/checkout/sessions/{id}/expire     expire an open session (checkout.session.expired)
    GET  /_config/checkout/pay/{id}            the hosted page (`url` of the session)
    POST /_config/checkout/pay/{id}            "Pay": charge a test card, complete, redirect
    GET  /_config/checkout/cancel/{id}         "Back": redirect to `cancel_url`

Paying creates a card PaymentMethod from the number typed (4242 4242 4242 4242 by default),
attaches it to the session's customer (as `setup_future_usage` does), charges it with a confirmed
PaymentIntent carrying `payment_intent_data.metadata`, marks the session complete and paid, posts
a signed `checkout.session.completed` to the webhooks registered with `POST /_config/webhooks/<name>`
(localstripe's own delivery: signed like Stripe, about 1 s later), and redirects to `success_url`
with `{CHECKOUT_SESSION_ID}` filled in. A declined card shows the page again with the message.

The hosted pages live under `/_config/` because localstripe's auth middleware lets only that
prefix (and its Stripe.js) through without a secret key, and a browser has none. Sessions are kept
in localstripe's own store (so `DELETE /_config/data` empties them too); `Idempotency-Key` on create
is honoured (localstripe ignores it elsewhere) so a replayed create returns the same session, as
Stripe does.
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

from aiohttp import web

from billing_portal.billing.money import format_money
from billing_portal.gateways.stripe_gateway import from_stripe_amount

API_VERSION = "2024-06-20"
SESSION_LIFETIME_SECONDS = 24 * 3600
PAY_PATH = "/_config/checkout/pay/"
CANCEL_PATH = "/_config/checkout/cancel/"



def _store():
    from localstripe.resources import store

    return store


def _session(session_id: str) -> dict[str, Any] | None:
    return _store().get(f"checkout.session:{session_id}")


def _bad_request(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": {"type": "invalid_request_error", "message": message}}, status=status)


def _not_found(session_id: str) -> web.Response:
    return _bad_request(f"No such checkout.session: '{session_id}'", status=404)


def _event(type_: str, obj: dict[str, Any]):
    """An object localstripe's `schedule_webhook` can send (it needs `_export`, `created`, `type`)."""

    class _Event:
        def __init__(self):
            self.id = "evt_" + secrets.token_hex(12)
            self.type = type_
            self.created = int(time.time())

        def _export(self, expand=None):
            return {"id": self.id, "object": "event", "api_version": API_VERSION, "created": self.created,
                    "data": {"object": dict(obj)}, "livemode": False, "pending_webhooks": 1,
                    "request": {"id": None, "idempotency_key": None}, "type": self.type}

    return _Event()


def _send(type_: str, obj: dict[str, Any]) -> None:
    from localstripe.webhooks import schedule_webhook

    schedule_webhook(_event(type_, obj))


async def create_session(request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import Customer
    from localstripe.server import get_post_data

    key = request.headers.get("Idempotency-Key")
    replayed = _store().get(f"checkout.session.key:{key}") if key else None
    if replayed:
        return web.json_response(_session(replayed))
    data = await get_post_data(request) or {}
    lines = data.get("line_items")
    if data.get("mode") != "payment":
        return _bad_request("This sandbox supports mode=payment only.")
    if not data.get("success_url") or not isinstance(lines, list) or not lines:
        return _bad_request("success_url and line_items are required.")
    total, currencies = 0, set()
    for line in lines:
        price = line.get("price_data") if isinstance(line, dict) else None
        try:
            amount, quantity = int(price["unit_amount"]), int(line.get("quantity") or 1)
            currencies.add(str(price["currency"]).lower())
        except (TypeError, KeyError, ValueError):
            return _bad_request("Each line item needs price_data with currency and unit_amount.")
        if amount < 0 or quantity < 1:
            return _bad_request("Amounts and quantities must be positive.")
        total += amount * quantity
    if len(currencies) != 1:
        return _bad_request("All line items must share one currency.")
    customer = data.get("customer")
    if customer:
        try:
            Customer._api_retrieve(customer)
        except UserError as exc:
            return exc.to_response()
    session_id = "cs_test_" + secrets.token_hex(16)
    now = int(time.time())
    checkout = {
        "id": session_id, "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
        "cancel_url": data.get("cancel_url"), "client_reference_id": data.get("client_reference_id"),
        "created": now, "currency": currencies.pop(), "customer": customer,
        "customer_email": data.get("customer_email"), "expires_at": now + SESSION_LIFETIME_SECONDS,
        "livemode": False, "metadata": data.get("metadata") or {}, "mode": "payment", "payment_intent": None,
        "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
        "success_url": data["success_url"], "url": f"{request.url.origin()}{PAY_PATH}{session_id}",
    }
    store = _store()
    store[f"checkout.session:{session_id}"] = checkout
    store[f"checkout.session.intent_data:{session_id}"] = data.get("payment_intent_data") or {}
    if key:
        store[f"checkout.session.key:{key}"] = session_id
    return web.json_response(checkout)


async def retrieve_session(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    checkout = _session(session_id)
    return web.json_response(checkout) if checkout else _not_found(session_id)


async def expire_session(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    checkout = _session(session_id)
    if checkout is None:
        return _not_found(session_id)
    if checkout["status"] != "open":
        return _bad_request(f"Only open sessions can be expired; this one is {checkout['status']}.")
    checkout["status"] = "expired"
    checkout["url"] = None
    _send("checkout.session.expired", checkout)
    return web.json_response(checkout)


def _page(checkout: dict[str, Any], error: str = "", number: str = "4242 4242 4242 4242") -> web.Response:
    currency = checkout["currency"].upper()
    amount = format_money(from_stripe_amount(checkout["amount_total"], currency), currency, "en_US")
    alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay {html.escape(amount)} - Stripe Checkout (sandbox)</title>
<style>
 body {{ font-family: system-ui, sans-serif; background: #f6f9fc; margin: 0; color: #1a1f36; }}
 main {{ max-width: 420px; margin: 48px auto; background: #fff; padding: 32px 24px; border-radius: 12px;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
 .badge {{ display: inline-block; font-size: 12px; background: #ffe9a8; padding: 2px 8px; border-radius: 4px; }}
 h1 {{ font-size: 32px; margin: 12px 0 24px; }}
 label {{ display: block; font-size: 14px; margin-bottom: 6px; }}
 input {{ width: 100%; box-sizing: border-box; font-size: 16px; padding: 10px; border: 1px solid #cfd7df;
         border-radius: 6px; }}
 button {{ width: 100%; margin-top: 20px; font-size: 16px; padding: 12px; border: 0; border-radius: 6px;
          background: #635bff; color: #fff; cursor: pointer; }}
 .error {{ color: #c0123c; }}
 a {{ display: block; text-align: center; margin-top: 16px; color: #635bff; }}
 @media (max-width: 480px) {{ main {{ margin: 0; border-radius: 0; min-height: 100vh; }} }}
</style></head>
<body><main>
<span class="badge">Sandbox: no real money</span>
<p>Pay Billing Portal</p>
<h1>{html.escape(amount)}</h1>
{alert}
<form method="post" action="{PAY_PATH}{checkout['id']}">
 <label for="card">Card number (test cards only)</label>
 <input id="card" name="card_number" inputmode="numeric" autocomplete="off" value="{html.escape(number)}">
 <button type="submit">Pay</button>
</form>
<a href="{CANCEL_PATH}{checkout['id']}">Back to the portal</a>
</main></body></html>"""
    return web.Response(text=body, content_type="text/html")


def _open_session(request: web.Request) -> dict[str, Any]:
    """The open session of the page's URL; otherwise the answer a browser gets instead."""
    checkout = _session(request.match_info["id"])
    if checkout is None:
        raise web.HTTPNotFound(text="No such checkout session.")
    if checkout["status"] == "complete":  # paid already (back button): straight to the portal
        raise web.HTTPSeeOther(_success_url(checkout))
    if checkout["status"] != "open":
        raise web.HTTPGone(text="This checkout session has expired.")
    return checkout


def _success_url(checkout: dict[str, Any]) -> str:
    return checkout["success_url"].replace("{CHECKOUT_SESSION_ID}", checkout["id"])


async def hosted_page(request: web.Request) -> web.Response:
    return _page(_open_session(request))


async def pay(request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent, PaymentMethod

    checkout = _open_session(request)
    form = await request.post()
    number = "".join(ch for ch in str(form.get("card_number") or "") if ch.isdigit())
    intent_data = _store().get(f"checkout.session.intent_data:{checkout['id']}") or {}
    try:
        method = PaymentMethod._api_create(
            type="card", card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
        if checkout["customer"]:
            PaymentMethod._api_attach(method.id, customer=checkout["customer"])
        intent = PaymentIntent._api_create(
            amount=checkout["amount_total"], currency=checkout["currency"], customer=checkout["customer"],
            payment_method=method.id, metadata=intent_data.get("metadata") or {}, confirm=True)
    except UserError as exc:
        message = (exc.body or {}).get("error", {}).get("message") if isinstance(exc.body, dict) else None
        return _page(checkout, message or "Your card was declined.", form.get("card_number") or "")
    if intent.status != "succeeded":
        return _page(checkout, "This sandbox page cannot do 3-D Secure: use 4242 4242 4242 4242.", number)
    checkout.update(status="complete", payment_status="paid", payment_intent=intent.id, url=None)
    _send("checkout.session.completed", checkout)
    raise web.HTTPSeeOther(_success_url(checkout))


async def cancel(request: web.Request) -> web.Response:
    checkout = _session(request.match_info["id"])
    if checkout is None or not checkout.get("cancel_url"):
        return web.Response(text="No such checkout session.", status=404)
    raise web.HTTPSeeOther(checkout["cancel_url"])


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.post("/v1/checkout/sessions", create_session),
        web.get("/v1/checkout/sessions/{id}", retrieve_session),
        web.post("/v1/checkout/sessions/{id}/expire", expire_session),
        web.get(PAY_PATH + "{id}", hosted_page),
        web.post(PAY_PATH + "{id}", pay),
        web.get(CANCEL_PATH + "{id}", cancel),
    ]


__all__ = ["routes"]
