"""Recording payment outcomes and refunds against invoices.

Stripe calls live in gateways/stripe_gateway.py; this module records what Stripe answered. A
payment's idempotency key names what it pays for, and the unique column makes recording the same
outcome twice a no-op instead of counting the money twice.
"""

from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import invoices, repository, subscriptions
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import Invoice, Payment, PaymentStatus, Refund, RefundStatus
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
    if succeeded:
        paid = invoices.mark_paid(session, invoice.id, amount=payment.amount, now=now)
        subscriptions.invoice_paid(session, paid)
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
    """A refund that succeeded at Stripe: never more than what remains refundable."""
    now = now or utcnow()
    payment = repository.lock_payment(session, payment_id)
    if payment is None or payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
        raise DomainError("Only a succeeded payment can be refunded.")
    invoice = session.get(Invoice, payment.invoice_id)
    refundable = payment.amount - repository.refunded_amount(session, payment.id)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= refundable:
        raise DomainError("The refund must be more than zero and at most what remains refundable.")
    refund = Refund(
        payment_id=payment.id,
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
    return refund

