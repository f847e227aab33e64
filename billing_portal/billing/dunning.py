"""Charging renewal invoices off-session, and dunning: retrying failed charges on a schedule.

Rules (also in README "Billing rules"):

- A renewal invoice with something due is marked for collection when it is finalized
  (subscriptions.renew) and charged to the customer's default saved card, off-session. Attempt 1
  carries the invoice's own key `renewal:{subscription_id}:{period_start}`; every later attempt
  `invoice:{invoice_id}:attempt:{n}`. A plan change's invoice is collected the same way from the
  change on (billing/plan_changes/), its first attempt keyed `subscription_update:{id}:{instant}`. The same key goes to Stripe and to the payment's unique column.
- A failed attempt (declined, the bank wants the customer, or no saved card) makes the
  subscription past_due: the customer keeps access (grace) and the next retry is due
  DUNNING_RETRY_DAYS after the FIRST failure. A retry made early (the customer saved a new card:
  `card_changed`) does not move the schedule.
- Success: the payment is recorded, the invoice paid, the subscription active again.
- A failure with no retry left runs DUNNING_FINAL_ACTION: "cancel" ends the subscription, "free"
  ends it and subscribes the customer to the Free plan (the active zero price in the same
  currency; without one it is only canceled). The subscription's open invoices are written off
  (uncollectible: the money was owed for the grace period, it is no longer chased).

Two runners never charge the same attempt: an attempt locks the invoice (PostgreSQL skips it when
another runner holds it) and claims its number with a conditional UPDATE (what serialises SQLite),
then charges and records the outcome in that same transaction. If Stripe does not answer, or the
process dies, the transaction rolls back and the attempt is made again later with the same key,
which Stripe answers with the first PaymentIntent instead of charging again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, emails, invoices, outgoing_webhooks, payments, repository, subscriptions
from billing_portal.billing.errors import DomainError
from billing_portal.billing.lifecycle import Event, next_status
from billing_portal.gateways import stripe_currencies
from billing_portal.gateways.stripe_gateway import PaymentProviderUnavailable, StripeGatewayError
from billing_portal.models import Customer, Invoice, InvoiceStatus, Payment, PaymentStatus, Subscription
from billing_portal.models import SubscriptionStatus as S
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

NO_CARD_CODE = "no_payment_method"
NO_CARD_MESSAGE = "No card is saved for automatic payments. Add a card to pay this invoice."
CARD_REFUSED_MESSAGE = "Your saved card could not be charged. Add a card to pay this invoice."
EXHAUSTED_REASON = "Payment failed after every retry."
THREE_DS_MESSAGE = "Your bank asks you to confirm this payment yourself."


@dataclass(frozen=True)
class Attempt:
    """One off-session charge of an invoice and what came of it."""

    invoice_id: int
    number: int  # 1 for the renewal charge, then 2, 3, ...
    idempotency_key: str
    status: str  # the payment's: succeeded, failed, requires_action, pending
    next_attempt_at: datetime | None  # None when paid, or when the retries ran out
    final_action: str | None = None  # "cancel" or "free" when this failure ended the subscription


def next_retry_at(first_failed_at: datetime, now: datetime, retry_days: tuple[int, ...]) -> datetime | None:
    """The first retry of the schedule still ahead of `now`, or None when none is left."""
    for day in retry_days:
        at = first_failed_at + timedelta(days=day)
        if at > now:
            return at
    return None


def attempt_key(invoice: Invoice, number: int) -> str:
    """What attempt `number` of `invoice` pays for: the renewal charge names its period, a plan
    change's charge the subscription and instant of the change (billing/plan_changes/)."""
    if number == 1 and invoice.billing_reason in ("subscription_cycle", "subscription_update") and invoice.idempotency_key:
        return invoice.idempotency_key
    return f"invoice:{invoice.id}:attempt:{number}"


def collect(session: Session, invoice_id: int, now: datetime, *, early: bool = False) -> Attempt | None:
    """Charge the invoice's next attempt if it is due (any time when `early`); None when it is not
    in collection, not due, or another runner holds it. Raises PaymentProviderUnavailable when
    Stripe does not answer: the caller rolls back, and the same attempt is made again later."""
    invoice = repository.lock_invoice_in_collection(session, invoice_id, due_by=None if early else now)
    if invoice is None:
        return None
    subscription = None
    if invoice.subscription_id is not None:
        subscription = repository.try_lock_subscription(session, invoice.subscription_id)
        if subscription is None:
            return None  # being renewed or collected right now: the next run sees it
    if any(p.status == PaymentStatus.PENDING for p in repository.payments_of_invoice(session, invoice.id)):
        return None  # a charge is still processing: its webhook settles it, never charge beside it
    if stripe_currencies.below_minimum(invoice.total - invoice.amount_paid, invoice.currency):
        # Stripe would refuse it: never sent. It stays open, out of collection, and the next
        # renewal carries it (invoices.carry_small_invoices).
        invoice.next_collection_at = None
        session.add(invoice)
        session.flush()
        return None
    number = invoice.collection_attempts + 1
    if not repository.claim_collection_attempt(session, invoice.id, attempts_seen=invoice.collection_attempts):
        return None
    session.refresh(invoice)
    key = attempt_key(invoice, number)
    payment = _charge(session, invoice, key, now)

    if invoice.status != InvoiceStatus.OPEN or payment.status == PaymentStatus.PENDING:
        # Paid; or processing, looked at again on the next run (and skipped while pending).
        if invoice.status != InvoiceStatus.OPEN:
            invoice.next_collection_at = None
            session.add(invoice)
            session.flush()
        return Attempt(invoice.id, number, key, payment.status, invoice.next_collection_at)

    if payment.status == PaymentStatus.REQUIRES_ACTION:
        subscriptions.invoice_payment_failed(session, invoice)  # the bank wants the customer: not collected
    settings = get_settings()
    first_failed = repository.first_failed_payment_at(session, invoice.id) or now
    retry_at = next_retry_at(first_failed, now, settings.dunning_retry_days)
    if retry_at is not None:
        invoice.next_collection_at = retry_at
        session.add(invoice)
        session.flush()
    action = None if retry_at else _give_up(session, invoice, subscription, settings.dunning_final_action, now)
    reason = payment.failure_message or (THREE_DS_MESSAGE if payment.status == PaymentStatus.REQUIRES_ACTION else "")
    emails.dunning_notice(session, invoice, attempt=number, reason=reason, next_attempt_at=retry_at,
                          final_action=action, now=now)
    return Attempt(invoice.id, number, key, payment.status, retry_at, action)


