"""Checkout: subscribe to a plan or buy a credit pack with a card, in the customer's browser.

The flow (ENVIRONMENT.md, valid against Stripe and localstripe alike):

1. `checkout_summary` shows what will be charged, computed from the catalog on the server (the
   browser never sends an amount: no function here takes one).
2. `begin_card_setup` creates or updates the Stripe customer from our billing details and opens a
   SetupIntent; the page runs `stripe.confirmCardSetup(client_secret, {payment_method: {card}})`.
3. `pay` checks the SetupIntent with Stripe (ours, succeeded), attaches the card, makes it the
   default, creates the subscription (or the credit-pack invoice) and charges the open invoice
   on-session with the key `invoice:{invoice_id}:pm:{payment_method_id}`: the same invoice and
   card always mean the same PaymentIntent (checked in our database first, since a stand-in may
   ignore `Idempotency-Key`), another card is a new attempt on the same invoice.
   `pay_invoice` does the same for an open invoice of the customer (a proration or a failed
   renewal), with the card just saved or a saved one (billing/payment_methods.py).
   Before the charge the fraud guard (billing/fraud.py) scores the attempt: a block answers
   "blocked" and Stripe is never asked; a flag charges and leaves it for admins (/admin/risk).
4. On `requires_action` the page runs `stripe.confirmCardPayment(client_secret)` (3-D Secure) and
   then `confirm_after_action`, which asks Stripe for the PaymentIntent (never the browser).

Every outcome is recorded as a Payment in the caller's transaction; a succeeded payment marks the
invoice paid, activates the subscription and grants pack credits in that same transaction
(billing/payments.py `settle`), the same code the webhook path runs, so both converge and nothing
counts twice. Errors a customer can act on are DomainError with a message for them.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Literal

from babel.dates import format_date
from sqlmodel import Session

from billing_portal.billing import credits, fraud, invoices, payment_methods, payments, repository, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.catalog import period_label, sellable_price
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.money import format_money
from billing_portal.billing.tax import invoice_totals
from billing_portal.billing.taxation import applied_tax
from billing_portal.billing.payment_methods import stripe_errors as _stripe_errors
from billing_portal.gateways import stripe_currencies, stripe_gateway
from billing_portal.gateways.stripe_gateway import (
    GENERIC_DECLINE_MESSAGE,
    REQUIRES_ACTION_MESSAGE,
    WALLET_CURRENCIES,
    CardInfo,
    ChargeResult,
    StripeGatewayError,
)
from billing_portal.models import (
    CreditPack,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Plan,
    Price,
    RiskDecision,
    Subscription,
    SubscriptionStatus,
)
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

MAX_PACK_QUANTITY = 100
WALLET_NAMES = {"alipay": "Alipay", "wechat_pay": "WeChat Pay"}

Kind = Literal["subscription", "credit_pack", "invoice"]
# "blocked": the fraud guard refused the charge before Stripe was asked (billing/fraud.py).
OutcomeStatus = Literal["succeeded", "requires_action", "processing", "failed", "trialing", "blocked"]


@dataclass(frozen=True)
class SummaryLine:
    label: str
    amount_label: str


@dataclass(frozen=True)
class CheckoutSummary:
    kind: Kind
    title: str
    description: str
    lines: tuple[SummaryLine, ...]
    subtotal_label: str
    tax_label: str
    tax_rule_label: str  # which tax rule applied: "10 % for KR, included in the price", "Reverse charge …"
    total_label: str
    total_amount: int  # minor units: the first invoice's total (charged after the trial, if any)
    currency: str
    trial_days: int  # 0 when the price has none or the customer has trialed before
    publishable_key: str
    stripe_js_url: str
    price_id: int | None
    pack_slug: str | None
    quantity: int
    invoice_id: int | None = None  # kind "invoice": the open invoice being paid
    country: str = ""  # the country taxed: the customer's, or the one the page asked for
    country_needed: bool = False  # no country known yet and tax depends on it: the page asks


@dataclass(frozen=True)
class CardSetup:
    setup_intent_id: str
    client_secret: str


@dataclass(frozen=True)
class CheckoutOutcome:
    # "processing" is rare for cards (the bank has not answered yet): show the message and wait.
    status: OutcomeStatus
    message: str
    payment_intent_id: str | None
    client_secret: str | None  # for stripe.confirmCardPayment when status is requires_action
    invoice_number: str | None
    amount_label: str
    receipt_lines: tuple[SummaryLine, ...]
    # Wallets on requires_action: send the customer to redirect_url (Alipay) or show the QR code.
    redirect_url: str | None = None
    qr_image_url: str | None = None
    qr_code_data: str | None = None


@dataclass(frozen=True)
class HostedCheckout:
    url: str  # Stripe Checkout's page for the invoice
    checkout_session_id: str
    invoice_number: str


@dataclass(frozen=True)
class _Target:
    kind: Kind
    quantity: int
    price: Price | None = None
    plan: Plan | None = None
    pack: CreditPack | None = None

    @property
    def currency(self) -> str:
        return self.price.currency if self.price else self.pack.currency

    @property
    def unit_amount(self) -> int:
        return self.price.unit_amount if self.price else self.pack.amount


# --------------------------------------------------------------------------------------------
# Use cases


def checkout_summary(
    session: Session, *, user: CurrentUser, price_id: int | None = None, pack_slug: str | None = None,
    quantity: int = 1, billing_country: str = "",
) -> CheckoutSummary:
    """What the customer is about to buy, priced from the catalog and taxed for their country (or,
    when we know none yet, for `billing_country`, the one the page asks for)."""
    customer = _customer(session, user)
    target = _target(session, price_id, pack_slug, quantity)
    settings = get_settings()
    locale = customer.locale or user.locale
    currency = target.currency
    amount = target.unit_amount * target.quantity
    # A country the page asked for (only where tax depends on it) prices the summary as the
    # invoice will be, before it is kept.
    country = customer.country or (_country_code(billing_country) if settings.tax_rates else "")
    buyer = customer if customer.country else SimpleNamespace(country=country, tax_id=customer.tax_id)
    rule = applied_tax(buyer, currency)
    totals = invoice_totals([_TaxLine(amount, rule.rate, rule.inclusive)], quantum=stripe_currencies.quantum(currency),
                            rounding=rule.rounding)
    country_needed = not customer.country and bool(settings.tax_rates)

    def money(value: int) -> str:
        return format_money(value, currency, locale)

    times = f" × {target.quantity}" if target.quantity > 1 else ""
    if target.kind == "subscription":
        price, plan = target.price, target.plan
        period = period_label(price.interval, price.interval_count)
        trial_days = price.trial_days if price.trial_days and not repository.customer_has_trialed(
            session, customer.id) else 0
        lines = (SummaryLine(f"{plan.name}{times} ({period})", money(amount)),)
        description = f"{money(totals.total)} {period}"
        if trial_days:
            description = f"Free for {trial_days} days, then {description}. Nothing is charged today."
        title = f"{plan.name} plan"
    else:
        pack = target.pack
        trial_days = 0
        granted = pack.credits * target.quantity
        bonus = pack.bonus_credits * target.quantity
        lines = (SummaryLine(f"{pack.name}{times}", money(amount)),)
        if bonus:
            lines += (SummaryLine(f"Bonus: {bonus:,} credits", "Free"),)
        title = pack.name
        description = f"{granted + bonus:,} credits, added to your balance once the payment succeeds."
    tax_label = money(totals.tax)
    if totals.tax and rule.inclusive:
        tax_label = f"{tax_label} (included)"
    return CheckoutSummary(
        kind=target.kind,
        title=title,
        description=description,
        lines=lines,
        subtotal_label=money(totals.subtotal),
        tax_label=tax_label,
        tax_rule_label=TAX_DEPENDS if country_needed and not country else rule.label,
        total_label=money(totals.total),
        total_amount=totals.total,
        currency=currency,
        trial_days=trial_days,
        publishable_key=settings.stripe_publishable_key,
        stripe_js_url=settings.stripe_js_url,
        price_id=target.price.id if target.price else None,
        pack_slug=target.pack.slug if target.pack else None,
        quantity=target.quantity,
        country=country,
        country_needed=country_needed,
    )


def begin_card_setup(session: Session, *, user: CurrentUser) -> CardSetup:
    """Create (or update) the customer at Stripe from our billing details; a SetupIntent to save a card."""
    customer = _customer(session, user)
    gw = stripe_gateway.gateway()
    stripe_customer_id = ensure_stripe_customer(session, gw, customer, user)
    with _stripe_errors():
        intent = gw.create_setup_intent(stripe_customer_id)
    return CardSetup(setup_intent_id=intent.id, client_secret=intent.client_secret or "")


def pay(
    session: Session, *, user: CurrentUser, setup_intent_id: str | None = None, card_id: int | None = None,
    attempt: str = "", price_id: int | None = None, pack_slug: str | None = None, quantity: int = 1,
    billing_country: str = "", client_ip: str = "",
) -> CheckoutOutcome:
    """Charge a card for a subscription or a credit pack: the card just saved by `setup_intent_id`,
    or a saved one (`card_id`, ours; `attempt` names this try, so a credit pack gets one invoice
    per try). `billing_country` is the country the page asked for when we know none yet.

    `client_ip` is the browser's address as the server saw it (for the fraud guard)."""
    now = utcnow()
    customer = _customer(session, user)
    target = _target(session, price_id, pack_slug, quantity)
    if (setup_intent_id is None) == (card_id is None):
        raise DomainError("Pick a saved card or enter a new one.")
    # One checkout at a time per customer (a double click waits, then finds the first outcome).
    repository.lock_customer(session, customer.id)
    _require_country(session, customer, billing_country)
    gw = stripe_gateway.gateway()
    card, new = _paying_card(session, gw, customer, setup_intent_id, card_id)
    if target.kind == "subscription":
        replay = _subscription_replay(session, user, customer, target, card.id)
        if replay is not None:
            return replay
        subscribed = subscriptions.subscribe(
            session, customer_id=customer.id, price_id=target.price.id, quantity=target.quantity, now=now
        )
        if subscribed.invoice is None:
            # A trial charges nothing now: the card is kept for its end.
            payment_methods.store_card(session, gw, customer, card, make_default=True)
            return _trial_outcome(user, customer, subscribed.subscription, target)
        invoice = subscribed.invoice
    else:
        if new is False and (not isinstance(attempt, str) or not attempt.isalnum() or len(attempt) > 40):
            raise DomainError("This checkout has expired. Reload the page and try again.")
        invoice = _pack_invoice(session, customer, target, setup_intent_id or f"card-{card_id}-{attempt}", now)
    _keep_before_charging(session, customer)
    return _charge(session, gw, user, customer, invoice, card, now, client_ip, new_card=new)


