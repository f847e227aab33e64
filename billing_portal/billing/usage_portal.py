"""Read model for /billing/usage: this period's metered usage and the customer's API keys. No Reflex.

Amounts are what the usage adds to the next invoice, tax included the way invoices add it
(portal's rule), in the customer's locale.
"""

from dataclasses import dataclass

from sqlmodel import Session

from billing_portal.billing import api_keys, usage
from billing_portal.billing.money import format_money
from billing_portal.billing.portal import _gross, _locale, _tax_rule, format_day, format_short_day
from billing_portal.billing.usage import MetricCharge


@dataclass(frozen=True)
class MeterRow:
    key: str
    label: str
    metric: str
    used_label: str  # "14,250"
    included_label: str  # "10,000"
    rate_label: str  # "₩2,000 per 1,000"
    amount_label: str  # what it adds to the next invoice
    detail: str  # one sentence: how the amount comes about
    percent: int  # used against the included units, 0..100
    over: bool
    earlier: bool  # recorded under terms the plan no longer has


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    created_label: str
    last_used_label: str


@dataclass(frozen=True)
class UsagePage:
    has_subscription: bool
    period_label: str = ""
    next_invoice_label: str = ""
    total_label: str = ""
    note: str = ""
    meters: tuple[MeterRow, ...] = ()
    keys: tuple[KeyRow, ...] = ()


def usage_page(session: Session, customer_id: int) -> UsagePage:
    keys = tuple(
        KeyRow(
            id=key.id, name=key.name, prefix=key.prefix, created_label=format_day(key.created_at),
            last_used_label=format_day(key.last_used_at) if key.last_used_at else "Never",
        )
        for key in api_keys.list_keys(session, customer_id)
    )
    summary = usage.summary(session, customer_id)
    if not summary.has_subscription:
        return UsagePage(has_subscription=False, keys=keys)
    locale, rule = _locale(session, customer_id), _tax_rule(session, customer_id, summary.currency)
    money = lambda amount: format_money(amount, summary.currency, locale)  # noqa: E731
    charged = lambda charge: 0 if summary.trial else _gross([charge.amount], rule, summary.currency)  # noqa: E731
    meters = tuple(
        _meter(charge, money, charged(charge), earlier=earlier)
        for earlier, charges in ((False, summary.metrics), (True, summary.earlier))
        for charge in charges
    )
    total = 0 if summary.trial else _gross([c.amount for c in summary.metrics + summary.earlier], rule, summary.currency)
    next_day = format_day(summary.period_end)
    note = (
        f"Usage during your trial is free: nothing is added to the invoice on {next_day}."
        if summary.trial
        else f"Billed on the invoice of {next_day}, with the next period of your plan."
    )
    return UsagePage(
        has_subscription=True,
        period_label=f"{format_short_day(summary.period_start)} – {format_short_day(summary.period_end)}",
        next_invoice_label=next_day,
        total_label=money(total),
        note=note,
        meters=meters,
        keys=keys,
    )


def _meter(charge: MetricCharge, money, amount: int, *, earlier: bool) -> MeterRow:
    over_by = max(0, charge.used - charge.included)
    if over_by:
        packages = "package" if charge.packages == 1 else "packages"
        detail = f"{over_by:,} over the included {charge.included:,}: {charge.packages:,} started {packages}."
    else:
        detail = f"{charge.included - charge.used:,} of the included {charge.included:,} left."
    if earlier:
        detail += " Recorded under your earlier terms."
    if charge.included:
        percent = min(100, charge.used * 100 // charge.included)
    else:
        percent = 100 if charge.used else 0
    return MeterRow(
        key=str(charge.metered_price_id),
        label=charge.label,
        metric=charge.metric,
        used_label=f"{charge.used:,}",
        included_label=f"{charge.included:,}",
        rate_label=f"{money(charge.package_amount)} per {charge.package_size:,}",
        amount_label=money(amount),
        detail=detail,
        percent=percent,
        over=bool(over_by),
        earlier=earlier,
    )
