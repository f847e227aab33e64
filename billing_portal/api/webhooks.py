"""POST /api/webhooks/stripe: verify, keep, answer. Processing happens in the `webhooks` job.

The raw body is verified against `Stripe-Signature` with STRIPE_WEBHOOK_SECRET (300 s tolerance)
before anything is parsed or stored: a missing, bad or stale signature, or a body that is not a
Stripe event, answers 400 with a short JSON error and stores nothing. A verified event is inserted
once (unique on its id; a duplicate answers 200 too) and the route answers as soon as its row is
committed, so Stripe's delivery never waits on our billing logic.

Deliveries that arrive together are committed together (group commit, `_Intake`): while one batch
is being written the next waits, and then goes in one INSERT and one commit. Alone, an event is
written at once; at hundreds a second, each no longer pays its own transaction and connection.
"""

import asyncio
import logging
import weakref

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal.api.bodies import BadBody, check_bounds, read_body
from billing_portal.api.security import over_rate_limit
from billing_portal.billing import webhooks
from billing_portal.db import session_scope
from billing_portal.gateways.stripe_gateway import InvalidWebhook, gateway

MAX_BODY_BYTES = 1024 * 1024  # Stripe's events are far smaller


async def stripe_webhook(request: Request) -> JSONResponse:
    if limited := over_rate_limit("webhook", request):
        return limited
    try:
        # Bounded before the gateway parses it: a deep body, even signed, exhausts its parser.
        body = check_bounds(await read_body(request, MAX_BODY_BYTES))
    except BadBody as exc:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)
    try:
        event = gateway().verify_webhook(body, request.headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        return JSONResponse({"error": exc.reason, "message": exc.message}, status_code=400)
    try:
        received = await _intake().keep(event)
    except NotStored:
        return JSONResponse({"error": "not_stored", "message": "The event could not be stored; send it again."},
                            status_code=500)
    return JSONResponse({"received": True, "duplicate": not received.stored})


MAX_BATCH = 500
logger = logging.getLogger(__name__)


class NotStored(Exception):
    """The database refused the event (the cause is logged); Stripe delivers it again."""


class _Intake:
    """The events waiting to be written, for the requests of one event loop."""

    def __init__(self) -> None:
        self._waiting: list[tuple[dict, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def keep(self, event: dict) -> webhooks.Received:
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self._waiting.append((event, answer))
        if self._writer is None:
            self._writer = loop.create_task(self._write())
        return await answer

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                results = await run_in_threadpool(_keep_all, [event for event, _ in batch])
                for (_, answer), result in zip(batch, results, strict=True):
                    if answer.done():  # the request went away; its event is kept all the same
                        continue
                    if isinstance(result, NotStored):
                        answer.set_exception(result)
                    else:
                        answer.set_result(result)
        finally:
            self._writer = None


def _keep_all(events: list[dict]) -> list[webhooks.Received | NotStored]:
    """The batch in one transaction; if that fails, each event in its own, so one bad event fails
    only its own delivery (Stripe sends it again) and not those that came with it."""
    try:
        with session_scope() as session:
            return list(webhooks.receive_many(session, events))
    except Exception:
        if len(events) == 1:
            logger.exception("a webhook event could not be stored")
            return [NotStored()]
    results: list[webhooks.Received | NotStored] = []
    for event in events:
        try:
            with session_scope() as session:
                results.append(webhooks.receive(session, event))
        except Exception:
            logger.exception("a webhook event could not be stored")
            results.append(NotStored())
    return results


_intakes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Intake]" = weakref.WeakKeyDictionary()


def _intake() -> _Intake:
    loop = asyncio.get_running_loop()
    intake = _intakes.get(loop)
    if intake is None:
        intake = _intakes[loop] = _Intake()
    return intake
