"""Headers every answer carries unless its route sets its own (downloads do; api/middleware.py
adds them), and the answer a rate-limited client gets.

Under /api/ the strict set (nothing may load, nothing is cached). Everything else is Reflex's (its
pages in production, /_upload, /ping): no sniffing, no framing, no referrer beyond our origin, and a
CSP of only what cannot break a page (frame-ancestors, object-src, base-uri): a CSP restricting
scripts blocks the inline scripts Reflex's pages hydrate with.
"""

from starlette.requests import Request
from starlette.responses import JSONResponse

from billing_portal import rate_limits

DEFAULT_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
}
PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "frame-ancestors 'none'; object-src 'none'; base-uri 'self'",
}


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]


_API, _PAGES = _encoded(DEFAULT_HEADERS), _encoded(PAGE_HEADERS)


def missing_headers(path: str, present: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The defaults for `path` that an answer with the headers `present` does not set itself."""
    names = {name.lower() for name, _ in present}
    return [pair for pair in (_API if path.startswith("/api/") else _PAGES) if pair[0] not in names]


def over_rate_limit(action: rate_limits.Action, request: Request) -> JSONResponse | None:
    """Count this request of `action` by its client; the 429 (with Retry-After) when over, else None."""
    try:
        rate_limits.hit(action, request.client.host if request.client else "")
    except rate_limits.RateLimited as exc:
        return JSONResponse({"error": "rate_limited", "message": str(exc)}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"})
    return None
