"""The tax an invoice of a customer carries, and the words that say which rule applied."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from billing_portal.billing.taxation.tax_ids import EU_MEMBER_STATES, is_eu_vat_id
from billing_portal.models import Customer
from billing_portal.settings import get_settings

Rounding = Literal["half_up", "truncate"]
# What an invoice under the EU reverse charge must say (VAT Directive 2006/112/EC, art. 226(11a)).
REVERSE_CHARGE_NOTE = ("Reverse charge: VAT to be accounted for by the recipient "
                       "(Article 196, Council Directive 2006/112/EC).")


@dataclass(frozen=True)
class AppliedTax:
    rate: Decimal  # percent
    inclusive: bool
    rounding: Rounding
    reverse_charge: bool
    label: str  # for the tax line: which rule applied
    note: str = ""  # what the invoice says about it (the reverse charge), else ""


def applied_tax(customer: Customer | None, currency: str) -> AppliedTax:
    """The operator's rate for the buyer's country, or the EU B2B reverse charge: zero tax when the
    seller (SELLER_COUNTRY) and the buyer are in different EU member states and the buyer's tax ID
    is a valid VAT number of its country."""
    settings = get_settings()
    country = (customer.country or "").upper() if customer else ""
    rounding = rounding_for(currency)
    seller = settings.seller_country.upper()
    if (customer is not None and seller in EU_MEMBER_STATES and country in EU_MEMBER_STATES and country != seller
            and is_eu_vat_id(customer.tax_id, country)):
        return AppliedTax(Decimal(0), False, rounding, True, f"Reverse charge (EU business, VAT ID {customer.tax_id})",
                          REVERSE_CHARGE_NOTE)
    rule = settings.tax_rates.get(country)
    if rule is None or not rule.rate:
        label = f"No tax in {country}" if country else "No tax: no billing country given"
        return AppliedTax(Decimal(0), False, rounding, False, label)
    rate = f"{rule.rate.normalize():f}"
    how = "included in the price" if rule.inclusive else "added to the price"
    return AppliedTax(rule.rate, rule.inclusive, rounding, False, f"{rate} % for {country}, {how}")


def rounding_for(currency: str) -> Rounding:
    """How a line's tax is rounded: half up, but won as KR_VAT_ROUNDING says (Korean tax invoices
    commonly drop the part below 1 won, 원 미만 절사)."""
    return get_settings().kr_vat_rounding if currency.upper() == "KRW" else "half_up"
