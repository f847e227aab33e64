"""Stripe webhook events: kept on receipt, processed by a job, idempotent and order-independent.

Intake (`receive`, called by POST /api/webhooks/stripe once the signature is verified) only
inserts the event, unique on Stripe's event id: a duplicate delivery changes nothing. The job
`process_due` then handles each event in its own transaction, under a row lock (PostgreSQL skips
rows another runner holds), in a savepoint so a failing handler leaves only its bookkeeping.

Statuses: received -> processed | ignored (a type or object that is not ours) | retrying -> ... ->
failed. An event about an object we do not know yet (a PaymentIntent whose Payment the checkout
has not committed yet) is retried after WEBHOOK_RETRY_BASE_SECONDS, doubling, at most an hour
apart, WEBHOOK_MAX_ATTEMPTS tries in all; then "failed" with `last_error`, visible in
`python -m billing_portal webhooks list --status failed` and replayable with `webhooks replay`.
A succeeded (or processing) charge of one of our invoices is the exception: the handler waits for
the charging side's locks and, if the Payment is still missing (its answer was lost, or the
process died), records it on the invoice at once.

Ordering: payment_intent.* events carry the PaymentIntent as it was at event time; we compare
the event's `created` with the Payment's `stripe_updated_at` (billing/payments.py
`apply_intent_status`): an older event never overwrites a newer status, and succeeded is final.
We chose comparing over refetching the PaymentIntent from Stripe because the signed payload is
authoritative for its moment, processing then needs no Stripe call (works while Stripe's API is
slow or down, and costs nothing per event), and "succeeded is final" covers the one transition
that matters for money. Refunds are keyed by Stripe's refund id (unique), disputes set fields
once, so any order of delivery converges on the same state.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from billing_portal.billing import audit, payment_methods, payments, repository
from billing_portal.billing.errors import DomainError
from billing_portal.gateways import stripe_gateway
from billing_portal.gateways.stripe_gateway import (
    PaymentProviderUnavailable,
    StripeGatewayError,
    checkout_session_info,
    customer_message_for,
    from_stripe_amount,
)
from billing_portal.models import (
    Customer,
    Invoice,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

RECEIVED, RETRYING, PROCESSED, IGNORED, FAILED = "received", "retrying", "processed", "ignored", "failed"
STATUSES = (RECEIVED, RETRYING, PROCESSED, IGNORED, FAILED)
MAX_RETRY_WAIT = timedelta(hours=1)
_FINAL_DISPUTE = ("won", "lost", "warning_closed", "charge_refunded")


class RetryLater(Exception):
    """The event refers to something we do not know yet; try again later (bounded)."""


class Unprocessable(Exception):
    """The event cannot be applied and trying again will not help: status failed at once."""


@dataclass(frozen=True)
class Received:
    stripe_event_id: str
    stored: bool  # False: a duplicate delivery, nothing changed


# --------------------------------------------------------------------------------------------
# Intake


def receive(session: Session, event: dict[str, Any], *, now: datetime | None = None) -> Received:
    """Keep a verified event once (unique on its id); processing happens in the job."""
    return receive_many(session, [event], now=now)[0]


def receive_many(session: Session, events: list[dict[str, Any]], *, now: datetime | None = None) -> list[Received]:
    """Keep verified events in one statement, each once: an id already kept, or met earlier in
    `events`, is a duplicate (stored False)."""
    now = now or utcnow()
    rows = [
        {
            "stripe_event_id": str(event["id"])[:255],
            "type": str(event["type"])[:100],
            "status": RECEIVED,
            "created": _timestamp(event.get("created")) or now,
            "payload": event,
            "received_at": now,
            "attempts": 0,
            "last_error": "",
        }
        for event in events
    ]
    stored = repository.insert_webhook_events(session, rows)
    received = []
    for row in rows:
        event_id = row["stripe_event_id"]
        received.append(Received(event_id, event_id in stored))
        stored.discard(event_id)  # a second delivery in the same batch is the duplicate
    return received


# --------------------------------------------------------------------------------------------
# Processing


def process_due(now: datetime, *, session_scope, batch: int = 200) -> int:
    """Process every event that is new or whose retry is due, batch after batch until none is left
    (or only events other runners hold); how many were handled."""
    handled, after = 0, 0
    while True:
        with session_scope() as session:
            due = repository.due_webhook_event_ids(session, now, after=after, limit=batch)
        for event_id in due:
            with session_scope() as session:
                row = repository.lock_webhook_event(session, event_id)
                if row is None or row.status not in (RECEIVED, RETRYING):
                    continue  # another runner has it, or had it
                if row.status == RETRYING and row.next_attempt_at and row.next_attempt_at > now:
                    continue
                process(session, row, now=now)
                handled += 1
        if len(due) < batch:
            return handled
        after = due[-1]  # onwards: what another runner holds is not waited for


def process(session: Session, row: WebhookEvent, *, now: datetime | None = None) -> WebhookEvent:
    """Run the event's handler once and record the outcome on the row (never raises for the event)."""
    now = now or utcnow()
    outcome, error, retry = IGNORED, "", False
    try:
        with session.begin_nested():
            handler = HANDLERS.get(row.type)
            outcome = handler(session, row.payload, _event_time(row), now) if handler else IGNORED
    except RetryLater as exc:
        error, retry = str(exc), True
    except (Unprocessable, DomainError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug or a database hiccup: keep the event, try again later
        logger.exception("webhook event %s (%s) failed", row.stripe_event_id, row.type)
        error, retry = f"{type(exc).__name__}: {exc}", True
    row.attempts += 1
    row.last_error = error[:2000]
    if not error:
        row.status, row.processed_at, row.next_attempt_at = outcome, now, None
    elif retry and row.attempts < get_settings().webhook_max_attempts:
        row.status, row.next_attempt_at = RETRYING, now + retry_wait(row.attempts)
    else:
        row.status, row.next_attempt_at = FAILED, None
    session.add(row)
    session.flush()
    return row


def retry_wait(attempts: int) -> timedelta:
    """The wait after the n-th failed try: base, 2 × base, 4 × base, ... at most an hour."""
    base = get_settings().webhook_retry_base_seconds
    return min(timedelta(seconds=base * 2 ** (max(attempts, 1) - 1)), MAX_RETRY_WAIT)


def replay(session: Session, stripe_event_id: str, *, now: datetime | None = None) -> WebhookEvent:
    """Run a stored event again, whatever its status (handlers are idempotent)."""
    row = repository.webhook_event_by_stripe_id(session, stripe_event_id)
    if row is None:
        raise DomainError(f"No stored webhook event {stripe_event_id}.")
    return process(session, row, now=now)


def list_events(session: Session, *, status: str | None = None, limit: int = 50) -> list[WebhookEvent]:
    if status is not None and status not in STATUSES:
        raise DomainError(f"Unknown status {status!r}; one of {', '.join(STATUSES)}.")
    return list(repository.webhook_events(session, status=status, limit=limit))


# --------------------------------------------------------------------------------------------
# Handlers: (session, event, event time, now) -> "processed" | "ignored"


_INTENT_STATUS = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.canceled": PaymentStatus.CANCELED,
    "payment_intent.processing": PaymentStatus.PENDING,
}
# A payment whose money arrived: refunds and disputes can apply to it.
_SETTLED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def _payment_intent(session: Session, event: dict, at: datetime, now: datetime) -> str:
    intent = _object(event)
    payment = repository.payment_by_intent(session, intent["id"], lock=True)
    if payment is None:
        if not (intent.get("metadata") or {}).get("idempotency_key"):
            return IGNORED  # not charged by this portal (e.g. made in Stripe's dashboard)
        payment = _unrecorded_charge(session, event["type"], intent, now)
        if payment is None:
            raise RetryLater(f"no payment recorded for {intent['id']} yet")
    status = _INTENT_STATUS[event["type"]]
    error = intent.get("last_payment_error") or {}
    code, decline_code = error.get("code"), error.get("decline_code")
    brand, last4 = _card_of_intent(intent)
    failed = status in (PaymentStatus.FAILED, PaymentStatus.CANCELED)
    payments.apply_intent_status(
        session, payment, status=status, observed_at=at, card_brand=brand, card_last4=last4,
        failure_code=(decline_code or code or ("canceled" if status == PaymentStatus.CANCELED else "")) if failed else "",
        failure_message=(customer_message_for(code, decline_code) if status == PaymentStatus.FAILED
                         else "This payment was canceled.") if failed else "",
        now=now,
    )
    return PROCESSED


