"""Seller keys on SQLite and PostgreSQL: shown once, stored hashed, scoped, revoked at once, audited."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from billing_portal.billing import api_keys
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.seller_keys import service
from billing_portal.models import AuditEntry, Role, SellerApiKey
from tests.support.builders import make_admin, make_customer


def _actions(session) -> list[str]:
    return [entry.action for entry in session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]


def test_a_key_is_shown_once_stored_hashed_and_authenticates(session):
    created = service.create(session, actor="cli", name="  app   server ", scope="write")
    assert created.token.startswith("bps_") and len(created.token) > 40
    row = session.get(SellerApiKey, created.key.id)
    assert row.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in str(row.model_dump()) and row.prefix == created.token[:12]
    assert (created.key.name, created.key.scope) == ("app server", "write")
    caller = service.authenticate(session, created.token)
    assert (caller.key_id, caller.scope, caller.can_write) == (created.key.id, "write", True)
    assert service.authenticate(session, created.token + "x") is None
    assert service.authenticate(session, "bps_" + "A" * 43) is None
    assert service.authenticate(session, None) is None


def test_uses_are_noted_once_a_minute_and_revoking_stops_the_key(session):
    created = service.create(session, actor="cli", name="reader", scope="read")
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    for seconds in (0, 10, 59, 60, 61):
        assert service.authenticate(session, created.token, now=start + timedelta(seconds=seconds)).can_write is False
    assert session.get(SellerApiKey, created.key.id).last_used_at == start + timedelta(seconds=60)
    assert _actions(session) == ["seller_api_key.create", "seller_api_key.used", "seller_api_key.used"]
    service.revoke(session, actor="cli", key_id=created.key.id)
    assert service.authenticate(session, created.token) is None
    with pytest.raises(NotFound):
        service.revoke(session, actor="cli", key_id=created.key.id)
    assert [k.id for k in service.list_keys(session, include_revoked=False)] == []
    assert service.list_keys(session)[0].revoked_at is not None
    assert _actions(session)[-1] == "seller_api_key.revoke"


@pytest.mark.parametrize(("name", "scope"), [("", "read"), ("x" * 101, "read"), ("ok", "admin"), ("ok", "")])
def test_a_bad_name_or_scope_is_refused_and_stores_nothing(session, name, scope):
    with pytest.raises(DomainError):
        service.create(session, actor="cli", name=name, scope=scope)
    assert session.exec(select(SellerApiKey)).all() == []


def test_seller_and_usage_keys_do_not_open_each_others_door(session):
    customer = make_customer(session)
    from billing_portal.billing.accounts import CurrentUser

    user = CurrentUser(user_id=customer.user_id, email="ana@example.com", role="customer",
                       customer_id=customer.id, name="Ana", currency="USD", locale="en_US")
    usage_token = api_keys.create(session, user=user, name="usage").token
    seller_token = service.create(session, actor="cli", name="app", scope="write").token
    assert service.authenticate(session, usage_token) is None
    assert api_keys.authenticate(session, seller_token) is None
    assert api_keys.authenticate(session, usage_token).customer_id == customer.id


def test_the_admin_page_reads_one_page_of_keys_newest_first(session):
    admin = make_admin(session)
    made = [service.create(session, actor=admin, name=f"app {n}", scope="read").key.id for n in range(5)]
    service.revoke(session, actor=admin, key_id=made[0])
    rows, total = service.key_page(session, admin=admin, page=1, per_page=3)
    assert total == 5 and [k.id for k in rows] == made[::-1][:3]
    rows, _ = service.key_page(session, admin=admin, page=2, per_page=3)
    assert [k.id for k in rows] == made[1::-1] and rows[-1].revoked_at is not None
    entries = session.exec(select(AuditEntry).where(AuditEntry.subject_type == "seller_api_key")).all()
    assert {e.actor_user_id for e in entries} == {admin.user_id} and len(entries) == 6
    customer = make_customer(session, "eve@example.com")
    eve = CurrentUser(user_id=customer.user_id, email="eve@example.com", role=Role.CUSTOMER, customer_id=customer.id,
                      name="Eve", currency="USD", locale="en_US")
    with pytest.raises(NotFound):
        service.key_page(session, admin=eve, page=1, per_page=3)
