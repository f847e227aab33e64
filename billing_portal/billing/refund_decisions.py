"""An admin deciding a customer's refund request (billing/refund_requests.py): approve all or part
of it, or reject it with a reason. Every decision is written to the audit log.

Approval, in one transaction with the request's row lock held:
1. the refund at Stripe through the gateway, idempotency key `refund-request:{id}` (a retry after a
   crash finds the refund already made with that key instead of refunding twice);
2. recorded with `payments.record_refund`, which refuses more than remains refundable and claws
   back the share of credits bought with the payment (billing/credits.py);
3. the credit note PDF drawn and stored (when storage is down, the PDF job draws it later).
Only Stripe's "succeeded" is recorded as refunded; anything else leaves the request open.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import audit, invoice_pdfs, payments, repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.files import StorageFailed
from billing_portal.billing.money import format_money, parse_money
from billing_portal.gateways import stripe_currencies
from billing_portal.gateways.stripe_gateway import StripeGateway, StripeGatewayError, gateway
from billing_portal.models import Customer, Payment, RefundRequest, RefundRequestStatus
from billing_portal.models.types import utcnow

MAX_REASON = 500
STATUS_FILTERS = ("requested", "approved", "rejected", "all")


def idempotency_key(request_id: int) -> str:
    return f"refund-request:{request_id}"


@dataclass(frozen=True)
class RequestRow:
    """One request as the admin page lists it (display strings, plus what the dialog needs)."""

    id: int
    status: str
    customer_label: str
    customer_email: str
    invoice_number: str
    amount: int
    currency: str
    amount_label: str
    paid_label: str
    refundable_label: str  # what Stripe and our books still allow on the payment
    reason: str
    created_label: str
    decided_label: str
    decision_reason: str


def _admin_only(admin: CurrentUser) -> None:
    if not admin.is_admin:
        raise NotFound("No such refund request.")


def _locked_request(session: Session, request_id: int) -> RefundRequest:
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise NotFound("No such refund request.")
    request = repository.lock_refund_request(session, request_id)
    if request is None:
        raise NotFound("No such refund request.")
    if request.status != RefundRequestStatus.REQUESTED:
        raise DomainError(f"This request was {request.status} already.")
    return request


def _clean_reason(text: str, *, required: bool) -> str:
    text = " ".join(str(text or "").split())
    if required and not text:
        raise DomainError("Give the customer a reason.")
    if len(text) > MAX_REASON:
        raise DomainError(f"Keep the reason under {MAX_REASON} characters.")
    return text


def refundable(session: Session, payment: Payment) -> int:
    """What the books still allow refunding on the payment (open requests not counted)."""
    return max(0, payment.amount - repository.refunded_amount(session, payment.id))


def parse_amount(text: str, request: RefundRequest, locale: str) -> int:
    """The admin's typed amount ("5,000", "₩5,000"); empty means the whole request."""
    if not str(text or "").strip():
        return request.amount
    return parse_money(str(text), request.currency, locale)


