"""Delivering to a real receiver on loopback that verifies with the official `standardwebhooks`
library (SQLite and PostgreSQL): signatures, retries after a 500 and a timeout, redirects not
followed, one send when two runners race, manual redelivery, auto-disable after days of failures."""

from datetime import timedelta

import pytest
from sqlmodel import select

from billing_portal.billing.errors import NotFound
from billing_portal.billing.outgoing_webhooks import delivery, endpoints
from billing_portal.billing.outgoing_webhooks.delivery import RETRY_SCHEDULE
from billing_portal.models import AuditEntry, OutboxEmail, WebhookDelivery, WebhookEndpoint
from billing_portal.models.types import utcnow
from tests.support.builders import make_customer
from tests.support.concurrency import all_at_once


@pytest.fixture
def t0():
    """Events are made at the real time (make_customer): the runs of a test come after them."""
    return utcnow().replace(microsecond=0) + timedelta(minutes=1)


def rows(scope) -> list[WebhookDelivery]:
    with scope() as s:
        return list(s.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def one_event(scope, email="bo@example.com") -> None:
    with scope() as s:
        make_customer(s, email)


def test_every_event_arrives_signed_and_verifies(t0, scope, endpoint, receiver):
    for n in range(3):
        one_event(scope, f"c{n}@example.com")
    assert delivery.deliver_due(t0, session_scope=scope) == 3
    assert [r.verified for r in receiver.received] == [True] * 3
    assert [e["data"]["email"] for e in receiver.verified_events()] == [f"c{n}@example.com" for n in range(3)]
    assert {r.headers["webhook-id"] for r in receiver.received} == {e["id"] for e in receiver.verified_events()}
    assert [(r.status, r.attempts, r.response_code) for r in rows(scope)] == [("succeeded", 1, 204)] * 3
    assert delivery.deliver_due(t0 + timedelta(days=1), session_scope=scope) == 0  # nothing sent twice


def test_a_500_is_retried_on_the_schedule_with_the_same_id(t0, scope, endpoint, receiver):
    receiver.script = [500, 503]
    one_event(scope)
    assert delivery.deliver_due(t0, session_scope=scope) == 0
    (row,) = rows(scope)
    assert (row.status, row.attempts, row.response_code, row.next_attempt_at) == ("pending", 1, 500, t0 + RETRY_SCHEDULE[0])
    assert delivery.deliver_due(t0 + timedelta(seconds=4), session_scope=scope) == 0  # not due yet
    assert delivery.deliver_due(t0 + RETRY_SCHEDULE[0], session_scope=scope) == 0
    assert rows(scope)[0].next_attempt_at == t0 + RETRY_SCHEDULE[0] + RETRY_SCHEDULE[1]
    assert delivery.deliver_due(t0 + timedelta(hours=1), session_scope=scope) == 1
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1 and len(receiver.received) == 3
    assert all(r.verified for r in receiver.received)


def test_a_timeout_is_a_failure_and_retried(t0, scope, endpoint, receiver):
    receiver.script = [("stall", 2.5)]  # OUTGOING_WEBHOOKS_TIMEOUT_SECONDS is 1 in these tests
    one_event(scope)
    assert delivery.deliver_due(t0, session_scope=scope) == 0
    (row,) = rows(scope)
    assert row.status == "pending" and "timed out" in row.last_error and row.response_code is None
    assert delivery.deliver_due(t0 + timedelta(minutes=1), session_scope=scope) == 1


def test_a_redirect_is_not_followed(t0, scope, endpoint, receiver):
    receiver.script = [("redirect", f"http://127.0.0.1:{receiver.port}/elsewhere")]
    one_event(scope)
    assert delivery.deliver_due(t0, session_scope=scope) == 0
    (row,) = rows(scope)
    assert row.response_code == 302 and "not followed" in row.last_error
    assert len(receiver.arrived) == 1  # the Location was never asked for


def test_retries_end_after_the_last_attempt(t0, scope, endpoint, receiver):
    receiver.script = [500] * 20
    one_event(scope)
    at = t0
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_due(at, session_scope=scope)
        at += timedelta(hours=11)
    (row,) = rows(scope)
    assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert sum(RETRY_SCHEDULE, timedelta()) > timedelta(days=1)


def test_two_runners_at_once_send_it_once(t0, scope, endpoint, receiver):
    receiver.script = [("stall", 0.3)]
    one_event(scope)
    results = all_at_once(4, lambda: delivery.deliver_due(t0, session_scope=scope))
    assert sum(results) == 1 and len(receiver.arrived) == 1


def test_manual_redelivery_sends_the_same_event_again_and_is_audited(t0, scope, admin, endpoint, receiver):
    one_event(scope)
    delivery.deliver_due(t0, session_scope=scope)
    (row,) = rows(scope)
    with scope() as s:
        endpoints.redeliver(s, row.id, admin=admin, now=t0 + timedelta(hours=1))
    assert delivery.deliver_due(t0 + timedelta(hours=1), session_scope=scope) == 1
    first, again = receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"] and again.verified
    with scope() as s:
        assert s.exec(select(AuditEntry.action).where(AuditEntry.action == "webhook_delivery.redeliver")).all()
        log = endpoints.delivery_log(s, endpoint.id, admin=admin)
    assert [(d.status, e.type) for d, e in log] == [("succeeded", "customer.created")]


def test_a_customer_cannot_see_or_redeliver(scope, endpoint):
    one_event(scope)
    from billing_portal.billing.accounts import CurrentUser

    with scope() as s:
        customer = make_customer(s, "eve@example.com")
        eve = CurrentUser(user_id=customer.user_id, email="eve@example.com", role="customer",
                          customer_id=customer.id, name="Eve", currency="USD", locale="en_US")
        with pytest.raises(NotFound):
            endpoints.redeliver(s, rows(scope)[0].id, admin=eve)
        with pytest.raises(NotFound):
            endpoints.delivery_log(s, endpoint.id, admin=eve)


def test_an_endpoint_failing_for_days_is_disabled_and_the_admins_told(t0, scope, admin, endpoint, receiver, monkeypatch):
    receiver.stop()  # nothing listens any more: every attempt fails
    one_event(scope)
    at = t0
    while at < t0 + timedelta(days=6):
        delivery.deliver_due(at, session_scope=scope)
        one_event(scope, f"c{at:%d%H}@example.com")  # the portal keeps making events meanwhile
        at += timedelta(hours=12)
    with scope() as s:
        stored = s.get(WebhookEndpoint, endpoint.id)
        assert not stored.enabled and "Every delivery failed since" in stored.disabled_reason
        assert stored.failing_since == t0
        pending = s.exec(select(WebhookDelivery).where(WebhookDelivery.status == "pending")).all()
        mail = s.exec(select(OutboxEmail).where(OutboxEmail.to_address == "root@example.com")).all()
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "webhook_endpoint.disabled")).all()
    assert pending == [] and len(mail) == 1 and "was disabled" in mail[0].text_body and len(audited) == 1
    disabled_on = audited[0].at
    assert timedelta(days=5) <= disabled_on - t0 < timedelta(days=5, hours=12)
    # Enabled again by the admin: its failures are forgotten and new events go to it.
    with scope() as s:
        endpoints.update(s, endpoint.id, admin=admin, data=endpoints.check(endpoint.url, "", [], True))
        assert s.get(WebhookEndpoint, endpoint.id).failing_since is None


def test_a_success_clears_the_failing_mark(t0, scope, endpoint, receiver):
    receiver.script = [500]
    one_event(scope)
    delivery.deliver_due(t0, session_scope=scope)
    with scope() as s:
        assert s.get(WebhookEndpoint, endpoint.id).failing_since == t0
    delivery.deliver_due(t0 + timedelta(minutes=1), session_scope=scope)
    with scope() as s:
        assert s.get(WebhookEndpoint, endpoint.id).failing_since is None