def _unrecorded_charge(session: Session, event_type: str, intent: dict, now: datetime) -> Payment | None:
    """A charge of one of our invoices that succeeded (or is processing) at Stripe with no Payment
    here: recorded on its invoice (payments.adopt_intent), or None to wait for the charging side.

    The charging side (checkout, dunning) records it in its own transaction, holding the customer
    or the invoice; taking both locks waits for that transaction. Still missing afterwards means
    it was lost (Stripe's answer never came, or the process died before committing).
    """
    if event_type not in ("payment_intent.succeeded", "payment_intent.processing"):
        return None
    record = stripe_gateway.intent_record(intent)
    try:
        invoice = session.get(Invoice, int(record.metadata.get("invoice_id", "")))
    except ValueError:
        return None
    customer = session.get(Customer, invoice.customer_id) if invoice else None
    if customer is None or not record.stripe_customer_id or customer.stripe_customer_id != record.stripe_customer_id:
        return None
    repository.lock_customer(session, customer.id)
    repository.lock_invoice(session, invoice.id)
    return (repository.payment_by_intent(session, record.id, lock=True)
            or payments.adopt_intent(session, invoice, record, now=now))


def _charge_refunded(session: Session, event: dict, at: datetime, now: datetime) -> str:
    charge = _object(event)
    payment = _payment_of(session, charge.get("payment_intent"))
    if payment.status not in _SETTLED and charge.get("paid") and charge.get("status") == "succeeded":
        # A refunded charge was paid: its payment_intent.succeeded may simply not have come yet.
        brand, last4 = _card_of_charge(charge)
        payments.apply_intent_status(session, payment, status=PaymentStatus.SUCCEEDED, observed_at=at,
                                     card_brand=brand, card_last4=last4, now=now)
    currency = str(charge.get("currency") or payment.currency).upper()
    listed = ((charge.get("refunds") or {}).get("data")) or []
    for refund in listed:
        apply_stripe_refund(session, payment, refund, currency, now)
    if not listed:
        # Newer API versions leave `refunds` out of the charge: record what is missing, under an
        # id naming the charge's refunded total (so replays add nothing); refund.* events with
        # the real id adopt it (see apply_stripe_refund).
        refunded = from_stripe_amount(int(charge.get("amount_refunded") or 0), currency)
        missing = refunded - repository.refunded_amount(session, payment.id)
        if missing > 0:
            payments.record_refund(session, payment_id=payment.id, amount=missing, reason="Refunded at Stripe",
                                   stripe_refund_id=f"{charge['id']}:refunded:{refunded}", now=now)
    return PROCESSED


def _refund_event(session: Session, event: dict, at: datetime, now: datetime) -> str:
    refund = _object(event)
    intent_id = refund.get("payment_intent")
    if not intent_id:
        known = repository.refund_by_stripe_id(session, refund["id"])
        if known is None:
            raise RetryLater(f"refund {refund['id']} names no PaymentIntent and is not recorded yet")
        payment = session.get(Payment, known.payment_id)
    else:
        payment = _payment_of(session, intent_id)
    if payment.status not in _SETTLED:
        raise RetryLater(f"the payment of refund {refund['id']} has not succeeded here yet")
    apply_stripe_refund(session, payment, refund, str(refund.get("currency") or payment.currency).upper(), now)
    return PROCESSED


def apply_stripe_refund(session: Session, payment: Payment, refund: dict, currency: str, now: datetime) -> None:
    """Record a Stripe refund once by its id; a failed or canceled one gives the money back."""
    status = refund.get("status")
    amount = from_stripe_amount(int(refund["amount"]), currency)
    known = repository.refund_by_stripe_id(session, refund["id"])
    if known is None and status in ("succeeded", "failed", "canceled"):
        known = _adopt_synthetic_refund(session, payment, refund, amount)
    if status == "succeeded":
        if known is None:
            payments.record_refund(session, payment_id=payment.id, amount=amount,
                                   reason=str((refund.get("metadata") or {}).get("reason") or refund.get("reason")
                                              or "Refunded at Stripe")[:500],
                                   stripe_refund_id=refund["id"], now=now)
    elif status in ("failed", "canceled") and known is not None and known.status == RefundStatus.SUCCEEDED:
        _reverse_refund(session, known, now)


