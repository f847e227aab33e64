"""What an invoice PDF shows, built from stored rows: the frozen snapshot, lines, tax, payments, refunds."""

import io
from datetime import timedelta
from decimal import Decimal

import pypdf
import pytest

from billing_portal.billing import invoices, payments
from billing_portal.billing.errors import DomainError, NotFound
from billing_portal.billing.invoice_document import (
    DocLine,
    Party,
    build_credit_note_document,
    build_invoice_document,
)
from billing_portal.billing.invoices import DraftLine
from billing_portal.billing.tax import RateTotal
from billing_portal.gateways.pdf import render_credit_note, render_invoice
from billing_portal.settings import get_settings
from tests.support.builders import T0, make_customer

KOREAN_VAT = '{"KR": {"rate": "10", "inclusive": true}}'


@pytest.fixture
def korean_vat(monkeypatch):
    monkeypatch.setenv("TAX_RATES", KOREAN_VAT)
    monkeypatch.setenv("SELLER_NAME", "Billing Portal Korea Ltd.")
    monkeypatch.setenv("SELLER_ADDRESS", "1 Market Street\nSan Francisco, CA 94105")
    monkeypatch.setenv("SELLER_TAX_ID", "US 12-3456789")
    get_settings.cache_clear()


def korean_customer(session):
    customer = make_customer(session, "minjun@example.kr", country="KR", currency="KRW")
    customer.name, customer.company = "김민준", "주식회사 테스트"
    customer.address_line1 = "서울특별시 강남구 테헤란로 152"
    customer.city, customer.postal_code = "Seoul", "06236"
    customer.tax_id, customer.locale, customer.invoice_email = "123-45-67890", "ko_KR", "billing@example.kr"
    session.add(customer)
    session.flush()
    return customer


def paid_krw_invoice(session, customer):
    draft = invoices.create_draft(
        session, customer_id=customer.id, currency="KRW", now=T0,
        lines=[DraftLine("Pro plan — monthly", 15000, period_start=T0, period_end=T0 + timedelta(days=28))],
    )
    invoice = invoices.finalize(session, draft.id, now=T0)
    payment = payments.record_payment(
        session, invoice_id=invoice.id, idempotency_key=f"invoice:{invoice.id}", succeeded=True, now=T0
    )
    return invoice, payment


def test_a_paid_korean_invoice_shows_its_snapshot_lines_and_inclusive_tax(session, korean_vat):
    customer = korean_customer(session)
    invoice, _ = paid_krw_invoice(session, customer)

    doc = build_invoice_document(session, invoice.id)

    assert (doc.kind, doc.number, doc.status, doc.currency, doc.locale) == (
        "invoice", invoice.number, "paid", "KRW", "ko_KR"
    )
    assert doc.issued_at == doc.due_at == doc.paid_at == T0
    assert doc.seller == Party(
        name="Billing Portal Korea Ltd.", address_lines=("1 Market Street", "San Francisco, CA 94105"),
        tax_id="US 12-3456789",
    )
    assert doc.buyer == Party(
        name="김민준", company="주식회사 테스트",
        address_lines=("서울특별시 강남구 테헤란로 152", "Seoul, 06236", "대한민국"),
        tax_id="123-45-67890", email="billing@example.kr",
    )
    (line,) = doc.lines
    assert line == DocLine(
        description="Pro plan — monthly", quantity=1, unit_amount=15000, amount=15000,
        tax_rate=Decimal("10"), tax_inclusive=True, tax_amount=1364,
        period_start=T0, period_end=T0 + timedelta(days=28),
    )
    assert doc.tax_breakdown == (RateTotal(Decimal("10"), True, 13636, 1364),)
    assert (doc.subtotal, doc.tax, doc.total, doc.amount_paid, doc.amount_refunded) == (13636, 1364, 15000, 15000, 0)
    assert doc.amount_due == 0


def test_the_buyer_is_the_frozen_snapshot_not_the_current_customer(session, korean_vat):
    customer = korean_customer(session)
    invoice, _ = paid_krw_invoice(session, customer)
    customer.name, customer.address_line1 = "Someone Else", "Elsewhere 1"
    session.add(customer)
    session.flush()

    doc = build_invoice_document(session, invoice.id)

    assert doc.buyer.name == "김민준"
    assert doc.buyer.address_lines[0] == "서울특별시 강남구 테헤란로 152"


