"""Saved cards: add one through a SetupIntent, list them, pick the default, remove one.

Adding a card is the checkout's flow without a charge: `checkout.begin_card_setup` opens the
SetupIntent, the page runs `stripe.confirmCardSetup`, then `save_card` checks the SetupIntent with
Stripe (ours, succeeded), attaches the card and keeps only what we may show: brand, last4, expiry,
issuing country (for the fraud guard) and Stripe's fingerprint (models/payment_methods.py). The default card is the customer's
`default_payment_method_id`, set at Stripe too (invoice_settings.default_payment_method), and is
what renewals charge; the first card saved becomes the default.

Every use case takes the signed-in user and touches only that user's customer's cards: a card id
from the browser that is not theirs is "not found". Stripe is asked first; our rows change only
when Stripe said yes, in the caller's transaction. Webhooks (payment_method.attached/detached,
setup_intent.succeeded) keep the list in step through `sync_attached` / `sync_detached`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from billing_portal.billing import dunning, repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.gateways import stripe_gateway
from billing_portal.gateways.stripe_gateway import CardDeclined, CardInfo, StripeGatewayError
from billing_portal.models import Customer, PaymentMethod, SubscriptionStatus

NO_SUCH_CARD = "This card is not saved on your account."
ONLY_CARD = ("This is your only card and your subscription is paid with it. "
             "Add another card first, then remove this one.")
# A live subscription in these states charges the default card: it must keep one.
NEEDS_A_CARD = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
_BRANDS = {"amex": "American Express", "diners": "Diners Club", "jcb": "JCB", "mastercard": "Mastercard",
           "unionpay": "UnionPay", "visa": "Visa", "discover": "Discover"}


@dataclass(frozen=True)
class CardView:
    id: int
    brand: str  # "Visa"
    last4: str
    expiry_label: str  # "12/2030"
    is_default: bool
    expiry_status: str  # "" | "expiring" (expires this month) | "expired"
    expiry_message: str  # "" or a sentence for the warning


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Gateway failures become DomainError with the gateway's safe, customer-facing message."""
    try:
        yield
    except CardDeclined as exc:
        raise DomainError(exc.customer_message) from None
    except StripeGatewayError as exc:
        raise DomainError(str(exc)) from None


# --------------------------------------------------------------------------------------------
# Use cases (the signed-in user's own cards)


def list_cards(session: Session, *, user: CurrentUser, now: datetime) -> list[CardView]:
    customer = _customer(session, user)
    return [_view(row, customer, now) for row in repository.payment_methods_of(session, customer.id)]


def save_card(session: Session, *, user: CurrentUser, setup_intent_id: str, now: datetime) -> CardView:
    """Keep the card the browser just confirmed on `setup_intent_id` (see module docstring)."""
    customer = _customer(session, user)
    repository.lock_customer(session, customer.id)
    gw = stripe_gateway.gateway()
    card = card_from_setup_intent(gw, customer, setup_intent_id)
    same = repository.payment_method_by_fingerprint(session, customer.id, card.fingerprint)
    if same is not None and same.stripe_payment_method_id != card.id:
        # Stripe saves the same number twice as two cards: keep the one we have.
        with stripe_errors():
            gw.detach_card(card.id, stripe_customer_id=customer.stripe_customer_id)
        raise DomainError(f"This card ({_brand(same.brand)} •••• {same.last4}) is already saved.")
    changed = store_card(session, gw, customer, card, make_default=customer.default_payment_method_id is None)
    if changed:
        _after_default_card_changed(session, customer.id, now)
    row = repository.payment_method_by_stripe_id(session, card.id)
    return _view(row, customer, now)


def set_default(session: Session, *, user: CurrentUser, card_id: int, now: datetime) -> CardView:
    """Renewals charge this card from now on (here and at Stripe)."""
    customer = _customer(session, user)
    repository.lock_customer(session, customer.id)
    row = own_card(session, customer, card_id)
    if customer.default_payment_method_id != row.stripe_payment_method_id:
        _make_default(session, stripe_gateway.gateway(), customer, row)
        _after_default_card_changed(session, customer.id, now)
    return _view(row, customer, now)


