"""Every query of the seller API: lookups and newest-first pages by id (the cursor is an id)."""

from collections.abc import Sequence

from sqlmodel import Session, select

from billing_portal.models import (
    ApiIdempotencyRecord, Customer, InvoiceLine, MeteredPrice, Price, User,
)


def page(session: Session, model, *filters, limit: int, starting_after: int | None) -> tuple[Sequence, bool]:
    """Up to `limit` rows of `model` newest first (by id) after the cursor, and whether more follow."""
    query = select(model).where(*filters)
    if starting_after is not None:
        query = query.where(model.id < starting_after)
    rows = session.exec(query.order_by(model.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def customers_page(session: Session, *filters, limit: int, starting_after: int | None) -> tuple[Sequence, bool]:
    """(customer, email) rows, newest first."""
    query = select(Customer, User.email).join(User, User.id == Customer.user_id).where(*filters)
    if starting_after is not None:
        query = query.where(Customer.id < starting_after)
    rows = session.exec(query.order_by(Customer.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def email_of(session: Session, customer: Customer) -> str:
    return session.exec(select(User.email).where(User.id == customer.user_id)).one()


def user_id_by_email(session: Session, email: str) -> int | None:
    return session.exec(select(User.id).where(User.email == email)).first()


def customer_of_user(session: Session, user_id: int) -> Customer:
    return session.exec(select(Customer).where(Customer.user_id == user_id)).one()


def customer_by_external_id(session: Session, external_id: str) -> Customer | None:
    return session.exec(select(Customer).where(Customer.external_id == external_id)).first()


def prices_of(session: Session, plan_ids: list[int]) -> Sequence[Price]:
    return session.exec(select(Price).where(Price.plan_id.in_(plan_ids)).order_by(Price.id)).all()


def metered_prices_of(session: Session, plan_ids: list[int]) -> Sequence[MeteredPrice]:
    return session.exec(
        select(MeteredPrice).where(MeteredPrice.plan_id.in_(plan_ids), MeteredPrice.active).order_by(MeteredPrice.id)
    ).all()


def plan_ids_of_prices(session: Session, price_ids: set[int]) -> dict[int, int]:
    if not price_ids:
        return {}
    return dict(session.exec(select(Price.id, Price.plan_id).where(Price.id.in_(price_ids))).all())


def lines_of(session: Session, invoice_ids: list[int]) -> Sequence[InvoiceLine]:
    if not invoice_ids:
        return []
    return session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(invoice_ids)).order_by(InvoiceLine.id)).all()


def idempotency_record(session: Session, key_id: int, idempotency_key: str) -> ApiIdempotencyRecord | None:
    return session.exec(select(ApiIdempotencyRecord).where(
        ApiIdempotencyRecord.key_id == key_id, ApiIdempotencyRecord.idempotency_key == idempotency_key)).first()