def _adopt_synthetic_refund(session: Session, payment: Payment, refund: dict, amount: int) -> Refund | None:
    charge_id = refund.get("charge")
    if not charge_id:
        return None
    for row in repository.refunds_of_payment(session, payment.id):
        if (row.stripe_refund_id or "").startswith(f"{charge_id}:refunded:") and row.amount == amount:
            row.stripe_refund_id = refund["id"]
            session.add(row)
            session.flush()
            return row
    return None


def _reverse_refund(session: Session, refund: Refund, now: datetime) -> None:
    payment = repository.lock_payment(session, refund.payment_id)
    invoice = repository.lock_invoice(session, payment.invoice_id) if payment.invoice_id else None
    refund.status, refund.decided_at = RefundStatus.FAILED, now
    session.add(refund)
    session.flush()
    remaining = repository.refunded_amount(session, payment.id)
    payment.status = (PaymentStatus.SUCCEEDED if remaining == 0 else
                      PaymentStatus.REFUNDED if remaining >= payment.amount else PaymentStatus.PARTIALLY_REFUNDED)
    payment.updated_at = now
    session.add(payment)
    if invoice is not None:
        invoice.amount_refunded = max(invoice.amount_refunded - refund.amount, 0)
        session.add(invoice)
    audit.record(session, actor="stripe", action="refund.failed", subject_type="refund",
                 subject_id=refund.id, now=now, after={"amount": refund.amount})


def _dispute(session: Session, event: dict, at: datetime, now: datetime) -> str:
    dispute = _object(event)
    payment = _payment_of(session, dispute.get("payment_intent"))
    status = str(dispute.get("status") or "")[:32]
    first = payment.disputed_at is None
    if first:
        payment.disputed_at = at
    if first or payment.dispute_status not in _FINAL_DISPUTE:
        payment.dispute_status = status
    payment.updated_at = now
    session.add(payment)
    if first or event["type"] != "charge.dispute.created":
        audit.record(
            session, actor="stripe",
            action="payment.disputed" if event["type"] == "charge.dispute.created" else "payment.dispute_updated",
            subject_type="payment", subject_id=payment.id, now=now,
            after={"dispute_id": dispute.get("id"), "status": status, "reason": dispute.get("reason"),
                   "amount": from_stripe_amount(int(dispute.get("amount") or 0),
                                                str(dispute.get("currency") or payment.currency)),
                   "currency": str(dispute.get("currency") or payment.currency).upper(),
                   "event_id": event.get("id")},
        )
    if first:
        logger.warning("payment %s is disputed (%s): an admin must respond", payment.id, dispute.get("reason"))
    return PROCESSED


def _payment_method_attached(session: Session, event: dict, at: datetime, now: datetime) -> str:
    method = _object(event)
    customer = repository.customer_by_stripe_id(session, method.get("customer") or "")
    if customer is None or method.get("type", "card") != "card":
        return IGNORED
    payment_methods.sync_attached(session, customer, method)
    return PROCESSED


def _payment_method_detached(session: Session, event: dict, at: datetime, now: datetime) -> str:
    method = _object(event)
    previous = ((event.get("data") or {}).get("previous_attributes") or {}).get("customer")
    customer = repository.customer_by_stripe_id(session, previous or method.get("customer") or "")
    if customer is None:
        return IGNORED
    payment_methods.sync_detached(session, customer, method["id"])
    return PROCESSED


