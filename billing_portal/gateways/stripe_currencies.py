"""What Stripe accepts per currency, and the one conversion between our amounts and Stripe's.

Source, read 2026-12-07: Stripe's "Supported currencies" page, https://docs.stripe.com/currencies
(sections "Supported presentment currencies", "Zero-decimal currencies", "Three-decimal
currencies", "Special cases", "Minimum and maximum charge amounts"), and Stripe's support note
"Deprecation of fractional ISK charges and refunds" (support.stripe.com, enforced 2023-04-14).

Our amounts are integers in the ISO 4217 minor unit (billing/money.py). Stripe's `amount` is an
integer in *Stripe's* minor unit, which differs from ISO for some codes:

- Zero-decimal (Stripe sends whole units): BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF
  XOF XPF. ISO gives MGA two decimals, so MGA is divided by 100 on the way out (and only whole
  ariary can be charged). Stripe's list also names UGX, but see the special cases.
- Special cases: ISK and UGX became effectively zero-decimal (ISO: 0 decimals) but Stripe keeps
  them two-decimal for backward compatibility, the amount always a multiple of 100 (5 ISK is
  `500`): ours x 100. HUF and TWD are charged as two-decimal amounts; only payouts must be whole
  units (multiples of 100), which this portal never makes.
- Three-decimal: BHD JOD KWD OMR TND are sent with 3 decimals, but the last digit must be 0
  (Stripe: "round amounts to the nearest ten"): a price there is a multiple of 10 fils, and tax
  and proration round to it (billing/tax.py, invoices.add_line).
- Minimum charge: Stripe's table per settlement currency below; any other currency's minimum is
  "$0.50 US or equivalent in charge currency" at the day's rate, which we do not know, so none is
  checked here and Stripe's own `amount_too_small` answer is the check.

Listed by Stripe but refused by us because ISO 4217 withdrew them: ANG (replaced by XCG in 2025)
and STD (replaced by STN in 2018).
"""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from billing_portal.billing import money
from billing_portal.billing.errors import InvalidAmount

_TWO_DECIMAL = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BWP BYN BZD CAD CDF CHF "
    "CNY COP CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GTQ GYD HKD HNL HTG HUF IDR "
    "ILS INR JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MUR MVR MWK MXN MYR "
    "MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SEK SGD SHP SLE "
    "SOS SRD SZL THB TJS TOP TRY TTD TWD TZS UAH USD UYU UZS WST XCD YER ZAR ZMW"
).split()
_ZERO_DECIMAL = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF".split()
_THREE_DECIMAL = "BHD JOD KWD OMR TND".split()
_WHOLE_UNITS_IN_HUNDREDTHS = "ISK UGX".split()  # Stripe's special cases: two-decimal, multiple of 100

# Stripe's minimum charge per settlement currency, in the currency's major unit as the page gives it.
_MINIMUMS = {
    "USD": "0.50", "AED": "2.00", "AUD": "0.50", "BGN": "1.00", "BRL": "0.50", "CAD": "0.50",
    "CHF": "0.50", "CZK": "15.00", "DKK": "2.50", "EUR": "0.50", "GBP": "0.30", "HKD": "4.00",
    "HUF": "175.00", "INR": "0.50", "JPY": "50", "MXN": "10", "MYR": "2", "NOK": "3.00",
    "NZD": "0.50", "PLN": "2.00", "RON": "2.00", "SEK": "3.00", "SGD": "0.50", "THB": "10",
}


@dataclass(frozen=True)
class StripeCurrency:
    code: str
    decimals: int  # decimals of Stripe's `amount`, as Stripe counts them
    step: int  # Stripe's `amount` must be a multiple of this (its special cases and three-decimal rule)
    minimum: int | None  # smallest charge, in OUR minor units; None where Stripe's table has none
    rule: str  # the rule in words, for messages and the README

    @property
    def quantum(self) -> int:
        """Smallest amount in our minor units that Stripe can take: every price, line, tax and
        refund in this currency is a multiple of it (10 fils for KWD, 100 for MGA, else 1)."""
        ours = Fraction(self.step) * Fraction(10) ** (money.exponent(self.code) - self.decimals)
        return max(1, int(ours))


def _entry(code: str, decimals: int, step: int, rule: str) -> StripeCurrency:
    minimum = _MINIMUMS.get(code)
    return StripeCurrency(code, decimals, step, money.to_minor(minimum, code) if minimum else None, rule)


STRIPE_CURRENCIES: dict[str, StripeCurrency] = {
    **{c: _entry(c, 2, 1, "two decimals") for c in _TWO_DECIMAL},
    **{c: _entry(c, 0, 1, "zero-decimal: whole units only") for c in _ZERO_DECIMAL},
    **{c: _entry(c, 3, 10, "three decimals, the last one 0") for c in _THREE_DECIMAL},
    **{c: _entry(c, 2, 100, "whole units only, sent as hundredths") for c in _WHOLE_UNITS_IN_HUNDREDTHS},
}


class UnsupportedCurrency(InvalidAmount):
    """Stripe does not take this currency."""


class NotChargeable(InvalidAmount):
    """Stripe would refuse this amount in this currency (its divisibility rule)."""


def stripe_currency(currency: str) -> StripeCurrency:
    """The table row of a currency Stripe takes; UnsupportedCurrency (with a message) otherwise."""
    code = money.normalize_currency(currency)
    row = STRIPE_CURRENCIES.get(code)
    if row is None:
        raise UnsupportedCurrency(f"Our payment processor (Stripe) does not take {code}.")
    return row


@lru_cache(maxsize=256)
def quantum(currency: str) -> int:
    """Smallest chargeable step in our minor units; 1 for a currency Stripe does not take."""
    row = STRIPE_CURRENCIES.get(money.normalize_currency(currency))
    return row.quantum if row else 1


def round_to_chargeable(amount: int, currency: str) -> int:
    """Our written rule where Stripe says to round: half up (ties away from zero) to the quantum."""
    step = quantum(currency)
    return money.round_half_up(Fraction(money.require_int(amount), step)) * step


def check_chargeable(amount: int, currency: str, what: str = "The amount") -> None:
    """InvalidAmount with a message when Stripe would refuse this amount in this currency."""
    row = stripe_currency(currency)
    if money.require_int(amount) % row.quantum:
        shown = money.format_money(row.quantum, row.code)
        raise NotChargeable(f"{what} in {row.code} must be a multiple of {shown} ({row.rule}).")


def below_minimum(amount: int, currency: str) -> bool:
    """True when a positive charge is under Stripe's minimum for the currency (when it has one)."""
    row = stripe_currency(currency)
    return row.minimum is not None and 0 < amount < row.minimum


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our minor units -> the integer Stripe's API expects; NotChargeable when Stripe would refuse it."""
    check_chargeable(amount, currency)
    row = stripe_currency(currency)
    value = Fraction(amount) * Fraction(10) ** (row.decimals - money.exponent(row.code))
    return int(value)  # whole: the quantum check above guarantees it


def from_stripe_amount(amount: int, currency: str) -> int:
    """An amount from Stripe (API answers, webhook payloads) -> our minor units (rounded half up if
    Stripe ever sent a fraction of our unit, which its rules exclude)."""
    code = money.normalize_currency(currency)
    row = STRIPE_CURRENCIES.get(code)
    decimals = row.decimals if row else money.exponent(code)
    return money.round_half_up(Fraction(int(amount)) * Fraction(10) ** (money.exponent(code) - decimals))