def invoice_summary(session: Session, *, user: CurrentUser, invoice_id: int) -> CheckoutSummary:
    """What is still due on an open invoice of the signed-in customer (a proration or a failed
    renewal): its lines as invoiced. Another customer's invoice is "not found", nothing of it shown."""
    customer = _customer(session, user)
    invoice = _own_invoice(session, customer, invoice_id)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    settings = get_settings()
    locale = customer.locale or user.locale

    def money(value: int) -> str:
        return format_money(value, invoice.currency, locale)

    due = invoice.total - invoice.amount_paid
    lines = tuple(SummaryLine(line.description, money(line.amount))
                  for line in repository.invoice_lines(session, invoice.id))
    if invoice.amount_paid:
        lines += (SummaryLine("Already paid", money(-invoice.amount_paid)),)
    return CheckoutSummary(
        kind="invoice",
        title=f"Invoice {invoice.number}",
        description=f"{money(due)} is due on this invoice.",
        lines=lines,
        subtotal_label=money(invoice.subtotal),
        tax_label=money(invoice.tax),
        tax_rule_label="Reverse charge (EU business)" if invoice.tax_note else "",
        total_label=money(due),
        total_amount=due,
        currency=invoice.currency,
        trial_days=0,
        publishable_key=settings.stripe_publishable_key,
        stripe_js_url=settings.stripe_js_url,
        price_id=None,
        pack_slug=None,
        quantity=1,
        invoice_id=invoice.id,
    )


def pay_invoice(
    session: Session, *, user: CurrentUser, invoice_id: int, setup_intent_id: str | None = None,
    card_id: int | None = None, client_ip: str = "",
) -> CheckoutOutcome:
    """Pay an open invoice of the signed-in customer with a saved card (`card_id`, ours) or the
    card just saved by `setup_intent_id` (it becomes the default, as in `pay`).

    The key `invoice:{invoice_id}:pm:{payment_method_id}` makes paying twice with the same card
    the same PaymentIntent (a double click finds the first outcome).
    """
    now = utcnow()
    customer = _customer(session, user)
    repository.lock_customer(session, customer.id)
    invoice = _own_invoice(session, customer, invoice_id)
    if (setup_intent_id is None) == (card_id is None):
        raise DomainError("Pick a saved card or enter a new one.")
    gw = stripe_gateway.gateway()
    # Not through the dunning hook when the new card becomes the default: this charge is its retry.
    card, new = _paying_card(session, gw, customer, setup_intent_id, card_id)
    return _charge(session, gw, user, customer, repository.lock_invoice(session, invoice.id), card, now, client_ip,
                   new_card=new)


def confirm_after_action(session: Session, *, user: CurrentUser, payment_intent_id: str) -> CheckoutOutcome:
    """After the 3-D Secure modal: ask Stripe how the PaymentIntent ended and record it."""
    customer = _customer(session, user)
    payment = None
    if isinstance(payment_intent_id, str) and payment_intent_id:
        payment = repository.payment_by_intent(session, payment_intent_id, lock=True)
    if payment is None or payment.customer_id != customer.id:
        raise NotFound("No such payment.")
    result = None
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
        gw = stripe_gateway.gateway()
        with _stripe_errors():
            result = gw.retrieve_payment_intent(payment_intent_id)
        _apply(session, payment, result, utcnow())
        card_key = f"invoice:{payment.invoice_id}:pm:"
        if payment.idempotency_key.startswith(card_key):
            # A card that needed 3-D Secure at checkout: kept once it paid, let go if it did not. Its
            # id is in our key (Stripe drops it from a PaymentIntent whose authentication failed).
            _keep_or_let_go(session, gw, customer, payment.status, payment.idempotency_key[len(card_key):])
    return _outcome(session, user, payment, result)


