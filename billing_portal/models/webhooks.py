"""Every Stripe event received, kept with its processing attempts."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class WebhookEvent(SQLModel, table=True):
    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_type_status", "type", "status"),
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stripe_event_id: str = Field(max_length=255, unique=True)
    type: str = Field(max_length=100)
    status: str = Field(default="received", max_length=16)
    created: datetime = Field(sa_type=UTCDateTime)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str = Field(default="", max_length=2000)
    # status: received (new), retrying (waits for next_attempt_at), processed, ignored, failed.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