def approve(
    session: Session,
    *,
    request_id: int,
    admin: CurrentUser,
    amount: int | str | None = None,
    note: str = "",
    gw: StripeGateway | None = None,
    now: datetime | None = None,
) -> RefundRequest:
    """Refund the request (or `amount` of it: minor units, or the admin's typed text)."""
    _admin_only(admin)
    now = now or utcnow()
    request = _locked_request(session, request_id)
    if amount is None or isinstance(amount, str):
        amount = parse_amount(amount or "", request, admin.locale)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("refund amounts are ints in minor units")
    note = _clean_reason(note, required=False)
    payment = repository.lock_payment(session, request.payment_id)
    left = refundable(session, payment)
    if not 0 < amount <= request.amount:
        raise DomainError(
            f"Approve more than zero and at most the {format_money(request.amount, request.currency)} asked for."
        )
    if amount > left:
        raise DomainError(f"Only {format_money(left, payment.currency)} of this payment is left to refund.")
    stripe_currencies.check_chargeable(amount, payment.currency, "A refund")
    if not payment.stripe_payment_intent_id:
        raise DomainError("This payment was not made through Stripe, so the portal cannot refund it.")
    try:
        result = (gw or gateway()).refund(
            payment_intent_id=payment.stripe_payment_intent_id, amount=amount,
            idempotency_key=idempotency_key(request.id), reason="requested_by_customer",
        )
    except StripeGatewayError as error:
        raise DomainError(f"Stripe did not refund: {error.message}") from None
    if result.status != "succeeded":
        raise DomainError(f"Stripe answered {result.status or 'nothing'} for the refund; the request stays open.")
    customer = session.get(Customer, request.customer_id)
    refund = payments.record_refund(
        session, payment_id=payment.id, amount=result.amount, reason=request.reason,
        requested_by=customer.user_id if customer else None, approved_by=admin.user_id,
        stripe_refund_id=result.id, now=now,
    )
    try:
        invoice_pdfs.render_credit_note_and_store(session, refund.id)
    except StorageFailed:
        pass  # the refund stands; render_missing_invoice_pdfs draws the credit note later
    before = {"status": request.status, "amount": request.amount, "currency": request.currency}
    request.status, request.decided_at, request.decided_by = RefundRequestStatus.APPROVED, now, admin.user_id
    request.decision_reason, request.refund_id = note, refund.id
    session.add(request)
    session.flush()
    audit.record(
        session, actor=admin, action="refund_request.approved", subject_type="refund_request",
        subject_id=request.id, before=before, now=now,
        after={"status": request.status, "refunded": refund.amount, "currency": refund.currency,
               "refund_id": refund.id, "stripe_refund_id": refund.stripe_refund_id, "note": note},
    )
    return request


def reject(session: Session, *, request_id: int, admin: CurrentUser, reason: str,
           now: datetime | None = None) -> RefundRequest:
    """Refuse the request; the reason is shown to the customer."""
    _admin_only(admin)
    now = now or utcnow()
    reason = _clean_reason(reason, required=True)
    request = _locked_request(session, request_id)
    request.status, request.decided_at, request.decided_by = RefundRequestStatus.REJECTED, now, admin.user_id
    request.decision_reason = reason
    session.add(request)
    session.flush()
    audit.record(
        session, actor=admin, action="refund_request.rejected", subject_type="refund_request",
        subject_id=request.id, before={"status": RefundRequestStatus.REQUESTED}, now=now,
        after={"status": request.status, "reason": reason},
    )
    return request


def request_page(session: Session, *, admin: CurrentUser, status: str, page: int, per_page: int
                 ) -> tuple[list[RequestRow], int]:
    """One page of requests (oldest waiting first; decided ones newest first) and the total."""
    _admin_only(admin)
    if status not in STATUS_FILTERS:
        raise DomainError("Pick one of the statuses offered.")
    wanted = None if status == "all" else status
    total = repository.count_refund_requests(session, status=wanted)
    rows = repository.refund_requests_page(session, status=wanted, limit=per_page,
                                           offset=(max(page, 1) - 1) * per_page)
    return [_row(session, request, payment, customer, number) for request, payment, customer, number in rows], total


def _row(session: Session, request: RefundRequest, payment: Payment, customer: Customer, number: str | None) -> RequestRow:
    def money(value: int) -> str:
        return format_money(value, request.currency)

    return RequestRow(
        id=request.id,
        status=request.status,
        customer_label=customer.company or customer.name,
        customer_email=customer.invoice_email,
        invoice_number=number or f"Payment {payment.id}",
        amount=request.amount,
        currency=request.currency,
        amount_label=money(request.amount),
        paid_label=money(payment.amount),
        refundable_label=money(refundable(session, payment)),
        reason=request.reason,
        created_label=request.created_at.strftime("%Y-%m-%d %H:%M"),
        decided_label=request.decided_at.strftime("%Y-%m-%d %H:%M") if request.decided_at else "",
        decision_reason=request.decision_reason,
    )
