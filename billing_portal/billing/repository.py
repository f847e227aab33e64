"""Every query the engine makes, in one place, so indexes can be checked against them."""

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from billing_portal.models import (
    CreditPack,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    Payment,
    Plan,
    Price,
    Refund,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
)

LIVE_SUBSCRIPTION_STATUSES = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.INCOMPLETE,
)


def active_plans(session: Session) -> Sequence[Plan]:
    return session.exec(select(Plan).where(Plan.active).order_by(Plan.tier, Plan.id)).all()


def active_prices(session: Session, *, currency: str) -> Sequence[Price]:
    return session.exec(
        select(Price).where(Price.active, Price.currency == currency).order_by(Price.id)
    ).all()


def active_currencies(session: Session) -> list[str]:
    return list(
        session.exec(select(Price.currency).where(Price.active).distinct().order_by(Price.currency))
    )


def plan_by_slug(session: Session, slug: str) -> Plan | None:
    return session.exec(select(Plan).where(Plan.slug == slug)).first()


def credit_pack_by_slug(session: Session, slug: str) -> CreditPack | None:
    return session.exec(select(CreditPack).where(CreditPack.slug == slug)).first()


def active_credit_packs(session: Session, *, currency: str) -> Sequence[CreditPack]:
    return session.exec(
        select(CreditPack)
        .where(CreditPack.active, CreditPack.currency == currency)
        .order_by(CreditPack.amount)
    ).all()


def price_is_used(session: Session, price_id: int) -> bool:
    used = select(func.count()).select_from(Subscription).where(
        (Subscription.price_id == price_id) | (Subscription.scheduled_price_id == price_id)
    )
    return session.exec(used).one() > 0


def live_subscription(session: Session, customer_id: int) -> Subscription | None:
    """The customer's one subscription that is not canceled (a customer has at most one)."""
    return session.exec(
        select(Subscription)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.status.in_(LIVE_SUBSCRIPTION_STATUSES),
        )
        .order_by(Subscription.id.desc())
    ).first()


def lock_subscription(session: Session, subscription_id: int) -> Subscription | None:
    return session.exec(
        select(Subscription).where(Subscription.id == subscription_id).with_for_update()
    ).first()


def lock_invoice(session: Session, invoice_id: int) -> Invoice | None:
    return session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()


def invoice_lines(session: Session, invoice_id: int) -> Sequence[InvoiceLine]:
    return session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
    ).all()


def next_invoice_number(session: Session, prefix: str) -> int:
    """Bump the counter for `prefix` inside the caller's transaction and return the new value.

    The UPDATE takes the row lock, so concurrent finalizations queue behind it and a rolled-back
    transaction gives its number back: numbers stay gapless and unique.
    """
    while True:
        bumped = session.exec(
            update(InvoiceNumberSequence)
            .where(InvoiceNumberSequence.prefix == prefix)
            .values(last_value=InvoiceNumberSequence.last_value + 1)
            .returning(InvoiceNumberSequence.last_value)
        ).first()
        if bumped is not None:
            return bumped[0]
        # First number for this prefix. A concurrent first insert makes ours fail on the primary
        # key once theirs commits; the loop then takes the UPDATE path.
        try:
            with session.begin_nested():
                session.add(InvoiceNumberSequence(prefix=prefix, last_value=1))
            return 1
        except IntegrityError:
            continue


def customer_invoices(session: Session, customer_id: int, *, limit: int, offset: int = 0) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def all_invoices(session: Session, *, limit: int, offset: int = 0, status: str | None = None) -> Sequence[Invoice]:
    query = select(Invoice)
    if status:
        query = query.where(Invoice.status == status)
    return session.exec(query.order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(limit).offset(offset)).all()


def invoice_by_key(session: Session, idempotency_key: str) -> Invoice | None:
    return session.exec(select(Invoice).where(Invoice.idempotency_key == idempotency_key)).first()


def customer_has_trialed(session: Session, customer_id: int) -> bool:
    trialed = select(func.count()).select_from(Subscription).where(
        Subscription.customer_id == customer_id, Subscription.trial_end.is_not(None)
    )
    return session.exec(trialed).one() > 0


def open_invoices_of(session: Session, subscription_id: int) -> Sequence[Invoice]:
    return session.exec(
        select(Invoice).where(Invoice.subscription_id == subscription_id, Invoice.status == "open")
    ).all()


def due_subscription_ids(session: Session, now, *, limit: int = 500) -> list[int]:
    """Subscriptions whose period has ended and that may need renewing (uses ix_subscriptions_due)."""
    return list(
        session.exec(
            select(Subscription.id)
            .where(
                Subscription.status.in_(("active", "past_due", "trialing", "paused")),
                Subscription.current_period_end <= now,
            )
            .order_by(Subscription.current_period_end)
            .limit(limit)
        )
    )


def payment_by_key(session: Session, idempotency_key: str) -> Payment | None:
    return session.exec(select(Payment).where(Payment.idempotency_key == idempotency_key)).first()


def lock_payment(session: Session, payment_id: int) -> Payment | None:
    return session.exec(select(Payment).where(Payment.id == payment_id).with_for_update()).first()


def refunded_amount(session: Session, payment_id: int) -> int:
    """What has left (or is leaving) a payment as refunds."""
    total = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.payment_id == payment_id,
        Refund.status.in_((RefundStatus.SUCCEEDED, RefundStatus.APPROVED)),
    )
    return session.exec(total).one()
