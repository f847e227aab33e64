"""Tax IDs checked with python-stdnum, check digits included, kept in one form per country."""

import pytest

from billing_portal.billing.errors import DomainError
from billing_portal.billing.taxation import normalize_tax_id
from billing_portal.billing.taxation.tax_ids import EU_MEMBER_STATES, is_eu_vat_id


@pytest.mark.parametrize("tax_id, country, kept", [
    ("220-81-62517", "KR", "220-81-62517"),
    ("1248100998", "KR", "124-81-00998"),
    ("220-81-62518", "KR", None),  # wrong check digit
    ("12345", "KR", None),
    ("12-3456789", "US", "12-3456789"),
    ("123456789", "US", "12-3456789"),
    ("07-3456789", "US", None),  # a prefix the IRS never assigned
    ("DE136695976", "DE", "DE136695976"),
    ("de 136.695.976", "DE", "DE136695976"),
    ("136695976", "DE", "DE136695976"),  # typed without the prefix
    ("DE136695977", "DE", None),  # the right shape, the wrong check digit: a pattern let it through
    ("DE12345678", "DE", None),
    ("FR40303265045", "FR", "FR40303265045"),
    ("NL004495445B01", "NL", "NL004495445B01"),
    ("EL094259216", "GR", "EL094259216"),
    ("094259216", "GR", "EL094259216"),
    ("GR094259216", "GR", "EL094259216"),  # the ISO code typed where the VAT prefix goes
    ("ATU13585627", "AT", "ATU13585627"),
    ("U13585627", "AT", "ATU13585627"),
    ("ATU12345678", "AT", None),
    ("IE6433435F", "IE", "IE6433435F"),
    ("GB980780684", "GB", "GB980780684"),
    ("GB980780685", "GB", None),
    ("51824753556", "AU", "51 824 753 556"),  # stdnum's ABN, in its format
    ("51 824 753 557", "AU", None),
    ("CHE-116.281.710 MWST", "CH", "CHE-116.281.710 MWST"),
    ("Reg 2021/123456", "ZA", "Reg 2021/123456"),  # no module for the country: kept as typed
    ("<b>", "ZA", None),
])
def test_tax_ids_per_country(tax_id, country, kept):
    if kept is None:
        with pytest.raises(DomainError):
            normalize_tax_id(tax_id, country)
    else:
        assert normalize_tax_id(tax_id, country) == kept


def test_the_korean_check_digit():
    from billing_portal.billing.taxation.tax_ids import korean_check_digit_ok

    assert korean_check_digit_ok("2208162517") and korean_check_digit_ok("1248100998")
    assert not korean_check_digit_ok("2208162510")


def test_messages_say_what_to_type():
    with pytest.raises(DomainError, match="Enter a valid DE VAT number, starting with DE."):
        normalize_tax_id("DE136695977", "DE")
    with pytest.raises(DomainError, match="Enter the 9-digit EIN"):
        normalize_tax_id("07-3456789", "US")
    with pytest.raises(DomainError, match="not a valid tax ID for AU"):
        normalize_tax_id("51 824 753 557", "AU")


def test_the_member_states_and_what_counts_as_an_eu_vat_id():
    assert len(EU_MEMBER_STATES) == 27 and {"DE", "GR", "IE"} <= EU_MEMBER_STATES and "GB" not in EU_MEMBER_STATES
    assert is_eu_vat_id("DE136695976", "DE") and is_eu_vat_id("EL094259216", "GR")
    assert not is_eu_vat_id("DE136695976", "FR")  # a German number for a French buyer
    assert not is_eu_vat_id("GB980780684", "GB") and not is_eu_vat_id("", "DE")
