"""Events for the SaaS app, written in the caller's transaction (the change they report).

The engine calls `emit(session, type, obj)` where it makes the change, one line each:

| event | where |
|---|---|
| customer.created | accounts.create_user |
| subscription.created / updated / canceled / past_due | subscriptions.py, dunning._give_up |
| entitlements.updated | by emit itself, when a subscription's plan or status differs from the last one sent |
| invoice.finalized / paid | invoices.finalize, invoices.mark_paid |
| payment.succeeded / failed | payments.record_payment, payments.apply_intent_status |
| refund.succeeded | payments.record_refund |
| alert.raised | analytics/alerts.py (through `alert_raised`, which also emails each admin once) |
| endpoint.disabled | delivery.py, when an endpoint failed for OUTGOING_WEBHOOKS_DISABLE_AFTER_DAYS |

An event is kept with one pending delivery per enabled endpoint that takes its type; when no
endpoint takes it nothing is written (nobody would receive it). Its `version` counts per object
(1, 2, 3…, under a row lock), so a receiver can drop a stale one that arrives late.
delivery.py sends them.
"""

import uuid
from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import emails
from billing_portal.billing.outgoing_webhooks import repository
from billing_portal.billing.outgoing_webhooks.schemas import (
    EVENT_TYPES,
    AlertData,
    CustomerData,
    EndpointData,
    EntitlementsData,
    Event,
    EventData,
    InvoiceData,
    PaymentData,
    RefundData,
    SubscriptionData,
)
from billing_portal.models import (
    AnalyticsAlert,
    Customer,
    Invoice,
    OutgoingEvent,
    Payment,
    Plan,
    Price,
    Refund,
    Subscription,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from billing_portal.models.types import utcnow

ALERTS_PATH = "/admin"


def emit(session: Session, event_type: str, obj, *, now: datetime | None = None) -> OutgoingEvent | None:
    """Keep the event for every endpoint that takes it; None when none does."""
    now = now or utcnow()
    event = _write(session, event_type, obj, now)
    if isinstance(obj, Subscription):
        _entitlements_if_changed(session, obj, now)
    return event


def alert_raised(session: Session, alert: AnalyticsAlert, *, now: datetime | None = None) -> None:
    """A dashboard alert: the `alert.raised` event, and one email to each admin (its key says which)."""
    emit(session, "alert.raised", alert, now=now)
    for admin in repository.admins(session):
        emails.admin_notice(session, admin, key=f"alert:{alert.id}:{admin.id}", subject=f"Alert: {alert.message}",
                            message=alert.message, path=ALERTS_PATH, now=now)


def event_types() -> list[str]:
    return list(EVENT_TYPES)


def _write(session: Session, event_type: str, obj, now: datetime) -> OutgoingEvent | None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown outgoing event type {event_type!r}")
    targets = [endpoint for endpoint in repository.enabled_endpoints(session) if _takes(endpoint, event_type)]
    if not targets:
        return None
    data = _data(session, obj)
    counter = repository.next_version(session, data.object, _object_id(data))
    event_id = f"msg_{uuid.uuid4().hex}"
    body = Event(id=event_id, type=event_type, created=now, version=counter.version, data=data)
    event = OutgoingEvent(event_id=event_id, type=event_type, object_type=data.object, object_id=_object_id(data),
                          version=counter.version, payload=body.model_dump(mode="json"), created_at=now)
    session.add(event)
    session.flush()
    session.add_all([WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id, next_attempt_at=now, created_at=now)
                     for endpoint in targets])
    session.flush()
    return event


