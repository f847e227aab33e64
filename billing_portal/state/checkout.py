"""/checkout (embedded card form) and /checkout/success.

The flow, one click of "Pay":

    pay (server)            begin_card_setup -> SetupIntent secret
    browser                 stripe.confirmCardSetup(secret, {payment_method: {card}})  (3DS modal maybe)
    card_set_up (server)    checkout.pay(setup_intent_id) -> succeeded | requires_action | failed
    browser (if action)     stripe.confirmCardPayment(pi_secret)                      (3DS modal)
    card_authenticated      checkout.confirm_after_action(payment_intent_id)
    -> /checkout/success?invoice=NUMBER, or the decline message and the card form again.

/checkout?invoice=ID pays an open invoice of the signed-in customer the same way
(checkout.pay_invoice), or, with one of their saved cards picked, goes straight to the charge.

The browser steps run through `rx.call_script(js, callback=handler)`: the script returns a Promise
that always resolves to a small dict ({ok, error, setup_intent_id, ...}); Reflex awaits it and
sends it to the callback handler. The browser only ever sends back what Stripe.js answered; the
server keeps the ids it created itself (`_setup_intent_id`, `_payment_intent_id`) and uses those,
together with the price id / pack slug / quantity of the page's URL. Amounts come from the catalog.

The Stripe calls run in background handlers (in a worker thread) so a slow Stripe answer neither
holds this browser's state lock nor blocks the event loop; `paying` guards against double submits.
"""

import dataclasses
import json
import logging
import secrets
from urllib.parse import quote, urlencode

import reflex as rx

from billing_portal.billing import accounts, checkout, payment_methods, repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoice_document import build_invoice_document
from billing_portal.billing.money import format_money
from billing_portal import rate_limits
from billing_portal.db import session_scope
from billing_portal.ids import parse_id
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings
from billing_portal.state.auth import AuthState

logger = logging.getLogger(__name__)

ROUTE = "/checkout"
SUCCESS_ROUTE = "/checkout/success"
CARD_ELEMENT_ID = "card-element"
MAX_QUANTITY = 10_000

NOTHING_CHARGED = "Nothing was charged."
UNEXPECTED = "Something went wrong on our side. Nothing was charged. Reload the page and try again."
BAD_LINK = "This checkout link is not valid. Pick a plan or a credit pack again."
CARD_FORM_FAILED = "The card form could not be loaded. Check your connection and reload the page."
SIGNED_OUT = "Your session has ended. Sign in again to finish your purchase."


def login_redirect(path: str):
    return rx.redirect(f"/login?next={quote(path, safe='/')}", replace=True)


# --------------------------------------------------------------------------------------------
# The browser side: one small library on window, then one call per step. Every call resolves
# (never rejects) to a plain object, so the callback handler always runs and `paying` is reset.

