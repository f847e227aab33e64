"""Delivering the event outbox (service.py writes it): the job "outgoing-webhooks", through
gateways/webhook_sender.py.

One attempt of one delivery:
1. claim, in its own committed transaction: a conditional UPDATE counts the attempt and pushes
   `next_attempt_at` past the attempt's lease, so no other runner (of either backend) takes it
   while it is being sent;
2. POST, outside any transaction (no lock held while the endpoint thinks);
3. record, in a new transaction, unless the row was taken again meanwhile (redelivered).
A sender killed between 1 and 3 leaves the delivery pending: it is sent again when the lease
ends, with the same webhook-id. So delivery is at least once; receivers deduplicate on the id.

After a failed attempt the next waits RETRY_SCHEDULE (Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h: 8 attempts over 27.6 hours); after the last the delivery is failed (an admin may redeliver
it). An endpoint whose deliveries all failed for OUTGOING_WEBHOOKS_DISABLE_AFTER_DAYS is disabled,
its pending deliveries failed, the admins emailed and an audit entry written.
"""

import json
import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, emails
from billing_portal.billing.outgoing_webhooks import repository, service
from billing_portal.billing.outgoing_webhooks.repository import FAILED, PENDING, SUCCEEDED
from billing_portal.gateways import webhook_sender
from billing_portal.models import OutgoingEvent, WebhookDelivery, WebhookEndpoint
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

RETRY_SCHEDULE = tuple(timedelta(seconds=s) for s in (5, 300, 1800, 7200, 18000, 36000, 36000))
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
ENDPOINTS_PATH = "/admin/webhook-endpoints"


def retry_wait(attempts: int) -> timedelta | None:
    """How long after the `attempts`-th failed try the next one goes; None: no more tries."""
    return RETRY_SCHEDULE[attempts - 1] if 1 <= attempts <= len(RETRY_SCHEDULE) else None


def lease(attempts: int) -> timedelta:
    """How long a claimed attempt keeps others off: its retry wait, at least what a send can take."""
    longest_send = timedelta(seconds=4 * get_settings().outgoing_webhooks_timeout_seconds + 5)
    return max(retry_wait(attempts) or RETRY_SCHEDULE[-1], longest_send)


def body(event: OutgoingEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()


def deliver_due(now: datetime, *, session_scope, send=webhook_sender.send, limit: int = 100) -> int:
    """Attempt every due delivery once; how many were delivered."""
    with session_scope() as session:
        due = repository.due_delivery_ids(session, now, limit=limit)
    return sum(deliver_one(delivery_id, now, session_scope=session_scope, send=send) for delivery_id in due)


def deliver_one(delivery_id: int, now: datetime, *, session_scope, send=webhook_sender.send) -> bool:
    with session_scope() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or not repository.claim_delivery(session, delivery_id, now=now,
                                                        lease_until=now + lease(row.attempts + 1)):
            return False
        session.refresh(row)
        endpoint = session.get(WebhookEndpoint, row.endpoint_id)
        event = session.get(OutgoingEvent, row.event_id)
        claimed, url, secret, event_id, payload = row.attempts, endpoint.url, endpoint.secret, event.event_id, body(event)
    # The header's timestamp is the attempt's real time: receivers check it against their clock.
    outcome = send(url, secret, event_id, payload, at=utcnow())
    with session_scope() as session:
        return record(session, delivery_id, claimed, outcome, now)


def record(session: Session, delivery_id: int, claimed: int, outcome: webhook_sender.Outcome, now: datetime) -> bool:
    row = repository.lock_delivery(session, delivery_id)
    if row is None or row.status != PENDING or row.attempts != claimed:
        return False  # redelivered meanwhile: that attempt's result is the one to keep
    row.response_code, row.duration_ms, row.last_error = outcome.status_code, outcome.duration_ms, outcome.error
    endpoint = repository.lock_endpoint(session, row.endpoint_id)
    if outcome.ok:
        row.status, row.next_attempt_at = SUCCEEDED, None
        endpoint.failing_since = None
    else:
        wait = retry_wait(row.attempts)
        row.status, row.next_attempt_at = (PENDING, now + wait) if wait else (FAILED, None)
        endpoint.failing_since = endpoint.failing_since or now
        logger.warning("webhook delivery %s to endpoint %s failed (try %s): %s", row.id, endpoint.id, row.attempts,
                       outcome.error)
    session.add_all([row, endpoint])
    session.flush()
    if not outcome.ok and endpoint.enabled and now - endpoint.failing_since >= _disable_after():
        disable_failing(session, endpoint, now)
    return outcome.ok


def disable_failing(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Stop sending to an endpoint that has not taken anything for days, and tell the admins."""
    since = endpoint.failing_since
    endpoint.enabled = False
    endpoint.disabled_reason = f"Every delivery failed since {since:%Y-%m-%d %H:%M} UTC"
    endpoint.updated_at = now
    session.add(endpoint)
    session.flush()
    repository.fail_pending_of_endpoint(session, endpoint.id, "endpoint disabled")
    audit.record(session, actor="system", action="webhook_endpoint.disabled", subject_type="webhook_endpoint",
                 subject_id=endpoint.id, before={"enabled": True},
                 after={"enabled": False, "failing_since": since.isoformat(), "url": endpoint.url}, now=now)
    message = (f"The webhook endpoint {endpoint.url} was disabled: {endpoint.disabled_reason}. "
               "Fix it, enable it again and redeliver what it missed.")
    for admin in repository.admins(session):
        emails.admin_notice(session, admin, key=f"endpoint-disabled:{endpoint.id}:{since.isoformat()}:{admin.id}",
                            subject=f"Webhook endpoint disabled: {endpoint.url}", message=message,
                            path=ENDPOINTS_PATH, now=now)
    service.emit(session, "endpoint.disabled", endpoint, now=now)
    logger.error("webhook endpoint %s disabled: failing since %s", endpoint.id, since)


def _disable_after() -> timedelta:
    return timedelta(days=get_settings().outgoing_webhooks_disable_after_days)
