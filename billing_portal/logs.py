"""Structured logs: one JSON object per line (python-json-logger), secrets masked before writing.

Every record written by our handler is redacted: its message with arguments, the text of any
exception and any extra field, so a key or token that reaches a log line by accident (an error message quoting a
request, a traceback's repr) is written as `[redacted]`. What is masked: Stripe secret and restricted
keys, webhook signing secrets, client secrets of PaymentIntents / SetupIntents / Checkout Sessions,
our API keys (`bpk_`), card numbers (digit runs that pass the Luhn check), and the values of
password, token, authorization and Stripe-Signature fields.
"""

import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"
    r"|\bwhsec_[A-Za-z0-9+/=_-]+"
    r"|\b(?:pi|seti|cs|src)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"
    r"|\bbpk_[A-Za-z0-9_-]+"
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


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines whose every string value (message, traceback, extra fields) is redacted."""

    def process_log_record(self, log_data):
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}


def handler(stream=None) -> logging.Handler:
    """A JSON-lines handler with redaction, writing to `stream` (stderr by default)."""
    out = logging.StreamHandler(stream or sys.stderr)
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
