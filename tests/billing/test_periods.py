"""Periods: month arithmetic anchored to the billing day, intervals, period n from the anchor."""

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_portal.billing.periods import add_months, nth_period, period_end, require_utc


def utc(year, month, day, *time):
    return datetime(year, month, day, *time, tzinfo=UTC)


# --- add_months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "anchor_day", "expected"),
    [
        (utc(2025, 1, 31), 1, 31, utc(2025, 2, 28)),
        (utc(2024, 1, 31), 1, 31, utc(2024, 2, 29)),  # leap year
        (utc(2025, 2, 28), 1, 31, utc(2025, 3, 31)),  # back to the anchor day after February
        (utc(2024, 2, 29), 1, 31, utc(2024, 3, 31)),
        (utc(2025, 1, 31), 3, 31, utc(2025, 4, 30)),
        (utc(2025, 1, 31), 1, None, utc(2025, 2, 28)),  # anchor_day defaults to start.day
        (utc(2025, 2, 28), 1, None, utc(2025, 3, 28)),  # ... which is why callers pass it
        (utc(2025, 1, 30), 1, 30, utc(2025, 2, 28)),
        (utc(2025, 11, 15), 3, None, utc(2026, 2, 15)),  # across a year end
        (utc(2025, 3, 31), -1, None, utc(2025, 2, 28)),  # backwards
        (utc(2025, 1, 15), -13, None, utc(2023, 12, 15)),
        (utc(2025, 1, 15), 0, None, utc(2025, 1, 15)),
    ],
)
def test_add_months_clamps_to_the_month_end(start, months, anchor_day, expected):
    assert add_months(start, months, anchor_day) == expected


def test_add_months_keeps_the_time_of_day_and_utc():
    moved = add_months(utc(2025, 1, 31, 23, 59, 58, 123456), 1, 31)
    assert moved == utc(2025, 2, 28, 23, 59, 58, 123456)
    assert moved.utcoffset() == timedelta(0)


def test_add_months_accepts_any_zero_offset_timezone():
    start = datetime(2025, 1, 15, tzinfo=timezone(timedelta(0)))
    assert add_months(start, 1) == utc(2025, 2, 15)


@pytest.mark.parametrize(
    ("start", "error", "message"),
    [
        (datetime(2025, 1, 31), ValueError, "naive"),
        (datetime(2025, 1, 31, tzinfo=timezone(timedelta(hours=2))), ValueError, "UTC"),
        ("2025-01-31", TypeError, "datetime"),
    ],
)
def test_add_months_needs_an_aware_utc_datetime(start, error, message):
    with pytest.raises(error, match=message):
        add_months(start, 1)


@pytest.mark.parametrize(
    ("months", "anchor_day", "error"),
    [
        (1.0, None, TypeError),
        (True, None, TypeError),
        (1, 0, ValueError),
        (1, 32, ValueError),
        (1, 31.0, TypeError),
    ],
)
def test_add_months_validates_its_numbers(months, anchor_day, error):
    with pytest.raises(error):
        add_months(utc(2025, 1, 31), months, anchor_day)


def test_require_utc_names_the_argument():
    with pytest.raises(ValueError, match="change_at must be timezone-aware"):
        require_utc(datetime(2025, 1, 1), "change_at")


# --- period_end ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "interval", "count", "anchor_day", "expected"),
    [
        (utc(2025, 1, 31), "month", 1, None, utc(2025, 2, 28)),
        (utc(2025, 2, 28), "month", 1, 31, utc(2025, 3, 31)),
        (utc(2025, 1, 31), "month", 3, None, utc(2025, 4, 30)),  # quarterly
        (utc(2023, 11, 30), "month", 3, None, utc(2024, 2, 29)),  # quarterly into a leap February
        (utc(2025, 8, 31), "month", 6, None, utc(2026, 2, 28)),  # half-yearly
        (utc(2025, 6, 15, 9, 30), "year", 1, None, utc(2026, 6, 15, 9, 30)),
        (utc(2024, 2, 29), "year", 1, None, utc(2025, 2, 28)),  # 29 Feb anchor, yearly
        (utc(2024, 2, 29), "year", 4, None, utc(2028, 2, 29)),
        (utc(2025, 2, 28), "year", 3, 29, utc(2028, 2, 29)),
    ],
)
def test_period_end(start, interval, count, anchor_day, expected):
    assert period_end(start, interval, count, anchor_day) == expected


