"""Sending email over SMTP: the only code that talks to a mail server (the only import of smtplib).

SMTP_URL says where and how:

    smtp://host:25                       plain SMTP (a local relay, the sandbox's mail sink)
    smtp://user:password@host:587?starttls=1   STARTTLS after connecting (most providers on 587)
    smtps://user:password@host:465       TLS from the first byte (implicit TLS)
    ...?timeout=10                       seconds to wait for the server (default 10)

User and password are percent-decoded (`p%40ss` is `p@ss`). Errors come out as two kinds:
`MailUnavailable` (the server is unreachable, busy, answers 4xx, or refuses our login: try again
later) and `MailRejected` (the server refuses this message for good, 5xx on its recipient or
content: trying again will not help). Nothing here logs the password.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
_TRUE = ("1", "true", "yes", "on")


class MailError(Exception):
    """Sending failed; the message says why, without secrets."""


class MailUnavailable(MailError):
    """Try again later: the server did not take the message now."""


class MailRejected(MailError):
    """The server refused this message for good (5xx): it will never be taken as it is."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # plain, starttls or tls
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """SmtpConfig from an SMTP_URL; ValueError (naming no secret) when it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL names no host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"SMTP_URL has unknown options: {', '.join(sorted(unknown))} (starttls, timeout)")
    starttls = query.get("starttls", "").lower() in _TRUE
    if parts.scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS from the start; starttls=1 is for smtp://")
    security = "tls" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    try:
        port = parts.port or DEFAULT_PORTS[security]
        timeout = float(query.get("timeout", 10))
    except ValueError:
        raise ValueError("SMTP_URL has a bad port or timeout") from None
    if timeout <= 0:
        raise ValueError("SMTP_URL timeout must be more than 0 seconds")
    return SmtpConfig(host=parts.hostname, port=port, security=security, username=unquote(parts.username or ""),
                      password=unquote(parts.password or ""), timeout=timeout)


class Mailer:
    def __init__(self, config: SmtpConfig):
        self.config = config

    @classmethod
    def from_url(cls, url: str) -> Mailer:
        return cls(parse_smtp_url(url))

    def send(self, message: EmailMessage) -> None:
        """Deliver one message to the server (one connection per message: a failure stays local)."""
        config = self.config
        try:
            if config.security == "tls":
                client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with client:
                if config.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if config.username:
                    client.login(config.username, config.password)
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise _by_codes([code for code, _ in error.recipients.values()], "refused every recipient") from None
        except smtplib.SMTPAuthenticationError as error:
            # Wrong credentials are the operator's to fix; the message waits for them.
            raise MailUnavailable(f"{config.address} refused the login ({error.smtp_code})") from None
        except smtplib.SMTPSenderRefused as error:
            raise MailUnavailable(f"{config.address} refused the sender MAIL_FROM ({error.smtp_code})") from None
        except smtplib.SMTPResponseException as error:
            raise _by_codes([error.smtp_code], _reply(error.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailUnavailable(f"{config.address} did not take the message: {type(error).__name__}") from None
        if refused:
            # Some recipients took it: sending again would duplicate it for them.
            logger.warning("%s refused %d recipient(s) of a message", config.address, len(refused))

    def __repr__(self) -> str:
        return f"Mailer({self.config.security}://{self.config.address})"


def _by_codes(codes: list[int], what: str) -> MailError:
    permanent = codes and all(500 <= code < 600 for code in codes)
    return (MailRejected if permanent else MailUnavailable)(f"the mail server answered {codes}: {what}")


def _reply(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())[:300]