_LIBRARY = r"""
window.bpCheckout = window.bpCheckout || (function () {
  var st = {stripe: null, key: null, card: null, selector: null, touched: false, cardError: ''};
  var LABELS = {number: 'Card number', exp_month: 'Expiry month (MM)', exp_year: 'Expiry year (YY)',
                cvc: 'Security code (CVC)', postal_code: 'Postal code'};
  function message(err, fallback) {
    return (err && typeof err.message === 'string' && err.message) ? err.message : fallback;
  }
  function withTimeout(promise, ms, what) {
    return Promise.race([promise, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error(what)); }, ms);
    })]);
  }
  function loadStripe(src) {
    return new Promise(function (resolve, reject) {
      if (typeof window.Stripe === 'function') { resolve(); return; }
      var tag = document.querySelector('script[data-bp-stripe]');
      if (tag && tag.dataset.state) { reject(new Error('Stripe.js did not start.')); return; }
      if (!tag) {
        // localstripe's Stripe.js reads the name of every <iframe> already in the page and
        // throws on one without a name: give those an empty one first (no effect otherwise).
        document.querySelectorAll('iframe:not([name])').forEach(function (f) { f.setAttribute('name', ''); });
        tag = document.createElement('script');
        tag.src = src;
        tag.dataset.bpStripe = '1';
        tag.addEventListener('load', function () { tag.dataset.state = 'loaded'; });
        tag.addEventListener('error', function () { tag.dataset.state = 'failed'; });
        document.head.appendChild(tag);
      }
      tag.addEventListener('load', function () {
        if (typeof window.Stripe === 'function') { resolve(); } else { reject(new Error('Stripe.js did not start.')); }
      });
      tag.addEventListener('error', function () { reject(new Error('Stripe.js could not be loaded.')); });
    });
  }
  function waitFor(selector) {
    return new Promise(function (resolve, reject) {
      var started = Date.now();
      (function look() {
        var el = document.querySelector(selector);
        if (el) { resolve(el); return; }
        if (Date.now() - started > 10000) { reject(new Error('The card form has no place in the page.')); return; }
        setTimeout(look, 50);
      })();
    });
  }
  function labelInputs(host) {
    // Stripe's own element is an iframe with its labels; a stand-in's plain inputs get names here.
    host.querySelectorAll('input[placeholder]').forEach(function (input) {
      var label = LABELS[input.getAttribute('placeholder')];
      if (label && !input.getAttribute('aria-label')) { input.setAttribute('aria-label', label); }
      if (input.getAttribute('placeholder') !== 'postal_code') { input.setAttribute('inputmode', 'numeric'); }
      input.setAttribute('autocomplete', 'off');
      if (input.getAttribute('placeholder') === 'number') {
        // People type "4242 4242 4242 4242": Stripe's element takes that, the stand-in wants digits.
        input.addEventListener('input', function () {
          var digits = input.value.replace(/\D+/g, '');
          if (digits !== input.value) {
            input.value = digits;
            input.dispatchEvent(new Event('input', {bubbles: true}));
          }
        });
      }
    });
  }
  async function mount(src, key, selector) {
    try {
      await withTimeout(loadStripe(src), 20000, 'Stripe.js took too long to load.');
      var host = await waitFor(selector);
      if (st.card) { try { st.card.destroy(); } catch (e) { /* already gone with its page */ } }
      if (!st.stripe || st.key !== key) { st.stripe = window.Stripe(key); st.key = key; }
      // A fresh elements group each time: a group holds only one card element.
      st.card = st.stripe.elements().create('card');
      st.selector = selector;
      st.touched = false;
      st.cardError = '';
      st.card.on('change', function (event) {
        st.touched = true;
        st.cardError = (event && event.error && event.error.message) || '';
      });
      st.card.mount(host);
      labelInputs(host);
      return {ok: true, error: ''};
    } catch (err) {
      return {ok: false, error: message(err, 'The card form could not be loaded.')};
    }
  }
  async function setup(secret) {
    try {
      if (!st.card || !st.stripe) { return {ok: false, error: 'The card form is not ready yet. Reload the page.'}; }
      if (!st.touched) { return {ok: false, error: 'Enter your card details.'}; }
      if (st.cardError) { return {ok: false, error: st.cardError}; }
      var result = await st.stripe.confirmCardSetup(secret, {payment_method: {card: st.card}});
      if (result.error || !result.setupIntent) {
        return {ok: false, error: message(result.error, 'Your card could not be saved. Try another card.')};
      }
      return {ok: true, error: '', setup_intent_id: String(result.setupIntent.id || '')};
    } catch (err) {
      return {ok: false, error: message(err, 'Your card could not be saved. Try another card.')};
    }
  }
  async function authenticate(secret) {
    try {
      // No card data here: the card is already on the PaymentIntent (Stripe shows its 3DS step).
      var result = await st.stripe.confirmCardPayment(secret);
      if (result.error) {
        return {ok: false, error: message(result.error, 'The payment could not be authenticated.')};
      }
      return {ok: true, error: '', status: String((result.paymentIntent && result.paymentIntent.status) || '')};
    } catch (err) {
      return {ok: false, error: message(err, 'The payment could not be authenticated.')};
    }
  }
  function clear() {
    try {
      var host = st.selector && document.querySelector(st.selector);
      if (st.card && typeof st.card.clear === 'function') {
        st.card.clear();
      } else if (host) {
        // localstripe's element has no clear(): empty its inputs and let it read them again.
        var inputs = host.querySelectorAll('input');
        inputs.forEach(function (input) { input.value = ''; });
        if (inputs.length) { inputs[0].dispatchEvent(new Event('input', {bubbles: true})); }
      }
      st.touched = false;
      st.cardError = '';
      if (st.card && typeof st.card.focus === 'function') { st.card.focus(); }
      else if (host && host.querySelector('input')) { host.querySelector('input').focus(); }
    } catch (e) { /* nothing to clear */ }
    return {ok: true, error: ''};
  }
  return {mount: mount, setup: setup, authenticate: authenticate, clear: clear};
})();
"""


