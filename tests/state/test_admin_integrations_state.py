"""/admin/api-keys and /admin/webhook-endpoints as an admin: a key's token and an endpoint's secret
shown once (gone after a reload), revoking, refused input changing nothing, enable/disable, delete,
the delivery log and redelivery; a customer gets nothing (also for every handler: test_admin_state.py)."""

import inspect

import pytest
from sqlmodel import Session, func, select

from billing_portal.billing.outgoing_webhooks import delivery, endpoints
from billing_portal.billing.seller_keys import service as seller_keys
from billing_portal.db import session_scope
from billing_portal.models import AuditEntry, Role, SellerApiKey, User, WebhookDelivery, WebhookEndpoint
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.admin_integrations import ApiKeysAdminState, EndpointsAdminState
from tests.state.test_admin_state import sign_in_as, state_of
from tests.support.builders import make_customer
from tests.support.webhook_receiver import Receiver


def drive(result) -> None:
    """Run a handler's answer as Reflex does: a generator to its end."""
    if inspect.isgenerator(result):
        for _ in result:
            pass


def _count(model) -> int:
    with session_scope() as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def admin_token(engine):
    return sign_in_as(engine, Role.ADMIN, "root@example.com")


def _admin_id(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(User).where(User.email == "root@example.com")).one().id


def test_a_key_is_created_shown_once_and_revoked_audited_with_the_admin(engine, admin_token):
    state = state_of(ApiKeysAdminState, admin_token)
    state.on_load()
    assert state.admin_access == "ok" and state.rows == [] and state.total == 0
    drive(state.create_key({"name": "  Production  server ", "scope": "write"}))
    assert state.error == "" and state.new_token.startswith("bps_") and state.new_token_name == "Production server"
    token = state.new_token
    assert [(r.name, r.scope, r.last_used_label, r.revoked_label) for r in state.rows] == [
        ("Production server", "write", "never", "")]
    assert token.startswith(state.rows[0].prefix) and token not in repr(state.rows)
    with session_scope() as s:
        assert seller_keys.authenticate(s, token).can_write
    state.on_load()  # a reload
    assert state.new_token == "" and len(state.rows) == 1

    state.ask_revoke(state.rows[0].id)
    assert state.revoking_row.name == "Production server"
    state.confirm_revoke()
    assert state.revoking_id == "" and "revoked" in state.notice and state.rows[0].revoked_label != ""
    with session_scope() as s:
        assert seller_keys.authenticate(s, token) is None
        entries = s.exec(select(AuditEntry).where(AuditEntry.subject_type == "seller_api_key")).all()
    assert [e.action for e in entries] == ["seller_api_key.create", "seller_api_key.used", "seller_api_key.revoke"]
    assert {e.actor_user_id for e in entries if e.action != "seller_api_key.used"} == {_admin_id(engine)}
    state.ask_revoke(state.rows[0].id)  # revoked already: nothing to confirm
    assert state.revoking_id == ""


@pytest.mark.parametrize("form, message", [({"name": "", "scope": "read"}, "name"),
                                           ({"name": "x" * 101, "scope": "read"}, "name"),
                                           ({"name": "app", "scope": "admin"}, "read or write")])
def test_a_bad_key_form_says_why_and_creates_nothing(engine, admin_token, form, message):
    state = state_of(ApiKeysAdminState, admin_token)
    state.on_load()
    drive(state.create_key(form))
    assert message in state.error and state.new_token == "" and _count(SellerApiKey) == 0


