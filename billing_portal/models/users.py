"""Accounts: users, their sign-in sessions and the sign-in throttle."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.CUSTOMER, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """A signed-in browser. Only the token's SHA-256 is stored, so a leaked table signs no one in.

    It ends at `expires_at` (absolute lifetime), after SESSION_IDLE_MINUTES without use
    (`last_seen_at`), when revoked (the row is deleted), or when the user's role is no longer the
    `role` it was opened with (a privilege change asks for a new sign-in)."""

    __tablename__ = "auth_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Opened by a portal link (billing/portal_sessions): the seller's app to go back to.
    return_url: str | None = Field(default=None, max_length=2000)


class SessionGrant(SQLModel, table=True):
    """A one-time code, good for a minute, that a checked password leaves for the browser to trade
    at POST /api/session/start for its httpOnly session cookie. Only the code's SHA-256 is stored;
    the row is deleted when traded."""

    __tablename__ = "session_grants"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per email (known or not, so the delay tells nothing about who exists)."""

    __tablename__ = "login_throttles"

    email: str = Field(max_length=320, primary_key=True)
    failures: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
