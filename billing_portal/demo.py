"""Demo data: a catalog in USD and KRW, credit packs, a demo admin and a demo customer with a
year of KRW history (paid renewals, one failed payment then its retry, one partial refund).

Built only through the engine's services, so the demo obeys the same rules as real data.
Idempotent: what exists already is left alone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from billing_portal.billing import accounts, catalog, payments, repository, subscriptions, usage
from billing_portal.billing.errors import DomainError
from billing_portal.billing.periods import add_months
from billing_portal.models import CreditPack, Customer, Invoice, Price, Role, User
from billing_portal.models.types import utcnow

DEMO_CUSTOMER = ("demo@example.com", "demo-password-123")
DEMO_ADMIN = ("admin@example.com", "admin-password-123")

GB = 1024**3
# (slug, name, tier, description, features, projects, users, storage, monthly USD cents, monthly KRW)
PLANS = [
    ("free", "Free", 0, "For trying things out.", ["1 project", "1 user", "1 GB storage"], 1, 1, 1 * GB, 0, 0),
    ("starter", "Starter", 1, "For small teams getting going.",
     ["5 projects", "3 users", "10 GB storage", "Email support"], 5, 3, 10 * GB, 1200, 15000),
    ("pro", "Pro", 2, "For growing teams that ship every day.",
     ["25 projects", "10 users", "100 GB storage", "Priority support", "14-day free trial"],
     25, 10, 100 * GB, 2900, 39000),
    ("enterprise", "Enterprise", 3, "For organisations with many teams.",
     ["Unlimited projects", "Unlimited users", "1 TB storage", "Dedicated manager", "SLA"],
     None, None, 1024 * GB, 9900, 129000),
]
# Longer intervals are their own prices, discounted: a quarter saves 10 %, a year 20 %.
INTERVALS = [("month", 1, 100), ("month", 3, 90), ("month", 6, 85), ("year", 1, 80)]
HALF_YEAR_PLANS = {"pro"}  # the half-year is offered where a plan has it, not for every plan
TRIAL_PLANS = {"pro": 14}
PACKS = [
    ("credits-1000-usd", "1,000 credits", "USD", 1000, 1000, 100),
    ("credits-5000-usd", "5,000 credits", "USD", 4500, 5000, 750),
    ("credits-1000-krw", "1,000 credits", "KRW", 12000, 1000, 100),
    ("credits-5000-krw", "5,000 credits", "KRW", 55000, 5000, 750),
]
# Metered API calls on every paid plan: (plan, included calls); per started 1,000 past them,
# $2.00 or ₩2,000.
METERED = [("starter", 10_000), ("pro", 100_000), ("enterprise", 1_000_000)]
METER_PACKAGE = {"USD": 200, "KRW": 2000}
# The demo customer's calls this period, in five reports: 14,250 in all, so 5 packages are due.
DEMO_USAGE = [3200, 2750, 4100, 1900, 2300]


@dataclass(frozen=True)
class SeedReport:
    created_catalog: bool
    created_customer: bool
    created_admin: bool


def seed_demo(session: Session, *, now: datetime | None = None) -> SeedReport:
    now = now or utcnow()
    created_catalog = _seed_catalog(session)
    created_admin = _ensure_user(session, *DEMO_ADMIN, name="Demo Admin", role=Role.ADMIN) is not None
    customer_user = _ensure_user(session, *DEMO_CUSTOMER, name="김민준 Kim Min-jun", role=Role.CUSTOMER)
    if customer_user is not None:
        _seed_customer_history(session, customer_user, now)
    _seed_metering(session, now)
    return SeedReport(created_catalog, customer_user is not None, created_admin)


def _seed_catalog(session: Session) -> bool:
    if repository.plan_by_slug(session, "free"):
        return False
    for slug, name, tier, description, features, projects, users, storage, usd, krw in PLANS:
        plan = catalog.create_plan(
            session, slug=slug, name=name, tier=tier, description=description, features=features,
            max_projects=projects, max_users=users, storage_quota_bytes=storage,
        )
        for currency, monthly in (("USD", usd), ("KRW", krw)):
            for interval, count, percent in INTERVALS:
                if (interval, count) == ("month", 6) and slug not in HALF_YEAR_PLANS:
                    continue
                months = count * (12 if interval == "year" else 1)
                # KRW prices end in hundreds: no one quotes ₩405,01.
                step = 100 if currency == "KRW" else 1
                amount = monthly * months * percent // 100 // step * step
                catalog.create_price(
                    session, plan_id=plan.id, currency=currency, interval=interval, interval_count=count,
                    unit_amount=amount, trial_days=TRIAL_PLANS.get(slug, 0) if (interval, count) == ("month", 1) else 0,
                )
    for slug, name, currency, amount, credits, bonus in PACKS:
        session.add(CreditPack(slug=slug, name=name, currency=currency, amount=amount, credits=credits, bonus_credits=bonus))
    session.flush()
    return True


def _ensure_user(session: Session, email: str, password: str, *, name: str, role: Role) -> User | None:
    if session.exec(select(User).where(User.email == email)).first():
        return None
    return accounts.create_user(session, email=email, password=password, name=name, role=role)


def _seed_customer_history(session: Session, user: User, now: datetime) -> None:
    customer = session.exec(select(Customer).where(Customer.user_id == user.id)).one()
    customer.company = "한빛 스튜디오 Hanbit Studio"
    customer.address_line1 = "서울특별시 강남구 테헤란로 152"
    customer.city = "Seoul"
    customer.postal_code = "06236"
    customer.country = "KR"
    customer.tax_id = "220-81-62517"
    customer.preferred_currency = "KRW"
    customer.locale = "ko_KR"
    session.add(customer)
    session.flush()

    starter = repository.plan_by_slug(session, "starter")
    price = session.exec(
        select(Price).where(
            Price.plan_id == starter.id, Price.currency == "KRW", Price.interval == "month", Price.interval_count == 1
        )
    ).one()
    # Eleven renewals whatever today's date: the current (twelfth) period started about ten days ago.
    start = (add_months(now, -11) - timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    subscribed = subscriptions.subscribe(session, customer_id=customer.id, price_id=price.id, now=start)
    _pay(session, subscribed.invoice, start)
    subscription = subscribed.subscription
    month = 0
    while (invoice := subscriptions.renew(session, subscription.id, now=subscription.current_period_end)) is not None:
        month += 1
        paid_at = invoice.finalized_at
        if month == 5:  # a card declined, then the retry a day later went through
            payments.record_payment(
                session, invoice_id=invoice.id, idempotency_key=f"demo:invoice:{invoice.id}:attempt:1",
                succeeded=False, card_brand="visa", card_last4="0341", failure_code="card_declined",
                failure_message="Your card was declined.", now=paid_at,
            )
            paid_at += timedelta(days=1)
        payment = _pay(session, invoice, paid_at)
        if month == 8:
            payments.record_refund(
                session, payment_id=payment.id, amount=5000, reason="Service outage credit (demo)",
                now=paid_at + timedelta(days=3),
            )
        if subscription.current_period_end > now:
            break


def _pay(session: Session, invoice: Invoice, at: datetime):
    return payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=f"demo:invoice:{invoice.id}",
        succeeded=True, card_brand="visa", card_last4="4242", now=at,
    )


def _seed_metering(session: Session, now: datetime) -> None:
    """Meters on the paid plans, and usage of the demo customer this period: both idempotent
    (an active meter is left alone; usage reports carry fixed keys)."""
    for slug, included in METERED:
        plan = repository.plan_by_slug(session, slug)
        for currency, amount in METER_PACKAGE.items():
            if plan and not repository.active_metered_price(session, plan_id=plan.id, metric="api_calls", currency=currency):
                catalog.create_metered_price(
                    session, plan_id=plan.id, metric="api_calls", label="API calls", currency=currency,
                    package_size=1000, package_amount=amount, included_units=included,
                )
    customer = repository.customer_by_email(session, DEMO_CUSTOMER[0])
    subscription = repository.live_subscription(session, customer.id) if customer else None
    if subscription is None or subscription.status not in usage.RECORDING_STATUSES:
        return
    start = subscription.current_period_start
    step = (min(now, subscription.current_period_end) - start) / (len(DEMO_USAGE) + 1)
    for n, quantity in enumerate(DEMO_USAGE, start=1):
        try:
            usage.record_usage(session, customer.id, "api_calls", quantity, f"demo:usage:{n}", start + step * n, now=now)
        except DomainError:  # the demo customer's plan has no meter now: nothing to show
            return
