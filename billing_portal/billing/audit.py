"""The audit log: one way to write an entry, for admin actions and every money change."""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from billing_portal.billing.accounts import CurrentUser
from billing_portal.models import AuditEntry
from billing_portal.models.types import utcnow


def record(
    session: Session,
    *,
    actor: CurrentUser | str,
    action: str,
    subject_type: str,
    subject_id: int | str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction: it lands only if the change it describes does.

    `actor` is the signed-in user, or a label for the machine ("system", "stripe").
    """
    if isinstance(actor, CurrentUser):
        actor_id, label = actor.user_id, actor.email
    else:
        actor_id, label = None, actor
    entry = AuditEntry(
        actor_user_id=actor_id, actor_label=label, action=action, subject_type=subject_type,
        subject_id=str(subject_id), before=before, after=after, at=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry
