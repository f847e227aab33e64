"""/billing/usage: this period's metered usage and the customer's API keys.

Every handler resolves the signed-in customer on the server (`_customer`); a key id sent by the
browser is only acted on through api_keys.revoke, which checks that the key is that customer's.
A new key's token is kept in state only until the customer dismisses it (or leaves the page).
"""

import logging

import reflex as rx

from billing_portal.billing import api_keys, usage_portal
from billing_portal.billing.usage_portal import KeyRow, MeterRow
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.settings import get_settings
from billing_portal.state.billing import UNEXPECTED, BillingState, login_redirect

logger = logging.getLogger(__name__)
ROUTE = "/billing/usage"


class UsageState(BillingState):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    has_subscription: bool = False
    period_label: str = ""
    next_invoice_label: str = ""
    total_label: str = ""
    note: str = ""
    meters: list[MeterRow] = []
    keys: list[KeyRow] = []
    new_token: str = ""
    new_key_name: str = ""
    creating: bool = False
    revoke_id: int = 0
    revoke_name: str = ""
    revoking: bool = False

    @rx.var
    def usage_endpoint(self) -> str:
        return get_settings().public_url.rstrip("/") + "/api/usage"

    def _reload(self, session, user: CurrentUser) -> None:
        page = usage_portal.usage_page(session, user.customer_id)
        self.has_subscription = page.has_subscription
        self.period_label, self.next_invoice_label = page.period_label, page.next_invoice_label
        self.total_label, self.note = page.total_label, page.note
        self.meters, self.keys = list(page.meters), list(page.keys)
        self.loaded = True

    @rx.event
    def on_load(self):
        self.error = self.notice = self.new_token = self.new_key_name = ""
        self.revoke_id, self.revoke_name = 0, ""
        self.loaded = False
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None if self.access else login_redirect(ROUTE)
                self._reload(session, user)
        except Exception:
            logger.exception("usage page failed")
            self.error = UNEXPECTED

    def _act(self, busy: str, action, what: str):
        """Run one key action for the signed-in customer and reload; gives the action's result, or
        None when nobody is signed in or it failed (error says why)."""
        self.error = self.notice = ""
        setattr(self, busy, True)
        yield
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None
                result = action(session, user)
                self._reload(session, user)
            return result
        except DomainError as exc:
            self.error = str(exc)
        except Exception:
            logger.exception("%s failed", what)
            self.error = UNEXPECTED
        finally:
            setattr(self, busy, False)
        return None

    @rx.event
    def create_key(self, form: dict[str, str]):
        self.new_token = self.new_key_name = ""
        name = str(form.get("name", ""))
        created = yield from self._act("creating", lambda s, user: api_keys.create(s, user=user, name=name),
                                       "API key creation")
        if created:  # committed: only now is the token worth showing
            self.new_token, self.new_key_name = created.token, created.key.name

    @rx.event
    def dismiss_token(self):
        self.new_token = self.new_key_name = ""

    @rx.event
    def ask_revoke(self, key_id: int):
        key = next((k for k in self.keys if k.id == key_id), None)
        self.revoke_id, self.revoke_name = (key.id, key.name) if key else (0, "")

    @rx.event
    def cancel_revoke(self):
        self.revoke_id, self.revoke_name = 0, ""

    @rx.event
    def confirm_revoke(self):
        key_id, name = parse_id(self.revoke_id) or 0, self.revoke_name  # 0: an id no key has
        revoked = yield from self._act("revoking", lambda s, user: api_keys.revoke(s, user=user, key_id=key_id),
                                       "API key revocation")
        self.revoke_id, self.revoke_name = 0, ""
        if revoked:
            self.notice = f"The key “{name}” is revoked: calls with it are refused from now on."
