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
4. On `requires_action` the page runs `stripe.confirmCardPayment(client_secret)` (3-D Secure) and
   then `confirm_after_action`, which asks Stripe for the PaymentIntent (never the browser).

Every outcome is recorded as a Payment in the caller's transaction; a succeeded payment marks the
invoice paid, activates the subscription and grants pack credits in that same transaction
(billing/payments.py `settle`), the same code the webhook path runs, so both converge and nothing
counts twice. Errors a customer can act on are DomainError with a message for them.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from babel.dates import format_date
from sqlmodel import Session

from billing_portal.billing import credits, invoices, payments, repository, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.catalog import period_label, sellable_price
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.money import format_money
from billing_portal.billing.tax import invoice_totals
from billing_portal.gateways import stripe_gateway
from billing_portal.gateways.stripe_gateway import (
    GENERIC_DECLINE_MESSAGE,
    REQUIRES_ACTION_MESSAGE,
    CardDeclined,
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
    Subscription,
    SubscriptionStatus,
)
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

MAX_PACK_QUANTITY = 100

Kind = Literal["subscription", "credit_pack", "invoice"]
OutcomeStatus = Literal["succeeded", "requires_action", "processing", "failed", "trialing"]


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
    total_label: str
    total_amount: int  # minor units: the first invoice's total (charged after the trial, if any)
    currency: str
    trial_days: int  # 0 when the price has none or the customer has trialed before
    publishable_key: str
    stripe_js_url: str
    price_id: int | None
    pack_slug: str | None
    quantity: int
    invoice_id: int | None = None  # paying an open invoice of the customer's (/checkout?invoice=ID)


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
    quantity: int = 1, invoice_id: int | None = None,
) -> CheckoutSummary:
    """What the customer is about to buy, priced from the catalog and taxed for their country."""
    customer = _customer(session, user)
    if invoice_id is not None:
        return _invoice_summary(session, user, customer, _own_invoice(session, customer, invoice_id, open_only=True))
    target = _target(session, price_id, pack_slug, quantity)
    settings = get_settings()
    locale = customer.locale or user.locale
    currency = target.currency
    amount = target.unit_amount * target.quantity
    rate, inclusive = _tax_rule(customer)
    totals = invoice_totals([_TaxLine(amount, rate, inclusive)])

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
    if totals.tax and inclusive:
        tax_label = f"{tax_label} (included)"
    return CheckoutSummary(
        kind=target.kind,
        title=title,
        description=description,
        lines=lines,
        subtotal_label=money(totals.subtotal),
        tax_label=tax_label,
        total_label=money(totals.total),
        total_amount=totals.total,
        currency=currency,
        trial_days=trial_days,
        publishable_key=settings.stripe_publishable_key,
        stripe_js_url=settings.stripe_js_url,
        price_id=target.price.id if target.price else None,
        pack_slug=target.pack.slug if target.pack else None,
        quantity=target.quantity,
    )


def begin_card_setup(session: Session, *, user: CurrentUser) -> CardSetup:
    """Create (or update) the customer at Stripe from our billing details; a SetupIntent to save a card."""
    customer = _customer(session, user)
    gw = stripe_gateway.gateway()
    stripe_customer_id = _ensure_stripe_customer(session, gw, customer, user)
    with _stripe_errors():
        intent = gw.create_setup_intent(stripe_customer_id)
    return CardSetup(setup_intent_id=intent.id, client_secret=intent.client_secret or "")