def _js_call(expression: str) -> str:
    """The library (defined once per page load) followed by one call; evaluates to its result."""
    return f"{_LIBRARY}\n{expression}"


def mount_card_js(stripe_js_url: str, publishable_key: str) -> str:
    args = ", ".join(json.dumps(a) for a in (stripe_js_url, publishable_key, f"#{CARD_ELEMENT_ID}"))
    return _js_call(f"window.bpCheckout.mount({args})")


def confirm_setup_js(client_secret: str) -> str:
    return _js_call(f"window.bpCheckout.setup({json.dumps(client_secret)})")


def authenticate_js(client_secret: str) -> str:
    return _js_call(f"window.bpCheckout.authenticate({json.dumps(client_secret)})")


def clear_card_js() -> str:
    return _js_call("window.bpCheckout.clear()")


async def begin_card_setup(token: str, *, signed_out: str, unexpected: str) -> tuple[checkout.CardSetup | None, str]:
    """A SetupIntent for the signed-in customer of `token` (in a worker thread: Stripe may be slow),
    or None and the message to show."""

    def begin():
        with session_scope() as session:
            user = accounts.user_for_token(session, token) if token else None
            if user is None:
                return None
            return checkout.begin_card_setup(session, user=user)

    try:
        setup = await rx.run_in_thread(begin)
    except DomainError as exc:
        return None, str(exc)
    except Exception:
        logger.exception("begin_card_setup failed")
        return None, unexpected
    return (setup, "") if setup is not None else (None, signed_out)


# --------------------------------------------------------------------------------------------
# What the page shows


@dataclasses.dataclass(frozen=True)
class SummaryLineView:
    label: str = ""
    amount_label: str = ""


@dataclasses.dataclass(frozen=True)
class CheckoutTarget:
    """What the URL asks to buy; validated again by the service."""

    price_id: int | None = None
    pack_slug: str | None = None
    quantity: int = 1
    invoice_id: int | None = None  # paying an open invoice


def parse_target(params: dict) -> CheckoutTarget | None:
    """`?price=ID&quantity=N`, `?pack=SLUG` or `?invoice=ID`; None when the link makes no sense."""
    price, pack = str(params.get("price") or "").strip(), str(params.get("pack") or "").strip()
    invoice = str(params.get("invoice") or "").strip()
    if invoice:
        invoice_id = parse_id(invoice)
        ok = invoice_id is not None and not (price or pack or params.get("quantity"))
        return CheckoutTarget(invoice_id=invoice_id) if ok else None
    quantity_text = str(params.get("quantity") or "1").strip()
    quantity = parse_id(quantity_text)
    if bool(price) == bool(pack) or quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        return None
    if price:
        price_id = parse_id(price)
        return None if price_id is None else CheckoutTarget(price_id=price_id, quantity=quantity)
    if len(pack) > 100 or not all(c.isalnum() or c in "-_" for c in pack):
        return None
    return CheckoutTarget(pack_slug=pack, quantity=quantity)


def invoice_path(invoice_id: int) -> str:
    """Where the customer pays an open invoice ("Pay now")."""
    return f"{ROUTE}?{urlencode({'invoice': invoice_id})}"


