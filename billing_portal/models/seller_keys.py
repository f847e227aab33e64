"""The seller's server keys for the REST API (/api/v1) and the answers kept for Idempotency-Key."""

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class SellerApiKey(SQLModel, table=True):
    """A key of the SaaS app itself (not a customer's usage key). Only the token's SHA-256 is stored."""

    __tablename__ = "seller_api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    scope: str = Field(max_length=8)  # read | write
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_by: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiIdempotencyRecord(SQLModel, table=True):
    """The first answer to a POST with an Idempotency-Key, per seller key: replayed to a retry."""

    __tablename__ = "api_idempotency_records"
    __table_args__ = (UniqueConstraint("key_id", "idempotency_key", name="uq_api_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key_id: int = Field(foreign_key="seller_api_keys.id")
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)  # method, path and body: another body is a conflict
    status_code: int = 0
    response: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