def pay(
    session: Session, *, user: CurrentUser, setup_intent_id: str, price_id: int | None = None,
    pack_slug: str | None = None, quantity: int = 1, invoice_id: int | None = None,
) -> CheckoutOutcome:
    """Charge the card saved by `setup_intent_id` for a subscription, a credit pack, or one of the
    customer's open invoices (`invoice_id`)."""
    now = utcnow()
    customer = _customer(session, user)
    # Not open_only: paying again after it went through (double click) finds the first outcome.
    invoice = _own_invoice(session, customer, invoice_id, open_only=False) if invoice_id is not None else None
    target = _target(session, price_id, pack_slug, quantity) if invoice is None else None
    # One checkout at a time per customer (a double click waits, then finds the first outcome).
    repository.lock_customer(session, customer.id)
    if not customer.stripe_customer_id:
        raise DomainError("The card form has expired. Enter your card again.")
    if not isinstance(setup_intent_id, str) or not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 200:
        raise DomainError("Your card was not saved. Enter it again.")
    gw = stripe_gateway.gateway()
    with _stripe_errors():
        intent = gw.retrieve_setup_intent(setup_intent_id)
    if intent.customer_id != customer.stripe_customer_id:
        raise DomainError("This card was not saved for your account. Enter it again.")
    if intent.status != "succeeded" or not intent.payment_method_id:
        raise DomainError("Your card was not saved yet. Enter it again.")
    with _stripe_errors():
        card = gw.attach_payment_method(intent.payment_method_id, customer.stripe_customer_id)
    _remember_card(session, gw, customer, card)

    if target is not None and target.kind == "subscription":
        replay = _subscription_replay(session, user, customer, target, card.id)
        if replay is not None:
            return replay
        subscribed = subscriptions.subscribe(
            session, customer_id=customer.id, price_id=target.price.id, quantity=target.quantity, now=now
        )
        if subscribed.invoice is None:
            return _trial_outcome(user, customer, subscribed.subscription, target)
        invoice = subscribed.invoice
    elif target is not None:
        invoice = _pack_invoice(session, customer, target, setup_intent_id, now)
    return _charge(session, gw, user, customer, invoice, card, now)


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
    return _outcome(session, user, payment, result)


# --------------------------------------------------------------------------------------------
# Steps


def _customer(session: Session, user: CurrentUser) -> Customer:
    customer = session.get(Customer, user.customer_id) if user and user.customer_id else None
    if customer is None:
        raise DomainError("Sign in with a customer account to check out.")
    return customer


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
        return _Target("subscription", quantity, price=price, plan=plan)
    pack = repository.credit_pack_by_slug(session, pack_slug) if isinstance(pack_slug, str) else None
    if pack is None or not pack.active:
        raise DomainError("This credit pack is not available. Pick one on the pricing page.")
    if not 1 <= quantity <= MAX_PACK_QUANTITY:
        raise DomainError(f"Buy from 1 to {MAX_PACK_QUANTITY} packs at a time.")
    return _Target("credit_pack", quantity, pack=pack)


def _own_invoice(session: Session, customer: Customer, invoice_id: object, *, open_only: bool) -> Invoice:
    """One of the customer's finalized invoices; anyone else's answers like a missing one."""
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) and not isinstance(invoice_id, bool) else None
    if invoice is None or invoice.customer_id != customer.id or invoice.status == InvoiceStatus.DRAFT:
        raise NotFound("No such invoice.")
    if open_only and invoice.status != InvoiceStatus.OPEN:
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    return invoice


def _invoice_summary(session: Session, user: CurrentUser, customer: Customer, invoice: Invoice) -> CheckoutSummary:
    """An open invoice as it stands: its own lines and totals, and what is still due."""
    settings = get_settings()
    locale = customer.locale or user.locale

    def money(value: int) -> str:
        return format_money(value, invoice.currency, locale)

    due = invoice.total - invoice.amount_paid
    paid = (SummaryLine("Already paid", money(-invoice.amount_paid)),) if invoice.amount_paid else ()
    return CheckoutSummary(
        kind="invoice",
        title=f"Invoice {invoice.number}",
        description=f"Pay the open invoice {invoice.number} from {format_date(invoice.finalized_at.date(), format='long', locale=locale)}.",
        lines=tuple(SummaryLine(line.description, money(line.amount))
                    for line in repository.invoice_lines(session, invoice.id)) + paid,
        subtotal_label=money(invoice.subtotal),
        tax_label=money(invoice.tax),
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


@dataclass(frozen=True)
class _TaxLine:
    amount: int
    rate: Decimal
    inclusive: bool


def _tax_rule(customer: Customer) -> tuple[Decimal, bool]:
    rule = get_settings().tax_rates.get((customer.country or "").upper())
    return (rule.rate, rule.inclusive) if rule else (Decimal("0"), False)


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Gateway failures become DomainError with the gateway's safe, customer-facing message."""
    try:
        yield
    except CardDeclined as exc:
        raise DomainError(exc.customer_message) from None
    except StripeGatewayError as exc:
        raise DomainError(str(exc)) from None


def _ensure_stripe_customer(session: Session, gw, customer: Customer, user: CurrentUser) -> str:
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
        customer.default_payment_method_id = None  # cards belonged to the old Stripe customer
        customer.card_brand = customer.card_last4 = ""
        customer.card_exp_month = customer.card_exp_year = None
        session.add(customer)
        session.flush()
    return stripe_id


def _remember_card(session: Session, gw, customer: Customer, card: CardInfo) -> None:
    """The card just saved becomes the default for renewals, at Stripe and here."""
    if customer.default_payment_method_id != card.id:
        with _stripe_errors():
            gw.set_default_card(customer.stripe_customer_id, card.id)
    customer.default_payment_method_id = card.id
    customer.card_brand, customer.card_last4 = card.brand[:32], card.last4[:4]
    customer.card_exp_month, customer.card_exp_year = card.exp_month or None, card.exp_year or None
    session.add(customer)
    session.flush()


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


def _payment_key(invoice: Invoice, payment_method_id: str) -> str:
    return f"invoice:{invoice.id}:pm:{payment_method_id}"


_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
}


