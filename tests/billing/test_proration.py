"""Proration: worked examples checked by hand, validation, and properties.

Notation in the comments: credit = -round_half_up(old_amount * unused_seconds / old_seconds),
charge = round_half_up(new_amount * remaining_seconds / new_seconds). One day is 86,400 s.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_portal.billing.errors import DomainError, InvalidAmount
from billing_portal.billing.money import format_money
from billing_portal.billing.periods import nth_period, period_end
from billing_portal.billing.proration import ProrationLine, ProrationPreview, preview_change

JUNE_2025 = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))  # 30 days


def utc(year, month, day, *time):
    return datetime(year, month, day, *time, tzinfo=UTC)


def change(currency="USD", *, old_amount, new_amount, change_at, old_period, new_period=None):
    return preview_change(
        currency=currency,
        old_amount=old_amount,
        old_period=old_period,
        new_amount=new_amount,
        new_period=new_period or old_period,
        change_at=change_at,
        old_description="Unused time on old plan",
        new_description="Remaining time on new plan",
    )


def amounts(preview):
    return [line.amount for line in preview.lines]


# --- worked examples ----------------------------------------------------------------------------


def test_upgrade_at_half_of_a_30_day_month():
    # $10/month -> $30/month, period 1 Jun -> 1 Jul 2025 = 30 days = 2,592,000 s.
    # Change at 16 Jun 00:00: 15 days = 1,296,000 s left, exactly half.
    # credit = -(1000 * 1,296,000 / 2,592,000) = -500
    # charge =   3000 * 1,296,000 / 2,592,000  = 1500
    # due = 1500 - 500 = 1000 ($10.00)
    at = utc(2025, 6, 16)
    preview = change(old_amount=1000, new_amount=3000, change_at=at, old_period=JUNE_2025)
    assert preview == ProrationPreview(
        lines=(
            ProrationLine("Unused time on old plan", -500, at, JUNE_2025[1]),
            ProrationLine("Remaining time on new plan", 1500, at, JUNE_2025[1]),
        ),
        amount_due=1000,
        credit_carried=0,
        currency="USD",
    )
    assert all(line.proration for line in preview.lines)
    assert format_money(preview.amount_due, preview.currency) == "$10.00"


def test_quantity_change_from_2_to_5_seats():
    # $8/seat: old total 2 * 800 = 1600, new total 5 * 800 = 4000.
    # Period 1 Jan -> 1 Feb 2025 = 31 days = 2,678,400 s; change at 21 Jan 00:00, 11 days left
    # = 950,400 s, so the fraction is 11/31.
    # credit = -(1600 * 11 / 31) = -(17,600 / 31) = -567.74... -> -568
    # charge =   4000 * 11 / 31  =   44,000 / 31  = 1419.35... -> 1419
    # due = 1419 - 568 = 851. (Prorating the difference, 2400 * 11/31 = 851.6 -> 852, would not
    # match the two lines shown; each line is rounded on its own.)
    preview = change(
        old_amount=1600,
        new_amount=4000,
        change_at=utc(2025, 1, 21),
        old_period=(utc(2025, 1, 1), utc(2025, 2, 1)),
    )
    assert amounts(preview) == [-568, 1419]
    assert (preview.amount_due, preview.credit_carried) == (851, 0)


def test_krw_upgrade_with_10_days_left_of_a_31_day_month():
    # ₩9,900 -> ₩29,900 (KRW has no minor unit: amounts are whole won).
    # Period 1 Mar -> 1 Apr 2025 = 31 days = 2,678,400 s; change at 22 Mar 00:00, 10 days left
    # = 864,000 s, so the fraction is 10/31.
    # credit = -(9900 * 10 / 31)  = -(99,000 / 31)  = -3193.548... -> -3194 (.548 rounds up)
    # charge =   29900 * 10 / 31  =   299,000 / 31  =  9645.161... ->  9645 (.161 rounds down)
    # due = 9645 - 3194 = 6451 -> "₩6,451"
    preview = change(
        "KRW",
        old_amount=9900,
        new_amount=29900,
        change_at=utc(2025, 3, 22),
        old_period=(utc(2025, 3, 1), utc(2025, 4, 1)),
    )
    assert amounts(preview) == [-3194, 9645]
    assert (preview.amount_due, preview.credit_carried) == (6451, 0)
    assert format_money(preview.amount_due, "KRW", "ko_KR") == "₩6,451"


def test_a_tie_rounds_away_from_zero_on_both_lines():
    # $10/month in June (2,592,000 s), 1,296 s before the end:
    # 1000 * 1,296 / 2,592,000 = 0.5 exactly -> credit -1 and charge +1 (ties away from zero),
    # so re-buying the same plan costs nothing.
    at = JUNE_2025[1] - timedelta(seconds=1296)
    preview = change(old_amount=1000, new_amount=1000, change_at=at, old_period=JUNE_2025)
    assert amounts(preview) == [-1, 1]
    assert (preview.amount_due, preview.credit_carried) == (0, 0)


def test_downgrade_carries_the_excess_credit():
    # $30/month -> $10/month at 16 Jun 00:00, half of June left:
    # credit = -(3000 / 2) = -1500, charge = 1000 / 2 = 500, net = -1000
    # -> nothing due, $10.00 carried to the customer's credit balance.
    preview = change(
        old_amount=3000, new_amount=1000, change_at=utc(2025, 6, 16), old_period=JUNE_2025
    )
    assert amounts(preview) == [-1500, 500]
    assert (preview.amount_due, preview.credit_carried) == (0, 1000)


def test_interval_change_from_month_to_year():
    # $10/month -> $100/year at 11 Jun 00:00: 20 of June's 30 days unused.
    # credit = -(1000 * 20 / 30) = -666.66... -> -667
    # The yearly period starts at the change, 11 Jun 2025 -> 11 Jun 2026, so the charge is the
    # full 10000. due = 10000 - 667 = 9333.
    at = utc(2025, 6, 11)
    year = (at, period_end(at, "year", 1))
    assert year[1] == utc(2026, 6, 11)
    preview = change(
        old_amount=1000, new_amount=10000, change_at=at, old_period=JUNE_2025, new_period=year
    )
    assert preview.lines[0] == ProrationLine("Unused time on old plan", -667, at, JUNE_2025[1])
    assert preview.lines[1] == ProrationLine("Remaining time on new plan", 10000, at, year[1])
    assert (preview.amount_due, preview.credit_carried) == (9333, 0)


def test_interval_change_from_year_to_month_carries_credit():
    # $100/year -> $10/month. Year 1 Jan 2025 -> 1 Jan 2026 = 365 days; change at 1 Jul 00:00,
    # 184 days left (Jul 31 + Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31).
    # credit = -(10000 * 184 / 365) = -(1,840,000 / 365) = -5041.09... -> -5041
    # charge = 1000 (the month 1 Jul -> 1 Aug starts at the change)
    # net = -4041 -> nothing due, 4041 carried.
    at = utc(2025, 7, 1)
    preview = change(
        old_amount=10000,
        new_amount=1000,
        change_at=at,
        old_period=(utc(2025, 1, 1), utc(2026, 1, 1)),
        new_period=(at, period_end(at, "month", 1)),
    )
    assert amounts(preview) == [-5041, 1000]
    assert (preview.amount_due, preview.credit_carried) == (0, 4041)


def test_time_is_counted_in_whole_seconds():
    # 1.9 s before the end of June counts as 1 s: 2,592,000 * 1 / 2,592,000 = 1 minor unit.
    at = JUNE_2025[1] - timedelta(seconds=1, microseconds=900_000)
    preview = change(old_amount=2_592_000, new_amount=0, change_at=at, old_period=JUNE_2025)
    assert amounts(preview) == [-1, 0]


def test_change_at_the_period_start_credits_and_charges_in_full():
    preview = change(
        old_amount=1000, new_amount=3000, change_at=JUNE_2025[0], old_period=JUNE_2025
    )
    assert amounts(preview) == [-1000, 3000]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [utc(2025, 5, 31, 23, 59, 59), JUNE_2025[1], utc(2025, 7, 2)])
def test_change_must_fall_within_the_old_period(at):
    with pytest.raises(DomainError, match="within the current billing period"):
        change(old_amount=1000, new_amount=3000, change_at=at, old_period=JUNE_2025)


def test_new_period_must_contain_the_change():
    with pytest.raises(ValueError, match="new_period must contain change_at"):
        change(
            old_amount=1000,
            new_amount=3000,
            change_at=utc(2025, 6, 16),
            old_period=JUNE_2025,
            new_period=(utc(2025, 7, 1), utc(2025, 8, 1)),
        )


@pytest.mark.parametrize(
    ("old_amount", "new_amount", "error"),
    [
        (10.0, 3000, TypeError),
        (1000, True, TypeError),
        (-1, 3000, ValueError),
        (1000, -1, ValueError),
    ],
)
def test_amounts_are_non_negative_ints(old_amount, new_amount, error):
    with pytest.raises(error):
        change(
            old_amount=old_amount,
            new_amount=new_amount,
            change_at=utc(2025, 6, 16),
            old_period=JUNE_2025,
        )


@pytest.mark.parametrize(
    ("period", "at", "message"),
    [
        ((datetime(2025, 6, 1), JUNE_2025[1]), utc(2025, 6, 16), "naive"),
        (JUNE_2025, datetime(2025, 6, 16), "naive"),
        ((JUNE_2025[1], JUNE_2025[0]), utc(2025, 6, 16), "must end at least one second after"),
        ((JUNE_2025[0], JUNE_2025[0]), JUNE_2025[0], "must end at least one second after"),
    ],
)
def test_periods_and_change_at_are_checked(period, at, message):
    with pytest.raises(ValueError, match=message):
        change(old_amount=1000, new_amount=3000, change_at=at, old_period=period)


def test_currency_must_be_known_and_is_normalised():
    with pytest.raises(InvalidAmount):
        change("XYZ", old_amount=1, new_amount=1, change_at=JUNE_2025[0], old_period=JUNE_2025)
    preview = change(
        "usd", old_amount=1, new_amount=1, change_at=JUNE_2025[0], old_period=JUNE_2025
    )
    assert preview.currency == "USD"


# --- properties ---------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)
totals = st.integers(min_value=0, max_value=10**9)


@st.composite
def changes(draw):
    """A period of a random interval and a moment inside it."""
    start = draw(moments)
    interval = draw(st.sampled_from(["month", "year"]))
    period = nth_period(start, interval, draw(st.integers(1, 3)), 0)
    seconds = (period[1] - period[0]) // timedelta(seconds=1)
    at = period[0] + timedelta(seconds=draw(st.integers(0, seconds - 1)))
    return period, at


@given(changes(), totals, totals)
def test_lines_add_up_and_stay_within_the_period_totals(change_case, old_amount, new_amount):
    period, at = change_case
    preview = change(old_amount=old_amount, new_amount=new_amount, change_at=at, old_period=period)
    credit, charge = amounts(preview)
    assert -old_amount <= credit <= 0 <= charge <= new_amount
    assert preview.amount_due - preview.credit_carried == credit + charge
    assert min(preview.amount_due, preview.credit_carried) == 0


@given(changes(), totals)
def test_changing_to_the_same_price_costs_nothing(change_case, amount):
    period, at = change_case
    preview = change(old_amount=amount, new_amount=amount, change_at=at, old_period=period)
    assert (preview.amount_due, preview.credit_carried) == (0, 0)


@given(changes(), totals, totals)
def test_a_new_period_starting_at_the_change_is_charged_in_full(change_case, old, new):
    period, at = change_case
    new_period = (at, period_end(at, "month", 1))
    preview = change(
        old_amount=old, new_amount=new, change_at=at, old_period=period, new_period=new_period
    )
    assert preview.lines[1].amount == new
