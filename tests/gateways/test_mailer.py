"""The SMTP gateway: SMTP_URL forms, login, and how failures come out, against aiosmtpd on loopback."""

from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult
from pydantic import ValidationError

from billing_portal.gateways.mailer import Mailer, MailUnavailable, SmtpConfig, parse_smtp_url
from billing_portal.sandbox.mail_sink import MailSink, running
from billing_portal.settings import Settings
from tests.support.stand_ins import free_port


@pytest.mark.parametrize("url, expected", [
    ("smtp://localhost:8025", SmtpConfig("localhost", 8025, "plain")),
    ("smtp://mail.example.com", SmtpConfig("mail.example.com", 25, "plain")),
    ("smtp://ann:p%40ss%3Aword@mail.example.com?starttls=1",
     SmtpConfig("mail.example.com", 587, "starttls", "ann", "p@ss:word")),
    ("smtps://apikey:secret@smtp.example.com", SmtpConfig("smtp.example.com", 465, "tls", "apikey", "secret")),
    ("smtps://u:p@smtp.example.com:2465?timeout=3", SmtpConfig("smtp.example.com", 2465, "tls", "u", "p", 3.0)),
])
def test_smtp_urls(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url, error", [
    ("http://mail.example.com", "smtp:// or smtps://"),
    ("smtp://", "no host"),
    ("smtps://h?starttls=1", "starttls=1 is for smtp://"),
    ("smtp://h?tls=1", "unknown options: tls"),
    ("smtp://h:notaport", "bad port"),
    ("smtp://h?timeout=0", "more than 0"),
])
def test_bad_smtp_urls_are_refused_without_echoing_secrets(url, error):
    with pytest.raises(ValueError, match=error):
        parse_smtp_url(url)


def test_a_bad_smtp_url_stops_the_settings_from_loading():
    with pytest.raises(ValidationError, match="smtp_url") as refused:
        Settings(_env_file=None, smtp_url="smtp://ann:hunter22@mail.example.com?tls=1")
    assert "hunter22" not in str(refused.value)


def test_the_password_never_shows_in_reprs():
    mailer = Mailer.from_url("smtp://ann:hunter22@mail.example.com:587?starttls=1")
    assert "hunter22" not in repr(mailer) and "hunter22" not in repr(mailer.config)


def message(to="ana@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "billing@example.com", to, "Hello"
    msg.set_content("Hi")
    return msg


def test_it_logs_in_and_sends():
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    sink, port = MailSink(), free_port()
    from aiosmtpd.controller import Controller

    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        Mailer.from_url(f"smtp://ann:s3cret@127.0.0.1:{port}").send(message())
        with pytest.raises(MailUnavailable):  # aiosmtpd hangs up after the refused login
            Mailer.from_url(f"smtp://ann:wrong@127.0.0.1:{port}").send(message())
    finally:
        controller.stop()
    assert logins[0] == (b"ann", b"s3cret")
    assert [r.recipients for r in sink.received] == [["ana@example.com"]]


def test_an_unreachable_server_is_unavailable_not_a_crash():
    with pytest.raises(MailUnavailable, match="ConnectionRefusedError"):
        Mailer.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2").send(message())


def test_a_server_without_starttls_is_unavailable():
    sink, port = MailSink(), free_port()
    with running(sink, port=port):
        with pytest.raises(MailUnavailable, match="SMTPNotSupportedError"):
            Mailer.from_url(f"smtp://127.0.0.1:{port}?starttls=1").send(message())
    assert sink.received == []
