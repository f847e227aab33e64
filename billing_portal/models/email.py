"""The email outbox: every message the portal sends, kept before it is sent (billing/emails.py)."""

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from billing_portal.models.types import UTCDateTime, utcnow


class OutboxEmail(SQLModel, table=True):
    """One message, written in the transaction of what it tells about, sent later by the mail job.

    status: queued (waits for next_attempt_at, or for SMTP_URL to be set), sent, failed.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # What the message is about ("receipt:payment:7", "invoice:12", "dunning:12:2", "refund:3"):
    # the same thing never makes a second message, whatever replays it.
    idempotency_key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=32)  # receipt, invoice, dunning, refund
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    # The invoice's PDF is drawn from the stored invoice and attached when the message is sent.
    attach_invoice_pdf: bool = False
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    status: str = Field(default="queued", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=2000)
    # The admin who asked for it (a resent invoice); None for the portal's own messages.
    requested_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
