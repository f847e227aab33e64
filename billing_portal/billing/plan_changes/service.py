"""Change a subscription's plan and collect what the change costs (rules in the package docstring)."""

import logging
from datetime import datetime

from sqlmodel import Session

from billing_portal.billing import audit, dunning, repository, subscriptions
from billing_portal.billing.accounts import CurrentUser
from billing_portal.billing.plan_changes.schemas import PlanChange
from billing_portal.gateways.stripe_gateway import PaymentProviderUnavailable
from billing_portal.models import PaymentStatus, Subscription
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

logger = logging.getLogger(__name__)

CONFIRM_MESSAGE = "Your bank asks you to confirm this payment yourself, so the plan did not change."


def change_plan(session: Session, subscription_id: int, *, price_id: int, quantity: int,
                now: datetime | None = None, actor: CurrentUser | str = "customer") -> PlanChange:
    """The change, and for one that applies now with something due, its invoice charged now.
    `actor` is who asked (the audit entry of a refused upgrade names them)."""
    now = now or utcnow()
    if get_settings().upgrade_apply == "when_paid":
        return _when_paid(session, subscription_id, price_id, quantity, now, actor)
    changed = subscriptions.change(session, subscription_id, price_id=price_id, quantity=quantity, now=now)
    if changed.preview.effective == "period_end":
        return PlanChange("scheduled", changed.preview)
    if changed.invoice is None:
        return PlanChange("applied", changed.preview)
    invoice = changed.invoice
    invoice.next_collection_at = now  # in collection from now on: the dunning job retries it
    session.add(invoice)
    session.flush()
    try:
        with session.begin_nested():
            attempt = dunning.collect(session, invoice.id, now, early=True)
    except PaymentProviderUnavailable:
        logger.warning("stripe is not answering: invoice %s of the plan change is collected later", invoice.id)
        return PlanChange("waiting", changed.preview, invoice)
    session.refresh(invoice)
    if attempt is None or attempt.status == PaymentStatus.PENDING:
        return PlanChange("waiting", changed.preview, invoice)
    if attempt.status == PaymentStatus.SUCCEEDED:
        return PlanChange("paid", changed.preview, invoice)
    return PlanChange("failed", changed.preview, invoice, _failure(session, invoice.id) or dunning.THREE_DS_MESSAGE,
                      attempt.next_attempt_at)


def _when_paid(session: Session, subscription_id: int, price_id: int, quantity: int, now: datetime,
               actor: CurrentUser | str) -> PlanChange:
    """The change and its charge in a savepoint, kept unless the card was declined or the bank
    wants the customer. A charge still processing is kept (its webhook settles it: dropping it
    could lose money that arrives), and so is an amount under the minimum charge (the next renewal
    carries it, as for every invoice)."""
    savepoint = session.begin_nested()
    try:
        changed = subscriptions.change(session, subscription_id, price_id=price_id, quantity=quantity, now=now)
        invoice = changed.invoice
        attempt = None
        if invoice is not None:
            invoice.next_collection_at = now
            session.add(invoice)
            session.flush()
            attempt = dunning.collect(session, invoice.id, now, early=True)
        refused = attempt is not None and attempt.status in (PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION)
        message = ""
        if refused:
            message = _failure(session, invoice.id) if attempt.status == PaymentStatus.FAILED else CONFIRM_MESSAGE
    except BaseException:
        savepoint.rollback()
        raise
    if not refused:
        savepoint.commit()
        if invoice is None:
            return PlanChange("scheduled" if changed.preview.effective == "period_end" else "applied", changed.preview)
        session.refresh(invoice)
        paid = attempt is not None and attempt.status == PaymentStatus.SUCCEEDED
        return PlanChange("paid" if paid else "waiting", changed.preview, invoice)
    # Nothing of it stays: no plan, no invoice, no dunning. The charge's key names the instant of
    # the change (subscription_update:{id}:{now}), so a later try is a new charge, never this one.
    savepoint.rollback()
    subscription = session.get(Subscription, subscription_id)
    audit.record(session, actor=actor, action="subscription.upgrade_refused", subject_type="subscription",
                 subject_id=subscription_id, now=now,
                 after={"price_id": price_id, "quantity": quantity, "kept_price_id": subscription.price_id,
                        "reason": message})
    return PlanChange("refused", changed.preview, None, message)


def _failure(session: Session, invoice_id: int) -> str:
    failed = [p for p in repository.payments_of_invoice(session, invoice_id) if p.status != PaymentStatus.SUCCEEDED]
    return failed[-1].failure_message if failed else ""
