"""Fuzz every API route with hypothesis: bad bodies, headers, ids and tokens never cause a 5xx,
never show a traceback, and never store anything. FUZZ_EXAMPLES sets the examples per test.

Routes run in the real Starlette app (build_api) on a migrated SQLite database with a real
customer, API key and signed-in session, so the fuzzed input reaches the real checks.
"""

import json
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from billing_portal.api import build_api
from billing_portal.api import usage as usage_route
from billing_portal.api import webhooks as webhook_route
from billing_portal.api.v1 import framework as v1
from billing_portal.api.v1.operations import OPERATIONS
from billing_portal.billing import accounts, api_keys
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.models import AuditEntry, Customer, Payment, Refund, UsageRecord, WebhookEvent
from billing_portal.settings import get_settings
from tests.security.fuzzing import (big_numbers, deep_nesting, fuzz_settings, huge_numbers, nasty, overlong_numbers,
                                    oversize, texts)
from tests.support.builders import make_customer
from tests.support.stripe_signing import sign_payload

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SECRET = "whsec_fuzz"
FUZZ = fuzz_settings(60)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
usage_bodies = st.fixed_dictionaries({}, optional={
    "metric": nasty | json_values, "quantity": json_values | st.integers(min_value=-10**30, max_value=10**30),
    "timestamp": nasty | json_values,
})


@pytest.fixture
def app(engine, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("RATE_LIMIT_WEBHOOK", "1000000/minute")
    monkeypatch.setenv("RATE_LIMIT_USAGE_API", "1000000/minute")
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    get_settings.cache_clear()
    with Session(engine, expire_on_commit=False) as session:
        make_customer(session, "fuzz@example.com")
        user = accounts.user_for_token(session, accounts.start_session(
            session, accounts.sign_in(session, email="fuzz@example.com", password="correct horse battery")))
        token = api_keys.create(session, user=user, name="fuzz").token
        seller_key = seller_keys.create(session, actor="fuzz", name="fuzz", scope="write").token
        session.commit()
    client = TestClient(build_api(), raise_server_exceptions=False)
    client.seller_key, client.customer_id = seller_key, user.customer_id
    return client, token, engine


def _stored(engine) -> tuple[int, ...]:
    with Session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one()
                     for m in (WebhookEvent, UsageRecord, Payment, Refund, AuditEntry, Customer))


def _raw(text: str, limit: int = 500) -> bytes:
    """A header value as a client could send it: any bytes but CR and LF."""
    return text.encode("utf-8", "surrogatepass")[:limit].replace(b"\r", b"").replace(b"\n", b"")


def _sane(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and "File \"/" not in response.text


@FUZZ
@given(body=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()), header=nasty)
def test_the_webhook_refuses_anything_unsigned(app, body, header):
    client, _, engine = app
    before = _stored(engine)
    response = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": _raw(header)})
    _sane(response)
    assert response.status_code == 400 and _stored(engine) == before


@FUZZ
@given(value=json_values)
def test_a_validly_signed_body_that_is_not_an_event_is_refused(app, value):
    client, _, engine = app
    body = json.dumps(value).encode()
    before = _stored(engine)
    response = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, SECRET)})
    _sane(response)
    if not (isinstance(value, dict) and isinstance(value.get("id"), str) and isinstance(value.get("type"), str)):
        assert response.status_code == 400 and _stored(engine) == before


