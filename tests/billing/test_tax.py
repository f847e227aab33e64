"""Tax: exclusive/inclusive line tax, invoice totals, and the properties the module promises."""

from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_portal.billing.money import exponent
from billing_portal.billing.tax import LineTax, RateTotal, Totals, invoice_totals, line_tax

D = Decimal


class Line(NamedTuple):
    amount: int
    rate: Decimal
    inclusive: bool


# --- strategies: amounts as real prices in currencies of every exponent -------------------------

CURRENCIES = ["JPY", "KRW", "USD", "EUR", "BHD", "KWD"]  # exponents 0, 0, 2, 2, 3, 3
rates = st.one_of(
    st.sampled_from([D("0"), D("5"), D("7.5"), D("8.875"), D("10"), D("19"), D("20"), D("100")]),
    st.decimals(min_value=0, max_value=100, places=3),
)


@st.composite
def amounts(draw, min_major=-1_000_000, max_major=1_000_000):
    """An amount in minor units of a currency drawn from every exponent, up to a million major."""
    scale = 10 ** exponent(draw(st.sampled_from(CURRENCIES)))
    return draw(st.integers(min_value=min_major * scale, max_value=max_major * scale))


lines = st.builds(Line, amounts(), rates, st.booleans())


# --- line_tax examples --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "inclusive", "expected"),
    [
        (1000, D("10"), False, LineTax(net=1000, tax=100, gross=1100)),
        (1000, D("8.875"), False, LineTax(net=1000, tax=89, gross=1089)),  # 88.75 -> 89
        (1100, D("10"), True, LineTax(net=1000, tax=100, gross=1100)),
        (1000, D("8.875"), True, LineTax(net=918, tax=82, gross=1000)),  # 81.515... -> 82
        (9900, D("10"), False, LineTax(net=9900, tax=990, gross=10890)),  # KRW, no minor unit
        (9900, D("10"), True, LineTax(net=9000, tax=900, gross=9900)),
        (1234, D("5"), False, LineTax(net=1234, tax=62, gross=1296)),  # BHD: 61.7 -> 62 fils
        (5, D("10"), False, LineTax(net=5, tax=1, gross=6)),  # 0.5 -> 1 (tie, away from zero)
        (-5, D("10"), False, LineTax(net=-5, tax=-1, gross=-6)),  # -0.5 -> -1, mirrored
        (5, D("100"), True, LineTax(net=2, tax=3, gross=5)),  # 2.5 -> 3
        (-5, D("100"), True, LineTax(net=-2, tax=-3, gross=-5)),
        (-1000, D("8.875"), True, LineTax(net=-918, tax=-82, gross=-1000)),
        (1000, D("0"), True, LineTax(net=1000, tax=0, gross=1000)),
        (1000, D("100"), False, LineTax(net=1000, tax=1000, gross=2000)),
        (1000, 10, False, LineTax(net=1000, tax=100, gross=1100)),  # an int rate is exact too
        (0, D("20"), True, LineTax(net=0, tax=0, gross=0)),
    ],
)
def test_line_tax(amount, rate, inclusive, expected):
    assert line_tax(amount, rate, inclusive) == expected


@pytest.mark.parametrize(
    ("amount", "rate", "inclusive", "error"),
    [
        (1000, 10.0, False, TypeError),  # float rate
        (1000, "10", False, TypeError),
        (1000, True, False, TypeError),
        (1000.0, D("10"), False, TypeError),  # float amount
        (True, D("10"), False, TypeError),
        (1000, D("10"), 1, TypeError),  # inclusive must be a real bool
        (1000, D("-0.001"), False, ValueError),
        (1000, D("100.001"), False, ValueError),
        (1000, D("NaN"), False, ValueError),
        (1000, D("Infinity"), True, ValueError),
    ],
)
def test_line_tax_refuses_bad_input(amount, rate, inclusive, error):
    with pytest.raises(error):
        line_tax(amount, rate, inclusive)


def test_inclusive_to_exclusive_can_be_one_unit_off():
    # The bound proved in the module docstring is tight: gross 5 at 10% inclusive has
    # tax round(50/110 = 0.4545...) = 0, net 5; exclusive on net 5 has tax round(0.5) = 1, gross 6.
    assert line_tax(5, D("10"), True) == LineTax(net=5, tax=0, gross=5)
    assert line_tax(5, D("10"), False).gross == 6


# --- invoice_totals examples --------------------------------------------------------------------


def test_invoice_totals_rounds_each_line_then_sums():
    # Three lines of 5 at 10%: each tax is 0.5 -> 1, so the invoice tax is 3, not round(1.5) = 2.
    totals = invoice_totals([Line(5, D("10"), False)] * 3)
    assert totals == Totals(
        subtotal=15, tax=3, total=18, by_rate=(RateTotal(D("10"), False, 15, 3),)
    )


