"""Recording payment outcomes and refunds against invoices.

Stripe calls live in gateways/stripe_gateway.py; this module records what Stripe answered. A
payment's idempotency key names what it pays for, and the unique column makes recording the same
outcome twice a no-op instead of counting the money twice.
"""

from datetime import datetime
from typing import Literal

from sqlmodel import Session

from billing_portal.billing import audit, credits, emails, invoices, outgoing_webhooks, repository, subscriptions
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import format_money
from billing_portal.gateways import stripe_currencies, stripe_gateway
from billing_portal.gateways.stripe_gateway import ChargeResult, CheckoutSessionInfo, IntentRecord
from billing_portal.models import Customer, Invoice, InvoiceStatus, Payment, PaymentStatus, Refund, RefundStatus
from billing_portal.models.types import utcnow


def record_payment(
    session: Session,
    *,
    invoice_id: int,
    idempotency_key: str,
    succeeded: bool,
    stripe_payment_intent_id: str | None = None,
    card_brand: str = "",
    card_last4: str = "",
    failure_code: str = "",
    failure_message: str = "",
    now: datetime | None = None,
) -> Payment:
    """One attempt to pay an open invoice, succeeded or failed; the same key twice is one payment."""
    now = now or utcnow()
    existing = repository.payment_by_key(session, idempotency_key)
    if existing:
        return existing
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    payment = Payment(
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        stripe_payment_intent_id=stripe_payment_intent_id,
        amount=invoice.total - invoice.amount_paid,
        currency=invoice.currency,
        status=PaymentStatus.SUCCEEDED if succeeded else PaymentStatus.FAILED,
        card_brand=card_brand,
        card_last4=card_last4,
        failure_code=failure_code,
        failure_message=failure_message,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    session.flush()
    outgoing_webhooks.service.emit(session, "payment.succeeded" if succeeded else "payment.failed", payment, now=now)
    if succeeded:
        _paid(session, invoice, payment, now)
    else:
        subscriptions.invoice_payment_failed(session, invoice)
    return payment


def record_refund(
    session: Session,
    *,
    payment_id: int,
    amount: int,
    reason: str,
    requested_by: int | None = None,
    approved_by: int | None = None,
    stripe_refund_id: str | None = None,
    now: datetime | None = None,
) -> Refund:
    """A refund that succeeded at Stripe: never more than what remains refundable.

    Recording the same Stripe refund again (the admin's request and the webhook) returns the first.
    A refund of a credit-pack payment takes back the same share of its credits (never below zero).
    """
    now = now or utcnow()
    if stripe_refund_id:
        existing = repository.refund_by_stripe_id(session, stripe_refund_id)
        if existing:
            return existing
    payment = repository.lock_payment(session, payment_id)
    if payment is None or payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        raise DomainError("Only a succeeded payment can be refunded.")
    invoice = session.get(Invoice, payment.invoice_id)
    refundable = payment.amount - repository.refunded_amount(session, payment.id)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= refundable:
        raise DomainError("The refund must be more than zero and at most what remains refundable.")
    refund = Refund(
        payment_id=payment.id,
        customer_id=payment.customer_id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status=RefundStatus.SUCCEEDED,
        requested_by=requested_by,
        approved_by=approved_by,
        stripe_refund_id=stripe_refund_id,
        created_at=now,
        decided_at=now,
    )
    payment.status = PaymentStatus.REFUNDED if amount == refundable else PaymentStatus.PARTIALLY_REFUNDED
    payment.updated_at = now
    invoice.amount_refunded += amount
    session.add_all([refund, payment, invoice])
    session.flush()
    credits.clawback_for_invoice(session, invoice, share_numerator=amount, share_denominator=payment.amount,
                                 key=f"refund:{refund.id}:credits", payment_id=payment.id, now=now)
    emails.refund_confirmation(session, refund, now=now)
    outgoing_webhooks.service.emit(session, "refund.succeeded", refund, now=now)
    return refund


# ---- PaymentIntents whose status moves (checkout, 3-D Secure, webhooks)
#
# A Payment is one PaymentIntent. Its status moves pending -> requires_action -> succeeded or
# failed/canceled as Stripe reports it, through the checkout page (API answers) and webhooks, in
# any order. Rules, in one place:
# - succeeded is final: nothing moves a payment back from succeeded (refunds are their own rows);
# - a succeeded report always applies (it cannot be "older" than a non-final state);
# - any other report applies only when it is newer than the last one applied
#   (`stripe_updated_at`); at the same second the later step in pending < requires_action <
#   failed/canceled wins.
# Settling a succeeded payment (invoice paid, subscription activated, credits granted) is
# idempotent and happens in the same transaction as the status change, whichever path sees it first.

_FINAL = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)
_RANK = {PaymentStatus.PENDING: 0, PaymentStatus.REQUIRES_ACTION: 1, PaymentStatus.FAILED: 2,
         PaymentStatus.CANCELED: 2, PaymentStatus.SUCCEEDED: 3}


