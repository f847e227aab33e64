"""The audit log: every admin action and every money change."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_subject", "subject_type", "subject_id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # "system", "stripe" or the user's email at the time: readable after a user is gone.
    actor_label: str = Field(max_length=320)
    action: str = Field(max_length=100)
    subject_type: str = Field(max_length=50)
    subject_id: str = Field(max_length=100)
    before: dict | None = Field(default=None, sa_column=Column(JSON))
    after: dict | None = Field(default=None, sa_column=Column(JSON))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
