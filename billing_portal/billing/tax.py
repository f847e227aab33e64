"""Tax: one rate per line, rounded per line, then summed.

A rate is a percentage given as a Decimal (or int), 0 <= rate <= 100, e.g. Decimal("8.875").
Exclusive: the line amount is the net and tax = round_half_up(net * rate / 100). Inclusive: the
line amount is the gross, tax = round_half_up(gross * rate / (100 + rate)) and net = gross - tax,
so net + tax == gross exactly. Negative amounts (credits) get negative tax with the same rounding
mirrored, because round_half_up is symmetric around zero. An invoice's tax is the sum of its
rounded line taxes, never the tax of a summed amount: subtotal = sum of line nets, tax = sum of
line taxes, total = subtotal + tax, so every line shown adds up to the invoice total. All
arithmetic is exact (Fraction) before the single rounding.

`rounding` is half up (the default), or "truncate": toward zero, for the won when KR_VAT_ROUNDING
says so (billing/taxation/rules.py). Truncating loses the inclusive/exclusive agreement below by at
most one quantum more; every line still adds up to the total.

`quantum` is the smallest amount the processor takes in the invoice's currency (10 for the
three-decimal currencies, whose last digit Stripe wants 0; 100 for MGA; else 1:
gateways/stripe_currencies.quantum): each line's tax is rounded half up to a multiple of it, so a
total of lines priced in multiples of it is chargeable as it stands.

Inclusive and exclusive agree (0 <= rate <= 100, any integer amount; tests check both):
- exclusive on net N gives gross G; inclusive on G gives back N and the same tax exactly.
  Proof: with rounding errors |e1|, |e2| <= 1/2, the net returned is N + e1*100/(100+rate) - e2;
  for rate > 0 the first error is below 1/2 in size, so the integer difference is under 1, hence 0
  (rate 0 has no error at all).
- inclusive on gross G gives net N; exclusive on N gives a gross within 1 minor unit of G.
  Proof: the difference is e2 - e1*(1 + rate/100), at most 1/2 + 1/2*2 = 1.5 in size, and it is an
  integer. A difference of exactly 1 does occur, so this bound is tight.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, NamedTuple, Protocol

from .money import require_int, round_half_up

Rounding = Literal["half_up", "truncate"]


@dataclass(frozen=True)
class LineTax:
    net: int
    tax: int
    gross: int


class TaxedLine(Protocol):
    """Anything with these attributes can be totalled, e.g. an invoice line row."""

    @property
    def amount(self) -> int: ...

    @property
    def rate(self) -> Decimal: ...

    @property
    def inclusive(self) -> bool: ...


class RateTotal(NamedTuple):
    rate: Decimal
    inclusive: bool
    net: int
    tax: int


@dataclass(frozen=True)
class Totals:
    subtotal: int
    tax: int
    total: int
    # One row per (rate, inclusive), sorted by rate then exclusive before inclusive.
    by_rate: tuple[RateTotal, ...]


def line_tax(amount: int, rate: Decimal, inclusive: bool, quantum: int = 1, rounding: Rounding = "half_up") -> LineTax:
    """Split one line into net, tax and gross; amount is the net, or the gross when inclusive."""
    require_int(amount)
    percent = _percent(rate)
    if not isinstance(inclusive, bool):
        raise TypeError(f"inclusive must be a bool, got {type(inclusive).__name__}")
    if require_int(quantum, "quantum") < 1:
        raise ValueError("quantum must be at least 1")
    if rounding not in ("half_up", "truncate"):
        raise ValueError(f"rounding is half_up or truncate, got {rounding!r}")
    exact = amount * percent / ((100 + percent) if inclusive else 100) / quantum
    tax = (round_half_up(exact) if rounding == "half_up" else int(exact)) * quantum  # int() truncates toward 0
    if inclusive:
        return LineTax(net=amount - tax, tax=tax, gross=amount)
    return LineTax(net=amount, tax=tax, gross=amount + tax)


def invoice_totals(lines: Iterable[TaxedLine], quantum: int = 1, rounding: Rounding = "half_up") -> Totals:
    """Total an invoice from its lines, rounding each line's tax before summing."""
    groups: dict[tuple[Decimal, bool], tuple[int, int]] = {}
    for line in lines:
        taxed = line_tax(line.amount, line.rate, line.inclusive, quantum, rounding)
        net, tax = groups.get((line.rate, line.inclusive), (0, 0))
        groups[(line.rate, line.inclusive)] = (net + taxed.net, tax + taxed.tax)
    by_rate = tuple(
        RateTotal(rate, inclusive, net, tax)
        for (rate, inclusive), (net, tax) in sorted(groups.items())
    )
    subtotal = sum(row.net for row in by_rate)
    tax = sum(row.tax for row in by_rate)
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax, by_rate=by_rate)


def _percent(rate: Decimal) -> Fraction:
    if isinstance(rate, bool) or not isinstance(rate, (Decimal, int)):
        raise TypeError(f"rate must be a Decimal percentage, got {type(rate).__name__}")
    if not Decimal(rate).is_finite() or not 0 <= rate <= 100:
        raise ValueError(f"rate must be between 0 and 100 percent, got {rate}")
    return Fraction(rate)
