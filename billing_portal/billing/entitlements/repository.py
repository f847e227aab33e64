"""The one query entitlements adds: the past-due invoice the grace is for (oldest open one)."""

from sqlmodel import Session, select

from billing_portal.models import Invoice, InvoiceStatus


def oldest_open_invoice(session: Session, subscription_id: int) -> Invoice | None:
    return session.exec(
        select(Invoice).where(Invoice.subscription_id == subscription_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.id)
    ).first()
