"""API keys for the usage API: shown once, stored as a hash, listed by prefix, revoked at once."""

import hashlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from billing_portal.billing import accounts, api_keys
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import ApiKey, AuditEntry
from tests.support.builders import T0, make_customer


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def user_of(customer, email="ana@example.com") -> CurrentUser:
    return CurrentUser(user_id=customer.user_id, email=email, role="customer", customer_id=customer.id,
                       name="Ana", currency="USD", locale="en_US")


def test_a_key_is_shown_once_and_only_its_hash_is_kept(session):
    user = user_of(make_customer(session))
    created = api_keys.create(session, user=user, name="  CI   server ", now=T0)
    token = created.token
    assert token.startswith("bpk_") and len(token) == 4 + 43
    row = session.exec(select(ApiKey)).one()
    assert (row.name, row.prefix) == ("CI server", token[:12])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in row.model_dump().values()}
    assert [k.prefix for k in api_keys.list_keys(session, user.customer_id)] == [token[:12]]

    assert api_keys.authenticate(session, token, now=T0).id == row.id
    assert row.last_used_at == T0
    api_keys.authenticate(session, token, now=T0 + timedelta(seconds=30))
    assert row.last_used_at == T0  # written at most once a minute
    for wrong in ("", "bpk_", token + "x", token[:-1], "Bearer " + token, None):
        assert api_keys.authenticate(session, wrong) is None


def test_revoking_stops_the_key_and_another_customers_key_is_not_found(session):
    ana = user_of(make_customer(session))
    bo = user_of(make_customer(session, "bo@example.com"), "bo@example.com")
    token = api_keys.create(session, user=ana, name="laptop").token
    key_id = api_keys.list_keys(session, ana.customer_id)[0].id
    with pytest.raises(NotFound, match="No such API key"):
        api_keys.revoke(session, user=bo, key_id=key_id)
    assert api_keys.authenticate(session, token) is not None
    api_keys.revoke(session, user=ana, key_id=key_id)
    assert api_keys.authenticate(session, token) is None
    assert api_keys.list_keys(session, ana.customer_id) == []
    with pytest.raises(NotFound):
        api_keys.revoke(session, user=ana, key_id=key_id)
    actions = session.exec(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["api_key.create", "api_key.revoke"]


def test_names_are_required_and_keys_are_limited(session):
    user = user_of(make_customer(session))
    for name in ("", "   ", "x" * 101):
        with pytest.raises(DomainError, match="name of 1–100"):
            api_keys.create(session, user=user, name=name)
    for n in range(api_keys.MAX_ACTIVE_KEYS):
        api_keys.create(session, user=user, name=f"key {n}")
    with pytest.raises(DomainError, match="revoke one"):
        api_keys.create(session, user=user, name="one too many")
    admin = CurrentUser(user_id=99, email="a@x", role="admin", customer_id=None, name="", currency="USD", locale="en_US")
    with pytest.raises(DomainError, match="customer account"):
        api_keys.create(session, user=admin, name="x")
