"""Sign webhook payloads the way Stripe does, for tests that post events localstripe never sends.

    header = sign_payload(body, "whsec_test", timestamp=int(time.time()))
    # -> "t=1700000000,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>"

Written from Stripe's documented scheme with hmac only (no stripe SDK), so a test using it checks
the portal's verification against an independent implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex v1 signature: HMAC-SHA256 keyed with `secret` over `{timestamp}.{payload}`."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value for `payload` (timestamp defaults to now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={signature(payload, secret, t)}"


def signed_event(event: Mapping[str, Any], secret: str, timestamp: int | None = None
                 ) -> tuple[bytes, str]:
    """(body, Stripe-Signature) for an event dict, serialised once so the bytes match."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, sign_payload(body, secret, timestamp)