def test_a_customer_creates_no_key_and_sees_none(engine, admin_token):
    with session_scope() as s:
        seller_keys.create(s, actor="cli", name="existing", scope="read")
    state = state_of(ApiKeysAdminState, sign_in_as(engine, Role.CUSTOMER, "ana@example.com"))
    state.on_load()
    drive(state.create_key({"name": "mine", "scope": "write"}))
    state.revoking_id = "1"
    state.confirm_revoke()
    assert state.admin_access == "denied" and state.rows == [] and state.new_token == ""
    assert _count(SellerApiKey) == 1
    with session_scope() as s:
        assert s.exec(select(SellerApiKey)).one().revoked_at is None


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setenv("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()


def _endpoint_form(url: str, *types: str, every: bool = False, description: str = "") -> dict:
    form = {"url": url, "description": description, **{f"event:{t}": "on" for t in types}}
    return {**form, "every": "on"} if every else form


def test_an_endpoint_is_added_with_its_secret_shown_once(engine, admin_token, loopback_allowed, receiver):
    state = state_of(EndpointsAdminState, admin_token)
    state.on_load()
    state.open_form()
    assert state.form_open
    drive(state.create_endpoint(_endpoint_form(receiver.url, "customer.created", "invoice.paid",
                                               description="The app")))
    assert state.dialog_error == "" and not state.form_open
    assert state.new_secret.startswith("whsec_") and state.new_secret_url == receiver.url
    assert [(r.url, r.events_label, r.status, r.description) for r in state.rows] == [
        (receiver.url, "customer.created, invoice.paid", "enabled", "The app")]
    receiver.secret = state.new_secret
    state.on_load()
    assert state.new_secret == "" and len(state.rows) == 1

    # An event, delivered; the log shows it, and it is redelivered with the same id.
    with session_scope() as s:
        make_customer(s, "ana@example.com")
    delivery.deliver_due(utcnow(), session_scope=session_scope)
    state.open_log(state.rows[0].id)
    assert state.log_url == receiver.url
    [row] = state.log_rows
    assert (row.event_type, row.status, row.attempts, row.response_code, row.next_retry_label) == (
        "customer.created", "succeeded", "1", "204", "")
    assert row.duration_label.endswith(" ms") and row.event_id.startswith("msg_")
    state.redeliver(row.id)
    assert "queued for redelivery" in state.notice and state.log_rows[0].status == "pending"
    delivery.deliver_due(utcnow(), session_scope=session_scope)
    state.refresh_log()
    assert state.log_rows[0].status == "succeeded"
    assert [r.headers["webhook-id"] for r in receiver.wait_for(2)] == [row.event_id] * 2
    assert all(r.verified for r in receiver.received)
    state.redeliver("999999")  # not in the log
    assert state.error == "Pick a delivery from the log."


def test_everything_an_admin_does_to_an_endpoint_is_audited(engine, admin_token, loopback_allowed):
    state = state_of(EndpointsAdminState, admin_token)
    state.on_load()
    drive(state.create_endpoint(_endpoint_form("http://127.0.0.1:9/in", every=True)))
    endpoint_id = state.rows[0].id
    assert state.rows[0].events_label == "All events"
    state.set_endpoint_enabled(endpoint_id, False)
    assert state.rows[0].status == "disabled" and "disabled" in state.notice
    state.set_endpoint_enabled(endpoint_id, True)
    assert state.rows[0].status == "enabled"
    state.open_log(endpoint_id)
    state.ask_delete(endpoint_id)
    assert state.deleting_row.url == "http://127.0.0.1:9/in"
    state.confirm_delete()
    assert state.rows == [] and state.log_id == "" and "deleted" in state.notice
    assert _count(WebhookEndpoint) == 0
    with session_scope() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.subject_type == "webhook_endpoint")
                         .order_by(AuditEntry.id)).all()
    assert [e.action.removeprefix("webhook_endpoint.") for e in entries] == ["create", "update", "update", "delete"]
    assert {e.actor_user_id for e in entries} == {_admin_id(engine)}


@pytest.mark.parametrize("form, message", [
    (_endpoint_form("not a url", "invoice.paid"), "http:// or https://"),
    (_endpoint_form("http://127.0.0.1:8080/hooks", "invoice.paid"), "private or loopback"),
    (_endpoint_form("http://10.0.0.5/hooks", every=True), "private or loopback"),
    (_endpoint_form("https://hooks.example.com/in"), "Choose the event types"),
    (_endpoint_form("https://hooks.example.com/in", "invoice.paid", description="d" * 300), "200 characters"),
])
def test_a_bad_endpoint_form_says_why_and_changes_nothing(engine, admin_token, form, message):
    state = state_of(EndpointsAdminState, admin_token)
    state.on_load()
    state.open_form()
    drive(state.create_endpoint(form))
    assert message in state.dialog_error and state.form_open and state.new_secret == ""
    assert _count(WebhookEndpoint) == 0 and _count(AuditEntry) == 0


def test_a_customer_touches_no_endpoint(engine, admin_token, loopback_allowed):
    admin = state_of(EndpointsAdminState, admin_token)
    admin.on_load()
    drive(admin.create_endpoint(_endpoint_form("http://127.0.0.1:9/in", "invoice.paid")))
    endpoint_id = admin.rows[0].id
    state = state_of(EndpointsAdminState, sign_in_as(engine, Role.CUSTOMER, "ana@example.com"))
    state.on_load()
    drive(state.create_endpoint(_endpoint_form("http://127.0.0.1:9/two", "invoice.paid")))
    state.set_endpoint_enabled(endpoint_id, False)
    state.open_log(endpoint_id)
    state.deleting_id = endpoint_id
    state.confirm_delete()
    assert state.admin_access == "denied" and state.rows == [] and state.log_rows == [] and state.log_url == ""
    with session_scope() as s:
        assert [(e.url, e.enabled) for e in s.exec(select(WebhookEndpoint))] == [("http://127.0.0.1:9/in", True)]
    assert _count(WebhookDelivery) == 0