def target_path(target: CheckoutTarget) -> str:
    if target.invoice_id is not None:
        return invoice_path(target.invoice_id)
    query = {"price": target.price_id} if target.price_id is not None else {"pack": target.pack_slug}
    if target.quantity != 1:
        query["quantity"] = target.quantity
    return f"{ROUTE}?{urlencode(query)}"


NEW_CARD = "new"


@dataclasses.dataclass(frozen=True)
class SavedCardView:
    id: str = ""
    label: str = ""  # "Visa •••• 4242"
    expiry_label: str = ""
    is_default: bool = False
    expired: bool = False


def card_id_of(value) -> int:
    """A card id from the page; anything else is an id no card has (the service says "not found")."""
    parsed = parse_id(value)
    return -1 if parsed is None else parsed


def saved_card_view(card: payment_methods.CardView) -> SavedCardView:
    return SavedCardView(str(card.id), f"{card.brand} •••• {card.last4}", card.expiry_label, card.is_default,
                         card.expiry_status == "expired")


def country_of_language(accept_language: str) -> str:
    """A first guess at the billing country from the browser's language ("ko-KR,ko;q=0.9" -> "KR");
    the page shows it for the customer to confirm or change. "" when it names no region."""
    first = str(accept_language or "").split(",")[0].split(";")[0].strip()
    region = first.replace("_", "-").split("-")[-1] if "-" in first or "_" in first else ""
    return region.upper() if len(region) == 2 and region.isalpha() else ""


def _current_path(router) -> str:
    query = urlencode({k: v for k, v in router.url.query_parameters.items() if isinstance(v, str)})
    return f"{ROUTE}?{query}" if query else ROUTE


