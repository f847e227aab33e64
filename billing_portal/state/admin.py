"""The admin console's base state: one server-side role check that every admin handler calls.

`AdminState._admin(session)` resolves the browser's session token on the server and answers the
admin, or None: a customer (or a stale token) gets nothing, and `admin_access` tells the page
whether to show the denial ("denied") or send a signed-out visitor to sign in (""). The role never
comes from the browser; `AuthState.user_is_admin` only decides whether the nav shows the link.
"""

import reflex as rx

from billing_portal.billing.accounts import CurrentUser
from billing_portal.state.auth import AuthState
from billing_portal.state.billing import login_redirect

DENIED = "denied"
OK = "ok"


class AdminState(AuthState):
    """"" while unknown or signed out, "ok" for an admin, "denied" for anyone else signed in."""

    admin_access: str = ""

    def _admin(self, session) -> CurrentUser | None:
        """The signed-in admin, or None (call inside session_scope, first thing in every handler)."""
        user = self._resolve_user(session)
        if user is None:
            self.admin_access = ""
            return None
        if not user.is_admin:
            self.admin_access = DENIED
            return None
        self.admin_access = OK
        return user

    def _turn_away(self, path: str):
        """What an admin page's on_load returns when `_admin` said no: sign in, or the denial view."""
        return None if self.admin_access == DENIED else login_redirect(path)

    @rx.var
    def admin_denied(self) -> bool:
        return self.admin_access == DENIED