def test_a_year_is_twelve_months():
    start = utc(2025, 1, 31, 12)
    assert period_end(start, "year", 2) == period_end(start, "month", 24)


@pytest.mark.parametrize(
    ("interval", "count", "error"),
    [
        ("week", 1, ValueError),
        ("Month", 1, ValueError),
        ("months", 1, ValueError),
        ("month", 0, ValueError),
        ("month", -1, ValueError),
        ("year", -12, ValueError),
        ("month", 1.0, TypeError),
        ("month", True, TypeError),
    ],
)
def test_period_end_validates_interval_and_count(interval, count, error):
    with pytest.raises(error):
        period_end(utc(2025, 1, 1), interval, count)


def test_period_end_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="naive"):
        period_end(datetime(2025, 1, 1), "month", 1)


# --- nth_period ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "interval", "count", "n", "expected"),
    [
        (utc(2025, 1, 31), "month", 1, 0, (utc(2025, 1, 31), utc(2025, 2, 28))),
        (utc(2025, 1, 31), "month", 1, 1, (utc(2025, 2, 28), utc(2025, 3, 31))),
        (utc(2025, 1, 31), "month", 1, 2, (utc(2025, 3, 31), utc(2025, 4, 30))),
        (utc(2024, 1, 31), "month", 1, 1, (utc(2024, 2, 29), utc(2024, 3, 31))),
        (utc(2024, 2, 29), "year", 1, 0, (utc(2024, 2, 29), utc(2025, 2, 28))),
        (utc(2024, 2, 29), "year", 1, 3, (utc(2027, 2, 28), utc(2028, 2, 29))),
        (utc(2024, 2, 29), "year", 1, 4, (utc(2028, 2, 29), utc(2029, 2, 28))),
        (utc(2023, 11, 30), "month", 3, 0, (utc(2023, 11, 30), utc(2024, 2, 29))),
        (utc(2023, 11, 30), "month", 3, 1, (utc(2024, 2, 29), utc(2024, 5, 30))),
        (utc(2024, 8, 31), "month", 6, 0, (utc(2024, 8, 31), utc(2025, 2, 28))),
        (utc(2024, 8, 31), "month", 6, 1, (utc(2025, 2, 28), utc(2025, 8, 31))),
        (utc(2025, 3, 10, 8), "month", 1, 120, (utc(2035, 3, 10, 8), utc(2035, 4, 10, 8))),
    ],
)
def test_nth_period(anchor, interval, count, n, expected):
    assert nth_period(anchor, interval, count, n) == expected


def test_nth_period_does_not_drift_like_chaining_does():
    anchor = utc(2025, 1, 31)
    chained = anchor
    for _ in range(2):
        chained = add_months(chained, 1)  # 31 Jan -> 28 Feb -> 28 Mar: the anchor day is lost
    assert chained == utc(2025, 3, 28)
    assert nth_period(anchor, "month", 1, 2)[0] == utc(2025, 3, 31)


@pytest.mark.parametrize(("interval", "count", "n"), [("day", 1, 0), ("month", 0, 0)])
def test_nth_period_validates_interval_and_count(interval, count, n):
    with pytest.raises(ValueError):
        nth_period(utc(2025, 1, 1), interval, count, n)


def test_nth_period_starts_at_zero():
    with pytest.raises(ValueError, match="n must be 0 or more"):
        nth_period(utc(2025, 1, 1), "month", 1, -1)


anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
)
intervals = st.tuples(st.sampled_from(["month", "year"]), st.sampled_from([1, 2, 3, 6, 12]))


@given(anchors, intervals, st.integers(min_value=0, max_value=200))
def test_periods_tile_time_and_stay_on_the_anchor_day(anchor, interval, n):
    start, end = nth_period(anchor, *interval, n)
    assert nth_period(anchor, *interval, n + 1)[0] == end  # no gap, no overlap
    assert start < end
    for moment in (start, end):
        assert moment.time() == anchor.time() and moment.tzinfo is anchor.tzinfo
        last_day = calendar.monthrange(moment.year, moment.month)[1]
        assert moment.day == min(anchor.day, last_day)
