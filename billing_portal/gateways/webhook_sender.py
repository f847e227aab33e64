"""POSTing one outgoing webhook: the only outgoing HTTP of the portal (the only import of httpx
outside tests), signed per Standard Webhooks with the `standardwebhooks` library.

Rules, each a defence against an endpoint URL that points somewhere it should not:
- only http and https;
- the host is resolved here and every address it resolves to must be public: private, loopback,
  link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses
  are refused unless OUTGOING_WEBHOOKS_ALLOW_PRIVATE is true. The request then goes to the
  address that was checked (the Host header and TLS name stay the URL's), so a DNS answer that
  changes between the check and the connection (rebinding) cannot reach an inner address;
- redirects are never followed: a 3xx is a failed delivery;
- OUTGOING_WEBHOOKS_TIMEOUT_SECONDS bounds connecting and each read; at most 1 KiB of the answer is read.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook

from billing_portal.settings import get_settings

USER_AGENT = "BillingPortal-Webhooks/1"
MAX_ANSWER_BYTES = 1024


class Refused(Exception):
    """The URL is not one we send to (scheme, or an address that is not public)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool  # a 2xx answer
    status_code: int | None  # None: no answer (refused, unreachable, timed out)
    duration_ms: int
    error: str  # why it failed, for the delivery log; "" when ok


def headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` sent at `at`."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> bool:
    """Whether we never send to this address (private and loopback ones only when not allowed)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (not allow_private and not ip.is_global) or ip.is_multicast or ip.is_unspecified


def resolve_public(host: str, port: int, *, allow_private: bool) -> str:
    """The first address of `host`, after checking every address it resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if refused_address(ip, allow_private=allow_private):
            raise Refused(f"{host} resolves to {ip}, which is not a public address")
    if not addresses:
        raise Refused(f"cannot resolve {host}")
    return addresses[0]


def send(url: str, secret: str, message_id: str, body: bytes, *, at: datetime) -> Outcome:
    """POST `body` once to `url`; never raises for anything the endpoint does."""
    settings = get_settings()
    started = time.monotonic()

    def outcome(ok: bool, code: int | None, error: str) -> Outcome:
        return Outcome(ok, code, int((time.monotonic() - started) * 1000), error[:2000])

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return outcome(False, None, "refused: only http:// and https:// URLs")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve_public(parts.hostname, port, allow_private=settings.outgoing_webhooks_allow_private)
    except Refused as exc:
        return outcome(False, None, f"refused: {exc}")
    pinned_host = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
    request_headers = {
        **headers(secret, message_id, body, at),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": parts.netloc.rpartition("@")[2],
    }
    timeout = httpx.Timeout(settings.outgoing_webhooks_timeout_seconds)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            with client.stream("POST", pinned, content=body, headers=request_headers,
                               extensions={"sni_hostname": parts.hostname}) as response:
                answer = _first_bytes(response)
    except httpx.TimeoutException:
        return outcome(False, None, f"timed out after {settings.outgoing_webhooks_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return outcome(False, None, f"{type(exc).__name__}: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return outcome(True, code, "")
    if 300 <= code < 400:
        return outcome(False, code, f"redirect to {response.headers.get('location', '?')[:300]} not followed")
    return outcome(False, code, f"HTTP {code}: {answer}")


def _first_bytes(response: httpx.Response) -> str:
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= MAX_ANSWER_BYTES:
            break
    return read[:MAX_ANSWER_BYTES].decode("utf-8", "replace")
