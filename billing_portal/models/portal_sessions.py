"""Portal sign-in links the seller's app asks for (POST /api/v1/portal_sessions, checkout_sessions)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class PortalSession(SQLModel, table=True):
    """A one-time link that signs a customer into the portal without a password, on `destination`.
    Only the link token's SHA-256 is stored; `used_at` set means spent."""

    __tablename__ = "portal_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    kind: str = Field(max_length=16)  # "portal" or "checkout"
    flow: str | None = Field(default=None, max_length=32)
    destination: str = Field(max_length=200)  # the portal path the link opens, e.g. /billing/plan
    return_url: str = Field(max_length=2000)
    created_by_key_id: int | None = Field(default=None, foreign_key="seller_api_keys.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