def begin_hosted_checkout(
    session: Session, *, user: CurrentUser, success_url: str, cancel_url: str, price_id: int | None = None,
    pack_slug: str | None = None, quantity: int = 1, billing_country: str = "",
) -> HostedCheckout:
    """A Stripe Checkout Session paying the first invoice of a subscription, or a credit pack.

    Our database owns the subscription and the invoice: they are created here exactly as for the
    card form, and the session collects the invoice's amount due (never an amount from the
    browser), with our invoice id in its metadata and the key `invoice:{id}:checkout`, so asking
    again for the same invoice hands back the same session. `success_url` should carry
    `session_id={CHECKOUT_SESSION_ID}` for `finish_hosted_checkout`. Prices with a free trial need a
    saved card for the end of the trial: they go through the card form.
    """
    now = utcnow()
    customer = _customer(session, user)
    target = _target(session, price_id, pack_slug, quantity)
    repository.lock_customer(session, customer.id)
    _require_country(session, customer, billing_country)
    gw = stripe_gateway.gateway()
    stripe_customer_id = ensure_stripe_customer(session, gw, customer, user)
    invoice = _invoice_to_collect(session, customer, target, now)
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    _keep_before_charging(session, customer)
    key = f"invoice:{invoice.id}:checkout"

    def create(idempotency_key: str):
        with _stripe_errors():
            return gw.create_checkout_session(
                stripe_customer_id=stripe_customer_id, invoice_id=invoice.id,
                amount=invoice.total - invoice.amount_paid, currency=invoice.currency,
                description=_invoice_title(session, invoice), success_url=success_url, cancel_url=cancel_url,
                idempotency_key=idempotency_key,
                metadata={"invoice_number": invoice.number, "customer_id": customer.id,
                          "paid_through": payments.CHECKOUT_SESSION_MARK},
            )

    created = create(key)
    if created.status == "expired":  # the key's session ran out (24 h): a new one, named after it
        created = create(f"{key}:after:{created.id}")
    if created.status == "complete" or not created.url:
        raise DomainError(f"Invoice {invoice.number} is already being paid. Your billing history shows it.")
    return HostedCheckout(url=created.url, checkout_session_id=created.id, invoice_number=invoice.number)


def finish_hosted_checkout(session: Session, *, user: CurrentUser, checkout_session_id: str) -> str:
    """Back from Stripe Checkout: ask Stripe how the session ended, record it; the invoice number.

    The same recording as the `checkout.session.completed` webhook (whichever comes first wins,
    the other changes nothing), so the receipt is right even before the webhook arrives.
    """
    customer = _customer(session, user)
    if not isinstance(checkout_session_id, str) or not checkout_session_id.startswith("cs_") \
            or len(checkout_session_id) > 200:
        raise NotFound("No such payment.")
    with _stripe_errors():
        try:
            checkout = stripe_gateway.gateway().retrieve_checkout_session(checkout_session_id)
        except StripeGatewayError as exc:
            if exc.http_status != 404:
                raise
            # Unknown at Stripe: the same answer as another customer's session (nothing told).
            raise NotFound("No such payment.") from None
    invoice = session.get(Invoice, checkout.invoice_id) if checkout.invoice_id else None
    if invoice is None or invoice.customer_id != customer.id:
        raise NotFound("No such payment.")
    if checkout.status == "complete":
        try:
            payments.apply_checkout_session(session, checkout, outcome="completed", observed_at=utcnow())
        except DomainError:
            logger.exception("checkout session %s does not match invoice %s", checkout.id, invoice.id)
            raise DomainError("We received your payment but could not match it to your invoice. "
                              "We are looking into it; you do not need to pay again.") from None
        if checkout.payment_status == "paid" and not customer.default_payment_method_id:
            _keep_checkout_card(session, customer, checkout.payment_intent_id)
    return invoice.number


def _keep_checkout_card(session: Session, customer: Customer, payment_intent_id: str | None) -> None:
    """The card paid on Stripe's page (saved there for off-session use) pays the renewals.

    Best effort: the payment is recorded whatever happens here, and Stripe's
    payment_method.attached webhook sets the same card.
    """
    gw = stripe_gateway.gateway()
    try:
        intent = gw.retrieve_payment_intent(payment_intent_id) if payment_intent_id else None
        if intent is None or not intent.payment_method_id or not customer.stripe_customer_id:
            return
        card = gw.attach_payment_method(intent.payment_method_id, customer.stripe_customer_id)
        payment_methods.store_card(session, gw, customer, card, make_default=True)
    except (StripeGatewayError, DomainError):
        logger.warning("the card of payment %s was not kept for renewals", payment_intent_id)


