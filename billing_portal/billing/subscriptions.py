"""Subscription use cases: subscribe, change, cancel, resume, pause, renew.

Each function runs inside the caller's transaction, checks the step against the state machine
(billing/lifecycle.py) before touching anything, and returns what changed. Periods come from
billing/periods.py anchored to the subscription's billing anchor, so they never drift.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from billing_portal.billing import invoices, outgoing_webhooks, repository, usage
from billing_portal.billing.catalog import months_in, period_label, sellable_price
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.lifecycle import Event, next_status
from billing_portal.billing.periods import period_end
from billing_portal.billing.proration import ProrationLine, preview_change
from billing_portal.models import Invoice, InvoiceStatus, Plan, Price, Subscription
from billing_portal.models import SubscriptionStatus as S
from billing_portal.models.types import utcnow
from billing_portal.settings import get_settings

MAX_QUANTITY = 10_000
MAX_REASON = 500
MAX_PAUSE_DAYS = 365


@dataclass(frozen=True)
class Subscribed:
    subscription: Subscription
    invoice: Invoice | None  # the first invoice to pay; None during a trial


@dataclass(frozen=True)
class ChangePreview:
    currency: str
    lines: tuple[ProrationLine, ...]
    amount_due: int
    credit_carried: int
    effective: str  # "now" or "period_end"
    effective_at: datetime
    recurring_amount: int  # what each period costs after the change
    recurring_label: str  # e.g. "every 3 months"
    next_renewal_at: datetime


@dataclass(frozen=True)
class Changed:
    preview: ChangePreview
    invoice: Invoice | None  # the proration invoice to pay, when the change applies now


def subscribe(
    session: Session, *, customer_id: int, price_id: int, quantity: int = 1, now: datetime | None = None
) -> Subscribed:
    """Start a trial, or an incomplete subscription with its first invoice (active once paid).

    Asking again for the same price and quantity while the first payment is pending returns the
    same subscription and invoice, so a customer retrying with another card pays one invoice.
    """
    now = now or utcnow()
    price, plan = sellable_price(session, price_id)
    _check_quantity(quantity)
    live = repository.live_subscription(session, customer_id)
    if live and live.status == S.INCOMPLETE:
        if (live.price_id, live.quantity) == (price_id, quantity):
            return Subscribed(live, repository.invoice_by_key(session, _first_invoice_key(live)))
        _abandon_incomplete(session, live, now)
    elif live:
        raise DomainError("You already have a subscription: change its plan instead.")

    if price.trial_days and not repository.customer_has_trialed(session, customer_id):
        trial_end = now + timedelta(days=price.trial_days)
        subscription = Subscription(
            customer_id=customer_id,
            price_id=price_id,
            quantity=quantity,
            status=next_status(S.INCOMPLETE, Event.TRIAL_STARTED),
            current_period_start=now,
            current_period_end=trial_end,
            billing_anchor=trial_end,
            trial_end=trial_end,
        )
        session.add(subscription)
        session.flush()
        outgoing_webhooks.service.emit(session, "subscription.created", subscription, now=now)
        return Subscribed(subscription, None)

    subscription = Subscription(
        customer_id=customer_id,
        price_id=price_id,
        quantity=quantity,
        status=S.INCOMPLETE,
        current_period_start=now,
        current_period_end=period_end(now, price.interval, price.interval_count),
        billing_anchor=now,
    )
    session.add(subscription)
    session.flush()
    invoice = _period_invoice(
        session, subscription, price, plan, key=_first_invoice_key(subscription), reason="subscription_create", now=now
    )
    if invoice.status == InvoiceStatus.PAID:  # a free plan: nothing to collect
        subscription.status = next_status(subscription.status, Event.FIRST_PAYMENT_SUCCEEDED)
        session.add(subscription)
    outgoing_webhooks.service.emit(session, "subscription.created", subscription, now=now)
    return Subscribed(subscription, invoice)


def invoice_paid(session: Session, invoice: Invoice) -> Subscription | None:
    """Move the invoice's subscription on once its invoice is paid (payments call this)."""
    if invoice.subscription_id is None or invoice.status != InvoiceStatus.PAID:
        return None
    subscription = _locked(session, invoice.subscription_id)
    event = {
        S.INCOMPLETE: Event.FIRST_PAYMENT_SUCCEEDED,
        S.TRIALING: Event.TRIAL_CONVERTED,
        S.PAST_DUE: Event.PAYMENT_RECOVERED,
        S.ACTIVE: Event.PAYMENT_RECOVERED,
    }.get(subscription.status)
    if event is None:
        return subscription
    subscription.status = next_status(subscription.status, event)
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription)
    return subscription