def test_an_open_invoice_owes_its_total_and_a_void_one_owes_nothing(session):
    customer = make_customer(session)
    draft = invoices.create_draft(
        session, customer_id=customer.id, currency="USD", now=T0,
        lines=[DraftLine("Seats", 1250, quantity=4), DraftLine("Storage add-on", 999)],
    )
    invoice = invoices.finalize(session, draft.id, now=T0)

    doc = build_invoice_document(session, invoice.id)
    assert (doc.status, doc.total, doc.amount_due, doc.locale) == ("open", 5999, 5999, "en_US")
    assert [line.amount for line in doc.lines] == [5000, 999]
    assert doc.tax_breakdown == (RateTotal(Decimal("0"), False, 5999, 0),)

    invoices.void(session, invoice.id, now=T0 + timedelta(days=1))
    voided = build_invoice_document(session, invoice.id)
    assert (voided.status, voided.voided_at, voided.amount_due) == ("void", T0 + timedelta(days=1), 0)


def test_a_draft_has_no_pdf_and_a_missing_invoice_is_not_found(session):
    customer = make_customer(session)
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Seats", 100)])
    with pytest.raises(DomainError, match="draft"):
        build_invoice_document(session, draft.id)
    with pytest.raises(NotFound):
        build_invoice_document(session, 987654)


def test_an_unknown_snapshot_locale_falls_back_to_the_default(session):
    customer = make_customer(session)
    customer.locale = "xx_NOPE"
    session.add(customer)
    session.flush()
    draft = invoices.create_draft(session, customer_id=customer.id, currency="USD", lines=[DraftLine("Seats", 100)])
    invoice = invoices.finalize(session, draft.id, now=T0)
    assert build_invoice_document(session, invoice.id).locale == "en_US"


def test_a_refund_gets_a_credit_note_with_negative_lines(session, korean_vat):
    customer = korean_customer(session)
    invoice, payment = paid_krw_invoice(session, customer)
    refund = payments.record_refund(session, payment_id=payment.id, amount=15000, reason="Changed plans", now=T0)

    note = build_credit_note_document(session, refund.id)

    assert (note.kind, note.status, note.reference, note.currency) == ("credit_note", "issued", invoice.number, "KRW")
    assert note.number == f"{invoice.number}-CN{refund.id}"
    assert note.buyer.name == "김민준"
    (line,) = note.lines
    assert (line.amount, line.tax_rate, line.tax_inclusive, line.tax_amount) == (-15000, Decimal("10"), True, -1364)
    assert line.description == f"Refund of invoice {invoice.number}: Changed plans"
    assert (note.subtotal, note.tax, note.total, note.amount_refunded) == (-13636, -1364, -15000, 15000)
    assert build_invoice_document(session, invoice.id).amount_refunded == 15000


def test_a_partial_refund_is_shared_across_the_invoices_tax_rates(session, korean_vat):
    customer = korean_customer(session)
    draft = invoices.create_draft(session, customer_id=customer.id, currency="KRW", lines=[DraftLine("Plan", 30000)])
    invoices.add_line(session, draft, DraftLine("Exempt service", 10000))  # 0 %, as added by hand
    invoice = invoices.finalize(session, draft.id, now=T0)
    payment = payments.record_payment(session, invoice_id=invoice.id, idempotency_key="inv:mixed", succeeded=True)
    refund = payments.record_refund(session, payment_id=payment.id, amount=10001, reason="")

    note = build_credit_note_document(session, refund.id, number="CN-2026-000001")

    assert note.number == "CN-2026-000001"
    shares = sorted((line.tax_rate, line.amount) for line in note.lines)
    assert shares == [(Decimal("0"), -2500), (Decimal("10"), -7501)]
    assert note.total == -10001
    assert sum(row.net + row.tax for row in note.tax_breakdown) == -10001


def test_only_a_refund_that_went_through_gets_a_credit_note(session):
    with pytest.raises(NotFound):
        build_credit_note_document(session, 424242)


def test_stored_invoices_render_to_pdfs_that_read_back(session, korean_vat):
    customer = korean_customer(session)
    invoice, payment = paid_krw_invoice(session, customer)
    refund = payments.record_refund(session, payment_id=payment.id, amount=5000, reason="Goodwill")

    invoice_text = _text(render_invoice(build_invoice_document(session, invoice.id)))
    note_text = _text(render_credit_note(build_credit_note_document(session, refund.id)))

    assert invoice.number in invoice_text and "김민준" in invoice_text and "₩15,000" in invoice_text
    assert "Credit note" in note_text and "-₩5,000" in note_text and invoice.number in note_text


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