def pay_with_wallet(
    session: Session, *, user: CurrentUser, method: str, return_url: str, price_id: int | None = None,
    pack_slug: str | None = None, quantity: int = 1, billing_country: str = "",
) -> CheckoutOutcome:
    """Pay the first invoice (or a credit pack) with Alipay or WeChat Pay when they are enabled.

    The outcome is "requires_action": send the customer to `redirect_url` (Alipay, back to
    `return_url`) or show `qr_image_url` (WeChat Pay). The `payment_intent.succeeded` webhook
    settles the invoice; `confirm_after_action` asks Stripe when the customer comes back.
    """
    settings = get_settings()
    enabled = {"alipay": settings.alipay_enabled, "wechat_pay": settings.wechat_pay_enabled}
    if not enabled.get(method):
        raise DomainError("This payment method is not available. Pay by card.")
    now = utcnow()
    customer = _customer(session, user)
    target = _target(session, price_id, pack_slug, quantity)
    name = WALLET_NAMES[method]
    accepted = WALLET_CURRENCIES[method]
    if target.currency not in accepted:
        raise DomainError(f"{name} does not take payments in {target.currency}; it takes "
                          f"{', '.join(sorted(accepted))}. Pay by card instead.")
    repository.lock_customer(session, customer.id)
    _require_country(session, customer, billing_country)
    gw = stripe_gateway.gateway()
    stripe_customer_id = ensure_stripe_customer(session, gw, customer, user)
    invoice = _invoice_to_collect(session, customer, target, now)
    _keep_before_charging(session, customer)
    key = f"invoice:{invoice.id}:{method}"
    existing = repository.payment_by_key(session, key)
    if existing is not None:
        return confirm_after_action(session, user=user, payment_intent_id=existing.stripe_payment_intent_id or "")
    if invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    due = invoice.total - invoice.amount_paid
    with _stripe_errors():
        result = gw.start_wallet_payment(
            method=method, stripe_customer_id=stripe_customer_id, amount=due, currency=invoice.currency,
            idempotency_key=key, return_url=return_url, description=f"Invoice {invoice.number}",
            metadata={"invoice_id": invoice.id, "invoice_number": invoice.number, "customer_id": customer.id},
        )
    payment = payments.record_intent(
        session, invoice_id=invoice.id, idempotency_key=key, status=_STATUS[result.status],
        stripe_payment_intent_id=result.payment_intent_id, observed_at=now, amount=due, card_brand=method,
        failure_code=result.failure_code or "", failure_message=result.customer_message or "", now=now,
    )
    return _outcome(session, user, payment, result)


# --------------------------------------------------------------------------------------------
# Steps


def _customer(session: Session, user: CurrentUser) -> Customer:
    customer = session.get(Customer, user.customer_id) if user and user.customer_id else None
    if customer is None:
        raise DomainError("Sign in with a customer account to check out.")
    return customer


def _own_invoice(session: Session, customer: Customer, invoice_id: int) -> Invoice:
    invoice = None
    if isinstance(invoice_id, int) and not isinstance(invoice_id, bool):
        invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != customer.id or invoice.status == InvoiceStatus.DRAFT:
        raise NotFound("We could not find this invoice. Your billing history lists your invoices.")
    return invoice


def _target(session: Session, price_id: int | None, pack_slug: str | None, quantity: int) -> _Target:
    if (price_id is None) == (pack_slug is None):
        raise DomainError("Pick a plan or a credit pack to check out.")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise DomainError("The quantity is a whole number.")
    if price_id is not None:
        if isinstance(price_id, bool) or not isinstance(price_id, int):
            raise DomainError("This price is not available. Pick a plan on the pricing page.")
        if not 1 <= quantity <= subscriptions.MAX_QUANTITY:
            raise DomainError(f"The quantity is a whole number from 1 to {subscriptions.MAX_QUANTITY}.")
        price, plan = sellable_price(session, price_id)
        return _above_minimum(_Target("subscription", quantity, price=price, plan=plan))
    pack = repository.credit_pack_by_slug(session, pack_slug) if isinstance(pack_slug, str) else None
    if pack is None or not pack.active:
        raise DomainError("This credit pack is not available. Pick one on the pricing page.")
    if not 1 <= quantity <= MAX_PACK_QUANTITY:
        raise DomainError(f"Buy from 1 to {MAX_PACK_QUANTITY} packs at a time.")
    return _above_minimum(_Target("credit_pack", quantity, pack=pack))


def _above_minimum(target: "_Target") -> "_Target":
    """A checkout under Stripe's minimum charge is refused here, before any invoice exists."""
    amount = target.unit_amount * target.quantity
    if stripe_currencies.below_minimum(amount, target.currency):
        raise payments.BelowMinimumCharge(
            payments.minimum_message(amount, target.currency) + " Choose a larger quantity or another plan.")
    return target


@dataclass(frozen=True)
class _TaxLine:
    amount: int
    rate: Decimal
    inclusive: bool


def _country_code(value: str) -> str:
    """A country code the page sent, if it is one ("" otherwise)."""
    # Imported here: billing_details imports this module (ensure_stripe_customer).
    from billing_portal.billing.billing_details import countries

    code = value.strip().upper() if isinstance(value, str) else ""
    return code if code in countries() else ""


def ensure_stripe_customer(session: Session, gw, customer: Customer, user: CurrentUser) -> str:
    """Create or update the customer at Stripe from our billing details (also used when they change)."""
    with _stripe_errors():
        stripe_id = gw.ensure_customer(
            stripe_customer_id=customer.stripe_customer_id,
            email=customer.invoice_email or user.email,
            name=customer.company or customer.name or user.name,
            idempotency_key=f"customer:{customer.id}",
            address_line1=customer.address_line1,
            address_line2=customer.address_line2,
            city=customer.city,
            postal_code=customer.postal_code,
            region=customer.region,
            country=customer.country,
            metadata={"customer_id": customer.id},
        )
    if stripe_id != customer.stripe_customer_id:
        customer.stripe_customer_id = stripe_id
        payment_methods.forget_cards(session, customer)  # they belonged to the old Stripe customer
    return stripe_id


