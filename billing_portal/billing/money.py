"""Money: integer minor units, one rounding rule, Babel for text.

An amount is always an `int` in the currency's minor unit (cents for USD, won for KRW, fils for
BHD), paired with an ISO 4217 code. How many decimals a currency has comes from one table here:
the ISO 4217 zero- and three-decimal currencies are listed explicitly and every other code Babel
knows has two; an unknown code is refused. Floats are refused everywhere (`TypeError`), since they
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
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache, total_ordering

from babel import Locale
from babel.numbers import (
    NumberFormatError,
    get_currency_symbol,
    get_group_symbol,
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
}
_KNOWN_CURRENCIES = frozenset(list_currencies())
# Right-to-left and left-to-right marks that CLDR puts around amounts in some locales.
_BIDI_MARKS = "\u200e\u200f\u061c"


def normalize_currency(currency: str) -> str:
    """Return the upper-case ISO 4217 code; a code Babel does not know raises InvalidAmount."""
    if not isinstance(currency, str):
        raise TypeError(f"currency must be a str, got {type(currency).__name__}")
    code = currency.strip().upper()
    if code not in _KNOWN_CURRENCIES:
        raise InvalidAmount(f"{currency!r} is not a known currency code.")
    return code


def exponent(currency: str) -> int:
    """Number of decimals in the currency's minor unit: 0, 2 or 3."""
    return _EXPONENTS.get(normalize_currency(currency), 2)


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
    places = exponent(currency)
    minor = Fraction(_as_decimal(value)) * 10**places
    if minor.denominator != 1:
        raise InvalidAmount(_too_many_decimals(normalize_currency(currency), places))
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
    code = normalize_currency(currency)
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
