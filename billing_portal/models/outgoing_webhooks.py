"""Outgoing webhooks (billing/outgoing_webhooks/): the SaaS app's endpoints, the event outbox and
one delivery per event and endpoint."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class WebhookEndpoint(SQLModel, table=True):
    """Where events are POSTed. The secret signs them (Standard Webhooks `whsec_…`); it is kept to
    sign with and shown to the admin once, when the endpoint is created."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    secret: str = Field(max_length=100)
    # Event types it receives; empty: every type.
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    # Since when every delivery to it failed (None: the last one succeeded); drives auto-disable.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutgoingEvent(SQLModel, table=True):
    """One event, written in the transaction of the change it reports; never changed afterwards."""

    __tablename__ = "outgoing_events"
    __table_args__ = (Index("ix_outgoing_events_object", "object_type", "object_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=40, unique=True)  # "msg_…", the webhook-id header
    type: str = Field(max_length=64, index=True)
    object_type: str = Field(max_length=32)
    object_id: int
    # Per object, 1, 2, 3…: a receiver keeps the highest it saw and drops older ones.
    version: int
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutgoingObjectVersion(SQLModel, table=True):
    """The last version given to an object's events, and what its entitlements were last reported as."""

    __tablename__ = "outgoing_object_versions"
    __table_args__ = (UniqueConstraint("object_type", "object_id", name="uq_outgoing_object_versions_object"),)

    id: int | None = Field(default=None, primary_key=True)
    object_type: str = Field(max_length=32)
    object_id: int
    version: int = 0
    entitlements: str = Field(default="", max_length=200)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint. status: pending (waits for next_attempt_at), succeeded, failed
    (retries ran out, or the endpoint was disabled)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outgoing_events.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_code: int | None = None
    duration_ms: int | None = None
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