def remove(session: Session, *, user: CurrentUser, card_id: int, now: datetime) -> None:
    """Detach the card at Stripe and forget it; the newest other card becomes the default.

    The only card is refused while a subscription that charges it is active or past due.
    """
    customer = _customer(session, user)
    repository.lock_customer(session, customer.id)
    row = own_card(session, customer, card_id)
    others = [c for c in repository.payment_methods_of(session, customer.id) if c.id != row.id]
    live = repository.live_subscription(session, customer.id)
    if not others and live is not None and live.status in NEEDS_A_CARD:
        raise DomainError(ONLY_CARD)
    gw = stripe_gateway.gateway()
    with stripe_errors():
        gw.detach_card(row.stripe_payment_method_id, stripe_customer_id=customer.stripe_customer_id)
    was_default = customer.default_payment_method_id == row.stripe_payment_method_id
    session.delete(row)
    session.flush()
    if not was_default:
        return
    if others:
        _make_default(session, gw, customer, others[0])  # newest first
        _after_default_card_changed(session, customer.id, now)
    else:
        _clear_default(session, customer)


# --------------------------------------------------------------------------------------------
# Steps shared with checkout (billing/checkout.py) and webhooks


def card_from_setup_intent(gw, customer: Customer, setup_intent_id: str) -> CardInfo:
    """The card of a succeeded SetupIntent of this customer, attached to them at Stripe."""
    if not customer.stripe_customer_id:
        raise DomainError("The card form has expired. Enter your card again.")
    if not isinstance(setup_intent_id, str) or not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 200:
        raise DomainError("Your card was not saved. Enter it again.")
    with stripe_errors():
        intent = gw.retrieve_setup_intent(setup_intent_id)
    if intent.customer_id != customer.stripe_customer_id:
        raise DomainError("This card was not saved for your account. Enter it again.")
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise DomainError("Your card was not saved yet. Enter it again.")
    with stripe_errors():
        return gw.attach_payment_method(intent.payment_method_id, customer.stripe_customer_id)


def store_card(session: Session, gw, customer: Customer, card: CardInfo, *, make_default: bool) -> bool:
    """Keep (or refresh) the card's row; with `make_default` it becomes the default, at Stripe
    too. True when the default changed.

    The same number saved again (same fingerprint, a new Stripe card, e.g. typed at checkout)
    replaces the old card, which is detached: the list shows each card once.
    """
    same = repository.payment_method_by_fingerprint(session, customer.id, card.fingerprint)
    if same is not None and same.stripe_payment_method_id != card.id:
        make_default = make_default or customer.default_payment_method_id == same.stripe_payment_method_id
        with stripe_errors():
            gw.detach_card(same.stripe_payment_method_id, stripe_customer_id=customer.stripe_customer_id)
        session.delete(same)
        session.flush()
    row = _upsert(session, customer, card.id, card.brand, card.last4, card.exp_month, card.exp_year,
                  card.fingerprint, card.country)
    if not make_default or customer.default_payment_method_id == row.stripe_payment_method_id:
        return False
    _make_default(session, gw, customer, row)
    return True


def card_info(row: PaymentMethod) -> CardInfo:
    return CardInfo(id=row.stripe_payment_method_id, brand=row.brand, last4=row.last4,
                    exp_month=row.exp_month or 0, exp_year=row.exp_year or 0, fingerprint=row.fingerprint,
                    country=row.country)


def forget_cards(session: Session, customer: Customer) -> None:
    """The customer's cards are gone with their Stripe customer (deleted or replaced)."""
    for row in repository.payment_methods_of(session, customer.id):
        session.delete(row)
    _clear_default(session, customer)


def sync_attached(session: Session, customer: Customer, method: dict) -> None:
    """payment_method.attached: keep the card; it becomes the default when there is none."""
    card = method.get("card") or {}
    row = _upsert(session, customer, str(method["id"]), str(card.get("brand") or ""), str(card.get("last4") or ""),
                  card.get("exp_month"), card.get("exp_year"), str(card.get("fingerprint") or ""),
                  str(card.get("country") or ""))
    if customer.default_payment_method_id in (None, row.stripe_payment_method_id):
        _show_default(session, customer, row)


