"""Sending the outbox to a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL:
retries with backoff when the server does not take a message, failure for good on a 5xx for it,
nothing sent (and said so) without SMTP_URL, one send per message however many runners."""

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from billing_portal.billing import invoices, outbox
from billing_portal.billing.invoices import DraftLine
from billing_portal.jobs import tasks
from billing_portal.models import OutboxEmail
from billing_portal.sandbox.mail_sink import MailSink, running
from billing_portal.settings import get_settings
from tests.billing.test_webhooks import _cheap_password_hashing, scope  # noqa: F401  (fixtures)
from tests.support.builders import T0, make_customer
from tests.support.concurrency import all_at_once
from tests.support.stand_ins import free_port


class RefusingSink(MailSink):
    """Answers the given SMTP replies to the next messages, then accepts them."""

    def __init__(self, *replies: str):
        super().__init__()
        self.replies = list(replies)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def refusing(monkeypatch):
    def start(*replies):
        sink, port = RefusingSink(*replies), free_port()
        context = running(sink, port=port)
        context.__enter__()
        started.append(context)
        monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
        get_settings.cache_clear()
        return sink

    started = []
    yield start
    for context in started:
        context.__exit__(None, None, None)


def one_invoice(scope) -> int:
    """An issued invoice: one queued message."""
    with scope() as s:
        customer = make_customer(s, "ana@example.com")
        draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 1500)])
        invoices.finalize(s, draft.id, now=T0)
        return s.exec(select(OutboxEmail.id)).one()


def row(scope, email_id) -> OutboxEmail:
    with scope() as s:
        return s.get(OutboxEmail, email_id)


def test_a_busy_server_is_tried_again_later_with_backoff(scope, refusing):
    email_id = one_invoice(scope)
    sink = refusing("451 4.3.0 Try again later", "421 4.3.2 Shutting down")
    assert tasks.send_queued_mail(T0) == 0
    first = row(scope, email_id)
    assert (first.status, first.attempts, first.next_attempt_at) == ("queued", 1, T0 + timedelta(seconds=60))
    assert "451" in first.last_error
    assert tasks.send_queued_mail(T0 + timedelta(seconds=30)) == 0  # not due yet: not even tried
    assert row(scope, email_id).attempts == 1
    assert tasks.send_queued_mail(T0 + timedelta(seconds=60)) == 0
    assert row(scope, email_id).next_attempt_at == T0 + timedelta(seconds=180)  # twice the wait
    assert tasks.send_queued_mail(T0 + timedelta(seconds=180)) == 1
    sent = row(scope, email_id)
    assert (sent.status, sent.attempts, sent.last_error, sent.sent_at) == ("sent", 3, "", T0 + timedelta(seconds=180))
    assert len(sink.received) == 1


def test_tries_are_bounded_then_the_message_is_failed(scope, monkeypatch):
    monkeypatch.setenv("MAIL_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    email_id = one_invoice(scope)
    tasks.send_queued_mail(T0)
    tasks.send_queued_mail(T0 + timedelta(hours=1))
    failed = row(scope, email_id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 2, None)
    assert "ConnectionRefusedError" in failed.last_error
    assert tasks.send_queued_mail(T0 + timedelta(days=1)) == 0


def test_a_recipient_refused_for_good_is_failed_at_once(scope, refusing):
    email_id = one_invoice(scope)
    refusing("550 5.1.1 No such mailbox")
    assert tasks.send_queued_mail(T0) == 0
    failed = row(scope, email_id)
    assert (failed.status, failed.attempts) == ("failed", 1) and "550" in failed.last_error


def test_without_smtp_url_mail_is_kept_and_not_sent(scope, caplog, monkeypatch):
    monkeypatch.setattr(outbox, "_unsent_reported", None)  # said once per process and count
    email_id = one_invoice(scope)
    with caplog.at_level(logging.INFO, logger="billing_portal.billing.outbox"):
        assert tasks.send_queued_mail(T0) == 0
    assert row(scope, email_id).status == "queued" and row(scope, email_id).attempts == 0
    assert "SMTP_URL is not set: 1 email(s) kept in the outbox, not sent" in caplog.text


def test_messages_carry_the_sender_and_a_stable_message_id(scope, mail_sink, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "Acme Billing <billing@acme.test>")
    email_id = one_invoice(scope)
    tasks.send_queued_mail(T0)
    [got] = mail_sink.received
    assert got.mail_from == "billing@acme.test"
    assert got.message["From"] == "Acme Billing <billing@acme.test>"
    assert got.message["Message-ID"].startswith(f"<outbox-{email_id}.") and "@acme.test>" in got.message["Message-ID"]
    saved = list((mail_sink.directory).glob("*.eml"))
    assert len(saved) == 1 and b"%PDF" not in saved[0].read_bytes()[:100]


def test_two_runners_at_once_send_each_message_once(scope, mail_sink, db_url):
    for n in range(5):
        with scope() as s:
            customer = make_customer(s, f"c{n}@example.com")
            draft = invoices.create_draft(s, customer_id=customer.id, currency="USD", lines=[DraftLine("Pro", 900)])
            invoices.finalize(s, draft.id, now=T0)
    results = all_at_once(3, lambda: outbox.send_due(T0, session_scope=scope))
    assert sum(results) == 5
    assert sorted(r.recipients[0] for r in mail_sink.received) == [f"c{n}@example.com" for n in range(5)]
