"""A buyer's tax ID, checked with python-stdnum by the rules of its country (formats and check
digits as each tax authority publishes them), kept in stdnum's canonical form:

- EU member states: the VAT number with its country prefix (Greece's is EL), e.g. DE136695976;
  typed with or without the prefix, spaces, dots or dashes.
- Korea: the business registration number (사업자등록번호), kept as 123-45-67890.
- United States: an EIN, kept as 12-3456789. United Kingdom: a VAT number, kept as GB980780684.
- Elsewhere, the VAT or business number stdnum knows for the country (Switzerland's UID-MWST,
  Australia's ABN, Norway's MVA, ...), in that module's format; countries it does not know keep
  what was typed, letters, digits, spaces and . / - only.
"""

import re

from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.kr import brn
from stdnum.us import ein
from stdnum.util import get_cc_module

from billing_portal.billing.errors import DomainError

# ISO codes of the member states; Northern Ireland's XI is a VAT prefix, not a country of its own.
EU_MEMBER_STATES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"XI"}
_VAT_PREFIX = {"GR": "EL"}
_OTHER_TAX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]*\Z")
_MESSAGES = {
    "KR": "Enter the 10-digit Korean business registration number, like 123-45-67890.",
    "US": "Enter the 9-digit EIN, like 12-3456789.",
    "GB": "Enter a valid GB VAT number, starting with GB.",
}


def normalize_tax_id(tax_id: str, country: str) -> str:
    """The tax ID in its kept form, or DomainError saying what is wrong."""
    text = " ".join(tax_id.split())
    if not text:
        return ""
    country = country.upper()
    try:
        if country in EU_MEMBER_STATES:
            prefix = _VAT_PREFIX.get(country, country)
            number = re.sub(r"[\s.\-/]", "", text).upper().removeprefix(country).removeprefix(prefix)
            return eu_vat.validate(prefix + number)
        if country == "KR":
            number = brn.validate(text)
            if not korean_check_digit_ok(number):
                raise stdnum_errors.InvalidChecksum()
            return brn.format(number)
        if country == "US":
            return ein.format(ein.validate(text))
        if country == "GB":
            return "GB" + gb_vat.validate(text)
        module = get_cc_module(country.lower(), "vat") if country.isalpha() and len(country) == 2 else None
        if module is not None:
            number = module.validate(text)
            return module.format(number) if hasattr(module, "format") else number
    except stdnum_errors.ValidationError:
        prefix = _VAT_PREFIX.get(country, country)
        raise DomainError(_MESSAGES.get(country) or (
            f"Enter a valid {prefix} VAT number, starting with {prefix}." if country in EU_MEMBER_STATES
            else f"This is not a valid tax ID for {country}: check its digits.")) from None
    if not _OTHER_TAX_ID.match(text):
        raise DomainError("A tax ID has letters, digits, spaces and . / - only.")
    return text


def korean_check_digit_ok(digits: str) -> bool:
    """The National Tax Service's check digit of a business registration number (stdnum checks
    only its length and parts)."""
    d = [int(c) for c in digits]
    total = sum(x * w for x, w in zip(d[:9], (1, 3, 7, 1, 3, 7, 1, 3, 5), strict=True)) + d[8] * 5 // 10
    return (10 - total % 10) % 10 == d[9]


def is_eu_vat_id(tax_id: str, country: str) -> bool:
    """Whether `tax_id` (as kept) is a valid VAT number of the EU member state `country`."""
    prefix = _VAT_PREFIX.get(country.upper(), country.upper())
    return country.upper() in EU_MEMBER_STATES and tax_id.startswith(prefix) and eu_vat.is_valid(tax_id)