def test_invoice_totals_groups_by_rate_and_mode():
    totals = invoice_totals(
        [
            Line(1000, D("20"), False),  # net 1000, tax 200
            Line(1200, D("20"), True),  # gross 1200: tax 200, net 1000
            Line(500, D("0"), False),  # net 500, tax 0
            Line(-300, D("20"), False),  # credit: net -300, tax -60
            Line(1089, D("8.875"), True),  # tax round(1089 * 8.875 / 108.875 = 88.77) = 89
        ]
    )
    assert totals.by_rate == (
        RateTotal(D("0"), False, 500, 0),
        RateTotal(D("8.875"), True, 1000, 89),
        RateTotal(D("20"), False, 700, 140),
        RateTotal(D("20"), True, 1000, 200),
    )
    assert (totals.subtotal, totals.tax, totals.total) == (3200, 429, 3629)


def test_invoice_totals_treats_equal_rates_as_one():
    totals = invoice_totals([Line(100, D("10"), False), Line(100, D("10.00"), False)])
    assert totals.by_rate == (RateTotal(D("10"), False, 200, 20),)


def test_invoice_totals_of_nothing_is_zero():
    assert invoice_totals([]) == Totals(subtotal=0, tax=0, total=0, by_rate=())


# --- properties ---------------------------------------------------------------------------------


@given(st.lists(lines, max_size=20))
def test_total_is_the_sum_of_line_nets_and_line_taxes(invoice):
    taxed = [line_tax(*line) for line in invoice]
    totals = invoice_totals(invoice)
    assert totals.subtotal == sum(t.net for t in taxed)
    assert totals.tax == sum(t.tax for t in taxed)
    assert totals.total == totals.subtotal + totals.tax == sum(t.gross for t in taxed)
    assert sum(row.net for row in totals.by_rate) == totals.subtotal
    assert sum(row.tax for row in totals.by_rate) == totals.tax


@given(amounts(), rates, st.booleans())
def test_net_plus_tax_is_gross_and_the_input_is_kept(amount, rate, inclusive):
    taxed = line_tax(amount, rate, inclusive)
    assert taxed.net + taxed.tax == taxed.gross
    assert (taxed.gross if inclusive else taxed.net) == amount


@given(amounts(), rates, st.booleans())
def test_tax_is_the_exact_tax_rounded_once(amount, rate, inclusive):
    taxed = line_tax(amount, rate, inclusive)
    base = Fraction(100 + rate) if inclusive else Fraction(100)
    assert abs(taxed.tax - amount * Fraction(rate) / base) <= Fraction(1, 2)


@given(amounts(), rates, st.booleans())
def test_credits_mirror_charges(amount, rate, inclusive):
    charge = line_tax(amount, rate, inclusive)
    assert line_tax(-amount, rate, inclusive) == LineTax(-charge.net, -charge.tax, -charge.gross)


@given(st.lists(st.builds(Line, amounts(min_major=0), rates, st.booleans()), max_size=20))
def test_nothing_is_negative_for_non_negative_input(invoice):
    for line in invoice:
        taxed = line_tax(*line)
        assert min(taxed.net, taxed.tax, taxed.gross) >= 0
    totals = invoice_totals(invoice)
    assert min(totals.subtotal, totals.tax, totals.total) >= 0
    assert all(row.net >= 0 and row.tax >= 0 for row in totals.by_rate)


@given(amounts(), rates)
def test_exclusive_then_inclusive_gives_back_the_same_net_and_tax(net, rate):
    exclusive = line_tax(net, rate, inclusive=False)
    assert line_tax(exclusive.gross, rate, inclusive=True) == exclusive


@given(amounts(), rates)
def test_inclusive_then_exclusive_is_within_one_minor_unit(gross, rate):
    inclusive = line_tax(gross, rate, inclusive=True)
    assert abs(line_tax(inclusive.net, rate, inclusive=False).gross - gross) <= 1


def test_truncating_rounds_each_line_toward_zero():
    assert line_tax(999, Decimal("10"), True, rounding="truncate") == LineTax(net=909, tax=90, gross=999)
    assert line_tax(1005, Decimal("10"), False, rounding="truncate").tax == 100  # 100.5: half up would give 101
    assert line_tax(-1005, Decimal("10"), False, rounding="truncate").tax == -100
    assert line_tax(1095, Decimal("10"), False, quantum=10, rounding="truncate").tax == 100  # 109.5 fils → 100
    with pytest.raises(ValueError, match="half_up or truncate"):
        line_tax(100, Decimal("10"), False, rounding="floor")
