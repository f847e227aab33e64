"""POST /api/session/start, POST /api/session/end and GET /api/portal/{token}: the only places the session cookie is set or
cleared, so it can be httpOnly (no page script ever reads it), SameSite=Lax and, on HTTPS, Secure.

The sign-in page checks the password over the websocket and gets a one-time grant
(accounts.sign_in); the page then posts the grant here as a top-level form submission, which
trades it for the session, rotates away the browser's previous one, sets the cookie and redirects
to the page asked for (a same-site path only). Sign-out posts here too and ends the session on the
server; `everywhere=1` ends every session of that user. Both refuse a post whose Origin is not
one of ours: another site can neither sign a visitor in to its own account nor out of theirs.
The websocket reads the cookie from its handshake (state/auth.py), so both answer with a redirect,
a fresh page load whose socket carries the new cookie.

A portal sign-in link (billing/portal_sessions) opens GET /api/portal/{token}, which changes
nothing (link scanners and previews fetch URLs too) and shows a page that posts the token here as
`link`: spent once, then the same cookie, on the flow the link was made for.
"""

from urllib.parse import parse_qs, quote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from billing_portal.api import link_pages
from billing_portal.billing import accounts
from billing_portal.billing.portal_sessions import service as portal_sessions
from billing_portal.db import session_scope
from billing_portal.settings import get_settings

SESSION_COOKIE = "bp_session"
START_ROUTE = "/api/session/start"
END_ROUTE = "/api/session/end"
AFTER_SIGN_IN = "/pricing"
MAX_FORM_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store"}


def safe_next_path(value: str | None) -> str:
    """Only same-site absolute paths: "/billing" yes; "//evil.com", "https://…", "javascript:" no."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return AFTER_SIGN_IN
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return AFTER_SIGN_IN
    if parts.path in ("/login", "/signup"):
        return AFTER_SIGN_IN
    return value


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _our_origins() -> set[str]:
    settings = get_settings()
    return {*settings.allowed_origins, origin(settings.public_url), origin(settings.api_url)}


def _to_portal(path: str) -> RedirectResponse:
    return RedirectResponse(get_settings().public_url.rstrip("/") + path, status_code=303, headers=NO_STORE)


def is_secure(request: Request) -> bool:
    """Secure cookies on HTTPS: as the request arrived, or as the public URL says (behind a proxy)."""
    return (request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
            or get_settings().public_url.startswith("https://"))


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=get_settings().session_days * 24 * 3600, path="/",
                        httponly=True, samesite="lax", secure=is_secure(request))


def _from_our_pages(request: Request) -> bool:
    """Posted by our own pages: their Origin, or, where a no-referrer policy makes a browser send
    `Origin: null`, its Sec-Fetch-Site saying the page was ours (same-site: :3000 to :8000)."""
    sent = request.headers.get("origin")
    if sent in _our_origins():
        return True
    return sent in (None, "null") and request.headers.get("sec-fetch-site") in ("same-origin", "same-site")


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form's fields (first value each), or None when the post is not ours to take."""
    if not _from_our_pages(request):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


async def start(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return PlainTextResponse("Refused.", status_code=403, headers=NO_STORE)
    if "link" in form:
        return _start_from_link(request, form["link"])
    next_path = safe_next_path(form.get("next"))
    with session_scope() as session:
        token = accounts.start_session(session, form.get("grant", ""),
                                       replacing=request.cookies.get(SESSION_COOKIE, ""))
    if token is None:  # used, expired or made up: sign in again
        return _to_portal(f"/login?next={quote(next_path, safe='/')}")
    response = _to_portal(next_path)
    set_session_cookie(response, request, token)
    return response


def open_link(request: Request) -> Response:
    token = request.path_params.get("token", "")
    try:
        with session_scope() as session:
            portal_sessions.check_link(session, token)
    except portal_sessions.LinkUnusable as exc:
        return link_pages.unusable_page(exc)
    return link_pages.continue_page(START_ROUTE, token)


def _start_from_link(request: Request, link: str) -> Response:
    try:
        with session_scope() as session:
            signed_in = portal_sessions.sign_in_with_link(session, link, replacing=request.cookies.get(SESSION_COOKIE, ""))
    except portal_sessions.LinkUnusable as exc:
        return link_pages.unusable_page(exc)
    response = _to_portal(signed_in.destination)
    set_session_cookie(response, request, signed_in.session_token)
    return response


async def end(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return PlainTextResponse("Refused.", status_code=403, headers=NO_STORE)
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with session_scope() as session:
            if form.get("everywhere") == "1":
                accounts.sign_out_everywhere(session, token)
            else:
                accounts.sign_out(session, token)
    response = _to_portal("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_secure(request))
    return response