class BelowMinimumCharge(DomainError):
    """The amount is under Stripe's minimum charge for its currency: it is never sent."""


def minimum_message(amount: int, currency: str) -> str:
    minimum = stripe_currencies.stripe_currency(currency).minimum
    return (f"{format_money(amount, currency)} is under the smallest amount a card can be charged in "
            f"{currency} ({format_money(minimum, currency)}).")


def charge_invoice(
    session: Session,
    invoice: Invoice,
    *,
    stripe_customer_id: str,
    payment_method_id: str,
    idempotency_key: str,
    off_session: bool,
    card_brand: str = "",
    card_last4: str = "",
    now: datetime,
) -> tuple[Payment, ChargeResult]:
    """Charge what the open invoice still owes to a saved card (one PaymentIntent, the key sent to
    Stripe as is) and record it as the Payment of that key. Only an unreachable Stripe raises.

    Stripe is asked first for a charge of this invoice we never recorded (its answer was lost, or
    the process died before committing): one that succeeded or is processing is recorded and
    returned instead of charging again, whatever card or key this attempt carries (the page
    makes the customer enter the card again after an error: a new card, a new key).
    """
    gw = stripe_gateway.gateway()
    for intent in gw.intents_for_invoice(stripe_customer_id, invoice.id):
        if intent.status in _ADOPTED and repository.payment_by_intent(session, intent.id) is None:
            result = gw.retrieve_payment_intent(intent.id)
            payment = adopt_intent(session, invoice, intent, card_brand=result.card_brand or "",
                                   card_last4=result.card_last4 or "", now=now)
            if payment is not None:
                return payment, result
    due = invoice.total - invoice.amount_paid
    if stripe_currencies.below_minimum(due, invoice.currency):
        raise BelowMinimumCharge(minimum_message(due, invoice.currency))
    result = gw.charge(
        stripe_customer_id=stripe_customer_id,
        payment_method_id=payment_method_id,
        amount=due,
        currency=invoice.currency,
        idempotency_key=idempotency_key,
        off_session=off_session,
        description=f"Invoice {invoice.number}",
        metadata={"invoice_id": invoice.id, "invoice_number": invoice.number, "customer_id": invoice.customer_id},
    )
    payment = record_intent(
        session,
        invoice_id=invoice.id,
        idempotency_key=idempotency_key,
        status=PaymentStatus.PENDING if result.status == "processing" else PaymentStatus(result.status),
        stripe_payment_intent_id=result.payment_intent_id,
        observed_at=now,
        amount=due,
        card_brand=(result.card_brand or card_brand or "")[:32],
        card_last4=(result.card_last4 or card_last4 or "")[:4],
        failure_code=result.decline_code or result.failure_code or "",
        failure_message=result.customer_message or "",
        now=now,
    )
    return payment, result


# What a PaymentIntent found at Stripe but not here is recorded as (the rest took no money).
_ADOPTED = {"succeeded": PaymentStatus.SUCCEEDED, "processing": PaymentStatus.PENDING}
# metadata["paid_through"] of a hosted Checkout Session's PaymentIntent: its Payment is the
# session's (key checkout_session:{id}, apply_checkout_session), never adopted under another key.
CHECKOUT_SESSION_MARK = "checkout_session"


def adopt_intent(session: Session, invoice: Invoice, intent: IntentRecord, *, card_brand: str = "",
                 card_last4: str = "", now: datetime) -> Payment | None:
    """Record a PaymentIntent Stripe made for `invoice` that we never recorded, under the key in its
    metadata (so the attempt that made it finds it); None when it cannot be ours to record (no key,
    another currency, it took no money, or a Checkout Session records it)."""
    key = intent.metadata.get("idempotency_key")
    if (not key or intent.currency != invoice.currency or intent.status not in _ADOPTED
            or intent.metadata.get("paid_through") == CHECKOUT_SESSION_MARK):
        return None
    return record_intent(
        session, invoice_id=invoice.id, idempotency_key=key, status=_ADOPTED[intent.status],
        stripe_payment_intent_id=intent.id, observed_at=now, amount=intent.amount,
        card_brand=card_brand[:32], card_last4=card_last4[:4], now=now,
    )