@FUZZ
@given(body=usage_bodies, key=nasty)
def test_usage_reports_with_bad_input_change_nothing(app, body, key):
    client, token, engine = app
    before = _stored(engine)
    response = client.post("/api/usage", content=json.dumps(body).encode(),
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": _raw(key, 300)})
    _sane(response)
    if response.status_code >= 400:
        assert _stored(engine) == before


@FUZZ
@given(token=nasty)
def test_a_wrong_api_key_is_401_and_stores_nothing(app, token):
    client, real, engine = app
    if token == real:
        return
    before = _stored(engine)
    response = client.post("/api/usage", content=b'{"metric": "api_calls", "quantity": 1}',
                           headers={"Authorization": b"Bearer " + _raw(token), "Idempotency-Key": "k1"})
    _sane(response)
    assert response.status_code == 401 and _stored(engine) == before


@FUZZ
@given(object_id=nasty, cookie=nasty, download_token=nasty)
def test_document_and_download_links_never_fail_open(app, object_id, cookie, download_token):
    client, _, _ = app
    safe_id = quote(object_id.encode("utf-8", "surrogatepass")[:50], safe="") or "x"  # any id, URL-encoded
    for path in (f"/api/invoices/{safe_id}/pdf", f"/api/refunds/{safe_id}/credit-note"):
        response = client.get(path, headers={"Cookie": b"bp_session=" + _raw(cookie, 200)}, follow_redirects=False)
        _sane(response)
        assert response.status_code in (302, 303, 307, 404) and "/api/files/download" not in response.headers.get(
            "location", "")
    response = client.get("/api/files/download", params={"token": download_token})
    _sane(response)
    assert response.status_code in (400, 403, 404, 410)


# --- bodies that attack the parser: huge numbers, deep nesting, oversize (every route with a body) ---

BODY_OPERATIONS = [op for op in OPERATIONS if op.body is not None]


def _object(fields: dict[str, str], field: str, raw_value: str) -> bytes:
    """A JSON object (raw text) with `field` set to `raw_value`, which json.dumps could not write."""
    return ("{" + ", ".join(f'"{name}": {raw_value if name == field else value}'
                            for name, value in {**fields, field: ""}.items()) + "}").encode()


def _refused_clearly(response, statuses=(400,)) -> dict:
    _sane(response)
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    message = body["error"]["message"] if isinstance(body["error"], dict) else body["message"]
    assert message and "went wrong" not in message, body
    return body


@FUZZ
@given(value=huge_numbers | deep_nesting, field=st.sampled_from(["quantity", "metric", "timestamp", "extra"]))
def test_usage_refuses_huge_numbers_and_deep_nesting_with_a_clear_400(app, value, field):
    client, token, engine = app
    before = _stored(engine)
    body = _object({"metric": '"api_calls"', "quantity": "1"}, field, value)
    response = client.post("/api/usage", content=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"})
    _refused_clearly(response, (400, 413))  # 413: nested so deep that it is past 16 KB too
    assert _stored(engine) == before


@FUZZ
@given(body=oversize(usage_route.MAX_BODY_BYTES))
def test_usage_refuses_an_oversize_body_with_413(app, body):
    client, token, engine = app
    before = _stored(engine)
    response = client.post("/api/usage", content=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"})
    assert _refused_clearly(response, (413,))["error"] == "body_too_large" and _stored(engine) == before


def _event_with(data: str) -> bytes:
    return _object({"id": '"evt_fuzz"', "type": '"payment_intent.succeeded"', "object": '"event"', "data": "{}"},
                   "data", data)


@FUZZ
@given(value=overlong_numbers | deep_nesting, signed=st.booleans())
def test_the_webhook_refuses_deep_nesting_and_overlong_numbers_signed_or_not(app, value, signed):
    client, _, engine = app
    body = _event_with(value)
    before = _stored(engine)
    signature = sign_payload(body, SECRET) if signed else "t=1,v1=00"
    response = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": signature})
    _refused_clearly(response)
    assert _stored(engine) == before


@FUZZ
@given(value=big_numbers)
def test_a_signed_event_with_big_numbers_is_kept_or_refused_never_a_5xx(app, value):
    """Within the bounds a signed event is Stripe's word: kept (processing judges its fields)."""
    client, _, _ = app
    body = _event_with(f'{{"object": {{"amount": {value}}}}}')
    response = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, SECRET)})
    _sane(response)
    assert response.status_code in (200, 400)


@FUZZ
@given(extra=st.integers(min_value=1, max_value=3 * webhook_route.MAX_BODY_BYTES))
def test_the_webhook_refuses_an_oversize_body_with_413_even_signed(app, extra):
    client, _, engine = app
    body = b'{"id": "evt_big", "type": "x", "pad": "' + b"x" * (webhook_route.MAX_BODY_BYTES + extra) + b'"}'
    before = _stored(engine)
    response = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, SECRET)})
    assert _refused_clearly(response, (413,))["error"] == "body_too_large" and _stored(engine) == before


@FUZZ
@given(operation=st.sampled_from(BODY_OPERATIONS), data=st.data())
def test_every_v1_route_with_a_body_refuses_huge_numbers_deep_nesting_and_oversize(app, operation, data):
    client, _, engine = app
    fields = list(operation.body.model_fields) or ["anything"]
    attack = data.draw(st.sampled_from(["overlong", "big", "nesting", "oversize"]))
    if attack == "oversize":
        body, statuses = data.draw(oversize(v1.MAX_BODY_BYTES)), (413,)
    else:
        value = data.draw({"overlong": overlong_numbers, "big": big_numbers, "nesting": deep_nesting}[attack])
        body = _object({}, data.draw(st.sampled_from(fields)), value)
        # Past the parser's bounds: 400 (413 when that made it too long); else the rules refuse it
        # (422), or the route its missing fields or unknown id: any 4xx, none a 5xx.
        statuses = range(400, 500) if attack == "big" else (400, 413)
    path = operation.path.format(**{name: str(client.customer_id) for name in operation.path_params})
    before = _stored(engine)
    response = client.request(operation.method, path, content=body,
                              headers={"Authorization": f"Bearer {client.seller_key}", "Idempotency-Key": "fuzz-1"})
    error = _refused_clearly(response, statuses)["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert _stored(engine)[:-2] == before[:-2]  # the key's use is audited; nothing else is written