def _charge(session: Session, gw, user: CurrentUser, customer: Customer, invoice: Invoice, card: CardInfo,
            now: datetime) -> CheckoutOutcome:
    key = _payment_key(invoice, card.id)
    existing = repository.payment_by_key(session, key)
    if existing is not None:
        # The same invoice and card again: the same PaymentIntent. Refresh a pending one.
        result = None
        if existing.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION) and existing.stripe_payment_intent_id:
            with _stripe_errors():
                result = gw.retrieve_payment_intent(existing.stripe_payment_intent_id)
            _apply(session, existing, result, now)
        return _outcome(session, user, existing, result)
    if invoice.status != InvoiceStatus.OPEN:
        if invoice.status == InvoiceStatus.PAID and invoice.total == 0:
            return _free_outcome(session, user, invoice)
        raise DomainError(f"Invoice {invoice.number} is {invoice.status}: there is nothing to pay.")
    due = invoice.total - invoice.amount_paid
    with _stripe_errors():
        result = gw.charge(
            stripe_customer_id=customer.stripe_customer_id,
            payment_method_id=card.id,
            amount=due,
            currency=invoice.currency,
            idempotency_key=key,
            off_session=False,
            description=f"Invoice {invoice.number}",
            metadata={"invoice_id": invoice.id, "invoice_number": invoice.number, "customer_id": customer.id},
        )
    payment = payments.record_intent(
        session,
        invoice_id=invoice.id,
        idempotency_key=key,
        status=_STATUS[result.status],
        stripe_payment_intent_id=result.payment_intent_id,
        observed_at=now,
        amount=due,
        card_brand=(result.card_brand or card.brand or "")[:32],
        card_last4=(result.card_last4 or card.last4 or "")[:4],
        failure_code=result.decline_code or result.failure_code or "",
        failure_message=result.customer_message or "",
        now=now,
    )
    return _outcome(session, user, payment, result)


def _apply(session: Session, payment: Payment, result: ChargeResult, now: datetime) -> None:
    payments.apply_intent_status(
        session, payment, status=_STATUS[result.status], observed_at=now,
        card_brand=(result.card_brand or "")[:32], card_last4=(result.card_last4 or "")[:4],
        failure_code=result.decline_code or result.failure_code or "",
        failure_message=result.customer_message or "", now=now,
    )


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
    client_secret = None
    if status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
        outcome: OutcomeStatus = "succeeded"
        message = _success_message(session, invoice, amount_label)
    elif status == PaymentStatus.REQUIRES_ACTION:
        outcome, message = "requires_action", REQUIRES_ACTION_MESSAGE
        client_secret = result.client_secret if result and result.status == "requires_action" else None
        if client_secret is None and payment.stripe_payment_intent_id:
            with _stripe_errors():
                fresh = stripe_gateway.gateway().retrieve_payment_intent(payment.stripe_payment_intent_id)
            client_secret = fresh.client_secret
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


def _free_outcome(session: Session, user: CurrentUser, invoice: Invoice) -> CheckoutOutcome:
    amount_label = format_money(0, invoice.currency, user.locale)
    return CheckoutOutcome(
        status="succeeded", message=_success_message(session, invoice, amount_label), payment_intent_id=None,
        client_secret=None, invoice_number=invoice.number, amount_label=amount_label,
        receipt_lines=_receipt(invoice, user.locale, session),
    )


__all__ = [
    "CardSetup", "CheckoutOutcome", "CheckoutSummary", "SummaryLine", "begin_card_setup", "checkout_summary",
    "confirm_after_action", "pay",
]