def _subscription_replay(
    session: Session, user: CurrentUser, customer: Customer, target: _Target, payment_method_id: str
) -> CheckoutOutcome | None:
    """`pay` called again after it went through (double click, page reload): the same outcome."""
    live = repository.live_subscription(session, customer.id)
    if live is None or (live.price_id, live.quantity) != (target.price.id, target.quantity):
        return None
    if live.status == SubscriptionStatus.INCOMPLETE:
        return None  # subscribe() hands back the same subscription and invoice
    first = repository.invoice_by_key(session, f"subscription_create:{live.id}")
    if first is None:
        if live.status == SubscriptionStatus.TRIALING:
            return _trial_outcome(user, customer, live, target)
        return None
    payment = repository.payment_by_key(session, _payment_key(first, payment_method_id))
    if payment is None:
        return None  # subscribe() refuses with its own message
    return _outcome(session, user, payment, None)


def _invoice_to_collect(session: Session, customer: Customer, target: _Target, now: datetime) -> Invoice:
    """The invoice a hosted or wallet payment collects: the subscription's first, or a pack's.

    A double click or a second try finds the same invoice: subscribe() hands back the pending one,
    and an unpaid pack invoice for the same pack and quantity with no payment yet is reused.
    """
    if target.kind == "subscription":
        subscribed = subscriptions.subscribe(
            session, customer_id=customer.id, price_id=target.price.id, quantity=target.quantity, now=now
        )
        if subscribed.invoice is None:
            raise DomainError("This plan starts with a free trial: enter a card for when the trial ends.")
        return subscribed.invoice
    for old in repository.open_unpaid_invoices_by_reason(session, customer.id, credits.CREDIT_PACK_REASON):
        order = credits.pack_order_of(old)
        if (order and (order.pack_id, order.quantity) == (target.pack.id, target.quantity)
                and not repository.payments_of_invoice(session, old.id)):
            return old
    return _pack_invoice(session, customer, target, f"remote-{secrets.token_hex(8)}", now)


def _invoice_title(session: Session, invoice: Invoice) -> str:
    lines = repository.invoice_lines(session, invoice.id)
    first = lines[0].description if lines else ""
    return f"Invoice {invoice.number}" + (f": {first}" if first else "")


def _pack_invoice(session: Session, customer: Customer, target: _Target, setup_intent_id: str, now: datetime) -> Invoice:
    """One invoice per card entry (SetupIntent): paying twice with it finds the same invoice.

    Earlier unpaid pack invoices with no payment in flight are abandoned attempts: voided (their
    numbers stay used, so numbering stays gapless).
    """
    pack = target.pack
    key = credits.pack_invoice_key(customer.id, pack.id, target.quantity, setup_intent_id)
    existing = repository.invoice_by_key(session, key)
    if existing:
        return existing
    for old in repository.open_unpaid_invoices_by_reason(session, customer.id, credits.CREDIT_PACK_REASON):
        in_flight = any(p.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)
                        for p in repository.payments_of_invoice(session, old.id))
        if not in_flight:
            invoices.void(session, old.id, now=now)
    bonus = f" + {pack.bonus_credits:,} bonus" if pack.bonus_credits else ""
    draft = invoices.create_draft(
        session,
        customer_id=customer.id,
        currency=pack.currency,
        lines=[DraftLine(f"{pack.name}: {pack.credits:,} credits{bonus}", unit_amount=pack.amount,
                         quantity=target.quantity)],
        billing_reason=credits.CREDIT_PACK_REASON,
        idempotency_key=key,
        now=now,
    )
    return invoices.finalize(session, draft.id, now=now)


def _keep_before_charging(session: Session, customer: Customer) -> None:
    """Commit the invoice (and subscription) about to be charged, then lock the customer again.

    The charge names the invoice (key and metadata), so the invoice must outlive a charge that
    fails: when Stripe does not answer (or this process dies) after taking the money, a rollback
    would drop the invoice and the next try would charge a new invoice. Kept, the next try finds
    the same invoice, and Stripe's charge of it (payments.charge_invoice records it instead of
    charging again); reconciliation can record it too. An open, unpaid invoice is what a declined
    card leaves as well; numbers stay gapless.
    """
    session.commit()
    repository.lock_customer(session, customer.id)


def _payment_key(invoice: Invoice, payment_method_id: str) -> str:
    return f"invoice:{invoice.id}:pm:{payment_method_id}"


_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
}