def _setup_intent_succeeded(session: Session, event: dict, at: datetime, now: datetime) -> str:
    """A card saved in the browser whose page never told us (closed too early): keep it.

    The event names the card only by id, so Stripe is asked for it (attach is a no-op when it is
    attached already, and Stripe itself attaches cards of a SetupIntent with a customer).
    """
    intent = _object(event)
    customer = repository.customer_by_stripe_id(session, intent.get("customer") or "")
    method = intent.get("payment_method")
    method_id = method.get("id") if isinstance(method, dict) else method
    if customer is None or not method_id:
        return IGNORED
    if repository.payment_method_by_stripe_id(session, method_id) is not None:
        return PROCESSED  # the page saved it already
    gw = stripe_gateway.gateway()
    try:
        card = gw.attach_payment_method(method_id, customer.stripe_customer_id)
    except PaymentProviderUnavailable as exc:
        raise RetryLater(str(exc)) from None
    except StripeGatewayError as exc:  # declined, or saved for someone else: nothing to keep
        raise Unprocessable(str(exc)) from None
    payment_methods.store_card(session, gw, customer, card,
                               make_default=customer.default_payment_method_id is None)
    return PROCESSED


def _customer_updated(session: Session, event: dict, at: datetime, now: datetime) -> str:
    # The portal is the only writer of billing details and of the default card (it sets both at
    # Stripe itself), so an update tells us nothing new: kept, marked processed.
    customer = repository.customer_by_stripe_id(session, _object(event).get("id") or "")
    return PROCESSED if customer else IGNORED


def _customer_deleted(session: Session, event: dict, at: datetime, now: datetime) -> str:
    customer = repository.customer_by_stripe_id(session, _object(event).get("id") or "")
    if customer is None:
        return IGNORED
    customer.stripe_customer_id = None  # the next checkout creates a new Stripe customer
    payment_methods.forget_cards(session, customer)
    return PROCESSED


def _checkout_session(session: Session, event: dict, at: datetime, now: datetime) -> str:
    """A hosted Checkout Session for one of our invoices (metadata invoice_id): billing/payments.py
    `apply_checkout_session` records it (paid only when Stripe says "paid", for exactly the amount
    due, in the invoice's currency). One it cannot apply fails at once, for an admin to look at."""
    checkout = checkout_session_info(_object(event))
    if checkout.invoice_id is None:
        return IGNORED  # not created by this portal (e.g. a Payment Link)
    outcome = event["type"].removeprefix("checkout.session.")
    try:
        payments.apply_checkout_session(session, checkout, outcome=outcome, observed_at=at, now=now)
    except DomainError as exc:
        raise Unprocessable(str(exc)) from None
    return PROCESSED


HANDLERS = {
    **{event_type: _payment_intent for event_type in _INTENT_STATUS},
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "charge.refund.updated": _refund_event,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_method.attached": _payment_method_attached,
    "payment_method.detached": _payment_method_detached,
    "customer.updated": _customer_updated,
    "customer.deleted": _customer_deleted,
    **{f"checkout.session.{outcome}": _checkout_session
       for outcome in ("completed", "async_payment_succeeded", "async_payment_failed", "expired")},
}


# --------------------------------------------------------------------------------------------
# Helpers


def _object(event: dict) -> dict:
    obj = (event.get("data") or {}).get("object")
    if not isinstance(obj, dict) or not obj.get("id"):
        raise Unprocessable("the event carries no object")
    return obj


def _payment_of(session: Session, intent_id: str | None) -> Payment:
    if not intent_id:
        raise Unprocessable("the event names no PaymentIntent")
    payment = repository.payment_by_intent(session, intent_id, lock=True)
    if payment is None:
        raise RetryLater(f"no payment recorded for {intent_id} yet")
    return payment


def _card_of_intent(intent: dict) -> tuple[str, str]:
    method = intent.get("payment_method")
    if isinstance(method, dict) and isinstance(method.get("card"), dict):
        return str(method["card"].get("brand") or "")[:32], str(method["card"].get("last4") or "")[:4]
    charges = (intent.get("charges") or {}).get("data") or []  # older API shapes (localstripe)
    charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else (charges[-1] if charges else {})
    return _card_of_charge(charge)


def _card_of_charge(charge: dict | None) -> tuple[str, str]:
    card = ((charge or {}).get("payment_method_details") or {}).get("card") or {}
    return str(card.get("brand") or "")[:32], str(card.get("last4") or "")[:4]


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _event_time(row: WebhookEvent) -> datetime:
    return _timestamp(row.payload.get("created")) or row.created
