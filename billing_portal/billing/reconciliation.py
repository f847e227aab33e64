"""Reconciliation: our payments and refunds against Stripe's, for a range of days.

Stripe is read through the gateway (PaymentIntents and refunds created in the range, with a day of
margin either side so clock skew between our row and Stripe's object finds no false differences).
Only payments made through Stripe take part (they carry a PaymentIntent id): manual and demo
payments have nothing at Stripe to compare with.

Discrepancies, and what healing does (each heal in its own savepoint, with an audit entry):
- missing_here: Stripe took money we never recorded (our transaction was lost after the charge, or a
  payment made outside the portal). Healed by recording it: against its invoice when the
  PaymentIntent's metadata names one (idempotency key from the metadata, so a later checkout retry
  finds it), else as an unapplied payment of the customer, flagged for an admin.
- missing_at_stripe: we recorded money Stripe does not have. Never healed automatically: a person
  must look (we do not mark an invoice unpaid behind anyone's back).
- status_differs: a missed webhook. Healed when Stripe's status is news for us (pending → succeeded,
  pending → failed, a refund that failed at Stripe given back); never when we say succeeded and
  Stripe does not (a person must look).
- amount_differs: never healed automatically.
Refunds at Stripe are healed the way the webhook records them (billing/webhooks.py).
"""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, payments, repository, webhooks
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import format_money
from billing_portal.gateways.stripe_gateway import (
    IntentRecord,
    RefundRecord,
    StripeGateway,
    StripeGatewayError,
    gateway,
    to_stripe_amount,
)
from billing_portal.models import Invoice, Payment, PaymentStatus, Refund, RefundStatus
from billing_portal.models.types import utcnow

MAX_DAYS = 92
MARGIN = timedelta(days=1)
MISSING_HERE, MISSING_AT_STRIPE, STATUS_DIFFERS, AMOUNT_DIFFERS = (
    "missing_here", "missing_at_stripe", "status_differs", "amount_differs")
KIND_LABELS = {
    MISSING_HERE: "Missing here",
    MISSING_AT_STRIPE: "Missing at Stripe",
    STATUS_DIFFERS: "Status differs",
    AMOUNT_DIFFERS: "Amount differs",
}

