"""POST /api/webhooks/stripe: verify, keep, answer. Processing happens in the `webhooks` job.

The raw body is verified against `Stripe-Signature` with STRIPE_WEBHOOK_SECRET (300 s tolerance)
before anything is parsed or stored: a missing, bad or stale signature, or a body that is not a
Stripe event, answers 400 with a short JSON error and stores nothing. A verified event is inserted
once (unique on its id; a duplicate answers 200 too) and the route answers at once, so Stripe's
delivery never waits on our billing logic.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal.api.security import over_rate_limit
from billing_portal.billing import webhooks
from billing_portal.db import session_scope
from billing_portal.gateways.stripe_gateway import InvalidWebhook, gateway

MAX_BODY_BYTES = 1024 * 1024  # Stripe's events are far smaller


async def stripe_webhook(request: Request) -> JSONResponse:
    if limited := over_rate_limit("webhook", request):
        return limited
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "body_too_large"}, status_code=413)
    try:
        event = gateway().verify_webhook(body, request.headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        return JSONResponse({"error": exc.reason, "message": exc.message}, status_code=400)
    received = await run_in_threadpool(_keep, event)
    return JSONResponse({"received": True, "duplicate": not received.stored})


def _keep(event: dict) -> webhooks.Received:
    with session_scope() as session:
        return webhooks.receive(session, event)
