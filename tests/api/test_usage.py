"""POST /api/usage on a real server (granian on a loopback port), on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import func, select

from billing_portal.billing import accounts, api_keys, catalog, payments, subscriptions, usage
from billing_portal.billing.accounts import CurrentUser
from billing_portal.db import session_scope
from billing_portal.models import UsageRecord
from tests.api.conftest import start_api
from tests.support.builders import make_customer, make_plan
from tests.support.stand_ins import http_request

ROUTE = "/api/usage"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def customer_key(engine):
    """A customer on Basic ($10 a month, API calls $2.50 per 1,000 after 10,000) since yesterday,
    with one API key; returns (customer id, token, period start, user)."""
    start = datetime.now(UTC) - timedelta(days=1)
    with session_scope() as session:
        customer = make_customer(session)
        plan, prices = make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000})
        catalog.create_metered_price(session, plan_id=plan.id, metric="api_calls", label="API calls",
                                     currency="USD", package_size=1000, package_amount=250, included_units=10_000)
        subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=prices[("USD", "month", 1)].id,
                                             now=start)
        payments.record_payment(session, invoice_id=subscribed.invoice.id, idempotency_key="pay", succeeded=True, now=start)
        user = CurrentUser(user_id=customer.user_id, email="ana@example.com", role="customer",
                           customer_id=customer.id, name="Ana", currency="USD", locale="en_US")
        token = api_keys.create(session, user=user, name="server").token
        return customer.id, token, start, user


@pytest.fixture
def server(engine, db_url):
    handle = start_api(db_url)
    yield handle
    handle.stop()


def post(server, body, *, token=None, key="req-1", raw: bytes | None = None, auth: str | None = None):
    headers = {"Content-Type": "application/json"}
    if auth is not None or token is not None:
        headers["Authorization"] = auth if auth is not None else f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    status, answer = http_request("POST", server.url + ROUTE, data=raw if raw is not None else json.dumps(body).encode(),
                                  headers=headers)
    return status, json.loads(answer)


def stored() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(UsageRecord)).one()


def test_a_report_is_created_once_and_a_retry_replays_it(server, customer_key):
    customer_id, token, start, _ = customer_key
    moment = (start + timedelta(hours=2)).replace(microsecond=0)
    body = {"metric": "api_calls", "quantity": 12_001, "timestamp": moment.isoformat().replace("+00:00", "Z")}
    status, created = post(server, body, token=token)
    assert status == 201, created
    assert (created["metric"], created["quantity"], created["replayed"]) == ("api_calls", 12_001, False)
    assert datetime.fromisoformat(created["timestamp"]) == moment
    status, replay = post(server, body, token=token)
    assert (status, replay) == (200, {**created, "replayed": True})

    status, conflict = post(server, {**body, "quantity": 5}, token=token)
    assert status == 409 and conflict["error"] == "idempotency_conflict"
    assert "used already for 12,001 api_calls" in conflict["message"]

    status, now_report = post(server, {"metric": "api_calls", "quantity": 1}, token=token, key="req-2")
    assert status == 201 and now_report["replayed"] is False
    assert stored() == 2
    with session_scope() as session:
        # 12,002 used, 2,002 past the included 10,000: 3 started packages at $2.50.
        assert usage.summary(session, customer_id).amount == 750


def test_a_missing_unknown_or_revoked_key_is_401_alike(server, customer_key):
    _, token, _, user = customer_key
    body = {"metric": "api_calls", "quantity": 1}
    with session_scope() as session:
        revoked = api_keys.create(session, user=user, name="old")
        api_keys.revoke(session, user=user, key_id=revoked.key.id)
    answers = [
        post(server, body),
        post(server, body, token="bpk_" + "A" * 43),
        post(server, body, token=revoked.token),
        post(server, body, auth=f"Basic {token}"),
        post(server, body, auth=token),
        post(server, body, token=token + "x"),
    ]
    assert {json.dumps(answer) for answer in answers} == {json.dumps((401, {
        "error": "unauthorized", "message": "Send a valid API key: Authorization: Bearer <key>.",
    }))}
    assert stored() == 0


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "The body is not valid JSON. Send {"),
    (b'{"metric": "api_calls", "quantity": ' + b"9" * 5000 + b"}", "Numbers in the body have at most 40 digits"),
    (b'{"metric": "api_calls", "quantity": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested more than 64 levels"),
    (b'{"metric": "api_calls", "quantity": NaN}', "NaN is not a JSON number"),
    (b"[1, 2]", "JSON object"),
    (b'{"metric": "api_calls"}', "quantity is required"),
    (b'{"metric": 5, "quantity": 1}', "metric is a string"),
    (b'{"metric": "api_calls", "quantity": "12"}', "whole number"),
    (b'{"metric": "api_calls", "quantity": 1.5}', "whole number"),
    (b'{"metric": "api_calls", "quantity": 0}', "whole number"),
    (b'{"metric": "api_calls", "quantity": 1, "extra": true}', "Unknown fields: extra"),
    (b'{"metric": "api_calls", "quantity": 1, "timestamp": "yesterday"}', "not an ISO 8601 timestamp"),
    (b'{"metric": "api_calls", "quantity": 1, "timestamp": "2026-12-03T09:00:00"}', "time zone"),
    (b'{"metric": "api_calls", "quantity": 1, "timestamp": "2000-01-01T00:00:00Z"}', "before the current billing period"),
    (b'{"metric": "api_calls", "quantity": 1, "timestamp": "2999-01-01T00:00:00Z"}', "in the future"),
    (b'{"metric": "storage_gb", "quantity": 1}', "no metered price for 'storage_gb'"),
])
def test_bad_input_is_400_with_a_clear_message_and_stores_nothing(server, customer_key, body, message):
    status, answer = post(server, None, token=customer_key[1], raw=body)
    assert status == 400 and answer["error"] == "invalid_request"
    assert message in answer["message"]
    assert stored() == 0


def test_the_idempotency_key_header_is_required_and_checked(server, customer_key):
    body = {"metric": "api_calls", "quantity": 1}
    status, answer = post(server, body, token=customer_key[1], key=None)
    assert (status, answer["error"]) == (400, "idempotency_key_required")
    status, answer = post(server, body, token=customer_key[1], key="x" * 256)
    assert status == 400 and "idempotency key" in answer["message"]
    status, answer = post(server, None, token=customer_key[1], raw=b" " * (16 * 1024 + 1))
    assert (status, answer["error"]) == (413, "body_too_large")
    assert stored() == 0
