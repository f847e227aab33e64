"""/billing/payment-methods: the saved cards, the default one, add a card, remove one.

Adding a card is the checkout's card flow without a charge (state/checkout.py has the browser
side): `save` opens a SetupIntent on the server, the page runs `stripe.confirmCardSetup`, then
`card_set_up` has the server check and keep the card (billing/payment_methods.py).

Every handler resolves the signed-in user from the session token on the server (`_as_customer`)
and the service touches only that user's cards: a card id from the page is checked there. Stripe
calls run in background handlers (a worker thread), off this browser's state lock. The state keeps
display strings of the customer's cards only (a handful, never paged).
"""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import reflex as rx

from billing_portal.billing import accounts, payment_methods
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.db import session_scope
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.billing import UNEXPECTED, BillingState, login_redirect
from billing_portal.state.checkout import (
    CARD_FORM_FAILED,
    begin_card_setup,
    card_id_of,
    clear_card_js,
    confirm_setup_js,
    mount_card_js,
)

logger = logging.getLogger(__name__)

ROUTE = "/billing/payment-methods"
SIGNED_OUT = "Your session has ended. Sign in again to manage your cards."


@dataclasses.dataclass(frozen=True)
class CardRowView:
    id: str = ""
    brand: str = ""
    last4: str = ""
    expiry_label: str = ""
    is_default: bool = False
    expiry_status: str = ""  # "" | "expiring" | "expired"
    expiry_message: str = ""


def card_row_view(card: payment_methods.CardView) -> CardRowView:
    return CardRowView(str(card.id), card.brand, card.last4, card.expiry_label, card.is_default,
                       card.expiry_status, card.expiry_message)


def _as_customer(token: str, action: Callable[[Any, CurrentUser], Any]):
    """Run `action(session, user)` for the signed-in customer of `token` in one transaction; then
    the fresh card list. None when nobody (or no customer) is signed in."""
    with session_scope() as session:
        user = accounts.user_for_token(session, token) if token else None
        if user is None or user.customer_id is None:
            return None
        result = action(session, user)
        cards = payment_methods.list_cards(session, user=user, now=utcnow())
        return result, [card_row_view(card) for card in cards]


