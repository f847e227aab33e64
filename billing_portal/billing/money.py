"""Money: integer minor units, one rounding rule, Babel for text.

An amount is always an `int` in the currency's minor unit (cents for USD, won for KRW, fils for
BHD), paired with an ISO 4217 code. How many decimals a currency has comes from one table here:
the ISO 4217 zero-, three- and four-decimal currencies are listed explicitly and every other code
Babel knows has two; an unknown code is refused. Only codes on ISO 4217's current list take new
amounts (`normalize_currency`): a withdrawn code (HRK, SLL, VEF, MRO, STD, ANG, ...) is refused
with its successor named, and so are the codes ISO gives no minor unit (gold XAU, XDR, test XTS,
...). The current list is CLDR's, through Babel: a code is current when some territory uses it
today (tender or not, so the funds codes CLF, UYW, BOV... count), which is how CLDR records ISO
4217's withdrawals (HRK ends 2022-12-31). Stored amounts in a withdrawn code still format
(`exponent`, `to_major`, `format_money`), so old invoices stay readable. Floats are refused everywhere (`TypeError`), since they
cannot hold most decimal amounts exactly. The engine's single rounding rule is `round_half_up`:
round to the nearest integer, ties away from zero (2.5 -> 3, -2.5 -> -3), so a credit rounds
exactly like the matching charge. Input text is parsed strictly in the user's locale, must not be
negative and must not have more decimals than the currency allows. Formatting is Babel's output
for the locale, with our table deciding the decimals (KRW 12000 -> "₩12,000"); it is kept exactly
as Babel gives it, including the non-breaking spaces (U+00A0, U+202F) CLDR puts between a number
and its symbol or between digit groups, so an amount never wraps across two lines.
"""

import copy
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache, total_ordering

from babel import Locale
from babel.core import get_global
from babel.numbers import (
    NumberFormatError,
    get_currency_symbol,
    get_group_symbol,
    get_territory_currencies,
    list_currencies,
    parse_decimal,
)

from .errors import CurrencyMismatch, InvalidAmount

# ISO 4217 exponents that differ from 2. Babel's own precision (CLDR) is not used: it differs from
# ISO for some codes (0 for IQD, RSD, AFN), and a stored amount must not change meaning when Babel
# is upgraded.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
    "BYR": 0,  # withdrawn 2016, kept so old amounts still format right
}
_KNOWN_CURRENCIES = frozenset(list_currencies())
# ISO 4217 codes whose minor unit is "N.A." (precious metals, SDR, bond units, test and no-currency
# codes): not money one prices in.
_NO_MINOR_UNIT = frozenset("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())
# Where CLDR's territory data and ISO 4217's list differ: CNH is an offshore-market code, not ISO;
# ISO still lists SVC (El Salvador), which CLDR ends in 2001 when the dollar replaced it.
_NOT_ISO, _ISO_ONLY = frozenset({"CNH"}), frozenset({"SVC"})
# Successors named in the refusal of a withdrawn code (ISO 4217 amendments).
_REPLACED_BY = {
    "HRK": "EUR", "LTL": "EUR", "LVL": "EUR", "EEK": "EUR", "SLL": "SLE", "VEF": "VES", "MRO": "MRU",
    "STD": "STN", "ZMK": "ZMW", "BYR": "BYN", "CUC": "CUP", "ANG": "XCG", "ZWL": "ZWG",
}
# Right-to-left and left-to-right marks that CLDR puts around amounts in some locales.
_BIDI_MARKS = "\u200e\u200f\u061c"


@lru_cache(maxsize=4)
def current_currencies(on: date | None = None) -> frozenset[str]:
    """ISO 4217's current list on a day (today by default), from CLDR's territory currency dates."""
    on = on or date.today()
    codes = set(_ISO_ONLY)
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, on, tender=True, non_tender=True))
    return frozenset(codes - _NOT_ISO)


def _code(currency: str) -> str:
    if not isinstance(currency, str):
        raise TypeError(f"currency must be a str, got {type(currency).__name__}")
    code = currency.strip().upper()
    if code not in _KNOWN_CURRENCIES:
        raise InvalidAmount(f"{currency!r} is not a known currency code.")
    return code


def normalize_currency(currency: str) -> str:
    """The upper-case ISO 4217 code of a current currency with a minor unit; else InvalidAmount
    (unknown, withdrawn from ISO 4217, or without a minor unit)."""
    code = _code(currency)
    if code in _NO_MINOR_UNIT:
        raise InvalidAmount(f"{code} has no minor unit in ISO 4217: it cannot hold an amount.")
    if code not in current_currencies():
        successor = f" (replaced by {_REPLACED_BY[code]})" if code in _REPLACED_BY else ""
        raise InvalidAmount(f"{code} has been withdrawn from ISO 4217{successor}: use a current currency.")
    return code


def exponent(currency: str) -> int:
    """Number of decimals in the currency's minor unit (ISO 4217): 0, 2, 3 or 4. Known withdrawn
    codes answer too, so stored amounts in them still read."""
    return _EXPONENTS.get(_code(currency), 2)


