"""Billing periods: calendar months from an anchor, clamped to the month's end.

A subscription's periods are counted in whole months from its anchor (the start of its first
period); a year is 12 months and an interval may span several (3 months for quarterly). The day
of the month is the anchor day, clamped to the last day of shorter months, and the time of day is
kept: anchored on 31 Jan, periods start 28 Feb (29 in leap years), 31 Mar, 30 Apr. Period n is
computed from the anchor directly, never by adding to the previous period, so a short February
cannot pull every later date back. All datetimes are timezone-aware UTC; naive ones are refused.
"""

import calendar
from datetime import datetime, timedelta

from .money import require_int

MONTHS_PER_INTERVAL = {"month": 1, "year": 12}


def require_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return value if it is a timezone-aware datetime at UTC offset zero, else raise."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"{name} must be timezone-aware UTC, got a naive datetime")
    if offset != timedelta(0):
        raise ValueError(f"{name} must be in UTC, got UTC offset {offset}")
    return value


def add_months(start: datetime, months: int, anchor_day: int | None = None) -> datetime:
    """Move start by months onto anchor_day (default start.day), clamped to the month's end."""
    require_utc(start, "start")
    require_int(months, "months")
    day = start.day if anchor_day is None else require_int(anchor_day, "anchor_day")
    if not 1 <= day <= 31:
        raise ValueError(f"anchor_day must be between 1 and 31, got {day}")
    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return start.replace(year=year, month=month_index + 1, day=min(day, last_day))


def period_end(
    start: datetime, interval: str, interval_count: int, anchor_day: int | None = None
) -> datetime:
    """End (exclusive) of the period that begins at start, e.g. ("month", 3) for a quarter."""
    return add_months(start, _interval_months(interval, interval_count), anchor_day)


def nth_period(
    anchor: datetime, interval: str, interval_count: int, n: int
) -> tuple[datetime, datetime]:
    """Start and end of period n (0 is the first) of a subscription anchored at anchor."""
    step = _interval_months(interval, interval_count)
    if require_int(n, "n") < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    return add_months(anchor, n * step), add_months(anchor, (n + 1) * step)


def _interval_months(interval: str, interval_count: int) -> int:
    if interval not in MONTHS_PER_INTERVAL:
        raise ValueError(f"interval must be 'month' or 'year', got {interval!r}")
    if require_int(interval_count, "interval_count") < 1:
        raise ValueError(f"interval_count must be 1 or more, got {interval_count}")
    return MONTHS_PER_INTERVAL[interval] * interval_count
