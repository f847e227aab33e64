"""Headers every API answer carries unless its route sets a stricter one (downloads do), and the
answer a rate-limited client gets.

Only paths under /api/: in production the same ASGI app also serves Reflex's pages, whose scripts
and styles these headers would block.
"""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_portal import rate_limits

DEFAULT_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
}
_ENCODED = [(name.encode(), value.encode()) for name, value in DEFAULT_HEADERS.items()]


class SecurityHeaders:
    """Plain ASGI middleware (not BaseHTTPMiddleware, which would buffer streamed downloads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(pair for pair in _ENCODED if pair[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def over_rate_limit(action: rate_limits.Action, request: Request) -> JSONResponse | None:
    """Count this request of `action` by its client; the 429 (with Retry-After) when over, else None."""
    try:
        rate_limits.hit(action, request.client.host if request.client else "")
    except rate_limits.RateLimited as exc:
        return JSONResponse({"error": "rate_limited", "message": str(exc)}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"})
    return None
