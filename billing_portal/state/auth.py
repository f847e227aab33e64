"""Who is signed in, and the sign-up / sign-in / sign-out forms.

The browser keeps only an opaque session token (a cookie, so a reload stays signed in). Every
handler resolves it on the server with `accounts.user_for_token`; role and ids never come from the
browser. Only display strings (email, name) are kept in state.
"""

from urllib.parse import urlsplit

import reflex as rx

from billing_portal import rate_limits
from billing_portal.billing import accounts
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.settings import get_settings

SESSION_COOKIE = "bp_session"
AFTER_SIGN_IN = "/pricing"

_settings = get_settings()


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


class AuthState(rx.State):
    """The signed-in user as the page shows it. Page states inherit from it."""

    session_token: str = rx.Cookie(
        "",
        name=SESSION_COOKIE,
        path="/",
        max_age=_settings.session_days * 24 * 3600,
        same_site="strict",
        secure=_settings.public_url.startswith("https://"),
    )
    user_email: str = ""
    user_name: str = ""
    # Only decides whether the nav shows the Admin link; admin handlers check the role themselves.
    user_is_admin: bool = False

    @rx.var
    def signed_in(self) -> bool:
        return self.user_email != ""

    def _show_user(self, user: CurrentUser | None) -> None:
        self.user_email = user.email if user else ""
        self.user_name = user.name if user else ""
        self.user_is_admin = bool(user and user.is_admin)

    def _resolve_user(self, session) -> CurrentUser | None:
        """The user for this browser's token, checked on the server (call inside session_scope)."""
        user = accounts.user_for_token(session, self.session_token) if self.session_token else None
        self._show_user(user)
        return user

    def _sign_in_with(self, token: str) -> None:
        self.session_token = token

    @rx.event
    def load_session(self):
        """on_load of every page: refresh who is signed in (the nav bar shows it)."""
        with session_scope() as session:
            self._resolve_user(session)

    @rx.event
    def sign_out(self):
        token = self.session_token
        if token:
            with session_scope() as session:
                accounts.sign_out(session, token)
        self.session_token = ""
        self._show_user(None)
        return [rx.remove_cookie(SESSION_COOKIE, {"path": "/"}), rx.redirect("/login")]


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
                token = accounts.sign_up(
                    session,
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                    name=str(form.get("name", "")),
                )
        except DomainError as exc:
            self.error = str(exc)
            return
        finally:
            self.submitting = False
        self._sign_in_with(token)
        yield rx.redirect(AFTER_SIGN_IN)


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
                token = accounts.sign_in(
                    session,
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                )
        except DomainError as exc:
            # SignInThrottled's message carries the seconds to wait.
            self.error = str(exc)
            return
        finally:
            self.submitting = False
        self._sign_in_with(token)
        yield rx.redirect(self._next_path())