class CheckoutState(AuthState):
    loaded: bool = False
    load_error: str = ""
    denied: bool = False  # ?invoice= of someone else's (or no) invoice: the denial view, nothing of it

    kind: str = ""
    title: str = ""
    description: str = ""
    lines: list[SummaryLineView] = []
    subtotal_label: str = ""
    tax_label: str = ""
    tax_rule_label: str = ""  # which tax rule applied, under the tax line
    total_label: str = ""
    due_today_label: str = ""
    trial_days: int = 0
    quantity: int = 1
    # The customer's saved cards (offered in every checkout), and which one pays (or NEW_CARD).
    saved_cards: list[SavedCardView] = []
    selected_card: str = NEW_CARD
    # When no billing country is known and tax depends on it, the page asks for one
    # (billing_country, a guess from the browser's language at first).
    country_needed: bool = False
    billing_country: str = ""

    card_ready: bool = False
    card_error: str = ""
    paying: bool = False
    step: str = ""  # what the pay button says while paying
    pay_error: str = ""
    pay_error_note: str = ""  # "Nothing was charged." when that is certain
    # The bank has not answered yet ("processing"): no retry, the history page will show it.
    pending_message: str = ""
    # CHECKOUT_MODE=hosted (and no free trial): "Pay" sends the customer to Stripe Checkout.
    hosted: bool = False
    # Back from Stripe Checkout without paying (its cancel_url).
    came_back: bool = False

    # Kept on the server only: what the URL asked for and the intents this server created.
    _target: CheckoutTarget | None = None
    _setup_intent_id: str = ""
    _payment_intent_id: str = ""

    @rx.var
    def pay_label(self) -> str:
        if self.trial_days > 0 and self.kind == "subscription":
            return f"Start {self.trial_days}-day free trial"
        return f"Pay {self.total_label}" if self.total_label else "Pay"

    def _reset(self) -> None:
        self.loaded, self.load_error, self.denied = False, "", False
        self.kind = self.title = self.description = ""
        self.lines = []
        self.subtotal_label = self.tax_label = self.tax_rule_label = self.total_label = self.due_today_label = ""
        self.trial_days, self.quantity = 0, 1
        self.saved_cards, self.selected_card = [], NEW_CARD
        self.country_needed, self.billing_country = False, ""
        self.card_ready, self.card_error = False, ""
        self.paying, self.step, self.pay_error, self.pending_message = False, "", "", ""
        self.hosted = self.came_back = False
        self._target = None
        self._setup_intent_id = self._payment_intent_id = ""

    @rx.event
    def on_load(self):
        self._reset()
        target = parse_target(self.router.url.query_parameters)
        try:
            with session_scope() as session:
                user = self._resolve_user(session)
                if user is None:
                    return login_redirect(target_path(target) if target else _current_path(self.router))
                if target is None:
                    self.load_error = BAD_LINK
                    return None
                if target.invoice_id is not None:
                    summary = checkout.invoice_summary(session, user=user, invoice_id=target.invoice_id)
                else:
                    summary = checkout.checkout_summary(
                        session, user=user, price_id=target.price_id, pack_slug=target.pack_slug,
                        quantity=target.quantity, billing_country=country_of_language(
                            self.router.headers.accept_language),
                    )
                cards = payment_methods.list_cards(session, user=user, now=utcnow())
        except NotFound:
            self.denied = True
            return None
        except DomainError as exc:
            self.load_error = str(exc)
            return None
        except Exception:
            logger.exception("checkout summary failed")
            self.load_error = UNEXPECTED
            return None
        self._target = target
        self._show_summary(summary, user.locale)
        self.saved_cards = [saved_card_view(card) for card in cards]
        usable = [card for card in self.saved_cards if not card.expired]
        default = next((card for card in usable if card.is_default), usable[0] if usable else None)
        self.selected_card = default.id if default else NEW_CARD
        self.loaded = True
        # A free trial needs a card saved for its end: the card form, whatever the mode.
        self.hosted = get_settings().checkout_mode == "hosted" and summary.trial_days == 0
        if self.hosted:
            self.came_back = str(self.router.url.query_parameters.get("canceled") or "") == "1"
            return None
        return rx.call_script(
            mount_card_js(summary.stripe_js_url, summary.publishable_key),
            callback=CheckoutState.card_mounted,
        )

    def _show_summary(self, summary: checkout.CheckoutSummary, locale: str) -> None:
        self.kind, self.title, self.description = summary.kind, summary.title, summary.description
        self.lines = [SummaryLineView(line.label, line.amount_label) for line in summary.lines]
        self.subtotal_label, self.tax_label, self.tax_rule_label, self.total_label = (
            summary.subtotal_label, summary.tax_label, summary.tax_rule_label, summary.total_label,
        )
        self.trial_days, self.quantity = summary.trial_days, summary.quantity
        self.country_needed, self.billing_country = summary.country_needed, summary.country
        # With a trial the first invoice (total_label) is charged when the trial ends.
        self.due_today_label = (
            format_money(0, summary.currency, locale) if summary.trial_days > 0 else summary.total_label
        )

    @rx.event
    def set_billing_country(self, value: str):
        """The country the page asked for: the summary is taxed for it again (kept only at pay)."""
        target = self._target
        if not self.country_needed or self.paying or target is None or target.invoice_id is not None:
            return
        try:
            with session_scope() as session:
                user = self._resolve_user(session)
                if user is None:
                    self.pay_error = SIGNED_OUT
                    return
                summary = checkout.checkout_summary(
                    session, user=user, price_id=target.price_id, pack_slug=target.pack_slug,
                    quantity=target.quantity, billing_country=str(value or "")[:2],
                )
        except DomainError as exc:
            self.pay_error = str(exc)
            return
        except Exception:
            logger.exception("checkout summary failed")
            self.pay_error = UNEXPECTED
            return
        self.pay_error = ""
        self._show_summary(summary, user.locale)

    @rx.event
    def card_mounted(self, result: dict):
        ok = isinstance(result, dict) and result.get("ok") is True
        self.card_ready = ok
        self.card_error = "" if ok else CARD_FORM_FAILED
        if not ok:
            logger.warning("card element did not mount: %s", str((result or {}).get("error", ""))[:200])

    @rx.event
    def select_card(self, value: str):
        if value == NEW_CARD or value in {card.id for card in self.saved_cards}:
            self.selected_card = value
            self.pay_error = ""

    # ---- paying: every step below runs in the background, off the state lock --------------

    def _fail(self, message: str, *, nothing_charged: bool = True) -> None:
        self.paying, self.step, self.pay_error = False, "", message
        self.pay_error_note = NOTHING_CHARGED if nothing_charged else ""
        self._setup_intent_id = self._payment_intent_id = ""

    @rx.event(background=True)
    async def pay(self):
        async with self:
            saved = self.selected_card if self.selected_card != NEW_CARD else ""
            if (self.paying or self.pending_message or not self.loaded or (not saved and not self.card_ready)
                    or self._target is None):
                return
            self.paying, self.step, self.pay_error = True, "Checking your card…", ""
            self._setup_intent_id = self._payment_intent_id = ""
            token, target, client_ip = self.session_token, self._target, self.router.session.client_ip
            country = self.billing_country
            if self.country_needed and not country:
                self._fail(checkout.COUNTRY_NEEDED)
                return
        try:
            rate_limits.hit("checkout", client_ip)
        except rate_limits.RateLimited as exc:
            async with self:
                self._fail(str(exc))
            return
        if saved:
            async for event in self._pay_with_saved_card(token, target, saved, client_ip, country):
                yield event
            return

        setup, problem = await begin_card_setup(token, signed_out=SIGNED_OUT, unexpected=UNEXPECTED)
        async with self:
            if setup is None:
                self._fail(problem)
                return
            self._setup_intent_id = setup.setup_intent_id
        yield rx.call_script(confirm_setup_js(setup.client_secret), callback=CheckoutState.card_set_up)

    @rx.event(background=True)
    async def pay_hosted(self):
        """Create (or find) the invoice and its Stripe Checkout Session; go to Stripe's page."""
        async with self:
            if self.paying or not self.loaded or not self.hosted or self._target is None:
                return
            if self.country_needed and not self.billing_country:
                self._fail(checkout.COUNTRY_NEEDED)
                return
            self.paying, self.step, self.pay_error, self.came_back = True, "Opening secure payment…", "", False
            token, target, country = self.session_token, self._target, self.billing_country
        public = get_settings().public_url.rstrip("/")
        cancel = target_path(target)
        cancel += f"{'&' if '?' in cancel else '?'}canceled=1"

        def begin():
            with session_scope() as session:
                user = accounts.user_for_token(session, token) if token else None
                if user is None:
                    return None
                return checkout.begin_hosted_checkout(
                    session, user=user, price_id=target.price_id, pack_slug=target.pack_slug,
                    quantity=target.quantity, success_url=f"{public}{SUCCESS_ROUTE}?session_id={{CHECKOUT_SESSION_ID}}",
                    cancel_url=f"{public}{cancel}", billing_country=country,
                )

        try:
            hosted = await rx.run_in_thread(begin)
        except DomainError as exc:
            async with self:
                self._fail(str(exc))
            return
        except Exception:
            logger.exception("begin_hosted_checkout failed")
            async with self:
                self._fail(UNEXPECTED)
            return
        async with self:
            if hosted is None:
                self._fail(SIGNED_OUT)
                return
            self.step = "Redirecting to Stripe…"
        # Stripe's page is on another host: the browser leaves the app (window.location).
        yield rx.redirect(hosted.url)

    @rx.event(background=True)
    async def card_set_up(self, result: dict):
        result = result if isinstance(result, dict) else {}
        async with self:
            if not self.paying or not self._setup_intent_id or self._target is None:
                return
            if result.get("ok") is not True:
                # Declined or not authenticated while saving the card: Stripe.js says why.
                self._fail(str(result.get("error") or "Your card could not be saved. Try another card.")[:300])
                return
            if str(result.get("setup_intent_id") or "") != self._setup_intent_id:
                self._fail(UNEXPECTED)
                return
            self.step = "Paying…"
            token, setup_intent_id, target = self.session_token, self._setup_intent_id, self._target
            country = self.billing_country
            # The address the server sees (as for the rate limits), never one the browser states.
            client_ip = self.router.session.client_ip

        def charge():
            with session_scope() as session:
                user = accounts.user_for_token(session, token) if token else None
                if user is None:
                    return None
                if target.invoice_id is not None:
                    return checkout.pay_invoice(session, user=user, invoice_id=target.invoice_id,
                                                setup_intent_id=setup_intent_id, client_ip=client_ip)
                return checkout.pay(
                    session, user=user, setup_intent_id=setup_intent_id,
                    price_id=target.price_id, pack_slug=target.pack_slug, quantity=target.quantity,
                    billing_country=country, client_ip=client_ip,
                )

        async for event in self._after_outcome(charge, "pay"):
            yield event

    async def _pay_with_saved_card(self, token: str, target: CheckoutTarget, card_id: str, client_ip: str,
                                   country: str):
        async with self:
            self.step = "Paying…"
        # One attempt per click: a credit pack bought with a saved card gets an invoice of its own.
        attempt = secrets.token_hex(8)

        def charge():
            with session_scope() as session:
                user = accounts.user_for_token(session, token) if token else None
                if user is None:
                    return None
                # The id is checked against the signed-in customer's own cards by the service.
                if target.invoice_id is not None:
                    return checkout.pay_invoice(session, user=user, invoice_id=target.invoice_id,
                                                card_id=card_id_of(card_id), client_ip=client_ip)
                return checkout.pay(
                    session, user=user, card_id=card_id_of(card_id), attempt=attempt, price_id=target.price_id,
                    pack_slug=target.pack_slug, quantity=target.quantity, billing_country=country,
                    client_ip=client_ip,
                )

        async for event in self._after_outcome(charge, "pay_saved_card"):
            yield event

    @rx.event(background=True)
    async def card_authenticated(self, result: dict):
        async with self:
            if not self.paying or not self._payment_intent_id:
                return
            self.step = "Finishing…"
            token, payment_intent_id = self.session_token, self._payment_intent_id

        # Whatever the browser says, the server asks Stripe what happened to its PaymentIntent.
        def finish():
            with session_scope() as session:
                user = accounts.user_for_token(session, token) if token else None
                if user is None:
                    return None
                return checkout.confirm_after_action(session, user=user, payment_intent_id=payment_intent_id)

        async for event in self._after_outcome(finish, "confirm_after_action"):
            yield event

    async def _after_outcome(self, work, what: str):
        try:
            outcome = await rx.run_in_thread(work)
        except DomainError as exc:
            async with self:
                # Not "nothing was charged": Stripe may have charged before its answer was lost
                # (the message says a new try never charges twice).
                self._fail(str(exc), nothing_charged=False)
            yield rx.call_script(clear_card_js())
            return
        except Exception:
            logger.exception("checkout %s failed", what)
            async with self:
                self._fail(UNEXPECTED)
            return
        async with self:
            if outcome is None:
                self._fail(SIGNED_OUT)
                return
            status = outcome.status
            if status == "requires_action" and outcome.client_secret and outcome.payment_intent_id:
                self._payment_intent_id = outcome.payment_intent_id
                self.step = "Waiting for your bank…"
            elif status in ("succeeded", "trialing"):
                self.step = "Done"
            elif status == "processing":
                self.paying, self.step = False, ""
                self.pending_message = outcome.message or "Your payment is being processed."
            else:
                self._fail(outcome.message or "Your card was declined.")
        if status == "requires_action" and outcome.client_secret and outcome.payment_intent_id:
            yield rx.call_script(authenticate_js(outcome.client_secret), callback=CheckoutState.card_authenticated)
        elif status in ("succeeded", "trialing"):
            query = urlencode({"invoice": outcome.invoice_number}) if outcome.invoice_number else "trial=1"
            yield rx.redirect(f"{SUCCESS_ROUTE}?{query}")
        elif status == "processing":
            return
        else:
            # The customer tries another card in the same, emptied card form.
            yield rx.call_script(clear_card_js())


