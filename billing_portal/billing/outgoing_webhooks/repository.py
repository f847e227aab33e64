"""Every query of outgoing webhooks (see billing/repository.py on row locks)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from billing_portal.models import (
    OutgoingEvent,
    OutgoingObjectVersion,
    Role,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


def enabled_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    return session.exec(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
                        .order_by(WebhookEndpoint.id)).all()


def endpoints(session: Session, *, limit: int = 100) -> Sequence[WebhookEndpoint]:
    return session.exec(select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit)).all()


def endpoint_page(session: Session, *, limit: int, offset: int) -> tuple[list[WebhookEndpoint], int]:
    total = session.exec(select(func.count()).select_from(WebhookEndpoint)).one()
    rows = session.exec(select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit).offset(offset)).all()
    return list(rows), total


def delete_deliveries_of_endpoint(session: Session, endpoint_id: int) -> None:
    session.exec(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))


def lock_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint | None:
    return session.exec(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                        .with_for_update().execution_options(populate_existing=True)).first()


def next_version(session: Session, object_type: str, object_id: int) -> OutgoingObjectVersion:
    """The object's counter moved on by one, under a row lock: versions never repeat or go back."""
    counter = session.exec(
        select(OutgoingObjectVersion)
        .where(OutgoingObjectVersion.object_type == object_type, OutgoingObjectVersion.object_id == object_id)
        .with_for_update().execution_options(populate_existing=True)
    ).first()
    if counter is None:
        try:
            with session.begin_nested():  # a first event of this object written at the same time
                counter = OutgoingObjectVersion(object_type=object_type, object_id=object_id, version=0)
                session.add(counter)
        except IntegrityError:
            return next_version(session, object_type, object_id)
    counter.version += 1
    session.add(counter)
    return counter


def due_delivery_ids(session: Session, now: datetime, *, limit: int) -> list[int]:
    """Pending deliveries whose time has come, oldest first (ix_webhook_deliveries_due)."""
    return list(session.exec(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == PENDING,
               or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .order_by(WebhookDelivery.id).limit(limit)
    ))


def claim_delivery(session: Session, delivery_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Take one attempt: counted, and not due again before `lease_until`, unless another runner
    took it first (the condition is what makes two runners never send it at the same moment)."""
    table = WebhookDelivery
    return session.exec(
        update(table)
        .where(table.id == delivery_id, table.status == PENDING,
               or_(table.next_attempt_at.is_(None), table.next_attempt_at <= now))
        .values(attempts=table.attempts + 1, next_attempt_at=lease_until, last_attempt_at=now)
        .returning(table.id)
    ).first() is not None


def lock_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.exec(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                        .with_for_update().execution_options(populate_existing=True)).first()


def deliveries_of_endpoint(session: Session, endpoint_id: int, *, limit: int, offset: int = 0
                           ) -> Sequence[tuple[WebhookDelivery, OutgoingEvent]]:
    return session.exec(
        select(WebhookDelivery, OutgoingEvent).join(OutgoingEvent, OutgoingEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
    ).all()


def fail_pending_of_endpoint(session: Session, endpoint_id: int, reason: str) -> None:
    session.exec(update(WebhookDelivery)
                 .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
                 .values(status=FAILED, next_attempt_at=None, last_error=reason))


def admins(session: Session) -> Sequence[User]:
    return session.exec(select(User).where(User.role == Role.ADMIN).order_by(User.id)).all()


def last_entitlements(session: Session, customer_id: int) -> OutgoingObjectVersion | None:
    return session.exec(select(OutgoingObjectVersion).where(
        OutgoingObjectVersion.object_type == "entitlements", OutgoingObjectVersion.object_id == customer_id)).first()