def retry_open_invoices(session: Session, now: datetime, *, limit: int = 100) -> list[Attempt]:
    """Charge every invoice whose next attempt is due (the rest wait when Stripe does not answer)."""
    return collect_invoices(session, repository.due_collection_invoice_ids(session, now, limit=limit), now)


def card_changed(session: Session, customer_id: int, now: datetime) -> list[Attempt]:
    """A new default card: retry the customer's unpaid invoices in collection at once with it.

    Call it in the transaction that saved the card; the retry schedule stays as it was.
    """
    return collect_invoices(session, repository.customer_invoice_ids_in_collection(session, customer_id), now,
                            early=True)


def collect_invoices(session: Session, invoice_ids: list[int], now: datetime, *, early: bool = False) -> list[Attempt]:
    """`collect` each invoice in its own savepoint; stops when Stripe does not answer."""
    done = []
    for invoice_id in invoice_ids:
        try:
            with session.begin_nested():
                attempt = collect(session, invoice_id, now, early=early)
        except PaymentProviderUnavailable:
            logger.warning("stripe is not answering; invoice %s and the rest are collected later", invoice_id)
            break
        except DomainError:
            logger.exception("collecting invoice %s was refused", invoice_id)
            continue
        if attempt is not None:
            done.append(attempt)
    return done


def _charge(session: Session, invoice: Invoice, key: str, now: datetime) -> Payment:
    customer = session.get(Customer, invoice.customer_id)
    if not customer.stripe_customer_id or not customer.default_payment_method_id:
        return payments.record_payment(
            session, invoice_id=invoice.id, idempotency_key=key, succeeded=False,
            failure_code=NO_CARD_CODE, failure_message=NO_CARD_MESSAGE, now=now,
        )
    try:
        payment, _result = payments.charge_invoice(
            session, invoice, stripe_customer_id=customer.stripe_customer_id,
            payment_method_id=customer.default_payment_method_id, idempotency_key=key, off_session=True,
            card_brand=customer.card_brand, card_last4=customer.card_last4, now=now,
        )
    except PaymentProviderUnavailable:
        raise
    except StripeGatewayError as exc:
        # Stripe refused the request itself (e.g. the saved card was removed there): a failed
        # attempt like a decline, or the invoice would stop every run of the job.
        return payments.record_payment(
            session, invoice_id=invoice.id, idempotency_key=key, succeeded=False,
            failure_code=(exc.code or "charge_refused")[:64], failure_message=CARD_REFUSED_MESSAGE, now=now,
        )
    return payment


def _give_up(session: Session, invoice: Invoice, subscription: Subscription | None, action: str,
             now: datetime) -> str | None:
    """The last retry failed: write the invoices off and run the final action; the action taken."""
    written_off = [invoice] if subscription is None else list(repository.open_invoices_of(session, subscription.id))
    for unpaid in written_off:
        unpaid.next_collection_at = None
        session.add(unpaid)
        invoices.mark_uncollectible(session, unpaid.id)
    taken = moved_to = None
    if subscription is not None and subscription.status == S.PAST_DUE:
        subscription.status = next_status(subscription.status, Event.DUNNING_EXHAUSTED)
        subscription.canceled_at, subscription.cancel_reason = now, EXHAUSTED_REASON
        session.add(subscription)
        session.flush()
        outgoing_webhooks.service.emit(session, "subscription.canceled", subscription, now=now)
        taken = "cancel"
        price = repository.free_price(session, invoice.currency) if action == "free" else None
        if price is not None:
            moved_to = subscriptions.subscribe(session, customer_id=subscription.customer_id,
                                               price_id=price.id, now=now).subscription.id
            taken = "free"
        elif action == "free":
            logger.warning("no free price in %s: subscription %s is canceled instead", invoice.currency,
                           subscription.id)
    audit.record(session, actor="dunning", action="invoice.uncollectible", subject_type="invoice",
                 subject_id=invoice.id, now=now,
                 after={"invoices": [i.id for i in written_off], "final_action": taken,
                        "subscription_id": subscription.id if subscription else None,
                        "free_subscription_id": moved_to})
    return taken