def invoice_payment_failed(session: Session, invoice: Invoice) -> Subscription | None:
    if invoice.subscription_id is None:
        return None
    subscription = _locked(session, invoice.subscription_id)
    if subscription.status in (S.PAUSED, S.CANCELED):
        return subscription  # the failed attempt is recorded; the subscription stays as it is
    event = Event.FIRST_PAYMENT_FAILED if subscription.status == S.INCOMPLETE else Event.PAYMENT_FAILED
    subscription.status = next_status(subscription.status, event)
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(
        session, "subscription.past_due" if subscription.status == S.PAST_DUE else "subscription.updated", subscription)
    return subscription


def preview(
    session: Session, subscription_id: int, *, price_id: int, quantity: int, now: datetime | None = None
) -> ChangePreview:
    """What a change would cost, changing nothing."""
    now = now or utcnow()
    subscription = _get(session, subscription_id)
    next_status(subscription.status, Event.CHANGE_PLAN)  # refused exactly where change() refuses
    return _preview(session, subscription, price_id, quantity, now)


def change(
    session: Session, subscription_id: int, *, price_id: int, quantity: int, now: datetime | None = None
) -> Changed:
    """Upgrades apply now with a proration invoice; downgrades wait for the period end (setting).

    During a trial nothing is charged: the new price applies at once and is first charged when the
    trial ends. A downgrade applied now whose credit exceeds the charge issues no invoice.
    """
    now = now or utcnow()
    subscription = _locked(session, subscription_id)
    next_status(subscription.status, Event.CHANGE_PLAN)
    result = _preview(session, subscription, price_id, quantity, now)
    if result.effective == "period_end":
        subscription.scheduled_price_id, subscription.scheduled_quantity = price_id, quantity
        session.add(subscription)
        session.flush()
        outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
        return Changed(result, None)

    new_price, new_plan = sellable_price(session, price_id)
    old_price = session.get(Price, subscription.price_id)
    invoice = None
    if subscription.status != S.TRIALING:
        if (old_price.interval, old_price.interval_count) != (new_price.interval, new_price.interval_count):
            # The period restarts now: the usage of the part that ends is billed now.
            _usage_invoice(session, subscription, subscription.current_period_start, now, now)
            subscription.billing_anchor = now
            subscription.current_period_start = now
            subscription.current_period_end = period_end(now, new_price.interval, new_price.interval_count)
    if subscription.status != S.TRIALING and result.credit_carried == 0:
        # When the credit wins (a downgrade applied now) nothing is due and no invoice is issued:
        # an invoice cannot total less than zero. The credit is reported in preview.credit_carried.
        lines = [
            DraftLine(
                description=line.description,
                unit_amount=line.amount,
                period_start=line.period_start,
                period_end=line.period_end,
                proration=True,
            )
            for line in result.lines
        ]
        draft = invoices.create_draft(
            session,
            customer_id=subscription.customer_id,
            currency=new_price.currency,
            lines=lines,
            subscription_id=subscription.id,
            billing_reason="subscription_update",
            idempotency_key=f"subscription_update:{subscription.id}:{now.isoformat()}",
            now=now,
        )
        invoice = invoices.finalize(session, draft.id, now=now)
    subscription.price_id, subscription.quantity = price_id, quantity
    subscription.scheduled_price_id = subscription.scheduled_quantity = None
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
    return Changed(result, invoice)


