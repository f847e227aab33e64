"""Billing details: every field checked, kept in a normal form, and bad input changes nothing."""

from __future__ import annotations

import pytest

from billing_portal.billing.billing_details import (
    BillingDetails,
    InvalidBillingDetails,
    billing_details,
    countries,
    save_billing_details,
    update_billing_details,
)
from billing_portal.billing.accounts import CurrentUser
from billing_portal.gateways import stripe_gateway
from billing_portal.settings import get_settings
from tests.gateways.conftest import SECRET_KEY, LocalStripeHelper
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.models import Customer
from tests.billing.test_files import local_store  # noqa: F401 - storage for the open-invoice redraw
from tests.support.builders import make_customer, make_plan

GOOD = BillingDetails(
    name="  김민준 ", company="주식회사 테스트", address_line1="서울특별시 강남구 테헤란로 152",
    city="Seoul", postal_code="06236", region="", country="kr", tax_id="220 81 62517",
    invoice_email="Billing@Example.KR", preferred_currency="krw", locale="ko-KR",
)


@pytest.fixture
def catalog(session):
    make_plan(session, "basic", tier=1, prices={("USD", "month", 1): 1000, ("KRW", "month", 1): 15000})


def test_good_details_are_saved_in_their_normal_form(session, catalog, local_store):
    customer = make_customer(session)
    updated = update_billing_details(session, customer_id=customer.id, details=GOOD)
    saved = billing_details(session, customer_id=customer.id)
    assert saved == updated.details
    assert (saved.name, saved.country, saved.tax_id, saved.preferred_currency, saved.locale) == (
        "김민준", "KR", "220-81-62517", "KRW", "ko_KR")
    assert saved.invoice_email == "Billing@example.kr"  # the domain is normalised, the local part kept
    assert updated.refreshed_invoice_ids == ()


def test_bad_input_names_every_field_and_changes_nothing(session, catalog):
    customer = make_customer(session)
    before = billing_details(session, customer_id=customer.id)
    bad = BillingDetails(name=" ", company="x" * 201, country="XX", tax_id="123", invoice_email="not-an-email",
                         preferred_currency="EUR", locale="zz_QQ", postal_code="<script>")
    with pytest.raises(InvalidBillingDetails) as refused:
        update_billing_details(session, customer_id=customer.id, details=bad)
    assert refused.value.errors == {
        "name": "Enter the name to bill.",
        "company": "Company is at most 200 characters.",
        "country": "Choose a country from the list.",
        "postal_code": "A postal code has letters, digits, spaces and hyphens only.",
        "invoice_email": "Enter a valid email address for invoices.",
        "preferred_currency": "Choose one of the currencies we sell in: KRW, USD.",
        "locale": "Choose a language from the list.",
    }
    assert "Enter the name to bill." in str(refused.value)
    session.expire_all()
    assert billing_details(session, customer_id=customer.id) == before


def test_a_tax_id_needs_its_country(session, catalog):
    customer = make_customer(session)
    details = BillingDetails(name="Ana", tax_id="123456789", invoice_email="a@example.com",
                             preferred_currency="USD", locale="en_US")
    with pytest.raises(InvalidBillingDetails) as refused:
        update_billing_details(session, customer_id=customer.id, details=details)
    assert refused.value.errors == {"tax_id": "Choose the country of the tax ID."}


def test_the_current_currency_stays_allowed_and_an_empty_catalog_allows_the_default(session):
    customer = make_customer(session, currency="JPY")
    details = BillingDetails(name="Ana", invoice_email="a@example.com", preferred_currency="JPY", locale="ja_JP")
    assert update_billing_details(session, customer_id=customer.id, details=details).details.preferred_currency == "JPY"
    usd = BillingDetails(name="Ana", invoice_email="a@example.com", preferred_currency="usd", locale="en")
    assert update_billing_details(session, customer_id=customer.id, details=usd).details.preferred_currency == "USD"


def test_unknown_customer(session):
    with pytest.raises(NotFound):
        update_billing_details(session, customer_id=999_999, details=GOOD)


