"""The two ASGI apps the webhook benchmark serves with granian: ours, and a bare Starlette route
that does the same work by hand (HMAC check, JSON parse, one INSERT ... ON CONFLICT DO NOTHING)."""

import hashlib
import hmac
import json
import os
import time

import sqlalchemy
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from billing_portal.api import build_api

ours = build_api()

_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "").encode()
_engine = sqlalchemy.create_engine(os.environ["DATABASE_URL"], pool_size=10)
_INSERT = sqlalchemy.text(
    "INSERT INTO webhook_events (stripe_event_id, type, status, created, payload, received_at, attempts,"
    " last_error) VALUES (:id, :type, 'received', to_timestamp(:created), CAST(:payload AS JSON), now(), 0, '')"
    " ON CONFLICT (stripe_event_id) DO NOTHING"
)


def _verified(body: bytes, header: str) -> dict | None:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = int(parts.get("t", "0"))
    expected = hmac.new(_SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if abs(time.time() - timestamp) > 300 or not hmac.compare_digest(expected, parts.get("v1", "")):
        return None
    return json.loads(body)


def _insert(event: dict, body: bytes) -> None:
    with _engine.begin() as conn:
        conn.execute(_INSERT, {"id": event["id"], "type": event["type"], "created": event["created"],
                               "payload": body.decode()})


async def _bare_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    event = _verified(body, request.headers.get("stripe-signature", ""))
    if event is None:
        return JSONResponse({"error": "bad_signature"}, status_code=400)
    await run_in_threadpool(_insert, event, body)
    return JSONResponse({"received": True})


bare = Starlette(routes=[Route("/api/webhooks/stripe", _bare_webhook, methods=["POST"])])
