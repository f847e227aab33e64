"""Which tax an invoice carries: the country's rate, the EU B2B reverse charge, the won's rounding;
checked through real invoices and their PDFs."""

import io
from decimal import Decimal

import pypdf
import pytest

from billing_portal.billing import invoices, repository
from billing_portal.billing.invoice_document import build_invoice_document
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.taxation import applied_tax
from billing_portal.billing.taxation.rules import REVERSE_CHARGE_NOTE
from billing_portal.gateways.pdf import render_invoice
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer

EU_RATES = '{"DE": {"rate": "19"}, "FR": {"rate": "20"}, "KR": {"rate": "10", "inclusive": true}}'


@pytest.fixture
def eu_seller(monkeypatch):
    monkeypatch.setenv("SELLER_COUNTRY", "DE")
    monkeypatch.setenv("TAX_RATES", EU_RATES)
    get_settings.cache_clear()


def buyer(session, email: str, country: str, tax_id: str = "", currency: str = "EUR"):
    customer = make_customer(session, email, country=country, currency=currency)
    customer.tax_id = tax_id
    session.add(customer)
    session.flush()
    return customer


def invoice_for(session, customer, *amounts: int, currency: str = "EUR"):
    draft = invoices.create_draft(session, customer_id=customer.id, currency=currency, now=T0,
                                  lines=[DraftLine(f"Line {i}", amount) for i, amount in enumerate(amounts)])
    return invoices.finalize(session, draft.id, now=T0)


def pdf_text(session, invoice) -> str:
    data = render_invoice(build_invoice_document(session, invoice.id))
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_a_business_in_another_member_state_is_reverse_charged(session, eu_seller):
    french = buyer(session, "compta@example.fr", "FR", "FR40303265045")
    rule = applied_tax(french, "EUR")
    assert (rule.rate, rule.reverse_charge, rule.note) == (Decimal(0), True, REVERSE_CHARGE_NOTE)
    assert rule.label == "Reverse charge (EU business, VAT ID FR40303265045)"
    invoice = invoice_for(session, french, 10000)
    assert (invoice.subtotal, invoice.tax, invoice.total, invoice.tax_note) == (10000, 0, 10000, REVERSE_CHARGE_NOTE)
    text = pdf_text(session, invoice)
    assert "Reverse charge: VAT to be accounted for by the recipient" in text and "FR40303265045" in text


@pytest.mark.parametrize("country, tax_id, rate, label", [
    ("DE", "DE136695976", Decimal("19"), "19 % for DE, added to the price"),  # same country as the seller
    ("FR", "", Decimal("20"), "20 % for FR, added to the price"),  # a consumer: no VAT ID
    ("FR", "DE136695976", Decimal("20"), "20 % for FR, added to the price"),  # a VAT ID of another state
    ("GB", "GB980780684", Decimal(0), "No tax in GB"),  # outside the EU: the operator's rates decide
])
def test_otherwise_the_countrys_rate_applies(session, eu_seller, country, tax_id, rate, label):
    rule = applied_tax(buyer(session, f"{country}{tax_id}@example.com", country, tax_id), "EUR")
    assert (rule.rate, rule.reverse_charge, rule.label, rule.note) == (rate, False, label, "")


def test_a_seller_outside_the_eu_never_reverse_charges(session, monkeypatch):
    monkeypatch.setenv("TAX_RATES", EU_RATES)
    monkeypatch.setenv("SELLER_COUNTRY", "US")
    get_settings.cache_clear()
    rule = applied_tax(buyer(session, "compta@example.fr", "FR", "FR40303265045"), "EUR")
    assert (rule.rate, rule.reverse_charge) == (Decimal("20"), False)
    assert applied_tax(None, "USD").label == "No tax: no billing country given"


def test_won_tax_is_truncated_below_one_won_when_the_setting_says_so(session, monkeypatch):
    monkeypatch.setenv("TAX_RATES", EU_RATES)
    monkeypatch.setenv("KR_VAT_ROUNDING", "truncate")
    get_settings.cache_clear()
    kim = buyer(session, "kim@example.kr", "KR", currency="KRW")
    assert applied_tax(kim, "KRW").rounding == "truncate" and applied_tax(kim, "USD").rounding == "half_up"
    # 999 × 10/110 = 90.82: 90 truncated (91 half up); -555: -50.45 → -50 either way; 11,000: 1,000 exactly.
    invoice = invoice_for(session, kim, 11000, 999, -555, currency="KRW")
    assert [r.tax_amount for r in repository.invoice_lines(session, invoice.id)] == [1000, 90, -50]
    assert (invoice.subtotal, invoice.tax, invoice.total, invoice.tax_rounding) == (10404, 1040, 11444, "truncate")
    # The invoice keeps its rule: its document adds up the same after the setting changes back.
    monkeypatch.setenv("KR_VAT_ROUNDING", "half_up")
    get_settings.cache_clear()
    document = build_invoice_document(session, invoice.id)
    assert sum(row.tax for row in document.tax_breakdown) == document.tax == 1040


def test_half_up_stays_the_default_for_won(session, monkeypatch):
    monkeypatch.setenv("TAX_RATES", EU_RATES)
    get_settings.cache_clear()
    invoice = invoice_for(session, buyer(session, "lee@example.kr", "KR", currency="KRW"), 999, currency="KRW")
    assert (invoice.tax, invoice.tax_rounding) == (91, "half_up")