# --------------------------------------------------------------------------------------------
# /checkout/success


@dataclasses.dataclass(frozen=True)
class ReceiptView:
    title: str
    amount_label: str
    invoice_number: str
    paid: bool
    lines: list[SummaryLineView]


NO_RECEIPT = "We could not find this receipt. Your billing history lists every payment."


def read_receipt(session, user: CurrentUser, number: str) -> ReceiptView:
    """The finalized invoice `number` of this user's customer, as the receipt shows it.

    Read through the invoice document (the same view the PDF prints); another customer's
    number, or an unknown one, is simply "not found".
    """
    invoice = repository.invoice_by_number(session, number) if number else None
    if invoice is None or user.customer_id is None or invoice.customer_id != user.customer_id:
        raise NotFound(NO_RECEIPT)
    doc = build_invoice_document(session, invoice.id)

    def money(value: int) -> str:
        return format_money(value, doc.currency, user.locale)

    lines = [SummaryLineView(line.description, money(line.amount)) for line in doc.lines]
    if doc.tax:
        lines.append(SummaryLineView("Tax", money(doc.tax)))
    paid = doc.status == "paid"
    if len(lines) == 1:
        lines = []  # one line is the title already
    return ReceiptView(
        title=doc.lines[0].description if doc.lines else f"Invoice {doc.number}",
        amount_label=money(doc.amount_paid if paid else doc.total),
        invoice_number=doc.number,
        paid=paid,
        lines=lines,
    )