def cancel(
    session: Session,
    subscription_id: int,
    *,
    at_period_end: bool,
    reason: str,
    now: datetime | None = None,
) -> Subscription:
    now = now or utcnow()
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise DomainError(f"Keep the reason under {MAX_REASON} characters.")
    subscription = _locked(session, subscription_id)
    if at_period_end:
        subscription.status = next_status(subscription.status, Event.SCHEDULE_CANCEL)
        if subscription.cancel_at_period_end:
            raise DomainError("This subscription already ends at the end of its period.")
        subscription.cancel_at_period_end = True
    else:
        subscription.status = next_status(subscription.status, Event.CANCEL_NOW)
        subscription.canceled_at = now
        _void_unpaid_invoices(session, subscription, now)
        _usage_invoice(session, subscription, subscription.current_period_start, now, now)
    subscription.cancel_reason = reason
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(
        session, "subscription.updated" if at_period_end else "subscription.canceled", subscription, now=now)
    return subscription


def resume(session: Session, subscription_id: int, *, now: datetime | None = None) -> Subscription:
    """Take back a cancellation at period end, while the period still runs."""
    now = now or utcnow()
    subscription = _locked(session, subscription_id)
    subscription.status = next_status(subscription.status, Event.UNDO_CANCEL)
    if not subscription.cancel_at_period_end:
        raise DomainError("This subscription is not set to end, so there is nothing to resume.")
    if now >= subscription.current_period_end:
        raise DomainError("The period has ended already: subscribe again instead.")
    subscription.cancel_at_period_end = False
    subscription.cancel_reason = ""
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
    return subscription


def pause(
    session: Session, subscription_id: int, *, resume_at: datetime | None = None, now: datetime | None = None
) -> Subscription:
    """Stop renewals until unpaused (by hand, or at resume_at by the renewal job)."""
    now = now or utcnow()
    subscription = _locked(session, subscription_id)
    status = next_status(subscription.status, Event.PAUSE)
    if resume_at is not None and not now < resume_at <= now + timedelta(days=MAX_PAUSE_DAYS):
        raise DomainError(f"Pick a resume date in the next {MAX_PAUSE_DAYS} days.")
    if subscription.cancel_at_period_end:
        raise DomainError("This subscription ends at the end of its period: resume it before pausing.")
    subscription.status = status
    subscription.paused_at, subscription.resume_at = now, resume_at
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
    return subscription


def unpause(session: Session, subscription_id: int, *, now: datetime | None = None) -> Invoice | None:
    """Active again. If the period ran out while paused, a new one starts now and is invoiced."""
    now = now or utcnow()
    subscription = _locked(session, subscription_id)
    subscription.status = next_status(subscription.status, Event.UNPAUSE)
    subscription.paused_at = subscription.resume_at = None
    invoice = None
    if now >= subscription.current_period_end:
        price, plan = _price_and_plan(session, subscription.price_id)
        past = (subscription.current_period_start, subscription.current_period_end)
        subscription.billing_anchor = subscription.current_period_start = now
        subscription.current_period_end = period_end(now, price.interval, price.interval_count)
        invoice = _period_invoice(
            session, subscription, price, plan,
            key=f"renewal:{subscription.id}:{now.isoformat()}", reason="subscription_cycle", now=now,
            usage_period=past,
        )
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
    return invoice


