"""Every query on seller_api_keys."""

from collections.abc import Sequence

from sqlmodel import Session, func, select

from billing_portal.models import SellerApiKey


def by_hash(session: Session, token_hash: str) -> SellerApiKey | None:
    return session.exec(select(SellerApiKey).where(SellerApiKey.token_hash == token_hash)).first()


def keys(session: Session, *, include_revoked: bool, limit: int) -> Sequence[SellerApiKey]:
    """Newest first."""
    query = select(SellerApiKey).order_by(SellerApiKey.id.desc()).limit(limit)
    if not include_revoked:
        query = query.where(SellerApiKey.revoked_at.is_(None))
    return session.exec(query).all()


def lock(session: Session, key_id: int) -> SellerApiKey | None:
    return session.exec(
        select(SellerApiKey).where(SellerApiKey.id == key_id).with_for_update().execution_options(populate_existing=True)
    ).first()


def key_page(session: Session, *, limit: int, offset: int) -> tuple[Sequence[SellerApiKey], int]:
    """One page of every key (revoked ones too), newest first, and how many there are."""
    total = session.exec(select(func.count()).select_from(SellerApiKey)).one()
    rows = session.exec(select(SellerApiKey).order_by(SellerApiKey.id.desc()).limit(limit).offset(offset)).all()
    return rows, total