def _charge(session: Session, gw, user: CurrentUser, customer: Customer, invoice: Invoice, card: CardInfo,
            now: datetime, client_ip: str, *, new_card: bool) -> CheckoutOutcome:
    """Charge the invoice with `card`; a `new_card` (typed on this page) is kept only if it paid."""
    key = _payment_key(invoice, card.id)
    existing = repository.payment_by_key(session, key)
    if existing is not None:
        # The same invoice and card again: the same PaymentIntent. Refresh a pending one.
        result = None
        if existing.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION) and existing.stripe_payment_intent_id:
            with _stripe_errors():
                result = gw.retrieve_payment_intent(existing.stripe_payment_intent_id)
            _apply(session, existing, result, now)
        if new_card:
            _keep_or_let_go(session, gw, customer, existing.status, card.id, card)
        return _outcome(session, user, existing, result)
    if invoice.status != InvoiceStatus.OPEN:
        if invoice.status == InvoiceStatus.PAID and invoice.total == 0:
            return _free_outcome(session, user, invoice)
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    risk = fraud.assess(session, fraud.Attempt(
        customer_id=customer.id, amount=invoice.total - invoice.amount_paid, currency=invoice.currency,
        client_ip=client_ip or "", card_fingerprint=card.fingerprint, card_country=card.country,
        billing_country=customer.country or "", card_brand=card.brand, card_last4=card.last4, invoice_id=invoice.id,
    ), now=now)
    if risk.decision == RiskDecision.BLOCK:
        # Recorded (the caller commits), so the attempt still counts; Stripe is never asked.
        logger.warning("checkout charge of invoice %s blocked by the fraud guard (assessment %s, score %s)",
                       invoice.id, risk.id, risk.score)
        if new_card:
            _keep_or_let_go(session, gw, customer, PaymentStatus.FAILED, card.id, card)
        credits.void_unpaid_pack_invoice(session, invoice, now=now)
        return _blocked_outcome(user, invoice)
    with _stripe_errors():
        payment, result = payments.charge_invoice(
            session, invoice, stripe_customer_id=customer.stripe_customer_id, payment_method_id=card.id,
            idempotency_key=key, off_session=False, card_brand=card.brand, card_last4=card.last4, now=now,
        )
    fraud.link_payment(session, risk, payment.id)
    if new_card:
        _keep_or_let_go(session, gw, customer, payment.status, card.id, card)
    _void_declined_pack(session, payment, now)
    return _outcome(session, user, payment, result)


def _paying_card(session: Session, gw, customer: Customer, setup_intent_id: str | None,
                 card_id: int | None) -> tuple[CardInfo, bool]:
    """The card this checkout charges, and whether it is new (typed on the page, not kept yet)."""
    if card_id is not None:
        return payment_methods.card_info(payment_methods.own_card(session, customer, card_id)), False
    return payment_methods.card_from_setup_intent(gw, customer, setup_intent_id), True


def _keep_or_let_go(session: Session, gw, customer: Customer, status: str, payment_method_id: str,
                    card: CardInfo | None = None) -> None:
    """A card typed at checkout is saved (as the default renewals charge) only once it paid; when
    its charge failed it is detached at Stripe and never listed, so a card that does not work never
    replaces one that does. A card already saved (a row of ours) stays as it is either way.
    Pending or waiting for 3-D Secure: decided when the outcome is known (confirm_after_action)."""
    if repository.payment_method_by_stripe_id(session, payment_method_id) is not None:
        return
    status = PaymentStatus(status)
    if status == PaymentStatus.SUCCEEDED:
        if card is None:
            with _stripe_errors():
                card = gw.attach_payment_method(payment_method_id, customer.stripe_customer_id)
        payment_methods.store_card(session, gw, customer, card, make_default=True)
    elif status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        try:
            gw.detach_card(payment_method_id, stripe_customer_id=customer.stripe_customer_id)
        except StripeGatewayError:
            # Not listed here either way; Stripe keeps an unused card that renewals never charge.
            logger.warning("the declined card %s could not be detached at Stripe", payment_method_id)


TAX_DEPENDS = "Tax depends on your billing country."
COUNTRY_NEEDED = "Choose your billing country: the tax on this purchase depends on it."


def _require_country(session: Session, customer: Customer, billing_country: str) -> None:
    """Where tax applies (TAX_RATES names a country), the customer's country decides it: a first
    checkout without one takes the country the page asked for and keeps it in the billing details."""
    if customer.country or not get_settings().tax_rates:
        return
    code = _country_code(billing_country)
    if not code:
        raise DomainError(COUNTRY_NEEDED)
    customer.country = code
    session.add(customer)
    session.flush()


def _apply(session: Session, payment: Payment, result: ChargeResult, now: datetime) -> None:
    payments.apply_intent_status(
        session, payment, status=_STATUS[result.status], observed_at=now,
        card_brand=(result.card_brand or "")[:32], card_last4=(result.card_last4 or "")[:4],
        failure_code=result.decline_code or result.failure_code or "",
        failure_message=result.customer_message or "", now=now,
    )
    _void_declined_pack(session, payment, now)


def _void_declined_pack(session: Session, payment: Payment, now: datetime) -> None:
    """Declined here: this checkout never confirms that intent again (a new attempt is a new
    invoice), so a one-off purchase leaves no debt. Renewal invoices stay open for dunning."""
    if payment.status == PaymentStatus.FAILED and payment.invoice_id:
        credits.void_unpaid_pack_invoice(session, session.get(Invoice, payment.invoice_id), now=now)


# --------------------------------------------------------------------------------------------
# Outcomes