def require_int(value: object, what: str = "amount") -> int:
    """Return value if it is an int; bool and float are refused with a TypeError."""
    # bool is a subclass of int, and True as an amount is always a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


def round_half_up(value: Decimal | Fraction | int) -> int:
    """Round to the nearest integer, ties away from zero: 2.5 -> 3, -2.5 -> -3, -2.4 -> -2.

    Works on the exact rational value, so the result never depends on the Decimal context's
    precision; callers pass a Fraction when the value is a quotient (tax, proration).
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, Fraction, int)):
        raise TypeError(f"expected a Decimal, Fraction or int, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"cannot round {value}")
    exact = Fraction(value)
    whole, rest = divmod(abs(exact.numerator), exact.denominator)
    if 2 * rest >= exact.denominator:
        whole += 1
    return whole if exact >= 0 else -whole


def to_minor(value: Decimal | str | int, currency: str) -> int:
    """Convert an amount in major units (Decimal("12.5"), "12.50", 12) to minor units.

    More decimals than the currency has raise InvalidAmount rather than being rounded away.
    """
    code = normalize_currency(currency)
    places = exponent(code)
    minor = Fraction(_as_decimal(value)) * 10**places
    if minor.denominator != 1:
        raise InvalidAmount(_too_many_decimals(code, places))
    return minor.numerator


def to_major(amount: int, currency: str) -> Decimal:
    """Convert minor units to a Decimal in major units, with the currency's decimals."""
    # Built from text so that no Decimal context can round a large amount.
    return Decimal(f"{require_int(amount)}E-{exponent(currency)}")


def parse_money(text: str, currency: str, locale: str) -> int:
    """Read a non-negative amount typed in the user's locale ("12,00 €" in de_DE) as minor units.

    The currency's symbol or code and surrounding spaces are ignored; grouping must be the
    locale's (Babel strict mode), so "12.00" in de_DE is refused instead of read as 1200.
    """
    code = normalize_currency(currency)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    number = text
    for mark in (get_currency_symbol(code, locale), code, *_BIDI_MARKS):
        number = number.replace(mark, "")
    number = number.strip()
    group = get_group_symbol(locale)
    if group.isspace():
        # Users type a plain space where the locale groups with U+00A0 or U+202F (fr_FR).
        number = re.sub(r"\s", group, number)
    # Letters left over (garbage, "NaN", "1e5") are refused before Babel would accept some.
    if not number or any(char.isalpha() for char in number):
        raise InvalidAmount(f"{text!r} is not a valid amount.")
    try:
        value = parse_decimal(number, locale=locale, strict=True)
    except NumberFormatError as error:
        suggestions = " or ".join(map(repr, error.suggestions or ()))
        hint = f" Did you mean {suggestions}?" if suggestions else ""
        raise InvalidAmount(f"{text!r} is not a valid amount.{hint}") from None
    if value < 0:
        raise InvalidAmount("The amount must not be negative.")
    return to_minor(value, code)


@lru_cache(maxsize=256)
def _money_pattern(locale: str, places: int):
    """Babel's locale and currency pattern, with our exponent in place of its own currency precision.
    Cached: parsing the locale for every amount was a fifth of a history page's time."""
    parsed = Locale.parse(locale)
    pattern = copy.copy(parsed.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return parsed, pattern


def format_money(amount: int, currency: str, locale: str = "en_US") -> str:
    """Format minor units for display with Babel, showing exactly the currency's decimals."""
    code = _code(currency)
    parsed, pattern = _money_pattern(locale, exponent(code))
    return pattern.apply(to_major(amount, code), parsed, currency=code, currency_digits=False)


@total_ordering
@dataclass(frozen=True)
class Money:
    """An amount with its currency; arithmetic and ordering refuse to mix currencies."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        require_int(self.amount)
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> "Money":
        """The start value for `sum(moneys, Money.zero(currency))`."""
        return cls(0, currency)

    def _amount_of(self, other: "Money") -> int:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot combine amounts in {self.currency} and {other.currency}."
            )
        return other.amount

    def __add__(self, other: object) -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.amount + self._amount_of(other), self.currency)

    def __sub__(self, other: object) -> "Money":
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.amount - self._amount_of(other), self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount < self._amount_of(other)


def _as_decimal(value: Decimal | str | int) -> Decimal:
    if isinstance(value, (bool, float)):
        raise TypeError(f"money cannot be a {type(value).__name__}; use a Decimal, str or int")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(f"{value!r} is not a valid amount.") from None
    elif isinstance(value, Decimal):
        number = value
    else:
        raise TypeError(f"expected a Decimal, str or int, got {type(value).__name__}")
    if not number.is_finite():
        raise InvalidAmount(f"{value!r} is not a valid amount.")
    return number


def _too_many_decimals(code: str, places: int) -> str:
    if places == 0:
        return f"{code} has no minor unit: enter a whole amount."
    return f"{code} amounts have at most {places} decimal places."