class CheckoutSuccessState(AuthState):
    loaded: bool = False
    error: str = ""
    denied: bool = False  # another customer's receipt, or none: the denial view, nothing of it
    title: str = ""
    amount_label: str = ""
    invoice_number: str = ""
    paid: bool = False
    receipt_lines: list[SummaryLineView] = []
    trial: bool = False

    @rx.event
    def on_load(self):
        self.loaded, self.error, self.title, self.amount_label, self.invoice_number = False, "", "", "", ""
        self.paid, self.receipt_lines, self.trial, self.denied = False, [], False, False
        params = self.router.url.query_parameters
        number = str(params.get("invoice") or "").strip()[:40]
        checkout_session_id = str(params.get("session_id") or "").strip()[:200]
        if checkout_session_id:
            with session_scope() as session:
                if self._resolve_user(session) is None:
                    return login_redirect(f"{SUCCESS_ROUTE}?{urlencode({'session_id': checkout_session_id})}")
            return CheckoutSuccessState.finish_hosted(checkout_session_id)
        try:
            with session_scope() as session:
                user = self._resolve_user(session)
                if user is None:
                    path = f"{SUCCESS_ROUTE}?{urlencode({'invoice': number})}" if number else SUCCESS_ROUTE
                    return login_redirect(path)
                if not number:
                    if str(params.get("trial") or "") != "1":
                        self.error = NO_RECEIPT
                        return None
                    self.trial = True
                    self.loaded = True
                    return None
                receipt = read_receipt(session, user, number)
        except NotFound:
            self.denied = True
            return None
        except DomainError as exc:
            self.error = str(exc)
            return None
        except Exception:
            logger.exception("checkout receipt failed")
            self.error = "Your receipt could not be loaded. Your billing history lists every payment."
            return None
        self._show(receipt)
        return None

    def _show(self, receipt: ReceiptView) -> None:
        self.title, self.amount_label = receipt.title, receipt.amount_label
        self.invoice_number, self.paid = receipt.invoice_number, receipt.paid
        self.receipt_lines = receipt.lines
        self.loaded = True

    @rx.event(background=True)
    async def finish_hosted(self, checkout_session_id: str):
        """Back from Stripe Checkout: the server asks Stripe how it ended (never the URL), records it."""
        async with self:
            token = self.session_token

        def finish():
            with session_scope() as session:
                user = accounts.user_for_token(session, token) if token else None
                if user is None:
                    return None
                number = checkout.finish_hosted_checkout(session, user=user,
                                                         checkout_session_id=str(checkout_session_id))
                return read_receipt(session, user, number)

        try:
            receipt = await rx.run_in_thread(finish)
        except DomainError as exc:
            async with self:
                self.error = str(exc)
            return
        except Exception:
            logger.exception("finish_hosted_checkout failed")
            async with self:
                self.error = "Your receipt could not be loaded. Your billing history lists every payment."
            return
        async with self:
            if receipt is None:
                self.error = SIGNED_OUT
            else:
                self._show(receipt)
