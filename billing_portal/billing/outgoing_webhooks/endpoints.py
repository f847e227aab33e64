"""What admins do with outgoing webhooks: add and edit endpoints, read one endpoint's delivery log,
redeliver. Every change is audited; a customer gets NotFound, as for a missing endpoint."""

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime

from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlmodel import Session

from billing_portal.billing import audit
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.outgoing_webhooks import repository
from billing_portal.billing.outgoing_webhooks.repository import PENDING
from billing_portal.billing.outgoing_webhooks.schemas import EndpointInput
from billing_portal.gateways.webhook_sender import refused_address
from billing_portal.models import WebhookDelivery, WebhookEndpoint
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

SECRET_BYTES = 24
LOG_PAGE_SIZE = 25


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str  # shown to the admin this once


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check(url: str, description: str, event_types: list[str], enabled: bool = True) -> EndpointInput:
    """The admin's input, or DomainError with the first thing wrong in words."""
    try:
        data = EndpointInput(url=url, description=description, event_types=event_types, enabled=enabled)
    except ValidationError as exc:
        raise DomainError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    _refuse_private(data.url)
    return data


def check_form(url: str, description: str, chosen: list[str], *, every: bool) -> EndpointInput:
    """The admin page's form: the event types ticked, or every type ("All events"); none is refused."""
    if not every and not chosen:
        raise DomainError("Choose the event types this endpoint receives, or All events.")
    return check(url, description, [] if every else chosen)


def _refuse_private(url: str) -> None:
    """A loopback or private address typed as such is refused now, not at every delivery; a host
    name is checked when sending (gateways/webhook_sender.py: its addresses may change)."""
    if get_settings().outgoing_webhooks_allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = ipaddress.ip_address("127.0.0.1") if host == "localhost" or host.endswith(".localhost") else None
    if ip is not None and refused_address(ip, allow_private=False):
        raise DomainError(f"{host} is a private or loopback address: webhooks go to public addresses only "
                          "(OUTGOING_WEBHOOKS_ALLOW_PRIVATE allows others).")


def create(session: Session, *, admin: CurrentUser, data: EndpointInput, now: datetime | None = None) -> Created:
    _admin_only(admin)
    now = now or utcnow()
    secret = new_secret()
    endpoint = WebhookEndpoint(url=data.url, description=data.description, secret=secret,
                               event_types=data.event_types, enabled=data.enabled, created_at=now, updated_at=now)
    session.add(endpoint)
    session.flush()
    audit.record(session, actor=admin, action="webhook_endpoint.create", subject_type="webhook_endpoint",
                 subject_id=endpoint.id, after=_audited(endpoint), now=now)
    return Created(endpoint, secret)


def update(session: Session, endpoint_id: int, *, admin: CurrentUser, data: EndpointInput,
           now: datetime | None = None) -> WebhookEndpoint:
    """New URL, description, event types or enabled flag; enabling again forgets past failures."""
    _admin_only(admin)
    now = now or utcnow()
    endpoint = _endpoint(session, endpoint_id)
    before = _audited(endpoint)
    if data.enabled and not endpoint.enabled:
        endpoint.failing_since, endpoint.disabled_reason = None, ""
    endpoint.url, endpoint.description, endpoint.event_types = data.url, data.description, data.event_types
    endpoint.enabled, endpoint.updated_at = data.enabled, now
    session.add(endpoint)
    session.flush()
    audit.record(session, actor=admin, action="webhook_endpoint.update", subject_type="webhook_endpoint",
                 subject_id=endpoint.id, before=before, after=_audited(endpoint), now=now)
    return endpoint


def set_enabled(session: Session, endpoint_id: int, *, admin: CurrentUser, enabled: bool,
                now: datetime | None = None) -> WebhookEndpoint:
    """Pause or resume sending, keeping everything else as it is."""
    _admin_only(admin)
    endpoint = _endpoint(session, endpoint_id)
    data = EndpointInput(url=endpoint.url, description=endpoint.description,
                         event_types=list(endpoint.event_types), enabled=enabled)
    return update(session, endpoint_id, admin=admin, data=data, now=now)


def delete(session: Session, endpoint_id: int, *, admin: CurrentUser, now: datetime | None = None) -> None:
    """Stop sending for good: the endpoint and its delivery log go (the events stay, for others)."""
    _admin_only(admin)
    endpoint = repository.lock_endpoint(session, endpoint_id)
    if endpoint is None:
        raise NotFound("No such endpoint.")
    before = _audited(endpoint)
    repository.delete_deliveries_of_endpoint(session, endpoint_id)
    session.delete(endpoint)
    session.flush()
    audit.record(session, actor=admin, action="webhook_endpoint.delete", subject_type="webhook_endpoint",
                 subject_id=endpoint_id, before=before, now=now)


def endpoint_page(session: Session, *, admin: CurrentUser, page: int, per_page: int
                  ) -> tuple[list[WebhookEndpoint], int]:
    """The admin page's list: one page of endpoints, oldest first, and the total."""
    _admin_only(admin)
    return repository.endpoint_page(session, limit=per_page, offset=(max(page, 1) - 1) * per_page)


def list_endpoints(session: Session, *, admin: CurrentUser) -> list[WebhookEndpoint]:
    _admin_only(admin)
    return list(repository.endpoints(session))


def get(session: Session, endpoint_id: int, *, admin: CurrentUser) -> WebhookEndpoint:
    _admin_only(admin)
    return _endpoint(session, endpoint_id)


def delivery_log(session: Session, endpoint_id: int, *, admin: CurrentUser, page: int = 1):
    """One page of the endpoint's deliveries, newest first: (delivery, event) pairs."""
    _admin_only(admin)
    _endpoint(session, endpoint_id)
    page = max(page, 1)
    return repository.deliveries_of_endpoint(session, endpoint_id, limit=LOG_PAGE_SIZE,
                                             offset=(page - 1) * LOG_PAGE_SIZE)


def redeliver(session: Session, delivery_id: int, *, admin: CurrentUser, now: datetime | None = None) -> WebhookDelivery:
    """Send the same event (same webhook-id) again, now, with a fresh retry schedule."""
    _admin_only(admin)
    now = now or utcnow()
    row = repository.lock_delivery(session, delivery_id)
    if row is None:
        raise NotFound("No such delivery.")
    endpoint = _endpoint(session, row.endpoint_id)
    if not endpoint.enabled:
        raise DomainError("This endpoint is disabled: enable it before redelivering.")
    before = {"status": row.status, "attempts": row.attempts}
    row.status, row.attempts, row.next_attempt_at, row.last_error = PENDING, 0, now, ""
    session.add(row)
    session.flush()
    audit.record(session, actor=admin, action="webhook_delivery.redeliver", subject_type="webhook_delivery",
                 subject_id=row.id, before=before, after={"status": PENDING, "endpoint_id": endpoint.id}, now=now)
    return row


def _admin_only(admin: CurrentUser) -> None:
    if not admin.is_admin:
        raise NotFound("No such endpoint.")


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("No such endpoint.")
    return endpoint


def _audited(endpoint: WebhookEndpoint) -> dict:
    # Never the secret: the audit log is read by every admin.
    return {"url": endpoint.url, "description": endpoint.description, "event_types": list(endpoint.event_types),
            "enabled": endpoint.enabled}
