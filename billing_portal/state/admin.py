"""The admin console's base state: one server-side role check that every admin handler calls.

`AdminState._admin(session)` resolves the browser's session token on the server and answers the
admin, or None: a customer (or a stale token) gets nothing, and `admin_access` tells the page
whether to show the denial ("denied") or send a signed-out visitor to sign in (""). The role never
comes from the browser; `AuthState.user_is_admin` only decides whether the nav shows the link.

Handlers run their work through `_as_admin` (the check, one transaction, errors as the page's
message) and lists page through `AdminPagedState`.
"""

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import ClassVar

import reflex as rx

from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.billing.wording import counted
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.state.auth import AuthState
from billing_portal.state.billing import UNEXPECTED, PagedState, login_redirect

logger = logging.getLogger(__name__)

DENIED = "denied"
OK = "ok"


def row_id(text: str) -> int:
    """The id of a row the page showed, as the browser sent it back."""
    found = parse_id(text)
    if found is None:
        raise DomainError("Pick a row from the list.")
    return found


def string_view(row, view_type):
    """A display dataclass from an engine row: same field names, every value a string."""
    names = {f.name for f in dataclasses.fields(view_type)}
    return view_type(**{k: str(v) for k, v in dataclasses.asdict(row).items() if k in names})


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

    def _as_admin(self, work: Callable, *, route: str | None = None, error: str = "error"):
        """work(session, admin) in one transaction for the signed-in admin, answering what it answers.

        Anyone else gets nothing done (and, when `route` is given, the way out of that page). A
        DomainError rolls back and becomes the message in the var named by `error`; anything else is
        logged and shown as UNEXPECTED.
        """
        try:
            with session_scope() as session:
                admin = self._admin(session)
                if admin is None:
                    return self._turn_away(route) if route else None
                return work(session, admin)
        except DomainError as exc:
            setattr(self, error, str(exc))
        except Exception:
            logger.exception("%s failed", type(self).__name__)
            setattr(self, error, UNEXPECTED)
        return None

    def _busy(self, flag: str, work: Callable, **options):
        """`_as_admin` with the var `flag` on meanwhile (the page shows a spinner); a generator handler
        does `yield from self._busy(...)`."""
        setattr(self, flag, True)
        yield
        try:
            answer = self._as_admin(work, **options)
        finally:
            setattr(self, flag, False)
        if answer is not None:
            yield answer

    @rx.var
    def admin_denied(self) -> bool:
        return self.admin_access == DENIED


class AdminPagedState(PagedState, mixin=True):
    """An admin list one page at a time. The state defines `_reload(session, admin)`, which reads
    its rows through `_page_of`; turning a page checks the admin first, as every handler does.
    `COUNTED` names a row, one and many, for `total_label` ("1 customer", "2 customers")."""

    COUNTED: ClassVar[tuple[str, str]] = ("row", "rows")
    total_label: str = ""

    @rx.event
    def next_page(self):
        return self._turn_page(self.page + 1)

    @rx.event
    def previous_page(self):
        return self._turn_page(self.page - 1)

    def _turn_page(self, page: int):
        def work(session, admin):
            self.page = max(1, min(page, self.pages))
            self._reload(session, admin)

        return self._as_admin(work)

    def _page_of(self, fetch: Callable, per_page: int) -> list:
        """fetch(page, per_page) -> (rows, total) for this page, or the first page when this one
        emptied (its last row went away)."""
        rows, total = fetch(self.page, per_page)
        if not rows and self.page > 1:
            self.page = 1
            rows, total = fetch(1, per_page)
        self.total, self.pages = total, max(1, math.ceil(total / per_page))
        self.total_label = counted(total, *self.COUNTED)
        return rows
