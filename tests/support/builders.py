"""Real objects built through the engine's services (never raw SQL), for tests to start from."""

from datetime import UTC, datetime

from sqlmodel import Session, select

from billing_portal.billing import accounts, catalog
from billing_portal.models import Customer, Plan, Price, Role

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def make_customer(
    session: Session, email: str = "ana@example.com", *, country: str = "", currency: str = "USD"
) -> Customer:
    user = accounts.create_user(
        session, email=email, password="correct horse battery", name="Ana Lima", role=Role.CUSTOMER
    )
    customer = session.exec(select(Customer).where(Customer.user_id == user.id)).one()
    customer.country, customer.preferred_currency = country, currency
    session.add(customer)
    session.flush()
    return customer


def make_plan(
    session: Session,
    slug: str,
    *,
    tier: int,
    prices: dict[tuple[str, str, int], int],
    trial_days: int = 0,
) -> tuple[Plan, dict[tuple[str, str, int], Price]]:
    """A plan with prices keyed (currency, interval, interval_count) -> unit amount."""
    plan = catalog.create_plan(session, slug=slug, name=slug.title(), tier=tier, features=[f"{slug} feature"])
    made = {
        key: catalog.create_price(
            session, plan_id=plan.id, currency=key[0], interval=key[1], interval_count=key[2],
            unit_amount=amount, trial_days=trial_days,
        )
        for key, amount in prices.items()
    }
    return plan, made


def make_admin(session: Session, email: str = "root@example.com") -> "accounts.CurrentUser":
    """An admin user, as the signed-in admin the services take."""
    user = accounts.create_user(session, email=email, password="correct horse battery", name="Root", role=Role.ADMIN)
    return accounts.CurrentUser(user_id=user.id, email=user.email, role=Role.ADMIN, customer_id=None, name="Root",
                                currency="USD", locale="en_US")
