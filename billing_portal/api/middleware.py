"""Request ids, security headers, unhandled errors and unrouted /api/ paths, for everything the
backend serves.

Reflex's own app (its pages in production, /_upload, /ping) is mounted inside ours
(rx.App(api_transformer=build_api())), so this middleware sees every HTTP request:

- each answer gets the security headers of its path (api/security.py);
- each request gets an id: the `X-Request-Id` header of its answer, the `request_id` of every log line
  written while it is served (billing_portal/logs.py), and the `request_id` of its error body;
- an exception no route handled is logged once, as one redacted JSON line with its traceback, and
  answered 500 with the id (JSON under /api/, a short page elsewhere), never with the traceback.

`Unrouted` is the last of our routes: an /api/ path no route took would otherwise fall through to
Reflex's pages; it answers 405 with `Allow` when the path exists with other methods, else 404.
"""

import html
import logging

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_portal import logs
from billing_portal.api.security import missing_headers
from billing_portal.api.v1.framework import PREFIX as V1_PREFIX
from billing_portal.api.v1.framework import error_response

logger = logging.getLogger(__name__)
API_PREFIX = "/api/"
INTERNAL_MESSAGE = "Something went wrong on our side; try again later."


class Guard:
    """Plain ASGI middleware (BaseHTTPMiddleware would buffer streamed downloads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = logs.new_request_id()
        token = logs.bind_request_id(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                message["headers"] = [*headers, *missing_headers(scope["path"], headers),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:  # else the client sees the answer cut short; the line above says why
                await internal_error(scope["path"], request_id)(scope, receive, send_with_id)
        finally:
            logs.unbind_request_id(token)


def internal_error(path: str, request_id: str) -> Response:
    if path.startswith(V1_PREFIX + "/"):
        return error_response(500, "api_error", "internal_error", INTERNAL_MESSAGE)
    if path.startswith(API_PREFIX):
        return JSONResponse({"error": "internal_error", "message": INTERNAL_MESSAGE, "request_id": request_id},
                            status_code=500, headers={"Cache-Control": "no-store"})
    return HTMLResponse(error_page(request_id), status_code=500, headers={"Cache-Control": "no-store"})


def error_page(request_id: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
        "<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem\">"
        "<h1>Something went wrong on our side</h1><p>Try again in a moment.</p>"
        f"<p>If it keeps happening, tell us this reference: <code>{html.escape(request_id)}</code></p>"
        "<p><a href=\"/billing\">Back to billing</a></p></body></html>"
    )


class Unrouted(BaseRoute):
    """Every /api/ path that the routes before it did not take (see the module's docstring)."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params):  # nothing links to it
        raise NotImplementedError

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = sorted({method for route in self.routes if isinstance(route, Route)
                          and route.matches(scope)[0] is Match.PARTIAL for method in route.methods or ()})
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404)
