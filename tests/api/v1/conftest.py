"""/api/v1 over real HTTP: granian on a loopback port (tests/api/conftest.py) on the test's database,
with a world built through the services: a catalog, a paying customer, keys of every kind."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, SQLModel, func, select

from billing_portal.billing import accounts, api_keys, catalog, payments, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.db import session_scope
from billing_portal.models import AuditEntry
from tests.api.conftest import start_api
from tests.support.builders import make_customer

GB = 1024**3


@dataclass
class World:
    ids: dict[str, int]
    tokens: dict[str, str]  # write, read, revoked, usage (a customer's bpk_), session (a browser's cookie)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def build_world(now: datetime | None = None) -> World:
    """Basic ($10 a month or $100 a year; 10 projects, 3 users, 1 GB, API calls with 10,000
    included) and Pro ($30 a month); Ana on Basic monthly since yesterday, paid ($1 refunded), external_id
    app-user-1; Bob with no plan."""
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    with session_scope() as session:
        basic = catalog.create_plan(session, slug="basic", name="Basic", tier=1, features=["Email support"],
                                    max_projects=10, max_users=3, storage_quota_bytes=GB)
        monthly = catalog.create_price(session, plan_id=basic.id, currency="USD", interval="month", interval_count=1,
                                       unit_amount=1000)
        yearly = catalog.create_price(session, plan_id=basic.id, currency="USD", interval="year", interval_count=1,
                                      unit_amount=10000)
        catalog.create_metered_price(session, plan_id=basic.id, metric="api_calls", label="API calls", currency="USD",
                                     package_size=1000, package_amount=250, included_units=10_000)
        pro = catalog.create_plan(session, slug="pro", name="Pro", tier=2, features=["Email support", "SSO"],
                                  max_projects=None, max_users=20, storage_quota_bytes=10 * GB)
        pro_monthly = catalog.create_price(session, plan_id=pro.id, currency="USD", interval="month", interval_count=1,
                                           unit_amount=3000)
        ana = make_customer(session, "ana@example.com")
        ana.external_id = "app-user-1"
        session.add(ana)
        bob = make_customer(session, "bob@example.com")
        subscribed = subscriptions.subscribe(session, customer_id=ana.id, price_id=monthly.id, now=start)
        payment = payments.record_payment(session, invoice_id=subscribed.invoice.id, idempotency_key="pay-1",
                                          succeeded=True, now=start)
        refund = payments.record_refund(session, payment_id=payment.id, amount=100, reason="Goodwill", now=start)
        user = CurrentUser(user_id=ana.user_id, email="ana@example.com", role="customer", customer_id=ana.id,
                           name="Ana", currency="USD", locale="en_US")
        tokens = {
            "write": seller_keys.create(session, actor="test", name="app", scope="write").token,
            "read": seller_keys.create(session, actor="test", name="dashboard", scope="read").token,
            "usage": api_keys.create(session, user=user, name="usage").token,
            "session": accounts.start_session(
                session, accounts.sign_in(session, email="ana@example.com", password="correct horse battery")),
        }
        revoked = seller_keys.create(session, actor="test", name="old", scope="write")
        seller_keys.revoke(session, actor="test", key_id=revoked.key.id)
        tokens["revoked"] = revoked.token
        ids = {"ana": ana.id, "bob": bob.id, "basic": basic.id, "pro": pro.id, "monthly": monthly.id,
               "yearly": yearly.id, "pro_monthly": pro_monthly.id, "subscription": subscribed.subscription.id,
               "invoice": subscribed.invoice.id, "payment": payment.id, "refund": refund.id}
    return World(ids, tokens)


@pytest.fixture
def world(engine) -> World:
    return build_world()


@pytest.fixture
def server(engine, db_url, tmp_path):
    handle = start_api(db_url, STORAGE_DIR=str(tmp_path / "files"))
    yield handle
    handle.stop()


@pytest.fixture
def api(server, world):
    """An httpx client on the server with the write key; `api.as_(token)` for another caller."""
    return Api(server.url, world)


class Api:
    def __init__(self, url: str, world: World) -> None:
        self.url, self.world = url, world

    def call(self, method: str, path: str, *, token: str | None = "write", json=None, content=None,
             headers: dict | None = None, params=None) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {self.world.tokens.get(token, token)}"
        return httpx.request(method, self.url + path, json=json, content=content, headers=sent, params=params,
                             timeout=15)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, json=None, **kw) -> httpx.Response:
        return self.call("POST", path, json=json, **kw)


def table_counts(engine) -> dict[str, int]:
    """Rows per table, the key-use notes left out (a denied read key is still a use of that key)."""
    with Session(engine) as session:
        counts = {table.name: session.exec(select(func.count()).select_from(table)).one()
                  for table in SQLModel.metadata.sorted_tables if table.name != "audit_log"}
        counts["audit_log"] = session.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action != "seller_api_key.used")).one()
    return counts


def assert_error(response: httpx.Response, status: int, type_: str, code: str, param=...) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "code", "message", "param", "request_id"}, body
    assert body["error"]["request_id"] == response.headers["x-request-id"], body
    assert (body["error"]["type"], body["error"]["code"]) == (type_, code), body
    if param is not ...:
        assert body["error"]["param"] == param, body
    return body["error"]
