"""Seller keys: the SaaS app's secret server keys for /api/v1, distinct from customers' usage keys
(billing/api_keys.py, `bpk_`), which stay valid only for POST /api/usage.

A token is `bps_` + 32 random bytes (URL-safe base64), shown once; only its SHA-256 is stored (a
leaked table authenticates nobody) and its first 12 characters are kept to tell keys apart. The
scope is `read` (GET operations) or `write` (everything). Revoking stops it at once.

Every use is audited with the key's id: each write by the API in the same transaction as its change
(api/v1/framework.py), and reads as `seller_api_key.used` at most once a minute per key, together
with last_used_at, so a busy read path does not write a row per request.
"""

import secrets
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit
from billing_portal.billing.accounts import CurrentUser, _token_hash
from billing_portal.billing.admin_console import require_admin
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.seller_keys import repository
from billing_portal.billing.seller_keys.schemas import Caller, CreatedKey, KeyView, Scope
from billing_portal.models import SellerApiKey
from billing_portal.models.types import utcnow

TOKEN_PREFIX = "bps_"
SHOWN_PREFIX_LENGTH = 12  # "bps_" and 8 random characters
MAX_NAME = 100
MAX_LISTED = 200
LAST_USED_PRECISION = timedelta(minutes=1)


def view(key: SellerApiKey) -> KeyView:
    return KeyView(**{name: getattr(key, name) for name in KeyView.__dataclass_fields__})


def create(session: Session, *, actor: CurrentUser | str, name: str, scope: str,
           now: datetime | None = None) -> CreatedKey:
    name = " ".join(str(name).split())
    if not 1 <= len(name) <= MAX_NAME:
        raise DomainError(f"Give the key a name of 1–{MAX_NAME} characters, e.g. the app that uses it.")
    if scope not in tuple(Scope):
        raise DomainError("The scope is read or write.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = SellerApiKey(
        name=name, scope=scope, prefix=token[:SHOWN_PREFIX_LENGTH], token_hash=_token_hash(token),
        created_by=actor.email if isinstance(actor, CurrentUser) else actor, created_at=now or utcnow(),
    )
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="seller_api_key.create", subject_type="seller_api_key",
                 subject_id=key.id, after={"name": name, "scope": scope, "prefix": key.prefix}, now=now)
    return CreatedKey(view(key), token)


def list_keys(session: Session, *, include_revoked: bool = True) -> list[KeyView]:
    return [view(key) for key in repository.keys(session, include_revoked=include_revoked, limit=MAX_LISTED)]


def key_page(session: Session, *, admin: CurrentUser, page: int, per_page: int) -> tuple[list[KeyView], int]:
    """The admin page's list: one page of keys, newest first, and the total."""
    require_admin(admin)
    rows, total = repository.key_page(session, limit=per_page, offset=(max(page, 1) - 1) * per_page)
    return [view(key) for key in rows], total


def revoke(session: Session, *, actor: CurrentUser | str, key_id: int, now: datetime | None = None) -> KeyView:
    key = repository.lock(session, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound("No such live API key.")
    key.revoked_at = now or utcnow()
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="seller_api_key.revoke", subject_type="seller_api_key",
                 subject_id=key.id, before={k: v for k, v in asdict(view(key)).items() if k in ("name", "scope", "prefix")},
                 now=now)
    return view(key)


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Caller | None:
    """The live key for this token, or None (unknown, malformed, revoked and usage keys look the same).

    Notes the use (last_used_at and an audit entry) at most once a minute per key.
    """
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = repository.by_hash(session, _token_hash(token))
    if key is None or key.revoked_at is not None:
        return None
    now = now or utcnow()
    caller = Caller(key_id=key.id, name=key.name, scope=key.scope)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        key.last_used_at = now
        session.add(key)
        audit.record(session, actor=caller.label, action="seller_api_key.used", subject_type="seller_api_key",
                     subject_id=key.id, now=now)
    return caller


def audit_write(session: Session, caller: Caller, *, operation: str, method: str, path: str, status: int,
                subject_type: str = "seller_api_key", subject_id: int | str | None = None) -> None:
    """One entry per write request, in the transaction of the change it made."""
    audit.record(session, actor=caller.label, action=f"api.{operation}", subject_type=subject_type,
                 subject_id=caller.key_id if subject_id is None else subject_id,
                 after={"key_id": caller.key_id, "method": method, "path": path[:300], "status": status})
