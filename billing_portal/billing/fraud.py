"""The fraud guard at checkout: a risk score for each card charge before it is made.

Signals, each worth the points its setting gives (settings.py, FRAUD_*), counted over the last
FRAUD_WINDOW_MINUTES from the assessments already recorded:

- `customer_attempts`, `ip_attempts`, `card_attempts`: this customer, this client IP, or this card
  (Stripe's fingerprint, whoever's account it is on) made FRAUD_*_ATTEMPTS charges or more already;
- `declines`: charges by this customer, IP or card that the bank declined, beyond
  FRAUD_DECLINES_ALLOWED, FRAUD_DECLINE_POINTS each;
- `country_mismatch`: the card was issued in another country than the billing country (both known).

The score is the sum. From FRAUD_FLAG_SCORE the charge goes ahead and is flagged for admins
(/admin/risk); from FRAUD_BLOCK_SCORE it is refused and Stripe is never asked. The defaults never
reach a flag for an ordinary customer (a card from abroad and two declines in an hour make 45).
Every assessment is recorded, in the caller's transaction, with its signals, so attempts can be
counted and admins can see why. A block lasts until the attempts behind it leave the window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import audit, repository
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.money import format_money
from billing_portal.models import Customer, RiskAssessment, RiskDecision
from billing_portal.models.types import utcnow
from billing_portal.settings import Settings, get_settings

# The checkout page adds "Nothing was charged." under a refused payment.
BLOCKED_MESSAGE = "We could not accept this payment. Try again later, or contact us if this keeps happening."
STATUS_FILTERS = ("flagged", "blocked", "cleared", "all")
MAX_NOTE = 500


@dataclass(frozen=True)
class Attempt:
    """A card charge about to be made at checkout: who, from where, with what card, for what."""

    customer_id: int
    amount: int  # minor units of `currency`
    currency: str
    client_ip: str = ""
    card_fingerprint: str = ""
    card_country: str = ""
    billing_country: str = ""
    card_brand: str = ""
    card_last4: str = ""
    invoice_id: int | None = None


@dataclass(frozen=True)
class Signal:
    code: str
    points: int
    detail: str  # for admins: what was counted and against which limit


def signals(session: Session, attempt: Attempt, *, now: datetime, settings: Settings | None = None) -> list[Signal]:
    """The signals that fire for `attempt`, judged on the assessments recorded before it."""
    settings = settings or get_settings()
    window = settings.fraud_window_minutes
    since = now - timedelta(minutes=window)
    found: list[Signal] = []

    def velocity(code: str, who: str, limit: int, points: int, **key) -> None:
        earlier = repository.count_risk_attempts(session, since=since, **key)
        if earlier >= limit and points:
            found.append(Signal(code, points, f"{earlier} earlier attempts {who} in the last {window} min "
                                              f"(signal from {limit})"))

    velocity("customer_attempts", "by this customer", settings.fraud_customer_attempts,
             settings.fraud_customer_attempts_points, customer_id=attempt.customer_id)
    if attempt.client_ip:
        velocity("ip_attempts", f"from {attempt.client_ip}", settings.fraud_ip_attempts,
                 settings.fraud_ip_attempts_points, client_ip=attempt.client_ip)
    if attempt.card_fingerprint:
        velocity("card_attempts", "with this card", settings.fraud_card_attempts,
                 settings.fraud_card_attempts_points, card_fingerprint=attempt.card_fingerprint)
    declines = repository.count_risk_declines(
        session, since=since, customer_id=attempt.customer_id, client_ip=attempt.client_ip,
        card_fingerprint=attempt.card_fingerprint,
    )
    beyond = declines - settings.fraud_declines_allowed
    if beyond > 0 and settings.fraud_decline_points:
        found.append(Signal("declines", beyond * settings.fraud_decline_points,
                            f"{declines} declined charges by this customer, IP or card in the last {window} min "
                            f"({settings.fraud_declines_allowed} allowed)"))
    card_country, billing_country = attempt.card_country.upper(), attempt.billing_country.upper()
    if card_country and billing_country and card_country != billing_country and settings.fraud_country_mismatch_points:
        found.append(Signal("country_mismatch", settings.fraud_country_mismatch_points,
                            f"Card issued in {card_country}, billing country {billing_country}"))
    return found


def decision_for(score: int, settings: Settings | None = None) -> RiskDecision:
    settings = settings or get_settings()
    if score >= settings.fraud_block_score:
        return RiskDecision.BLOCK
    if score >= settings.fraud_flag_score:
        return RiskDecision.FLAG
    return RiskDecision.ALLOW


def assess(session: Session, attempt: Attempt, *, now: datetime | None = None) -> RiskAssessment:
    """Score the attempt and record it (in the caller's transaction); the row says allow, flag or block."""
    now = now or utcnow()
    settings = get_settings()
    fired = signals(session, attempt, now=now, settings=settings)
    score = sum(s.points for s in fired)
    row = RiskAssessment(
        customer_id=attempt.customer_id, invoice_id=attempt.invoice_id, client_ip=attempt.client_ip[:64],
        card_fingerprint=attempt.card_fingerprint[:64], card_brand=attempt.card_brand[:32],
        card_last4=attempt.card_last4[:4], card_country=attempt.card_country.upper()[:2],
        billing_country=attempt.billing_country.upper()[:2], amount=attempt.amount, currency=attempt.currency,
        score=score, signals=[{"code": s.code, "points": s.points, "detail": s.detail} for s in fired],
        decision=decision_for(score, settings), created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def link_payment(session: Session, assessment: RiskAssessment, payment_id: int) -> None:
    """The charge an allowed or flagged assessment led to: its outcome counts as a decline or not."""
    assessment.payment_id = payment_id
    session.add(assessment)
    session.flush()


# --------------------------------------------------------------------------------------------
# Admins: flagged and blocked charges, and clearing a flag


@dataclass(frozen=True)
class AssessmentRow:
    id: int
    created_label: str
    customer_label: str
    customer_email: str
    amount_label: str
    card_label: str  # "visa •••• 0341"
    card_country: str
    billing_country: str
    client_ip: str
    score: int
    decision: str
    signals: tuple[str, ...]  # "+50 declines: 3 declined charges ..."
    payment_label: str  # the payment's status, or "not charged" (a block)
    invoice_number: str
    cleared_label: str
    clear_note: str
    can_clear: bool


def _admin_only(admin: CurrentUser) -> None:
    if admin is None or not admin.is_admin:
        raise NotFound("No such risk assessment.")


def assessment_page(session: Session, *, admin: CurrentUser, status: str, page: int, per_page: int
                    ) -> tuple[list[AssessmentRow], int]:
    """One page of assessments, newest first: open flags, blocks, cleared flags, or every one."""
    _admin_only(admin)
    if status not in STATUS_FILTERS:
        raise DomainError("Pick one of the filters offered.")
    total = repository.count_risk_assessments(session, status=status)
    rows = repository.risk_assessments_page(session, status=status, limit=per_page,
                                            offset=(max(page, 1) - 1) * per_page)
    return [_row(*row) for row in rows], total


def _row(row: RiskAssessment, customer: Customer, email: str, payment_status: str | None,
         invoice_number: str | None) -> AssessmentRow:
    return AssessmentRow(
        id=row.id,
        created_label=row.created_at.strftime("%Y-%m-%d %H:%M"),
        customer_label=customer.company or customer.name or email,
        customer_email=email,
        amount_label=format_money(row.amount, row.currency),
        card_label=f"{row.card_brand or 'card'} •••• {row.card_last4}" if row.card_last4 else "",
        card_country=row.card_country or "—",
        billing_country=row.billing_country or "—",
        client_ip=row.client_ip or "—",
        score=row.score,
        decision=row.decision,
        signals=tuple(f"+{s['points']} {s['code']}: {s['detail']}" for s in row.signals or ()),
        payment_label=payment_status or ("not charged" if row.decision == RiskDecision.BLOCK else "no payment"),
        invoice_number=invoice_number or "",
        cleared_label=row.cleared_at.strftime("%Y-%m-%d %H:%M") if row.cleared_at else "",
        clear_note=row.clear_note,
        can_clear=row.decision == RiskDecision.FLAG and row.cleared_at is None,
    )


def clear_flag(session: Session, *, admin: CurrentUser, assessment_id: int, note: str = "",
               now: datetime | None = None) -> RiskAssessment:
    """An admin looked at a flagged charge and found it fine: it leaves the open flags (audited)."""
    _admin_only(admin)
    now = now or utcnow()
    note = " ".join(str(note or "").split())
    if len(note) > MAX_NOTE:
        raise DomainError(f"Keep the note under {MAX_NOTE} characters.")
    row = None
    if isinstance(assessment_id, int) and not isinstance(assessment_id, bool):
        row = repository.lock_risk_assessment(session, assessment_id)
    if row is None or row.decision != RiskDecision.FLAG:
        raise NotFound("No such flagged payment.")
    if row.cleared_at is not None:
        raise DomainError("This flag was cleared already.")
    row.cleared_at, row.cleared_by, row.clear_note = now, admin.user_id, note
    session.add(row)
    session.flush()
    audit.record(
        session, actor=admin, action="risk.flag_cleared", subject_type="risk_assessment", subject_id=row.id,
        before={"decision": row.decision, "score": row.score, "cleared": False}, now=now,
        after={"cleared": True, "note": note, "payment_id": row.payment_id, "customer_id": row.customer_id},
    )
    return row
