"""Proration: a plan change mid-period is billed by the second.

When a subscription changes at `change_at`, the customer gets a credit for the unused time of the
old period, -round_half_up(old_amount * seconds(change_at -> old_end) / seconds(old period)), and
a charge for the remaining time of the new one, round_half_up(new_amount * seconds(change_at ->
new_end) / seconds(new period)). Amounts are period totals (unit price x quantity). With the same
interval the new period is the old one; when the interval changes the new period starts at
change_at, so the charge is the full new amount. Each line is rounded on its own (the lines shown
add up to what is due), time is counted in whole seconds (sub-second parts dropped) and the
arithmetic is exact integer/Fraction math. If the credit exceeds the charge nothing is due and the
rest is carried to the customer's credit balance. `change_at` must lie in [old_start, old_end).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from .errors import DomainError
from .money import normalize_currency, require_int, round_half_up
from .periods import require_utc

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class ProrationLine:
    description: str
    amount: int
    period_start: datetime
    period_end: datetime
    proration: bool = True


@dataclass(frozen=True)
class ProrationPreview:
    lines: tuple[ProrationLine, ...]
    amount_due: int
    # Positive amount added to the customer's credit balance when a downgrade credit wins.
    credit_carried: int
    currency: str


def preview_change(
    *,
    currency: str,
    old_amount: int,
    old_period: tuple[datetime, datetime],
    new_amount: int,
    new_period: tuple[datetime, datetime],
    change_at: datetime,
    old_description: str,
    new_description: str,
) -> ProrationPreview:
    """Credit the unused old period and charge the rest of the new one, from change_at."""
    code = normalize_currency(currency)
    old_start, old_end = _period(old_period, "old_period")
    new_start, new_end = _period(new_period, "new_period")
    require_utc(change_at, "change_at")
    if not old_start <= change_at < old_end:
        raise DomainError("The change must take effect within the current billing period.")
    if not new_start <= change_at < new_end:
        raise ValueError("new_period must contain change_at")
    credit = -_prorate(old_amount, change_at, old_start, old_end, "old_amount")
    charge = _prorate(new_amount, change_at, new_start, new_end, "new_amount")
    lines = (
        ProrationLine(old_description, credit, change_at, old_end),
        ProrationLine(new_description, charge, change_at, new_end),
    )
    net = credit + charge
    return ProrationPreview(
        lines=lines, amount_due=max(net, 0), credit_carried=max(-net, 0), currency=code
    )


def _prorate(amount: int, at: datetime, start: datetime, end: datetime, name: str) -> int:
    if require_int(amount, name) < 0:
        raise ValueError(f"{name} must not be negative, got {amount}")
    return round_half_up(Fraction(amount * _seconds(at, end), _seconds(start, end)))


def _period(period: tuple[datetime, datetime], name: str) -> tuple[datetime, datetime]:
    start, end = period
    require_utc(start, f"{name} start")
    require_utc(end, f"{name} end")
    if _seconds(start, end) < 1:
        raise ValueError(f"{name} must end at least one second after it starts")
    return start, end


def _seconds(start: datetime, end: datetime) -> int:
    return (end - start) // _SECOND
