"""The machinery every operation shares, over real HTTP: Idempotency-Key, cursor pagination, the one
error shape for every 4xx, rate limits with Retry-After."""

import json

import pytest
from sqlmodel import Session, func, select

from billing_portal.billing.seller_api import schemas
from billing_portal.db import session_scope
from billing_portal.models import Customer
from tests.api.conftest import start_api
from tests.api.v1.conftest import Api, assert_error, table_counts
from tests.support.builders import make_customer
from tests.support.concurrency import all_at_once

NEW = {"external_id": "app-user-2", "email": "cy@example.com", "name": "Cy Young", "country": "KR"}


def _customers(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Customer)).one()


def test_the_same_key_and_body_replays_the_first_answer_and_another_body_is_409(api, engine):
    first = api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "create-cy"})
    assert first.status_code == 201 and first.json()["external_id"] == "app-user-2"
    # The same JSON written another way is the same request.
    again = api.call("POST", "/api/v1/customers", content=json.dumps(dict(reversed(NEW.items())), indent=2),
                     headers={"Idempotency-Key": "create-cy", "Content-Type": "application/json"})
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, first.json(), "true")
    before = table_counts(engine)
    other = api.post("/api/v1/customers", {**NEW, "name": "Someone Else"}, headers={"Idempotency-Key": "create-cy"})
    assert_error(other, 409, "idempotency_error", "idempotency_key_reused", "Idempotency-Key")
    elsewhere = api.post("/api/v1/customers/ext_app-user-2", {"name": "Cy"}, headers={"Idempotency-Key": "create-cy"})
    assert_error(elsewhere, 409, "idempotency_error", "idempotency_key_reused")
    assert table_counts(engine) == before
    # A conflict does not replace what the key kept.
    assert api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "create-cy"}).status_code == 201


def test_a_failed_request_keeps_nothing_and_may_be_retried_with_its_key(api, engine):
    refused = api.post("/api/v1/customers", {**NEW, "country": "XX"}, headers={"Idempotency-Key": "k1"})
    assert_error(refused, 422, "invalid_request_error", "invalid_value", "country")
    assert _customers(engine) == 2
    assert api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "k1"}).status_code == 201


def test_racing_twins_with_one_key_create_one_customer(api, engine):
    answers = all_at_once(4, lambda: api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": "race"}))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert _customers(engine) == 3


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "é"])
def test_a_malformed_idempotency_key_is_400(api, key):
    response = api.post("/api/v1/customers", NEW, headers={"Idempotency-Key": key.encode("utf-8")})
    assert_error(response, 400, "invalid_request_error", "invalid_idempotency_key", "Idempotency-Key")


def test_usage_reports_need_an_idempotency_key(api, world):
    response = api.post(f"/api/v1/customers/{world.ids['ana']}/usage_records", {"metric": "api_calls", "quantity": 1})
    assert_error(response, 400, "invalid_request_error", "idempotency_key_required", "Idempotency-Key")


def test_cursor_pagination_walks_every_customer_once_newest_first(api, engine):
    with session_scope() as session:
        for n in range(23):
            make_customer(session, f"c{n}@example.com")
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/api/v1/customers", params={"limit": 10, **({"starting_after": cursor} if cursor else {})}).json()
        schemas.CustomerList.model_validate(page)
        seen += [c["id"] for c in page["data"]]
        pages += 1
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
        assert cursor == str(page["data"][-1]["id"])
    assert pages == 3 and seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 25
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"starting_after": "abc"}, {"unknown": "1"}):
        assert_error(api.get("/api/v1/customers", params=bad), 422, "invalid_request_error", "validation_error",
                     next(iter(bad)))


def test_every_error_has_the_one_shape(api, world):
    ana = world.ids["ana"]
    assert_error(api.get("/api/v1/customers", token=None), 401, "authentication_error", "invalid_api_key", None)
    assert_error(api.post("/api/v1/customers", NEW, token="read"), 403, "permission_error", "read_only_key")
    assert_error(api.get("/api/v1/customers/999999"), 404, "not_found_error", "resource_missing")
    assert_error(api.get("/api/v1/customers/ext_nobody"), 404, "not_found_error", "resource_missing")
    assert_error(api.get("/api/v1/customers/-1"), 404, "not_found_error", "resource_missing")
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found_error", "route_not_found")
    deleted = api.call("DELETE", f"/api/v1/customers/{ana}")
    assert_error(deleted, 405, "invalid_request_error", "method_not_allowed")
    assert "GET" in deleted.headers["allow"]
    assert_error(api.post("/api/v1/customers", {**NEW, "external_id": "app-user-1"}), 409, "conflict_error",
                 "already_exists", "external_id")
    assert_error(api.post("/api/v1/customers", {**NEW, "email": "ana@example.com"}), 409, "conflict_error",
                 "already_exists", "email")
    assert_error(api.call("POST", "/api/v1/customers", content=b"{not json"), 400, "invalid_request_error", "invalid_json")
    assert_error(api.call("POST", "/api/v1/customers", content=b"[1]"), 400, "invalid_request_error", "invalid_json")
    assert_error(api.call("POST", "/api/v1/customers", content=b" " * 70_000), 413, "invalid_request_error",
                 "body_too_large")
    assert_error(api.post("/api/v1/customers", {**NEW, "surprise": 1}), 422, "invalid_request_error",
                 "validation_error", "surprise")
    assert_error(api.post("/api/v1/customers", {**NEW, "external_id": "has space"}), 422, "invalid_request_error",
                 "validation_error", "external_id")
    assert_error(api.post(f"/api/v1/subscriptions/{world.ids['subscription']}/resume", {}), 422,
                 "invalid_request_error", "refused")


def test_over_the_rate_limit_is_429_with_retry_after(engine, db_url, world):
    server = start_api(db_url, RATE_LIMIT_SELLER_API="3/minute")
    try:
        api = Api(server.url, world)
        assert [api.get("/api/v1/plans").status_code for _ in range(3)] == [200] * 3
        limited = api.get("/api/v1/plans")
        assert_error(limited, 429, "rate_limit_error", "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert api.get("/api/v1/plans", token="read").status_code == 200  # per key, not per address
    finally:
        server.stop()
