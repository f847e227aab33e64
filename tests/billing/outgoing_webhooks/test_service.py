"""Events written in the transaction of the change they report (SQLite and PostgreSQL): which ones
the engine's use cases emit, their payload, per-object versions, filters, alerts mailed once."""

from datetime import date

import pytest
from sqlmodel import select

from billing_portal.billing import payments, subscriptions
from billing_portal.billing.analytics import reconciliation_found
from billing_portal.billing.errors import DomainError
from billing_portal.billing.outgoing_webhooks import endpoints, service
from billing_portal.billing.outgoing_webhooks.schemas import Event
from billing_portal.models import OutboxEmail, OutgoingEvent, WebhookDelivery
from tests.support.builders import T0, make_customer, make_plan


def events(scope) -> list[OutgoingEvent]:
    with scope() as s:
        return list(s.exec(select(OutgoingEvent).order_by(OutgoingEvent.id)))


def types(scope) -> list[str]:
    return [e.type for e in events(scope)]


def test_nothing_is_written_without_an_endpoint(scope):
    with scope() as s:
        make_customer(s)
    assert events(scope) == []


def test_a_customers_life_emits_every_event_in_order_with_versions(scope, endpoint):
    with scope() as s:
        customer = make_customer(s, "bo@example.com")
        _, prices = make_plan(s, "pro", tier=1, prices={("USD", "month", 1): 1500})
        subscribed = subscriptions.subscribe(s, customer_id=customer.id, price_id=prices["USD", "month", 1].id, now=T0)
        payment = payments.record_payment(s, invoice_id=subscribed.invoice.id, idempotency_key="first",
                                          succeeded=True, now=T0)
        payments.record_refund(s, payment_id=payment.id, amount=500, reason="goodwill", now=T0)
        subscriptions.cancel(s, subscribed.subscription.id, at_period_end=False, reason="", now=T0)
    assert types(scope) == [
        "customer.created", "invoice.finalized", "subscription.created", "entitlements.updated",
        "payment.succeeded", "invoice.paid", "subscription.updated", "entitlements.updated",
        "refund.succeeded", "subscription.canceled", "entitlements.updated",
    ]
    written = events(scope)
    for row in written:
        Event.model_validate(row.payload)  # every payload is the documented shape
        assert row.payload["id"] == row.event_id and row.event_id.startswith("msg_")
    subscription_versions = [e.version for e in written if e.object_type == "subscription"]
    assert subscription_versions == [1, 2, 3]
    entitlements = [e.payload["data"] for e in written if e.type == "entitlements.updated"]
    assert [(d["status"], d["plan"]) for d in entitlements] == [("incomplete", None), ("active", "pro"),
                                                                ("canceled", None)]
    assert entitlements[1]["features"] == ["pro feature"]
    with scope() as s:
        assert len(s.exec(select(WebhookDelivery)).all()) == len(written)  # one endpoint: one delivery each


def test_a_failed_payment_makes_the_subscription_past_due(scope, endpoint):
    with scope() as s:
        customer = make_customer(s, "bo@example.com")
        _, prices = make_plan(s, "pro", tier=1, prices={("USD", "month", 1): 1500})
        sub = subscriptions.subscribe(s, customer_id=customer.id, price_id=prices["USD", "month", 1].id, now=T0)
        payments.record_payment(s, invoice_id=sub.invoice.id, idempotency_key="first", succeeded=True, now=T0)
        renewal = subscriptions.renew(s, sub.subscription.id, now=sub.subscription.current_period_end)
        payments.record_payment(s, invoice_id=renewal.id, idempotency_key="renewal", succeeded=False,
                                failure_message="Your card was declined.", now=sub.subscription.current_period_end)
    assert types(scope)[-3:] == ["payment.failed", "subscription.past_due", "entitlements.updated"]
    failed = next(e for e in events(scope) if e.type == "payment.failed")
    assert failed.payload["data"]["failure_message"] == "Your card was declined."


def test_the_event_is_rolled_back_with_the_change(scope, endpoint):
    with pytest.raises(DomainError), scope() as s:
        make_customer(s, "bo@example.com")
        raise DomainError("the use case failed after the change")
    assert events(scope) == []


def test_an_endpoint_gets_only_the_types_it_asked_for(scope, admin, endpoint):
    with scope() as s:
        endpoints.create(s, admin=admin, data=endpoints.check("http://127.0.0.1:9/other", "", ["invoice.paid"]))
        make_customer(s, "bo@example.com")
    with scope() as s:
        assert [d.endpoint_id for d in s.exec(select(WebhookDelivery))] == [endpoint.id]


def test_an_alert_is_sent_and_mailed_to_each_admin_once(scope, admin, endpoint):
    with scope() as s:
        assert reconciliation_found(s, discrepancies=2, first_day=date(2026, 1, 30), last_day=date(2026, 1, 31),
                                    now=T0)
        assert not reconciliation_found(s, discrepancies=2, first_day=date(2026, 1, 30),
                                        last_day=date(2026, 1, 31), now=T0)
    (alert,) = events(scope)
    assert alert.type == "alert.raised" and alert.payload["data"]["kind"] == "reconciliation"
    with scope() as s:
        mails = s.exec(select(OutboxEmail)).all()
    assert [(m.idempotency_key, m.to_address) for m in mails] == [
        (f"alert:{alert.object_id}:{admin.user_id}", "root@example.com")]
    assert "2 discrepancies" in mails[0].text_body


def test_unknown_types_and_bad_endpoints_are_refused(scope, admin):
    with scope() as s, pytest.raises(ValueError):
        service.emit(s, "customer.exploded", make_customer(s))
    for url, kinds, message in [
        ("ftp://example.com/x", [], "http:// or https://"),
        ("https://user:pw@example.com/x", [], "no user name"),
        ("https://example.com:99999/x", [], "valid URL"),
        ("https://example.com/x", ["nope"], "Unknown event type"),
    ]:
        with pytest.raises(DomainError, match=message):
            endpoints.check(url, "", kinds)
