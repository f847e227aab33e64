"""Customers asking for a refund of a paid payment of theirs. An admin decides later
(billing/refund_decisions.py); nothing here moves money.

What may still be asked for: the payment's amount minus what was refunded (succeeded or approved
refunds) minus the requests still waiting for a decision, so two open requests can never add up to
more than was paid. The payment's row lock serialises concurrent requests for one payment.

Another customer's payment answers `NotFound`, the same as a missing one.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import format_money, parse_money
from billing_portal.gateways import stripe_currencies
from billing_portal.models import Customer, Payment, PaymentStatus, RefundRequest, RefundRequestStatus
from billing_portal.models.types import utcnow

MAX_REASON = 500
REFUNDABLE_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class RefundOffer:
    """What the request dialog shows for one payment."""

    payment_id: int
    refundable: int  # minor units
    currency: str
    refundable_label: str  # "₩15,000": also the amount field's starting text (parse_money reads it)


def refundable_amount(session: Session, payment: Payment) -> int:
    """Paid, minus refunded, minus requests still waiting for a decision (never below zero)."""
    taken = repository.refunded_amount(session, payment.id) + repository.pending_refund_requested(session, payment.id)
    return max(0, payment.amount - taken)


def _own_payment(session: Session, customer_id: int, payment_id: object, *, lock: bool) -> Payment:
    if isinstance(payment_id, bool) or not isinstance(payment_id, int):
        raise NotFound("No such payment.")
    payment = repository.lock_payment(session, payment_id) if lock else session.get(Payment, payment_id)
    if payment is None or payment.customer_id != customer_id:
        raise NotFound("No such payment.")
    return payment


def _locale(session: Session, customer_id: int) -> str:
    customer = session.get(Customer, customer_id)
    return customer.locale if customer else "en_US"


def _check_refundable(session: Session, payment: Payment) -> int:
    if payment.status not in REFUNDABLE_STATUSES:
        raise DomainError("Only a paid payment can be refunded.")
    left = refundable_amount(session, payment)
    if left <= 0:
        if repository.pending_refund_requested(session, payment.id):
            raise DomainError("A refund of this payment is already requested: we will let you know our decision.")
        raise DomainError("This payment is refunded in full already.")
    return left


def offer(session: Session, *, customer_id: int, payment_id: int) -> RefundOffer:
    """What the customer may still ask for on their payment (refused with a reason when nothing)."""
    payment = _own_payment(session, customer_id, payment_id, lock=False)
    locale = _locale(session, customer_id)
    left = _check_refundable(session, payment)
    return RefundOffer(payment.id, left, payment.currency, format_money(left, payment.currency, locale))


def request_refund(
    session: Session,
    *,
    customer_id: int,
    payment_id: int,
    amount: int | str,
    reason: str,
    now: datetime | None = None,
) -> RefundRequest:
    """Record a request; `amount` is minor units, or the text the customer typed in their locale."""
    payment = _own_payment(session, customer_id, payment_id, lock=True)
    locale = _locale(session, customer_id)
    left = _check_refundable(session, payment)
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise DomainError("Tell us why you are asking for a refund.")
    if len(reason) > MAX_REASON:
        raise DomainError(f"Keep the reason under {MAX_REASON} characters.")
    if isinstance(amount, str):
        if not amount.strip():
            raise DomainError("Enter the amount to refund.")
        amount = parse_money(amount, payment.currency, locale)  # InvalidAmount: a DomainError
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("refund amounts are ints in minor units")
    if amount <= 0:
        raise DomainError("The amount must be more than zero.")
    stripe_currencies.check_chargeable(amount, payment.currency, "A refund")
    if amount > left:
        raise DomainError(f"You can ask for at most {format_money(left, payment.currency, locale)} on this payment.")
    request = RefundRequest(
        payment_id=payment.id,
        customer_id=customer_id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status=RefundRequestStatus.REQUESTED,
        created_at=now or utcnow(),
    )
    session.add(request)
    session.flush()
    return request