def renew(session: Session, subscription_id: int, *, now: datetime | None = None) -> Invoice | None:
    """Roll one period that has ended and invoice the next; nothing when nothing is due.

    Idempotent: the period moves in the same transaction as the invoice, and the invoice's key
    names the period it bills. A job calls it until it returns None for every due subscription.
    """
    now = now or utcnow()
    subscription = _locked(session, subscription_id)
    if subscription.status == S.PAUSED:
        # Checked before the period end: resume_at may fall inside the paid period.
        if subscription.resume_at and subscription.resume_at <= now:
            return unpause(session, subscription_id, now=now)
        return None
    if subscription.current_period_end > now or subscription.status in (S.CANCELED, S.INCOMPLETE):
        return None
    if subscription.cancel_at_period_end:
        subscription.status = next_status(subscription.status, Event.PERIOD_END_CANCEL)
        subscription.canceled_at = subscription.current_period_end
        session.add(subscription)
        session.flush()
        outgoing_webhooks.service.emit(session, "subscription.canceled", subscription, now=now)
        _usage_invoice(session, subscription, subscription.current_period_start, subscription.current_period_end, now)
        return None

    if subscription.scheduled_price_id:
        old_price = session.get(Price, subscription.price_id)
        new_price = session.get(Price, subscription.scheduled_price_id)
        if (old_price.interval, old_price.interval_count) != (new_price.interval, new_price.interval_count):
            subscription.billing_anchor = subscription.current_period_end
        subscription.price_id = subscription.scheduled_price_id
        subscription.quantity = subscription.scheduled_quantity or subscription.quantity
        subscription.scheduled_price_id = subscription.scheduled_quantity = None
    price, plan = _price_and_plan(session, subscription.price_id)
    past = (subscription.current_period_start, subscription.current_period_end)
    start = subscription.current_period_end
    subscription.current_period_start = start
    subscription.current_period_end = period_end(
        start, price.interval, price.interval_count, subscription.billing_anchor.day
    )
    if subscription.status != S.TRIALING:
        subscription.status = next_status(subscription.status, Event.RENEWED)
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.updated", subscription, now=now)
    invoice = _period_invoice(
        session, subscription, price, plan,
        key=f"renewal:{subscription.id}:{start.isoformat()}", reason="subscription_cycle", now=now,
        usage_period=past,
    )
    if invoice.status == InvoiceStatus.PAID and subscription.status == S.TRIALING:
        invoice_paid(session, invoice)  # a free price: nothing to collect, so the trial converts now
    return invoice


def _preview(session: Session, subscription: Subscription, price_id: int, quantity: int, now: datetime) -> ChangePreview:
    _check_quantity(quantity)
    if subscription.status in (S.CANCELED, S.INCOMPLETE):
        raise DomainError("Only a running subscription can change plan.")
    new_price, new_plan = sellable_price(session, price_id)
    old_price, old_plan = _price_and_plan(session, subscription.price_id)
    if new_price.currency != old_price.currency:
        raise DomainError(f"Your subscription is billed in {old_price.currency}; pick a price in that currency.")
    if (price_id, quantity) == (subscription.price_id, subscription.quantity):
        raise DomainError("That is your current plan and quantity already.")
    new_total = new_price.unit_amount * quantity
    label = period_label(new_price.interval, new_price.interval_count)
    if subscription.status == S.TRIALING:
        # Nothing was paid for the trial, so nothing is prorated: the new price applies now and is
        # first charged when the trial ends.
        return ChangePreview(
            currency=new_price.currency, lines=(), amount_due=0, credit_carried=0, effective="now",
            effective_at=now, recurring_amount=new_total, recurring_label=label,
            next_renewal_at=subscription.current_period_end,
        )
    old_total = old_price.unit_amount * subscription.quantity
    new_months = months_in(new_price.interval, new_price.interval_count)
    old_months = months_in(old_price.interval, old_price.interval_count)
    # Compare cost per month without division: a cheaper plan is a downgrade.
    downgrade = new_total * old_months < old_total * new_months
    same_interval = new_months == old_months and new_price.interval == old_price.interval
    if downgrade and get_settings().downgrade_at_period_end:
        effective_at = subscription.current_period_end
        return ChangePreview(
            currency=new_price.currency, lines=(), amount_due=0, credit_carried=0,
            effective="period_end", effective_at=effective_at, recurring_amount=new_total,
            recurring_label=label,
            next_renewal_at=period_end(effective_at, new_price.interval, new_price.interval_count),
        )
    new_period = (
        (subscription.current_period_start, subscription.current_period_end)
        if same_interval
        else (now, period_end(now, new_price.interval, new_price.interval_count))
    )
    result = preview_change(
        currency=new_price.currency,
        old_amount=old_total,
        old_period=(subscription.current_period_start, subscription.current_period_end),
        new_amount=new_total,
        new_period=new_period,
        change_at=now,
        old_description=f"Unused time on {old_plan.name} × {subscription.quantity}",
        new_description=f"Remaining time on {new_plan.name} × {quantity}",
    )
    return ChangePreview(
        currency=result.currency, lines=result.lines, amount_due=result.amount_due,
        credit_carried=result.credit_carried, effective="now", effective_at=now,
        recurring_amount=new_total,
        recurring_label=period_label(new_price.interval, new_price.interval_count),
        next_renewal_at=new_period[1],
    )