class PaymentMethodsState(BillingState):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    cards: list[CardRowView] = []
    busy: bool = False  # one change at a time (set default, remove, save)

    # The remove confirmation: which card, as the dialog names it.
    confirm_remove_id: str = ""
    confirm_remove_label: str = ""

    # The add-card form.
    adding: bool = False
    card_ready: bool = False
    card_error: str = ""
    saving: bool = False
    save_error: str = ""
    _setup_intent_id: str = ""

    @rx.var
    def has_cards(self) -> bool:
        return len(self.cards) > 0

    @rx.event
    def on_load(self):
        self.loaded, self.error, self.notice, self.busy = False, "", "", False
        self.confirm_remove_id = self.confirm_remove_label = ""
        self._close_form()
        try:
            with session_scope() as session:
                user = self._customer(session)
                if user is None:
                    return None if self.access else login_redirect(ROUTE)
                cards = payment_methods.list_cards(session, user=user, now=utcnow())
        except Exception:
            logger.exception("payment methods failed")
            self.error = UNEXPECTED
            return None
        self.cards = [card_row_view(card) for card in cards]
        self.loaded = True
        return None

    # ---- set default, remove ---------------------------------------------------------------

    async def _change(self, action, done: Callable[[Any], str], what: str):
        """Run one change for the signed-in customer in a worker thread, then show the new list."""
        async with self:
            if self.busy:
                return
            self.busy, self.error, self.notice = True, "", ""
            token = self.session_token
        try:
            outcome = await rx.run_in_thread(lambda: _as_customer(token, action))
        except DomainError as exc:
            async with self:
                self.busy, self.error = False, str(exc)
            return
        except Exception:
            logger.exception("%s failed", what)
            async with self:
                self.busy, self.error = False, UNEXPECTED
            return
        async with self:
            self.busy = False
            if outcome is None:
                self.error = SIGNED_OUT
                return
            result, self.cards = outcome
            self.notice = done(result)

    @rx.event(background=True)
    async def set_default(self, card_id: str):
        card = card_id_of(card_id)
        await self._change(
            lambda session, user: payment_methods.set_default(session, user=user, card_id=card, now=utcnow()),
            lambda view: f"{view.brand} •••• {view.last4} is now your default card. Renewals are charged to it.",
            "set default card",
        )

    @rx.event
    def ask_remove(self, card_id: str):
        card = next((c for c in self.cards if c.id == str(card_id)), None)
        if card is None:
            return
        self.error = self.notice = ""
        self.confirm_remove_id, self.confirm_remove_label = card.id, f"{card.brand} •••• {card.last4}"

    @rx.event
    def cancel_remove(self):
        self.confirm_remove_id = self.confirm_remove_label = ""

    @rx.event(background=True)
    async def confirm_remove(self):
        async with self:
            card, label = card_id_of(self.confirm_remove_id), self.confirm_remove_label
            self.confirm_remove_id = self.confirm_remove_label = ""
        await self._change(
            lambda session, user: payment_methods.remove(session, user=user, card_id=card, now=utcnow()),
            lambda _: f"{label} is removed.",
            "remove card",
        )

    # ---- add a card ------------------------------------------------------------------------

    def _close_form(self) -> None:
        self.adding, self.card_ready, self.card_error = False, False, ""
        self.saving, self.save_error, self._setup_intent_id = False, "", ""

    @rx.event
    def open_form(self):
        if self.adding or not self.loaded:
            return None
        self._close_form()
        self.adding = True
        self.error = self.notice = ""
        settings = get_settings()
        return rx.call_script(mount_card_js(settings.stripe_js_url, settings.stripe_publishable_key),
                              callback=PaymentMethodsState.card_mounted)

    @rx.event
    def close_form(self):
        if not self.saving:
            self._close_form()

    @rx.event
    def card_mounted(self, result: dict):
        ok = isinstance(result, dict) and result.get("ok") is True
        self.card_ready, self.card_error = ok, "" if ok else CARD_FORM_FAILED

    def _save_failed(self, message: str) -> None:
        self.saving, self.save_error, self._setup_intent_id = False, message, ""

    @rx.event(background=True)
    async def save(self):
        async with self:
            if self.saving or not self.adding or not self.card_ready:
                return
            self.saving, self.save_error, self._setup_intent_id = True, "", ""
            token = self.session_token

        setup, problem = await begin_card_setup(token, signed_out=SIGNED_OUT, unexpected=UNEXPECTED)
        async with self:
            if setup is None:
                self._save_failed(problem)
                return
            self._setup_intent_id = setup.setup_intent_id
        yield rx.call_script(confirm_setup_js(setup.client_secret), callback=PaymentMethodsState.card_set_up)

    @rx.event(background=True)
    async def card_set_up(self, result: dict):
        result = result if isinstance(result, dict) else {}
        async with self:
            if not self.saving or not self._setup_intent_id:
                return
            if result.get("ok") is not True or str(result.get("setup_intent_id") or "") != self._setup_intent_id:
                self._save_failed(str(result.get("error") or "Your card could not be saved. Try another card.")[:300])
                return
            token, setup_intent_id = self.session_token, self._setup_intent_id

        # The server keeps the SetupIntent id it created; Stripe says whose card it is and how it ended.
        def keep(session, user):
            return payment_methods.save_card(session, user=user, setup_intent_id=setup_intent_id, now=utcnow())

        try:
            outcome = await rx.run_in_thread(lambda: _as_customer(token, keep))
        except DomainError as exc:
            async with self:
                self._save_failed(str(exc))
            yield rx.call_script(clear_card_js())
            return
        except Exception:
            logger.exception("save card failed")
            async with self:
                self._save_failed(UNEXPECTED)
            return
        async with self:
            if outcome is None:
                self._save_failed(SIGNED_OUT)
                return
            view, self.cards = outcome
            self._close_form()
            default = " It is your default card." if view.is_default else ""
            self.notice = f"{view.brand} •••• {view.last4} is saved.{default}"
