"""Money: exponents, the rounding rule, conversions, parsing, formatting and the Money value."""

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_portal.billing.errors import CurrencyMismatch, DomainError, InvalidAmount
from billing_portal.billing.money import (
    Money,
    exponent,
    format_money,
    normalize_currency,
    parse_money,
    require_int,
    round_half_up,
    to_major,
    to_minor,
)

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: fr_FR's digit group separator
ZERO_DECIMAL = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
THREE_DECIMAL = "BHD IQD JOD KWD LYD OMR TND".split()
# One sample per exponent and a few locales with different separators and symbol positions.
CURRENCIES = ["JPY", "KRW", "USD", "EUR", "GBP", "BHD", "KWD"]
LOCALES = ["en_US", "de_DE", "fr_FR", "ko_KR", "ja_JP", "de_CH", "en_IN", "nl_NL"]


# --- exponent table -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ZERO_DECIMAL)
def test_zero_decimal_currencies(code):
    assert exponent(code) == 0


@pytest.mark.parametrize("code", THREE_DECIMAL)
def test_three_decimal_currencies(code):
    assert exponent(code) == 3


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "CHF", "HUF", "INR", "MXN"])
def test_other_known_currencies_have_two_decimals(code):
    assert exponent(code) == 2


def test_currency_codes_are_normalised_to_upper_case():
    assert normalize_currency(" usd ") == "USD"
    assert exponent("krw") == 0
    assert exponent("bhd") == 3


@pytest.mark.parametrize("code", ["XYZ", "", "US", "EURO", "12"])
def test_unknown_currency_is_refused_with_a_message(code):
    with pytest.raises(InvalidAmount, match="not a known currency code"):
        exponent(code)


def test_currency_must_be_a_string():
    with pytest.raises(TypeError):
        exponent(840)


# --- round_half_up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("2.5"), 3),
        (Decimal("-2.5"), -3),  # ties go away from zero, not towards +infinity
        (Decimal("2.4999"), 2),
        (Decimal("-2.4999"), -2),
        (Decimal("0.5"), 1),
        (Decimal("-0.5"), -1),
        (Decimal("-0.4"), 0),
        (Decimal("0"), 0),
        (Decimal("7"), 7),
        (Fraction(7, 2), 4),
        (Fraction(-7, 2), -4),
        (Fraction(1, 3), 0),
        (Fraction(-2, 3), -1),
        (5, 5),
        # Beyond the default 28-digit Decimal context: still exact.
        (Decimal("1" + "0" * 40 + ".5"), 10**40 + 1),
    ],
)
def test_round_half_up(value, expected):
    assert round_half_up(value) == expected


@pytest.mark.parametrize("value", [2.5, True, "2.5", None])
def test_round_half_up_refuses_floats_and_other_types(value):
    with pytest.raises(TypeError):
        round_half_up(value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_round_half_up_refuses_non_finite(value):
    with pytest.raises(ValueError):
        round_half_up(value)


@given(st.fractions(max_denominator=10**6))
def test_round_half_up_is_nearest_and_symmetric(value):
    rounded = round_half_up(value)
    assert abs(rounded - value) <= Fraction(1, 2)
    assert round_half_up(-value) == -rounded


# --- to_minor / to_major ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.5", "USD", 1250),
        (Decimal("12.50"), "USD", 1250),
        (12, "USD", 1200),
        (" 0.01 ", "EUR", 1),
        ("-1.5", "USD", -150),
        ("12000", "KRW", 12000),
        (Decimal("12.00"), "KRW", 12),  # trailing zeros are not extra precision
        ("1.234", "BHD", 1234),
        ("0.5", "KWD", 500),
        (Decimal("1234567890123456789012345678.9"), "USD", 123456789012345678901234567890),
    ],
)
def test_to_minor(value, currency, expected):
    assert to_minor(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("1.5", "KRW", "KRW has no minor unit"),
        (Decimal("0.1"), "JPY", "JPY has no minor unit"),
        ("1.001", "USD", "USD amounts have at most 2 decimal places"),
        ("1.2345", "BHD", "BHD amounts have at most 3 decimal places"),
        ("abc", "USD", "not a valid amount"),
        ("", "USD", "not a valid amount"),
        ("NaN", "USD", "not a valid amount"),
        (Decimal("Infinity"), "USD", "not a valid amount"),
    ],
)
def test_to_minor_refuses_what_it_cannot_represent(value, currency, message):
    with pytest.raises(InvalidAmount, match=message):
        to_minor(value, currency)