def _receipt(invoice: Invoice, locale: str, session: Session, paid_with: str = "") -> tuple[SummaryLine, ...]:
    def money(value: int) -> str:
        return format_money(value, invoice.currency, locale)

    lines = [SummaryLine(line.description, money(line.amount))
             for line in repository.invoice_lines(session, invoice.id)]
    if invoice.tax:
        lines.append(SummaryLine("Tax", money(invoice.tax)))
    lines.append(SummaryLine("Total", money(invoice.total)))
    if paid_with:
        lines.append(SummaryLine(f"Paid with {paid_with}", money(invoice.total)))
    return tuple(lines)


def _card_label(brand: str, last4: str) -> str:
    if not last4:
        return ""
    return f"{(brand or 'card').title()} •••• {last4}"


def _outcome(session: Session, user: CurrentUser, payment: Payment, result: ChargeResult | None) -> CheckoutOutcome:
    invoice = session.get(Invoice, payment.invoice_id)
    locale = user.locale
    status = PaymentStatus(payment.status)
    amount_label = format_money(payment.amount, payment.currency, locale)
    client_secret = action = None
    if status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
        outcome: OutcomeStatus = "succeeded"
        message = _success_message(session, invoice, amount_label)
    elif status == PaymentStatus.REQUIRES_ACTION:
        outcome, message = "requires_action", REQUIRES_ACTION_MESSAGE
        action = result if result and result.status == "requires_action" else None
        if action is None and payment.stripe_payment_intent_id:
            with _stripe_errors():
                action = stripe_gateway.gateway().retrieve_payment_intent(payment.stripe_payment_intent_id)
        client_secret = action.client_secret if action else None
    elif status == PaymentStatus.PENDING:
        outcome, message = "processing", "Your payment is being processed. This page updates when your bank answers."
    else:
        outcome = "failed"
        message = payment.failure_message or GENERIC_DECLINE_MESSAGE
        if not message.rstrip().endswith(("another card.", "another card")):
            message = f"{message} Try another card."
    paid_with = _card_label(payment.card_brand, payment.card_last4) if outcome == "succeeded" else ""
    return CheckoutOutcome(
        status=outcome,
        message=message,
        payment_intent_id=payment.stripe_payment_intent_id,
        client_secret=client_secret,
        invoice_number=invoice.number if invoice else None,
        amount_label=amount_label,
        receipt_lines=_receipt(invoice, locale, session, paid_with) if invoice else (),
        redirect_url=action.redirect_url if action else None,
        qr_image_url=action.qr_image_url if action else None,
        qr_code_data=action.qr_code_data if action else None,
    )


def _success_message(session: Session, invoice: Invoice | None, amount_label: str) -> str:
    if invoice is None:
        return f"Payment of {amount_label} received."
    order = credits.pack_order_of(invoice)
    if order is not None:
        pack = session.get(CreditPack, order.pack_id)
        total = (pack.credits + pack.bonus_credits) * order.quantity
        return f"Payment of {amount_label} received. {total:,} credits were added to your balance."
    if invoice.subscription_id:
        subscription = session.get(Subscription, invoice.subscription_id)
        plan = session.get(Plan, session.get(Price, subscription.price_id).plan_id)
        return f"Payment of {amount_label} received. Your {plan.name} plan is active."
    return f"Payment of {amount_label} received."


def _trial_outcome(user: CurrentUser, customer: Customer, subscription: Subscription, target: _Target) -> CheckoutOutcome:
    locale = customer.locale or user.locale
    amount = target.unit_amount * target.quantity
    when = format_date(subscription.trial_end.date(), format="long", locale=locale)
    card = _card_label(customer.card_brand, customer.card_last4)
    return CheckoutOutcome(
        status="trialing",
        message=(f"Your {target.plan.name} trial has started. We will charge "
                 f"{format_money(amount, target.currency, locale)} (plus any tax) to your "
                 f"{card or 'card'} on {when} unless you cancel before."),
        payment_intent_id=None,
        client_secret=None,
        invoice_number=None,
        amount_label=format_money(0, target.currency, locale),
        receipt_lines=(SummaryLine(f"{target.plan.name} trial until {when}", format_money(0, target.currency, locale)),),
    )


def _blocked_outcome(user: CurrentUser, invoice: Invoice) -> CheckoutOutcome:
    return CheckoutOutcome(
        status="blocked", message=fraud.BLOCKED_MESSAGE, payment_intent_id=None, client_secret=None,
        invoice_number=invoice.number, amount_label=format_money(invoice.total - invoice.amount_paid,
                                                                 invoice.currency, user.locale),
        receipt_lines=(),
    )


def _free_outcome(session: Session, user: CurrentUser, invoice: Invoice) -> CheckoutOutcome:
    amount_label = format_money(0, invoice.currency, user.locale)
    return CheckoutOutcome(
        status="succeeded", message=_success_message(session, invoice, amount_label), payment_intent_id=None,
        client_secret=None, invoice_number=invoice.number, amount_label=amount_label,
        receipt_lines=_receipt(invoice, user.locale, session),
    )


__all__ = [
    "CardSetup", "CheckoutOutcome", "CheckoutSummary", "HostedCheckout", "SummaryLine", "begin_card_setup",
    "begin_hosted_checkout", "checkout_summary", "confirm_after_action", "finish_hosted_checkout", "invoice_summary",
    "pay", "pay_invoice", "pay_with_wallet",
]