def _period_invoice(
    session: Session, subscription: Subscription, price: Price, plan: Plan, *, key: str, reason: str, now: datetime,
    usage_period: tuple[datetime, datetime] | None = None,
) -> Invoice:
    """The invoice for the subscription's current period, plus the metered usage of
    `usage_period` (the period that just closed), which is billed in arrears."""
    existing = repository.invoice_by_key(session, key)
    if existing:
        return existing
    draft = invoices.create_draft(
        session,
        customer_id=subscription.customer_id,
        currency=price.currency,
        lines=[
            DraftLine(
                description=f"{plan.name} ({period_label(price.interval, price.interval_count)})",
                unit_amount=price.unit_amount,
                quantity=subscription.quantity,
                period_start=subscription.current_period_start,
                period_end=subscription.current_period_end,
            ),
            *(usage.usage_lines(session, subscription, *usage_period) if usage_period else ()),
        ],
        subscription_id=subscription.id,
        billing_reason=reason,
        idempotency_key=key,
        now=now,
    )
    invoices.carry_small_invoices(session, draft, now=now)
    invoice = invoices.finalize(session, draft.id, now=now)
    if reason == "subscription_cycle" and invoice.status == InvoiceStatus.OPEN:
        # Renewals are charged off-session to the saved card (billing/dunning.py); the first
        # invoice is paid on-session at checkout instead.
        invoice.next_collection_at = now
        session.add(invoice)
        session.flush()
    return invoice


def _usage_invoice(session: Session, subscription: Subscription, start: datetime, end: datetime, now: datetime) -> Invoice | None:
    """The usage of [start, end) on its own invoice, when a period ends without a renewal to carry
    it: the plan ends (at the period end or now) or its period restarts (an interval change)."""
    key = f"usage:{subscription.id}:{start.isoformat()}"
    lines = usage.usage_lines(session, subscription, start, end)
    if not lines or repository.invoice_by_key(session, key):
        return None
    draft = invoices.create_draft(
        session, customer_id=subscription.customer_id, currency=session.get(Price, subscription.price_id).currency,
        lines=lines, subscription_id=subscription.id, billing_reason="subscription_usage", idempotency_key=key,
        now=now,
    )
    return invoices.finalize(session, draft.id, now=now)


def _abandon_incomplete(session: Session, subscription: Subscription, now: datetime) -> None:
    subscription.status = next_status(subscription.status, Event.CANCEL_NOW)
    subscription.canceled_at, subscription.cancel_reason = now, "replaced before the first payment"
    _void_unpaid_invoices(session, subscription, now)
    session.add(subscription)
    session.flush()
    outgoing_webhooks.service.emit(session, "subscription.canceled", subscription, now=now)


def _void_unpaid_invoices(session: Session, subscription: Subscription, now: datetime) -> None:
    for invoice in repository.open_invoices_of(session, subscription.id):
        if invoice.amount_paid == 0:
            invoices.void(session, invoice.id, now=now)


def _first_invoice_key(subscription: Subscription) -> str:
    return f"subscription_create:{subscription.id}"


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise DomainError(f"The quantity is a whole number from 1 to {MAX_QUANTITY}.")


def _price_and_plan(session: Session, price_id: int) -> tuple[Price, Plan]:
    price = session.get(Price, price_id)
    return price, session.get(Plan, price.plan_id)


def _get(session: Session, subscription_id: int) -> Subscription:
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound("No such subscription.")
    return subscription


def _locked(session: Session, subscription_id: int) -> Subscription:
    subscription = repository.lock_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound("No such subscription.")
    return subscription