def record_intent(
    session: Session,
    *,
    invoice_id: int,
    idempotency_key: str,
    status: str,
    stripe_payment_intent_id: str | None,
    observed_at: datetime,
    amount: int | None = None,
    card_brand: str = "",
    card_last4: str = "",
    failure_code: str = "",
    failure_message: str = "",
    now: datetime | None = None,
) -> Payment:
    """The Payment of one PaymentIntent charged for an invoice; the same key again updates it."""
    now = now or utcnow()
    existing = repository.payment_by_key(session, idempotency_key)
    if existing:
        apply_intent_status(session, existing, status=status, observed_at=observed_at, card_brand=card_brand,
                            card_last4=card_last4, failure_code=failure_code, failure_message=failure_message,
                            now=now)
        return existing
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    payment = Payment(
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        stripe_payment_intent_id=stripe_payment_intent_id,
        amount=invoice.total - invoice.amount_paid if amount is None else amount,
        currency=invoice.currency,
        status=PaymentStatus.PENDING,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    session.flush()
    apply_intent_status(session, payment, status=status, observed_at=observed_at, card_brand=card_brand,
                        card_last4=card_last4, failure_code=failure_code, failure_message=failure_message,
                        now=now, force=True)
    return payment


def apply_intent_status(
    session: Session,
    payment: Payment,
    *,
    status: str,
    observed_at: datetime,
    card_brand: str = "",
    card_last4: str = "",
    failure_code: str = "",
    failure_message: str = "",
    now: datetime | None = None,
    force: bool = False,
) -> bool:
    """Move the payment to what Stripe reported at `observed_at`, if that is news; True if it moved."""
    now = now or utcnow()
    status = PaymentStatus(status)
    current = PaymentStatus(payment.status)
    if not force:
        if current in _FINAL:
            return False
        if status != PaymentStatus.SUCCEEDED and payment.stripe_updated_at is not None:
            if observed_at < payment.stripe_updated_at:
                return False
            if observed_at == payment.stripe_updated_at and _RANK[status] <= _RANK.get(current, 0):
                return False
    payment.status = status
    payment.stripe_updated_at = max(observed_at, payment.stripe_updated_at or observed_at)
    payment.updated_at = now
    payment.card_brand = card_brand or payment.card_brand
    payment.card_last4 = card_last4 or payment.card_last4
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        payment.failure_code = (failure_code or payment.failure_code)[:64]
        payment.failure_message = (failure_message or payment.failure_message)[:500]
    else:
        payment.failure_code = payment.failure_code if status == PaymentStatus.SUCCEEDED else ""
    session.add(payment)
    session.flush()
    if status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        outgoing_webhooks.service.emit(session, f"payment.{status}", payment, now=now)
    if status == PaymentStatus.SUCCEEDED:
        settle(session, payment, now=now)
    elif status in (PaymentStatus.FAILED, PaymentStatus.CANCELED) and payment.invoice_id:
        invoice = session.get(Invoice, payment.invoice_id)
        if invoice is not None and invoice.status == InvoiceStatus.OPEN:
            subscriptions.invoice_payment_failed(session, invoice)
            # A canceled intent is final: its one-off purchase leaves no debt. A failed one is not
            # (Stripe lets the same intent be confirmed again, and a success may follow): the checkout
            # that saw the decline voids it (checkout._apply), a webhook never does.
            if status == PaymentStatus.CANCELED:
                credits.void_unpaid_pack_invoice(session, invoice, now=now)
    return True


def settle(session: Session, payment: Payment, *, now: datetime | None = None) -> Invoice | None:
    """A succeeded payment's effects: its invoice paid, the subscription moved on, credits granted.

    Runs once per payment (when its status becomes succeeded). When the invoice can no longer take
    the money (paid by another attempt, or voided), it is flagged in the audit log for an admin to
    refund instead of being counted twice.
    """
    now = now or utcnow()
    if payment.status != PaymentStatus.SUCCEEDED or payment.invoice_id is None:
        return None
    invoice = repository.lock_invoice(session, payment.invoice_id)
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid + payment.amount > invoice.total:
        audit.record(session, actor="stripe", action="payment.unapplied", subject_type="payment",
                     subject_id=payment.id, now=now,
                     after={"invoice_id": invoice.id, "invoice_status": invoice.status,
                            "amount": payment.amount, "currency": payment.currency,
                            "note": "money received that the invoice cannot take: refund it"})
        return invoice
    return _paid(session, invoice, payment, now)


def _paid(session: Session, invoice: Invoice, payment: Payment, now: datetime) -> Invoice:
    """The invoice takes the succeeded payment: paid, subscription moved on, credits, receipt."""
    invoice = invoices.mark_paid(session, invoice.id, amount=payment.amount, now=now)
    subscriptions.invoice_paid(session, invoice)
    credits.grant_for_invoice(session, invoice, payment_id=payment.id, now=now)
    emails.receipt(session, payment, now=now)
    return invoice


# ---- hosted Stripe Checkout
#
# One Checkout Session pays one invoice (metadata invoice_id); its Payment has the key
# `checkout_session:{session id}`, so the webhook and the customer's return to the success page
# record it once. Paid only when Stripe says payment_status "paid" (completed, or
# async_payment_succeeded for delayed methods), and only for exactly the invoice's currency and
# amount due; "unpaid" at completion is a pending payment; an expired session changes nothing.

CheckoutOutcome = Literal["completed", "async_payment_succeeded", "async_payment_failed", "expired"]


def checkout_session_key(checkout_session_id: str) -> str:
    return f"checkout_session:{checkout_session_id}"


def apply_checkout_session(
    session: Session, checkout: CheckoutSessionInfo, *, outcome: CheckoutOutcome, observed_at: datetime,
    now: datetime | None = None,
) -> Payment | None:
    """Record what Stripe reported about a Checkout Session for one of our invoices.

    Raises DomainError when the session cannot be applied (unknown invoice, another customer,
    another currency or amount, no amount): nothing is changed, the caller flags it.
    """
    now = now or utcnow()
    if checkout.invoice_id is None:
        raise DomainError(f"Checkout session {checkout.id} names none of our invoices.")
    invoice = repository.lock_invoice(session, checkout.invoice_id)
    if invoice is None:
        raise DomainError(f"Checkout session {checkout.id} names invoice {checkout.invoice_id}, which does not exist.")
    key = checkout_session_key(checkout.id)
    existing = repository.payment_by_key(session, key)
    if outcome == "expired":
        return existing  # the invoice stays open, the subscription incomplete: nothing was paid
    status = {"completed": {"paid": PaymentStatus.SUCCEEDED, "unpaid": PaymentStatus.PENDING},
              "async_payment_succeeded": {"paid": PaymentStatus.SUCCEEDED},
              "async_payment_failed": {"unpaid": PaymentStatus.FAILED}}[outcome].get(checkout.payment_status)
    if status is None:
        raise DomainError(f"Checkout session {checkout.id} reports payment_status "
                          f"{checkout.payment_status or 'none'!r} on {outcome}.")
    if existing is None:
        _check_checkout_pays(session, checkout, invoice)
    return record_intent(
        session, invoice_id=invoice.id, idempotency_key=key, status=status,
        stripe_payment_intent_id=checkout.payment_intent_id, observed_at=observed_at,
        amount=checkout.amount_total,
        failure_code="checkout_async_payment_failed" if status == PaymentStatus.FAILED else "",
        failure_message="Your payment did not go through. Try again or use another method."
        if status == PaymentStatus.FAILED else "",
        now=now,
    )


def _check_checkout_pays(session: Session, checkout: CheckoutSessionInfo, invoice: Invoice) -> None:
    customer = session.get(Customer, invoice.customer_id)
    if checkout.customer_id and customer.stripe_customer_id and checkout.customer_id != customer.stripe_customer_id:
        raise DomainError(f"Checkout session {checkout.id} was paid by another customer than invoice {invoice.id}'s.")
    if checkout.amount_total is None or checkout.currency is None:
        raise DomainError(f"Checkout session {checkout.id} carries no amount_total: check it at Stripe.")
    if checkout.currency != invoice.currency:
        raise DomainError(f"Checkout session {checkout.id} is in {checkout.currency}, "
                          f"invoice {invoice.id} in {invoice.currency}.")
    due = invoice.total - invoice.amount_paid
    # An invoice no longer open (paid by another attempt, voided) cannot take the money: settle()
    # flags it for a refund instead of counting it twice.
    if invoice.status == InvoiceStatus.OPEN and checkout.amount_total != due:
        raise DomainError(f"Checkout session {checkout.id} is for {checkout.amount_total}, "
                          f"invoice {invoice.id} owes {due}.")
