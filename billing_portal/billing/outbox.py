"""Sending the outbox (billing/emails.py writes it): the job "mail", through gateways/mailer.py.

Each due message is sent in its own transaction under a row lock (PostgreSQL skips what another
runner holds) after claiming its attempt with a conditional UPDATE (what serialises SQLite), so
two runners never send the same message. An invoice's PDF is drawn from the stored invoice at
send time and attached as `{number}.pdf`.

Outcomes: sent; `MailUnavailable` (server down, 4xx, login refused) waits MAIL_RETRY_BASE_SECONDS,
doubling, at most an hour, and is marked failed after MAIL_MAX_ATTEMPTS tries; `MailRejected`
(5xx for the recipient or the content) is failed at once. `last_error` keeps why. Delivery is at
least once: if the process dies between the server's answer and the commit, the message goes
again on the next run, with the same Message-ID so mail clients can tell it is the same one.

Without SMTP_URL nothing is sent: messages stay queued (and are sent once it is set).
"""

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlmodel import Session

from billing_portal.billing import invoice_pdfs, repository
from billing_portal.billing.errors import DomainError
from billing_portal.gateways.mailer import Mailer, MailRejected, MailUnavailable
from billing_portal.models import Invoice, OutboxEmail
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

QUEUED, SENT, FAILED = "queued", "sent", "failed"
MAX_RETRY_WAIT = timedelta(hours=1)
_unsent_reported: int | None = None  # last count logged while SMTP_URL is unset (one line per change)


def retry_wait(attempts: int) -> timedelta:
    base = get_settings().mail_retry_base_seconds
    return min(timedelta(seconds=base * 2 ** (max(attempts, 1) - 1)), MAX_RETRY_WAIT)


def build_message(session: Session, row: OutboxEmail) -> EmailMessage:
    settings = get_settings()
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = f"<outbox-{row.id}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    if row.attach_invoice_pdf and row.invoice_id is not None:
        invoice = session.get(Invoice, row.invoice_id)
        message.add_attachment(invoice_pdfs.invoice_pdf_bytes(session, invoice.number), maintype="application",
                               subtype="pdf", filename=f"{invoice.number}.pdf")
    return message


def send_due(now: datetime, *, session_scope, mailer: Mailer | None = None, limit: int = 100) -> int:
    """Send every queued message that is due; how many were sent."""
    smtp_url = get_settings().smtp_url
    if mailer is None and smtp_url is None:
        _report_unsent(session_scope)
        return 0
    mailer = mailer or Mailer.from_url(smtp_url.get_secret_value())
    with session_scope() as session:
        due = repository.due_outbox_ids(session, now, limit=limit)
    sent = 0
    for email_id in due:
        with session_scope() as session:
            sent += send_one(session, email_id, mailer, now)
    return sent


def send_one(session: Session, email_id: int, mailer: Mailer, now: datetime) -> bool:
    """Send one message if it is still due and no other runner has it; True when it was sent."""
    row = repository.lock_outbox_email(session, email_id)
    if row is None or row.status != QUEUED or (row.next_attempt_at is not None and row.next_attempt_at > now):
        return False
    if not repository.claim_outbox_attempt(session, row.id, attempts_seen=row.attempts):
        return False
    session.refresh(row)
    error, retry = "", False
    try:
        mailer.send(build_message(session, row))
    except (MailUnavailable, DomainError) as exc:  # DomainError: its PDF could not be drawn now
        error, retry = str(exc), True
    except MailRejected as exc:
        error = str(exc)
    if not error:
        row.status, row.sent_at, row.next_attempt_at, row.last_error = SENT, now, None, ""
        logger.info("email %s (%s) sent", row.id, row.kind)
    elif retry and row.attempts < get_settings().mail_max_attempts:
        row.next_attempt_at, row.last_error = now + retry_wait(row.attempts), error[:2000]
        logger.warning("email %s not sent (try %s), retried later: %s", row.id, row.attempts, error)
    else:
        row.status, row.next_attempt_at, row.last_error = FAILED, None, error[:2000]
        logger.error("email %s failed for good after %s tries: %s", row.id, row.attempts, error)
    session.add(row)
    session.flush()
    return not error


def _report_unsent(session_scope) -> None:
    global _unsent_reported
    with session_scope() as session:
        queued = repository.count_queued_outbox(session)
    if queued != _unsent_reported:
        _unsent_reported = queued
        if queued:
            logger.info("SMTP_URL is not set: %s email(s) kept in the outbox, not sent", queued)