# Our payment statuses that agree with each Stripe PaymentIntent status.
_AGREES = {
    "succeeded": {PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED},
    "requires_action": {PaymentStatus.REQUIRES_ACTION},
    "processing": {PaymentStatus.PENDING},
    "requires_confirmation": {PaymentStatus.PENDING},
    "requires_capture": {PaymentStatus.PENDING},
    "requires_payment_method": {PaymentStatus.FAILED},
    "canceled": {PaymentStatus.CANCELED, PaymentStatus.FAILED},
}
# What a Stripe status heals an unfinished payment to.
_HEAL_TO = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_payment_method": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}
_UNFINISHED = {PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED, PaymentStatus.CANCELED}


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    object_type: str  # "payment" or "refund"
    stripe_id: str
    our_id: int | None
    ours: str  # what we hold, e.g. "succeeded ₩15,000" ("" when missing here)
    theirs: str  # what Stripe holds ("" when missing at Stripe)
    healable: bool
    healed: bool = False
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.object_type}:{self.stripe_id}:{self.kind}"


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    payments_checked: int
    refunds_checked: int
    discrepancies: tuple[Discrepancy, ...]

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    @property
    def healed(self) -> int:
        return sum(d.healed for d in self.discrepancies)

    @property
    def open(self) -> int:
        return sum(not d.healed for d in self.discrepancies)


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC): both days included."""
    if last < first:
        raise DomainError("The end date is before the start date.")
    if (last - first).days + 1 > MAX_DAYS:
        raise DomainError(f"Reconcile at most {MAX_DAYS} days at a time.")
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


def reconcile(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    actor: CurrentUser | str,
    heal: bool = False,
    gw: StripeGateway | None = None,
    now: datetime | None = None,
) -> Report:
    """Compare [start, end) with Stripe; with `heal`, fix what can be fixed safely. Audited: an
    admin's run always, the job's when it finds something. The caller commits."""
    if isinstance(actor, CurrentUser) and not actor.is_admin:
        raise DomainError("Only an admin can reconcile.")
    now = now or utcnow()
    gw = gw or gateway()
    try:
        intents = gw.list_payment_intents(start - MARGIN, end + MARGIN)
        stripe_refunds = gw.list_refunds(start - MARGIN, end + MARGIN)
    except StripeGatewayError as error:
        raise DomainError(f"Stripe could not be read: {error.message}") from None

    found: list[Discrepancy] = []
    ours_by_intent = repository.payments_by_intents(session, [pi.id for pi in intents])
    for payment in repository.stripe_payments_between(session, start, end):
        ours_by_intent.setdefault(payment.stripe_payment_intent_id, payment)
    theirs_by_id = {pi.id: pi for pi in intents}
    checked = 0
    for intent_id, payment in sorted(ours_by_intent.items()):
        intent = theirs_by_id.get(intent_id)
        if intent is None:
            try:
                intent = gw.find_payment_intent(intent_id)
            except StripeGatewayError as error:
                raise DomainError(f"Stripe could not be read: {error.message}") from None
            if intent is not None:
                theirs_by_id[intent.id] = intent
        checked += 1
        found.extend(_compare_payment(payment, intent))
    for intent in intents:
        if intent.id not in ours_by_intent and intent.status == "succeeded" and start <= intent.created < end:
            checked += 1
            found.append(_missing_payment(session, intent))

    ours_by_refund = repository.refunds_by_stripe_ids(session, [r.id for r in stripe_refunds])
    for refund in repository.stripe_refunds_between(session, start, end):
        ours_by_refund.setdefault(refund.stripe_refund_id, refund)
    refunds_by_id = {r.id: r for r in stripe_refunds}
    refunds_checked = 0
    for refund_id, refund in sorted(ours_by_refund.items()):
        refunds_checked += 1
        found.extend(_compare_refund(refund, refunds_by_id.get(refund_id)))
    for theirs in stripe_refunds:
        if theirs.id not in ours_by_refund and theirs.status == "succeeded" and start <= theirs.created < end:
            refunds_checked += 1
            found.append(_missing_refund(session, theirs))

    if heal:
        found = [_heal(session, d, intents=theirs_by_id, refunds=refunds_by_id, actor=actor, now=now) if d.healable
                 else d for d in found]
    report = Report(start, end, checked, refunds_checked, tuple(found))
    if isinstance(actor, CurrentUser) or found:
        kinds = Counter(d.kind for d in found)
        audit.record(session, actor=actor, action="reconciliation.run" if report.clean else "reconciliation.discrepancies",
                     subject_type="reconciliation", subject_id=f"{start.date()}..{(end - timedelta(days=1)).date()}",
                     now=now, after={"payments_checked": checked, "refunds_checked": refunds_checked,
                                     "discrepancies": len(found), "healed": report.healed, "kinds": dict(kinds)})
    return report


# ---- comparing


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency) if currency else str(amount)


def _ours(payment: Payment) -> str:
    return f"{payment.status} {_money(payment.amount, payment.currency)}"


def _theirs(obj: IntentRecord | RefundRecord) -> str:
    return f"{obj.status} {_money(obj.amount, obj.currency)}"


def _compare_payment(payment: Payment, intent: IntentRecord | None) -> list[Discrepancy]:
    pid = payment.stripe_payment_intent_id
    if intent is None:
        return [Discrepancy(MISSING_AT_STRIPE, "payment", pid, payment.id, _ours(payment), "", False,
                            note="Stripe has no such PaymentIntent: check by hand.")]
    out = []
    if (intent.amount, intent.currency) != (payment.amount, payment.currency):
        out.append(Discrepancy(AMOUNT_DIFFERS, "payment", pid, payment.id, _ours(payment), _theirs(intent), False,
                               note="Amounts differ: check by hand."))
    if payment.status not in _AGREES.get(intent.status, set()):
        healable = intent.status in _HEAL_TO and payment.status in _UNFINISHED and payment.status != _HEAL_TO[intent.status]
        note = "" if healable else "We hold a final status Stripe does not confirm: check by hand."
        out.append(Discrepancy(STATUS_DIFFERS, "payment", pid, payment.id, _ours(payment), _theirs(intent), healable,
                               note=note))
    return out


def _missing_payment(session: Session, intent: IntentRecord) -> Discrepancy:
    invoice = _invoice_named_by(session, intent)
    customer = repository.customer_by_stripe_id(session, intent.stripe_customer_id) if intent.stripe_customer_id else None
    if invoice is not None:
        note = f"Charged for invoice {invoice.number or invoice.id}; healing records it there."
    elif customer is not None:
        note = "Names no invoice of ours; healing records it as an unapplied payment to refund or apply."
    else:
        note = "No customer here has this Stripe customer: check by hand."
    return Discrepancy(MISSING_HERE, "payment", intent.id, None, "", _theirs(intent),
                       invoice is not None or customer is not None, note=note)


def _invoice_named_by(session: Session, intent: IntentRecord) -> Invoice | None:
    try:
        invoice = session.get(Invoice, int(intent.metadata.get("invoice_id", "")))
    except ValueError:
        return None
    if invoice is None or invoice.currency != intent.currency or not intent.metadata.get("idempotency_key"):
        return None
    return invoice


def _compare_refund(refund: Refund, theirs: RefundRecord | None) -> list[Discrepancy]:
    if theirs is None:
        return [Discrepancy(MISSING_AT_STRIPE, "refund", refund.stripe_refund_id, refund.id,
                            f"{refund.status} {_money(refund.amount, refund.currency)}", "", False,
                            note="Stripe has no such refund: check by hand.")]
    ours = f"{refund.status} {_money(refund.amount, refund.currency)}"
    out = []
    if theirs.amount != refund.amount:
        out.append(Discrepancy(AMOUNT_DIFFERS, "refund", theirs.id, refund.id, ours, _theirs(theirs), False,
                               note="Amounts differ: check by hand."))
    agrees = (theirs.status == "succeeded") == (refund.status == RefundStatus.SUCCEEDED)
    if not agrees and theirs.status != "pending":
        healable = theirs.status in ("failed", "canceled") and refund.status == RefundStatus.SUCCEEDED
        out.append(Discrepancy(STATUS_DIFFERS, "refund", theirs.id, refund.id, ours, _theirs(theirs), healable,
                               note="" if healable else "Check by hand."))
    return out


def _missing_refund(session: Session, theirs: RefundRecord) -> Discrepancy:
    payment = repository.payment_by_intent(session, theirs.payment_intent_id) if theirs.payment_intent_id else None
    note = "" if payment else "Its payment is not recorded here: heal the payment first."
    return Discrepancy(MISSING_HERE, "refund", theirs.id, None, "", _theirs(theirs), payment is not None, note=note)


# ---- healing


def _heal(session: Session, found: Discrepancy, *, intents: dict[str, IntentRecord],
          refunds: dict[str, RefundRecord], actor: CurrentUser | str, now: datetime) -> Discrepancy:
    try:
        with session.begin_nested():
            subject_id = _apply(session, found, intents, refunds, now)
            audit.record(session, actor=actor, action="reconciliation.healed", subject_type=found.object_type,
                         subject_id=subject_id, now=now,
                         after={"kind": found.kind, "stripe_id": found.stripe_id, "ours": found.ours,
                                "stripe": found.theirs})
    except DomainError as error:
        return replace(found, note=f"Not healed: {error}")
    return replace(found, healed=True)


def _apply(session: Session, found: Discrepancy, intents: dict[str, IntentRecord],
           refunds: dict[str, RefundRecord], now: datetime) -> int:
    """Fix one discrepancy; the id of what was written."""
    if found.object_type == "payment":
        intent = intents.get(found.stripe_id)
        if found.kind == STATUS_DIFFERS:
            payment = repository.payment_by_intent(session, found.stripe_id, lock=True)
            intent = intent or _require(found)
            payments.apply_intent_status(session, payment, status=_HEAL_TO[intent.status], observed_at=now, now=now)
            return payment.id
        return _record_missing_payment(session, intent or _require(found), now)
    theirs = refunds.get(found.stripe_id) or _require(found)
    payment = repository.payment_by_intent(session, theirs.payment_intent_id, lock=True) if theirs.payment_intent_id else None
    if payment is None:
        raise DomainError("its payment is not recorded here")
    webhooks.apply_stripe_refund(
        session, payment,
        {"id": theirs.id, "amount": to_stripe_amount(theirs.amount, theirs.currency), "status": theirs.status,
         "charge": theirs.charge_id, "metadata": {"reason": "Refunded at Stripe (found by reconciliation)"}},
        theirs.currency, now,
    )
    recorded = repository.refund_by_stripe_id(session, theirs.id)
    return recorded.id if recorded else payment.id


def _record_missing_payment(session: Session, intent: IntentRecord, now: datetime) -> int:
    invoice = _invoice_named_by(session, intent)
    if invoice is not None:
        payment = payments.record_intent(
            session, invoice_id=invoice.id, idempotency_key=intent.metadata["idempotency_key"],
            status=PaymentStatus.SUCCEEDED, stripe_payment_intent_id=intent.id, observed_at=now,
            amount=intent.amount, now=now,
        )
        return payment.id
    customer = repository.customer_by_stripe_id(session, intent.stripe_customer_id or "")
    if customer is None:
        raise DomainError("no customer here has this Stripe customer")
    payment = Payment(
        customer_id=customer.id, stripe_payment_intent_id=intent.id, amount=intent.amount, currency=intent.currency,
        status=PaymentStatus.SUCCEEDED, idempotency_key=f"reconciliation:{intent.id}", created_at=intent.created,
        updated_at=now, stripe_updated_at=now,
    )
    session.add(payment)
    session.flush()
    return payment.id


def _require(found: Discrepancy):
    raise DomainError(f"Stripe no longer lists {found.stripe_id}")