@pytest.mark.parametrize("postal, country, ok", [
    ("94105", "US", True), ("94105-1234", "US", True), ("9410", "US", False),
    ("06236", "KR", True), ("6236", "KR", False), ("SW1A 1AA", "GB", True), ("10117", "DE", True),
])
def test_postal_codes_by_country(session, catalog, postal, country, ok):
    customer = make_customer(session)
    details = BillingDetails(name="Ana", postal_code=postal, country=country, invoice_email="a@example.com",
                             preferred_currency="USD", locale="en_US")
    if ok:
        update_billing_details(session, customer_id=customer.id, details=details)
        assert session.get(Customer, customer.id).postal_code == postal
    else:
        with pytest.raises(InvalidBillingDetails, match="postal code"):
            update_billing_details(session, customer_id=customer.id, details=details)


def test_countries_are_iso_codes_from_babel():
    codes = countries()
    assert {"KR", "US", "DE", "GB", "JP", "XK"} <= set(codes)
    assert not {"EU", "UN", "ZZ", "001", "QO", "EZ"} & set(codes)
    assert codes["KR"] == "South Korea"


# --- the details page's save: form fields over the stored ones, Stripe first ---------------------

FORM = {"name": "김민준", "company": "주식회사 테스트", "address_line1": "서울특별시 강남구 테헤란로 152",
        "address_line2": "12층", "city": "Seoul", "postal_code": "06236", "region": "", "country": "KR",
        "tax_id": "2208162517", "invoice_email": "billing@example.kr"}


def _user(customer: Customer) -> CurrentUser:
    return CurrentUser(user_id=customer.user_id, email="ana@example.com", role="customer", customer_id=customer.id,
                       name=customer.name, currency=customer.preferred_currency, locale=customer.locale)


@pytest.fixture
def stripe_base(localstripe_clean, monkeypatch) -> str:
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_clean.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    return localstripe_clean.url


def test_saving_the_page_updates_the_stripe_customer(session, catalog, local_store, stripe_base):
    customer = make_customer(session)
    customer.stripe_customer_id = stripe_gateway.gateway().ensure_customer(
        stripe_customer_id=None, email="ana@example.com", name="Ana", idempotency_key=f"customer:{customer.id}")
    form = {**FORM, "preferred_currency": "EUR", "stripe_customer_id": "cus_someone_else", "locale": "xx"}
    updated = save_billing_details(session, user=_user(customer), form=form)
    assert (updated.details.tax_id, updated.details.preferred_currency, updated.details.locale) == (
        "220-81-62517", "USD", "en_US")  # what the page does not edit keeps its stored value
    at_stripe = LocalStripeHelper(stripe_base).get(f"/v1/customers/{customer.stripe_customer_id}")
    assert (at_stripe["email"], at_stripe["name"]) == ("billing@example.kr", "주식회사 테스트")
    assert at_stripe["address"]["line1"] == "서울특별시 강남구 테헤란로 152"
    assert (at_stripe["address"]["postal_code"], at_stripe["address"]["country"]) == ("06236", "KR")


def test_without_a_stripe_customer_only_our_row_changes(session, catalog, local_store, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens: a call would fail
    get_settings.cache_clear()
    customer = make_customer(session)
    save_billing_details(session, user=_user(customer), form=FORM)
    assert (customer.company, customer.stripe_customer_id) == ("주식회사 테스트", None)


def test_stripe_refusing_changes_nothing(session, catalog, local_store, monkeypatch):
    customer = make_customer(session)
    customer.stripe_customer_id = "cus_unreachable"
    session.commit()  # what the rollback returns to
    before = billing_details(session, customer_id=customer.id)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    get_settings.cache_clear()
    with pytest.raises(DomainError):
        save_billing_details(session, user=_user(customer), form=FORM)
    session.rollback()
    assert billing_details(session, customer_id=customer.id) == before


def test_a_bad_tax_id_from_the_page_names_the_field(session, catalog):
    customer = make_customer(session)
    with pytest.raises(InvalidBillingDetails) as refused:
        save_billing_details(session, user=_user(customer), form={**FORM, "tax_id": "220-81-62518"})
    assert refused.value.errors == {
        "tax_id": "Enter the 10-digit Korean business registration number, like 123-45-67890."}
