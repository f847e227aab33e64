"""Who is signed in, and the sign-up / sign-in forms.

The session is an httpOnly cookie that only the server sets (api/sessions.py): no page script can
read it. The websocket's handshake carries it, so every handler reads it from the connection's
request headers and resolves it on the server with `accounts.user_for_token`; role and ids never
come from the browser. Only display strings (email, name) are kept in state. Signing in checks
the password here and hands the page a one-time grant, which the page posts to
/api/session/start; signing out posts to /api/session/end. Both are full page loads, so the next
websocket carries the new cookie (or none).
"""

import json

import reflex as rx
from starlette.requests import cookie_parser

from billing_portal import rate_limits
from billing_portal.api.sessions import AFTER_SIGN_IN, END_ROUTE, SESSION_COOKIE, START_ROUTE, safe_next_path
from billing_portal.billing import accounts
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.billing.portal_sessions import service as portal_sessions
from billing_portal.db import session_scope
from billing_portal.settings import get_settings

_API_URL = get_settings().api_url.rstrip("/")


def post_form_js(action: str, fields: dict[str, str]) -> str:
    """Script that makes the page post a form to `action`: a top-level navigation, so the answer's
    cookie and redirect apply to the whole page."""
    return (
        "(() => { const f = document.createElement('form'); f.method = 'post'; "
        f"f.action = {json.dumps(action)}; "
        f"for (const [k, v] of Object.entries({json.dumps(fields)})) {{ "
        "const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; "
        "f.appendChild(i); } document.body.appendChild(f); f.submit(); })()"
    )


SIGN_OUT_JS = post_form_js(_API_URL + END_ROUTE, {})
SIGN_OUT_EVERYWHERE_JS = post_form_js(_API_URL + END_ROUTE, {"everywhere": "1"})


class AuthState(rx.State):
    """The signed-in user as the page shows it. Page states inherit from it."""

    user_email: str = ""
    user_name: str = ""
    # Only decides whether the nav shows the Admin link; admin handlers check the role themselves.
    user_is_admin: bool = False
    # Signed in by a portal link: the nav's "Back to <app>" (billing/portal_sessions).
    back_url: str = ""
    back_label: str = ""

    @property
    def session_token(self) -> str:
        """This connection's session cookie, as its websocket handshake sent it."""
        return cookie_parser(self.router.headers.cookie).get(SESSION_COOKIE, "")

    @rx.var
    def signed_in(self) -> bool:
        return self.user_email != ""

    def _show_user(self, user: CurrentUser | None) -> None:
        self.user_email = user.email if user else ""
        self.user_name = user.name if user else ""
        self.user_is_admin = bool(user and user.is_admin)
        self.back_url = (user.return_url or "") if user else ""
        self.back_label = portal_sessions.back_label(self.back_url) if self.back_url else ""

    def _resolve_user(self, session) -> CurrentUser | None:
        """The user for this browser's token, checked on the server (call inside session_scope)."""
        token = self.session_token
        user = accounts.user_for_token(session, token) if token else None
        self._show_user(user)
        return user

    def _start_session(self, grant: str, next_path: str):
        """The page posts the grant to the server, which sets the cookie and opens `next_path`."""
        return rx.call_script(post_form_js(_API_URL + START_ROUTE, {"grant": grant, "next": next_path}))

    @rx.event
    def load_session(self):
        """on_load of every page: refresh who is signed in (the nav bar shows it)."""
        with session_scope() as session:
            self._resolve_user(session)


class SignUpState(AuthState):
    error: str = ""
    submitting: bool = False

    @rx.event
    def on_load(self):
        """Already signed in: nothing to do here."""
        with session_scope() as session:
            user = self._resolve_user(session)
        self.error = ""
        self.submitting = False
        if user:
            return rx.redirect(AFTER_SIGN_IN, replace=True)

    @rx.event
    def submit(self, form: dict[str, str]):
        self.error = ""
        self.submitting = True
        yield
        try:
            rate_limits.hit("sign_up", self.router.session.client_ip)
            with session_scope() as session:
                grant = accounts.sign_up(
                    session,
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                    name=str(form.get("name", "")),
                )
        except DomainError as exc:
            self.error, self.submitting = str(exc), False
            return
        # Still "submitting" while the page moves on to the server's sign-in.
        yield self._start_session(grant, AFTER_SIGN_IN)


class SignInState(AuthState):
    error: str = ""
    submitting: bool = False

    @rx.event
    def on_load(self):
        with session_scope() as session:
            user = self._resolve_user(session)
        self.error = ""
        self.submitting = False
        if user:
            return rx.redirect(self._next_path(), replace=True)

    def _next_path(self) -> str:
        return safe_next_path(self.router.url.query_parameters.get("next"))

    @rx.event
    def submit(self, form: dict[str, str]):
        self.error = ""
        self.submitting = True
        yield
        try:
            rate_limits.hit("sign_in", self.router.session.client_ip)
            with session_scope() as session:
                grant = accounts.sign_in(
                    session,
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                )
        except DomainError as exc:
            # SignInThrottled's message carries the seconds to wait.
            self.error, self.submitting = str(exc), False
            return
        yield self._start_session(grant, self._next_path())