def _takes(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


def _entitlements_if_changed(session: Session, subscription: Subscription, now: datetime) -> None:
    """entitlements.updated when what the customer may use moved (another plan, another status)."""
    price = session.get(Price, subscription.price_id)
    fingerprint = f"{subscription.id}:{price.plan_id}:{subscription.status}"
    counter = repository.last_entitlements(session, subscription.customer_id)
    if counter is not None and counter.entitlements == fingerprint:
        return
    if _write(session, "entitlements.updated", _entitlements(session, subscription), now) is None:
        return
    counter = repository.last_entitlements(session, subscription.customer_id)
    counter.entitlements = fingerprint
    session.add(counter)
    session.flush()


def _object_id(data: EventData) -> int:
    return data.customer_id if isinstance(data, EntitlementsData) else data.id


def _external_id(session: Session, customer_id: int) -> str | None:
    # The REST API branch adds customers.external_id; until then there is none to send.
    return getattr(session.get(Customer, customer_id), "external_id", None)


def _entitlements(session: Session, subscription: Subscription) -> EntitlementsData:
    plan = session.get(Plan, session.get(Price, subscription.price_id).plan_id)
    live = subscription.status in ("trialing", "active", "past_due")
    return EntitlementsData(
        customer_id=subscription.customer_id, customer_external_id=_external_id(session, subscription.customer_id),
        subscription_id=subscription.id, status=subscription.status, plan=plan.slug if live else None,
        features=list(plan.features) if live else [], max_projects=plan.max_projects if live else None,
        max_users=plan.max_users if live else None, storage_quota_bytes=plan.storage_quota_bytes if live else None,
    )


def _data(session: Session, obj) -> EventData:
    if isinstance(obj, EventData):  # already built (entitlements)
        return obj
    if isinstance(obj, Customer):
        user = session.get(User, obj.user_id)
        return CustomerData(id=obj.id, external_id=getattr(obj, "external_id", None), email=user.email if user else "",
                            name=obj.name, company=obj.company, country=obj.country, created_at=obj.created_at)
    if isinstance(obj, Subscription):
        price = session.get(Price, obj.price_id)
        return SubscriptionData(
            id=obj.id, customer_id=obj.customer_id, customer_external_id=_external_id(session, obj.customer_id),
            status=obj.status, plan=session.get(Plan, price.plan_id).slug, price_id=price.id, currency=price.currency,
            quantity=obj.quantity, current_period_start=obj.current_period_start,
            current_period_end=obj.current_period_end, cancel_at_period_end=obj.cancel_at_period_end,
            canceled_at=obj.canceled_at, trial_end=obj.trial_end)
    if isinstance(obj, Invoice):
        return InvoiceData(
            id=obj.id, number=obj.number, customer_id=obj.customer_id,
            customer_external_id=_external_id(session, obj.customer_id), subscription_id=obj.subscription_id,
            status=obj.status, currency=obj.currency, total=obj.total, amount_paid=obj.amount_paid,
            amount_due=max(obj.total - obj.amount_paid, 0), billing_reason=obj.billing_reason,
            finalized_at=obj.finalized_at, paid_at=obj.paid_at)
    if isinstance(obj, Payment):
        return PaymentData(
            id=obj.id, customer_id=obj.customer_id, customer_external_id=_external_id(session, obj.customer_id),
            invoice_id=obj.invoice_id, status=obj.status, amount=obj.amount, currency=obj.currency,
            failure_code=obj.failure_code, failure_message=obj.failure_message)
    if isinstance(obj, Refund):
        return RefundData(
            id=obj.id, payment_id=obj.payment_id, customer_id=obj.customer_id,
            customer_external_id=_external_id(session, obj.customer_id), status=obj.status, amount=obj.amount,
            currency=obj.currency, reason=obj.reason)
    if isinstance(obj, AnalyticsAlert):
        return AlertData(id=obj.id, kind=obj.kind, currency=obj.currency, month=obj.month, value=str(obj.value),
                         threshold=str(obj.threshold), message=obj.message)
    if isinstance(obj, WebhookEndpoint):
        return EndpointData(id=obj.id, url=obj.url, reason=obj.disabled_reason)
    raise TypeError(f"no outgoing event data for {type(obj).__name__}")
