"""Customers' keys for the usage API.

A key is `bpk_` + 32 random bytes (URL-safe base64). It is shown once, when created; only its
SHA-256 is stored, so a leaked table authenticates nobody, and the first characters (the prefix)
are kept so a customer can tell their keys apart. A revoked key stops working at once.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, repository
from billing_portal.billing.accounts import CurrentUser, _token_hash
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import ApiKey
from billing_portal.models.types import utcnow

TOKEN_PREFIX = "bpk_"
SHOWN_PREFIX_LENGTH = 12  # "bpk_" and 8 random characters: enough to tell keys apart
MAX_ACTIVE_KEYS = 10
MAX_NAME = 100
# last_used_at is a write on every call otherwise: once a minute is precise enough to read.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    token: str  # the only time the whole token exists outside the caller


def create(session: Session, *, user: CurrentUser, name: str, now: datetime | None = None) -> CreatedKey:
    if user.customer_id is None:
        raise DomainError("Only a customer account can have API keys.")
    name = " ".join(str(name).split())
    if not 1 <= len(name) <= MAX_NAME:
        raise DomainError(f"Give the key a name of 1–{MAX_NAME} characters, e.g. where it is used.")
    repository.lock_customer(session, user.customer_id)  # two tabs cannot both pass the limit
    if len(repository.customer_api_keys(session, user.customer_id, limit=MAX_ACTIVE_KEYS)) >= MAX_ACTIVE_KEYS:
        raise DomainError(f"You have {MAX_ACTIVE_KEYS} keys already: revoke one you no longer use first.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        customer_id=user.customer_id, name=name, prefix=token[:SHOWN_PREFIX_LENGTH],
        token_hash=_token_hash(token), created_at=now or utcnow(),
    )
    session.add(key)
    session.flush()
    audit.record(session, actor=user, action="api_key.create", subject_type="api_key", subject_id=key.id,
                 after={"name": name, "prefix": key.prefix}, now=now)
    return CreatedKey(key, token)


def list_keys(session: Session, customer_id: int) -> list[ApiKey]:
    return list(repository.customer_api_keys(session, customer_id, limit=MAX_ACTIVE_KEYS))


def revoke(session: Session, *, user: CurrentUser, key_id: int, now: datetime | None = None) -> ApiKey:
    key = session.get(ApiKey, key_id)
    # Another customer's key answers like a missing one: nothing tells it exists.
    if key is None or key.customer_id != user.customer_id or key.revoked_at is not None:
        raise NotFound("No such API key.")
    key.revoked_at = now or utcnow()
    session.add(key)
    session.flush()
    audit.record(session, actor=user, action="api_key.revoke", subject_type="api_key", subject_id=key.id,
                 before={"name": key.name, "prefix": key.prefix}, now=now)
    return key


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key for this token, or None (unknown, malformed and revoked look the same)."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = repository.api_key_by_hash(session, _token_hash(token))
    if key is None or key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        key.last_used_at = now
        session.add(key)
        session.flush()
    return key