@pytest.mark.parametrize("value", [12.5, 12.0, True, None, [1]])
def test_to_minor_refuses_floats_and_other_types(value):
    with pytest.raises(TypeError):
        to_minor(value, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1200, "USD", "12.00"),
        (-5, "USD", "-0.05"),
        (12000, "KRW", "12000"),
        (1234, "BHD", "1.234"),
    ],
)
def test_to_major_keeps_the_currency_decimals(amount, currency, expected):
    assert str(to_major(amount, currency)) == expected


@pytest.mark.parametrize("amount", [12.0, True, Decimal("12"), "12"])
def test_to_major_takes_only_int(amount):
    with pytest.raises(TypeError):
        to_major(amount, "USD")


@given(st.integers(min_value=-(10**20), max_value=10**20), st.sampled_from(CURRENCIES))
def test_to_minor_inverts_to_major(amount, currency):
    assert to_minor(to_major(amount, currency), currency) == amount


# --- parse_money --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("12,00", "EUR", "de_DE", 1200),
        (f"12,00{NBSP}€", "EUR", "de_DE", 1200),
        ("12,00 €", "EUR", "de_DE", 1200),
        ("1.234,5", "EUR", "de_DE", 123450),
        ("12,000", "KRW", "ko_KR", 12000),
        ("₩12,000", "KRW", "ko_KR", 12000),
        ("  $1,234.56 ", "usd", "en_US", 123456),
        ("USD 12", "USD", "en_US", 1200),
        ("0", "USD", "en_US", 0),
        ("¥1,200", "JPY", "en_US", 1200),
        ("BHD1.234", "BHD", "en_US", 1234),
        (f"1{NNBSP}234,56", "EUR", "fr_FR", 123456),
        ("1 234,56", "EUR", "fr_FR", 123456),  # a typed plain space stands for fr_FR's group
        ("1,23,456.78", "INR", "en_IN", 12345678),
    ],
)
def test_parse_money(text, currency, locale, expected):
    assert parse_money(text, currency, locale) == expected


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("1.5", "KRW", "ko_KR", "KRW has no minor unit"),
        ("1.5", "KRW", "en_US", "KRW has no minor unit"),
        ("1.234", "USD", "en_US", "at most 2 decimal places"),
        ("abc", "USD", "en_US", "'abc' is not a valid amount"),
        ("12 apples", "USD", "en_US", "not a valid amount"),
        ("", "USD", "en_US", "not a valid amount"),
        ("$", "USD", "en_US", "not a valid amount"),
        ("NaN", "USD", "en_US", "not a valid amount"),
        ("1e5", "USD", "en_US", "not a valid amount"),
        ("-5", "USD", "en_US", "must not be negative"),
        ("-12,00 €", "EUR", "de_DE", "must not be negative"),
        # Strict grouping: "12.00" is not twelve in German, and not silently 1200 either.
        ("12.00", "EUR", "de_DE", "Did you mean '1.200' or '12'"),
        ("1,2", "USD", "en_US", "not a valid amount"),
    ],
)
def test_parse_money_refuses_with_a_clear_message(text, currency, locale, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_money(text, currency, locale)


def test_parse_money_needs_text_and_a_known_currency():
    with pytest.raises(TypeError):
        parse_money(12, "USD", "en_US")
    with pytest.raises(InvalidAmount, match="not a known currency"):
        parse_money("12", "XYZ", "en_US")


# --- format_money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (12000, "KRW", "ko_KR", "₩12,000"),
        (12000, "KRW", "en_US", "₩12,000"),
        (1200, "USD", "en_US", "$12.00"),
        (-550, "USD", "en_US", "-$5.50"),
        (0, "USD", "en_US", "$0.00"),
        (1200, "EUR", "de_DE", f"12,00{NBSP}€"),  # Babel/CLDR's no-break space, kept on purpose
        (123456789, "EUR", "fr_FR", f"1{NNBSP}234{NNBSP}567,89{NBSP}€"),
        (1200, "JPY", "en_US", "¥1,200"),
        (1234, "BHD", "en_US", "BHD1.234"),
        (1000, "IQD", "en_US", "IQD1.000"),  # our table (ISO: 3), not CLDR's 0 decimals
        (1200, "usd", "en_US", "$12.00"),
    ],
)
def test_format_money(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


def test_format_money_defaults_to_en_us():
    assert format_money(1200, "USD") == "$12.00"


@pytest.mark.parametrize("amount", [12.0, True, Decimal("12")])
def test_format_money_takes_only_int(amount):
    with pytest.raises(TypeError):
        format_money(amount, "USD")


@settings(deadline=None)  # the first call per locale loads CLDR data
@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
def test_parse_money_reads_back_what_format_money_wrote(amount, currency, locale):
    assert parse_money(format_money(amount, currency, locale), currency, locale) == amount


# --- Money --------------------------------------------------------------------------------------


def test_money_arithmetic():
    assert Money(1200, "USD") + Money(34, "USD") == Money(1234, "USD")
    assert Money(1200, "USD") - Money(1500, "USD") == Money(-300, "USD")
    assert -Money(5, "KRW") == Money(-5, "KRW")


def test_money_sum_starts_from_zero():
    amounts = [Money(100, "EUR"), Money(250, "EUR"), Money(-50, "EUR")]
    assert sum(amounts, Money.zero("EUR")) == Money(300, "EUR")
    assert sum([], Money.zero("EUR")) == Money(0, "EUR")


def test_money_ordering():
    assert Money(1, "USD") < Money(2, "USD")
    assert Money(2, "USD") <= Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD")
    assert Money(2, "USD") >= Money(2, "USD")
    assert max(Money(1, "USD"), Money(5, "USD")) == Money(5, "USD")


def test_money_currency_is_normalised_and_checked():
    assert Money(1, "usd") == Money(1, "USD")
    assert Money(1, "usd").currency == "USD"
    with pytest.raises(InvalidAmount):
        Money(1, "XYZ")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a >= b,
        lambda a, b: sum([a, b], Money.zero("USD")),
    ],
)
def test_money_refuses_mixed_currencies(combine):
    with pytest.raises(CurrencyMismatch, match="Cannot combine amounts in USD and EUR"):
        combine(Money(1, "USD"), Money(1, "EUR"))


