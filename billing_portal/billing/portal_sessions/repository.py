"""The queries of portal sign-in links."""

from datetime import datetime

from sqlmodel import Session, select, update

from billing_portal.models import Customer, PortalSession, User


def spend(session: Session, token_hash: str, now: datetime) -> PortalSession | None:
    """Mark the link used, once: a racing second opening finds it spent (conditional update)."""
    claimed = session.exec(
        update(PortalSession)
        .where(PortalSession.token_hash == token_hash, PortalSession.used_at.is_(None), PortalSession.expires_at > now)
        .values(used_at=now)
        .returning(PortalSession.id)
    ).first()
    return session.get(PortalSession, claimed[0]) if claimed else None


def by_token_hash(session: Session, token_hash: str) -> PortalSession | None:
    return session.exec(select(PortalSession).where(PortalSession.token_hash == token_hash)).first()


def user_of_customer(session: Session, customer_id: int) -> User | None:
    return session.exec(select(User).join(Customer, Customer.user_id == User.id)
                        .where(Customer.id == customer_id)).first()
