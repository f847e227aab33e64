"""Structured logs: one JSON object per line (python-json-logger), secrets masked before writing.

Every record written by our handler is redacted: its message with arguments, the text of any
exception and any extra field, so a key or token that reaches a log line by accident (an error message quoting a
request, a traceback's repr) is written as `[redacted]`. What is masked: Stripe secret and restricted
keys, webhook signing secrets, client secrets of PaymentIntents / SetupIntents / Checkout Sessions,
our API keys (customers' `bpk_`, sellers' `bps_`), card numbers (digit runs that pass the Luhn check), and the values of
password, token, authorization and Stripe-Signature fields.

A record written while a request is served carries its `request_id` (api/middleware.py binds it; the
answer's X-Request-Id header and error bodies show the same id).
"""

import logging
import re
import secrets
import sys
from contextvars import ContextVar, Token

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"
    r"|\bwhsec_[A-Za-z0-9+/=_-]+"
    r"|\b(?:pi|seti|cs|src)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"
    r"|\bbp[ks]_[A-Za-z0-9_-]+"
)
_FIELDS = re.compile(
    r"(?i)(\b(?:password|passwd|token|authorization|stripe-signature|secret|api[_-]?key)\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?:Bearer\s+)?[^\s'\",;&]+"
)
_DIGIT_RUNS = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def redact(text: str) -> str:
    """`text` with every secret pattern above replaced by [redacted]."""
    text = _SECRETS.sub(REDACTED, text)
    text = _FIELDS.sub(lambda m: m.group(1) + REDACTED, text)
    return _DIGIT_RUNS.sub(lambda m: REDACTED if _luhn(m.group(0)) else m.group(0), text)


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def bind_request_id(value: str) -> Token:
    """Every record logged in this context (threads Starlette runs work in included) carries it."""
    return _request_id.set(value)


def unbind_request_id(token: Token) -> None:
    _request_id.reset(token)


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and (value := _request_id.get()) is not None:
            record.request_id = value
        return True


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines whose every string value (message, traceback, extra fields) is redacted."""

    def process_log_record(self, log_data):
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}


def handler(stream=None) -> logging.Handler:
    """A JSON-lines handler with redaction, writing to `stream` (stderr by default)."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(_RequestIdFilter())
    out.setFormatter(RedactingJsonFormatter(
        "{asctime}{levelname}{name}{message}", style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    ))
    return out


def configure(level: str = "INFO") -> None:
    """Route the root logger (ours, the Stripe SDK's, SQLAlchemy's...) through `handler()`, once."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, RedactingJsonFormatter) for h in root.handlers):
        root.addHandler(handler())
    root.setLevel(level)
