"""The catalog: what the pricing page shows and what admins change.

A price that any subscription has used is never edited, only archived and replaced, so every
invoice and subscription keeps pointing at the terms it was sold under.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from billing_portal.billing import repository
from billing_portal.billing.errors import DomainError
from billing_portal.billing.money import format_money, round_half_up
from billing_portal.gateways import stripe_currencies
from billing_portal.models import Interval, MeteredPrice, Plan, Price
from billing_portal.models.types import utcnow

PRICING_INTERVALS: list[tuple[str, int, str]] = [
    (Interval.MONTH.value, 1, "Monthly"),
    (Interval.MONTH.value, 3, "Quarterly"),
    (Interval.MONTH.value, 6, "Half-yearly"),
    (Interval.YEAR.value, 1, "Annual"),
]
# Offered on the pricing page only where an active plan has an active price for it (the others
# always show, so the page's layout does not jump between currencies).
OPTIONAL_INTERVALS = {(Interval.MONTH.value, 6)}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_PACKAGE_SIZE = 10**9
MAX_INTERVAL_COUNT = 36


@dataclass(frozen=True)
class PricingCard:
    plan_slug: str
    plan_name: str
    tier: int
    description: str
    features: list[str]
    price_id: int | None
    price_label: str
    period_label: str
    monthly_equivalent_label: str
    savings_percent: int
    is_free: bool
    is_current: bool


def months_in(interval: str, interval_count: int) -> int:
    return interval_count * (12 if interval == Interval.YEAR else 1)


def period_label(interval: str, interval_count: int) -> str:
    if interval_count == 1:
        return f"per {interval}"
    return f"every {interval_count} {interval}s"


def pricing_currencies(session: Session) -> list[str]:
    return repository.active_currencies(session)


def pricing_intervals(session: Session, *, currency: str) -> list[tuple[str, int, str]]:
    """The intervals the pricing page offers in this currency: the half-year only where priced."""
    priced = {(p.interval, p.interval_count) for p in repository.active_prices(session, currency=currency.upper())
              if p.plan_id in {plan.id for plan in repository.active_plans(session)}}
    return [row for row in PRICING_INTERVALS if (row[0], row[1]) not in OPTIONAL_INTERVALS or row[:2] in priced]


def pricing_table(
    session: Session,
    *,
    currency: str,
    interval: str,
    interval_count: int,
    locale: str,
    customer_id: int | None = None,
) -> list[PricingCard]:
    """One card per active plan that has an active price for this currency and interval."""
    currency = currency.upper()
    prices = repository.active_prices(session, currency=currency)
    by_plan: dict[tuple[int, str, int], Price] = {
        (p.plan_id, p.interval, p.interval_count): p for p in prices
    }
    current = repository.live_subscription(session, customer_id) if customer_id else None
    current_plan_id = session.get(Price, current.price_id).plan_id if current else None
    months = months_in(interval, interval_count)

    cards = []
    for plan in repository.active_plans(session):
        price = by_plan.get((plan.id, interval, interval_count))
        if price is None:
            continue
        monthly = by_plan.get((plan.id, Interval.MONTH.value, 1))
        cards.append(
            PricingCard(
                plan_slug=plan.slug,
                plan_name=plan.name,
                tier=plan.tier,
                description=plan.description,
                features=list(plan.features),
                price_id=price.id,
                price_label=format_money(price.unit_amount, currency, locale),
                period_label=period_label(interval, interval_count),
                monthly_equivalent_label=(
                    f"{format_money(round_half_up(Decimal(price.unit_amount) / months), currency, locale)} / month"
                    if months > 1 and price.unit_amount
                    else ""
                ),
                savings_percent=savings_percent(price.unit_amount, monthly.unit_amount if monthly else 0, months),
                is_free=price.unit_amount == 0,
                is_current=plan.id == current_plan_id,
            )
        )
    return cards


def savings_percent(amount: int, monthly_amount: int, months: int) -> int:
    """Whole percent saved against paying monthly for the same months (0 when nothing is saved)."""
    full = monthly_amount * months
    if months <= 1 or full <= 0 or amount >= full:
        return 0
    return round_half_up(Decimal(full - amount) * 100 / full)


def create_plan(
    session: Session,
    *,
    slug: str,
    name: str,
    tier: int,
    description: str = "",
    features: list[str] | None = None,
    max_projects: int | None = None,
    max_users: int | None = None,
    storage_quota_bytes: int | None = None,
) -> Plan:
    if not _SLUG.match(slug):
        raise DomainError("A plan slug is 1–64 lowercase letters, digits or hyphens.")
    if repository.plan_by_slug(session, slug):
        raise DomainError(f"A plan with the slug {slug!r} exists already.")
    plan = Plan(slug=slug, tier=tier)
    _apply_plan_fields(
        plan,
        name=name,
        description=description,
        features=features or [],
        max_projects=max_projects,
        max_users=max_users,
        storage_quota_bytes=storage_quota_bytes,
    )
    session.add(plan)
    session.flush()
    return plan


def update_plan(session: Session, plan_id: int, **fields) -> Plan:
    """Name, description, features and limits may change; the slug never does."""
    plan = _get(session, Plan, plan_id, "plan")
    _apply_plan_fields(plan, **fields)
    session.add(plan)
    session.flush()
    return plan


def archive_plan(session: Session, plan_id: int) -> Plan:
    plan = _get(session, Plan, plan_id, "plan")
    plan.active = False
    session.add(plan)
    session.flush()
    return plan


def sellable_currency(currency: str) -> str:
    """A current ISO 4217 code that Stripe takes (InvalidAmount with a message otherwise)."""
    return stripe_currencies.stripe_currency(str(currency)).code


def create_price(
    session: Session,
    *,
    plan_id: int,
    currency: str,
    interval: str,
    interval_count: int,
    unit_amount: int,
    trial_days: int = 0,
) -> Price:
    _get(session, Plan, plan_id, "plan")
    currency = sellable_currency(currency)
    if interval not in (Interval.MONTH, Interval.YEAR):
        raise DomainError("The interval is month or year.")
    _check_int(interval_count, "The interval count", 1, MAX_INTERVAL_COUNT)
    _check_int(unit_amount, "The amount", 0, 10**15)
    _check_price_amount(unit_amount, currency)
    _check_int(trial_days, "Trial days", 0, 730)
    price = Price(
        plan_id=plan_id,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        unit_amount=unit_amount,
        trial_days=trial_days,
    )
    session.add(price)
    session.flush()
    return price


def update_price(session: Session, price_id: int, *, unit_amount: int, trial_days: int) -> Price:
    price = _get(session, Price, price_id, "price")
    if repository.price_is_used(session, price_id):
        raise DomainError("This price has been used by a subscription: archive it and add a new one.")
    _check_int(unit_amount, "The amount", 0, 10**15)
    _check_price_amount(unit_amount, price.currency)
    _check_int(trial_days, "Trial days", 0, 730)
    price.unit_amount, price.trial_days = unit_amount, trial_days
    session.add(price)
    session.flush()
    return price


def archive_price(session: Session, price_id: int) -> Price:
    price = _get(session, Price, price_id, "price")
    price.active = False
    price.archived_at = utcnow()
    session.add(price)
    session.flush()
    return price


def create_metered_price(
    session: Session,
    *,
    plan_id: int,
    metric: str,
    label: str,
    currency: str,
    package_size: int,
    package_amount: int,
    included_units: int = 0,
) -> MeteredPrice:
    """Charge `package_amount` per started package of `package_size` units past `included_units`.

    One active price per plan, metric and currency: archive the old one to replace it.
    """
    _get(session, Plan, plan_id, "plan")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise DomainError("A metric name is 1–64 lowercase letters, digits or underscores, starting with a letter.")
    label = " ".join(str(label).split())
    if not 1 <= len(label) <= 100:
        raise DomainError("A metric label is 1–100 characters.")
    currency = sellable_currency(currency)
    _check_int(package_size, "The package size", 1, MAX_PACKAGE_SIZE)
    _check_int(package_amount, "The package amount", 0, 10**15)
    stripe_currencies.check_chargeable(package_amount, currency, "A package price")
    _check_int(included_units, "Included units", 0, 10**15)
    if repository.active_metered_price(session, plan_id=plan_id, metric=metric, currency=currency):
        raise DomainError(f"This plan already has an active {currency} price for {metric}: archive it first.")
    price = MeteredPrice(
        plan_id=plan_id, metric=metric, label=label, currency=currency, package_size=package_size,
        package_amount=package_amount, included_units=included_units,
    )
    session.add(price)
    session.flush()
    return price


def archive_metered_price(session: Session, metered_price_id: int) -> MeteredPrice:
    """No new usage is recorded under it; usage recorded already is still billed on its terms."""
    price = _get(session, MeteredPrice, metered_price_id, "metered price")
    price.active = False
    price.archived_at = price.archived_at or utcnow()
    session.add(price)
    session.flush()
    return price


def sellable_price(session: Session, price_id: int) -> tuple[Price, Plan]:
    """The active price and plan a customer may subscribe to, or a clear error."""
    price = session.get(Price, price_id)
    plan = session.get(Plan, price.plan_id) if price else None
    if price is None or not price.active or plan is None or not plan.active:
        raise DomainError("This price is not available. Pick a plan on the pricing page.")
    return price, plan


def _apply_plan_fields(plan: Plan, **fields) -> None:
    allowed = {"name", "description", "features", "max_projects", "max_users", "storage_quota_bytes"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(f"These plan fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        name = " ".join(str(fields["name"]).split())
        if not 1 <= len(name) <= 100:
            raise DomainError("A plan name is 1–100 characters.")
        plan.name = name
    if "description" in fields:
        if len(fields["description"]) > 500:
            raise DomainError("A plan description is at most 500 characters.")
        plan.description = fields["description"]
    if "features" in fields:
        plan.features = [str(f).strip() for f in fields["features"] if str(f).strip()]
    for limit in ("max_projects", "max_users", "storage_quota_bytes"):
        if limit in fields:
            if fields[limit] is not None:
                _check_int(fields[limit], limit.replace("_", " ").capitalize(), 0, 2**62)
            setattr(plan, limit, fields[limit])


def _check_price_amount(amount: int, currency: str) -> None:
    """What Stripe would refuse to charge: a fraction of its unit, or a (non-free) price under its
    minimum charge, which could never be charged on its own."""
    stripe_currencies.check_chargeable(amount, currency, "A price")
    minimum = stripe_currencies.stripe_currency(currency).minimum
    if stripe_currencies.below_minimum(amount, currency):
        raise DomainError(f"A price under {format_money(minimum, currency)} cannot be charged by card in {currency}.")


def _check_int(value, label: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(f"{label} must be a whole number.")
    if not low <= value <= high:
        raise DomainError(f"{label} must be between {low} and {high}.")


def _get(session: Session, model, object_id: int, label: str):
    obj = session.get(model, object_id)
    if obj is None:
        raise DomainError(f"No such {label}.")
    return obj