def sync_detached(session: Session, customer: Customer, payment_method_id: str) -> None:
    """payment_method.detached: forget the card (and the default, when it was)."""
    row = repository.payment_method_by_stripe_id(session, payment_method_id)
    if row is not None and row.customer_id == customer.id:
        session.delete(row)
        session.flush()
    if customer.default_payment_method_id == payment_method_id:
        _clear_default(session, customer)


# --------------------------------------------------------------------------------------------
# Helpers


def _after_default_card_changed(session: Session, customer_id: int, now: datetime) -> None:
    # A past-due invoice is retried with the new default card at once (the schedule stays).
    dunning.card_changed(session, customer_id, now)


def _customer(session: Session, user: CurrentUser) -> Customer:
    customer = session.get(Customer, user.customer_id) if user and user.customer_id else None
    if customer is None:
        raise DomainError("Sign in with a customer account to manage cards.")
    return customer


def own_card(session: Session, customer: Customer, card_id: Any) -> PaymentMethod:
    """A saved card of this customer by our id, else NotFound (another's card looks the same)."""
    if isinstance(card_id, bool) or not isinstance(card_id, int):
        raise NotFound(NO_SUCH_CARD)
    row = session.get(PaymentMethod, card_id)
    if row is None or row.customer_id != customer.id:
        raise NotFound(NO_SUCH_CARD)
    return row


def _upsert(session: Session, customer: Customer, pm_id: str, brand: str, last4: str, exp_month, exp_year,
            fingerprint: str, country: str) -> PaymentMethod:
    row = repository.payment_method_by_stripe_id(session, pm_id)
    if row is None:
        row = PaymentMethod(customer_id=customer.id, stripe_payment_method_id=pm_id)
    elif row.customer_id != customer.id:
        raise DomainError("This card is saved for another customer.")
    row.brand, row.last4 = brand[:32], last4[:4]
    row.exp_month, row.exp_year = (exp_month or None), (exp_year or None)
    row.fingerprint = fingerprint[:64] or row.fingerprint
    row.country = country.upper()[:2] or row.country
    session.add(row)
    session.flush()
    return row


def _make_default(session: Session, gw, customer: Customer, row: PaymentMethod) -> None:
    with stripe_errors():
        gw.set_default_card(customer.stripe_customer_id, row.stripe_payment_method_id)
    _show_default(session, customer, row)


def _show_default(session: Session, customer: Customer, row: PaymentMethod) -> None:
    customer.default_payment_method_id = row.stripe_payment_method_id
    customer.card_brand, customer.card_last4 = row.brand, row.last4
    customer.card_exp_month, customer.card_exp_year = row.exp_month, row.exp_year
    session.add(customer)
    session.flush()


def _clear_default(session: Session, customer: Customer) -> None:
    customer.default_payment_method_id = None
    customer.card_brand = customer.card_last4 = ""
    customer.card_exp_month = customer.card_exp_year = None
    session.add(customer)
    session.flush()


def _brand(brand: str) -> str:
    return _BRANDS.get((brand or "").lower(), (brand or "Card").title())


def expiry_status(exp_month: int | None, exp_year: int | None, now: datetime) -> str:
    """A card works until the end of its expiry month: "expired", "expiring" (this month) or ""."""
    if not exp_month or not exp_year:
        return ""
    if (exp_year, exp_month) < (now.year, now.month):
        return "expired"
    return "expiring" if (exp_year, exp_month) == (now.year, now.month) else ""


def _view(row: PaymentMethod, customer: Customer, now: datetime) -> CardView:
    status = expiry_status(row.exp_month, row.exp_year, now)
    expiry = f"{row.exp_month:02d}/{row.exp_year}" if row.exp_month and row.exp_year else ""
    message = {"expired": f"This card expired at the end of {expiry}. Add a new card.",
               "expiring": "This card expires at the end of this month. Add a new card soon."}.get(status, "")
    return CardView(id=row.id, brand=_brand(row.brand), last4=row.last4, expiry_label=expiry,
                    is_default=customer.default_payment_method_id == row.stripe_payment_method_id,
                    expiry_status=status, expiry_message=message)