def test_money_in_different_currencies_is_unequal_not_an_error():
    assert Money(1, "USD") != Money(1, "EUR")


@pytest.mark.parametrize("amount", [1.0, True, Decimal("1"), "1"])
def test_money_amount_must_be_int(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


def test_money_does_not_mix_with_plain_numbers():
    with pytest.raises(TypeError):
        Money(1, "USD") + 1
    with pytest.raises(TypeError):
        Money(1, "USD") < 2


def test_money_is_frozen_and_hashable():
    money = Money(1, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 2
    assert {money, Money(1, "USD")} == {money}


# --- small helpers and errors -------------------------------------------------------------------


def test_require_int():
    assert require_int(5) == 5
    with pytest.raises(TypeError, match="seats must be an int, got float"):
        require_int(5.0, "seats")
    with pytest.raises(TypeError):
        require_int(False)


def test_domain_errors_show_their_message():
    error = InvalidAmount("KRW has no minor unit.")
    assert isinstance(error, DomainError)
    assert issubclass(CurrencyMismatch, DomainError)
    assert str(error) == "KRW has no minor unit."


# --- ISO 4217's current list ----------------------------------------------------------------------


@pytest.mark.parametrize("code, successor", [
    ("HRK", "EUR"), ("SLL", "SLE"), ("VEF", "VES"), ("MRO", "MRU"), ("STD", "STN"), ("LTL", "EUR"),
    ("LVL", "EUR"), ("EEK", "EUR"), ("ZMK", "ZMW"), ("BYR", "BYN"), ("CUC", "CUP"), ("ANG", "XCG"),
    ("ZWL", "ZWG"),
])
def test_withdrawn_codes_take_no_new_amounts(code, successor):
    with pytest.raises(InvalidAmount, match=f"{code} has been withdrawn from ISO 4217 \\(replaced by {successor}\\)"):
        normalize_currency(code)
    with pytest.raises(InvalidAmount, match="withdrawn"):
        to_minor("1", code)
    with pytest.raises(InvalidAmount, match="withdrawn"):
        Money(100, code)


def test_a_stored_amount_in_a_withdrawn_code_still_formats():
    assert format_money(12345, "HRK", "en_US") == "HRK123.45"
    assert exponent("BYR") == 0


@pytest.mark.parametrize("code", ["CLF", "UYW"])
def test_four_decimal_codes(code):
    assert exponent(code) == 4
    assert to_minor("1.2345", code) == 12345
    assert "1.2345" in format_money(12345, code, "en_US")


@pytest.mark.parametrize("code", ["XAU", "XDR", "XTS", "XXX"])
def test_codes_without_a_minor_unit_are_refused(code):
    with pytest.raises(InvalidAmount, match="no minor unit"):
        normalize_currency(code)


@pytest.mark.parametrize("code", ["VES", "VED", "MRU", "STN", "SLE", "ZWG", "XCG", "UYI", "SVC", "CLF", "BOV"])
def test_current_codes_are_accepted(code):
    assert normalize_currency(code) == code


def test_the_current_list_follows_the_date():
    from datetime import date

    from billing_portal.billing.money import current_currencies

    assert "HRK" in current_currencies(date(2022, 6, 1)) and "HRK" not in current_currencies(date(2023, 6, 1))
    assert "CNH" not in current_currencies()  # CLDR's offshore yuan is not an ISO code
