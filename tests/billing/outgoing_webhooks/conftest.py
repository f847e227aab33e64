"""Shared by the outgoing webhooks tests: an admin, a real receiver on loopback, an endpoint."""

from functools import partial

import pytest
from argon2 import PasswordHasher

from billing_portal.billing import accounts
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.outgoing_webhooks import endpoints
from billing_portal.db import session_scope
from billing_portal.settings import get_settings
from tests.support.builders import make_admin
from tests.support.webhook_receiver import Receiver


@pytest.fixture(autouse=True)
def _cheap_hashing_and_loopback(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true")  # the receiver is on loopback
    monkeypatch.setenv("OUTGOING_WEBHOOKS_TIMEOUT_SECONDS", "1")
    get_settings.cache_clear()


@pytest.fixture
def scope(engine):
    return partial(session_scope, engine)


@pytest.fixture
def admin(scope) -> CurrentUser:
    with scope() as s:
        return make_admin(s)


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def endpoint(scope, admin, receiver):
    """An enabled endpoint for every event type, its secret given to the receiver."""
    with scope() as s:
        created = endpoints.create(s, admin=admin, data=endpoints.check(receiver.url, "The SaaS app", []))
    receiver.secret = created.secret
    return created.endpoint
