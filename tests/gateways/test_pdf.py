"""Invoice PDFs as a person gets them: text read back with pypdf and poppler's pdftotext, pages
rasterized with pdftoppm into tests/e2e/screenshots/pdf/ to be looked at.

Rendering is pure, so these tests build InvoiceDocument values directly (no database); building
them from stored rows is tested in tests/billing/test_invoice_document.py.
"""

import io
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from billing_portal.billing.invoice_document import DocLine, InvoiceDocument, Party
from billing_portal.billing.tax import invoice_totals, line_tax
from billing_portal.gateways.pdf import render_credit_note, render_invoice

SCREENSHOTS = Path(__file__).resolve().parents[1] / "e2e" / "screenshots" / "pdf"
ISSUED = datetime(2026, 1, 31, 12, tzinfo=UTC)
PAID = datetime(2026, 1, 31, 12, 5, tzinfo=UTC)
SELLER = Party(
    name="Billing Portal Inc.",
    address_lines=("1 Market Street", "San Francisco, CA 94105", "United States"),
    tax_id="US 12-3456789",
    email="billing@example.com",
)
KOREAN_BUYER = Party(
    name="김민준",
    company="주식회사 테스트",
    address_lines=("서울특별시 강남구 테헤란로 152", "Seoul, 06236", "대한민국"),
    tax_id="123-45-67890",
    email="minjun@example.kr",
)
US_BUYER = Party(name="Ana Lima", company="Lima Studio LLC", address_lines=("500 Howard St", "San Francisco, CA 94105"))
VAT = Decimal("10")


@pytest.fixture(scope="module", autouse=True)
def poppler():
    missing = [tool for tool in ("pdftotext", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's poppler-utils (make test-setup does)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def line(description, unit_amount, quantity=1, rate=Decimal("0"), inclusive=False, **kw) -> DocLine:
    amount = unit_amount * quantity
    return DocLine(
        description=description, quantity=quantity, unit_amount=unit_amount, amount=amount,
        tax_rate=rate, tax_inclusive=inclusive, tax_amount=line_tax(amount, rate, inclusive).tax, **kw,
    )


def document(lines, *, kind="invoice", status="paid", currency="KRW", locale="ko_KR", buyer=KOREAN_BUYER, **kw):
    totals = invoice_totals(lines)
    values = dict(
        kind=kind, number="INV-2026-000042", status=status, currency=currency, locale=locale,
        issued_at=ISSUED, due_at=ISSUED, paid_at=PAID if status == "paid" else None,
        seller=SELLER, buyer=buyer, lines=tuple(lines), tax_breakdown=totals.by_rate,
        subtotal=totals.subtotal, tax=totals.tax, total=totals.total,
        amount_paid=totals.total if status == "paid" else 0,
    )
    return InvoiceDocument(**{**values, **kw})


def korean_paid() -> InvoiceDocument:
    period = {"period_start": ISSUED, "period_end": datetime(2026, 2, 28, 12, tzinfo=UTC)}
    return document([line("Pro plan — monthly", 15000, rate=VAT, inclusive=True, **period)])


def usd_sixty_lines() -> InvoiceDocument:
    period = {"period_start": datetime(2026, 3, 1, tzinfo=UTC), "period_end": datetime(2026, 4, 1, tzinfo=UTC)}
    lines = [line(f"API calls, block {n:02d}", 1250, quantity=2, **period) for n in range(1, 61)]
    return document(lines, status="open", currency="USD", locale="en_US", buyer=US_BUYER, number="INV-2026-000043")


def void_usd() -> InvoiceDocument:
    return document(
        [line("Team plan — monthly", 4900, quantity=3)], status="void", currency="USD", locale="en_US",
        buyer=US_BUYER, number="INV-2026-000044", voided_at=datetime(2026, 2, 2, tzinfo=UTC),
    )


def korean_credit_note() -> InvoiceDocument:
    refund = line("Refund of invoice INV-2026-000042: changed plans", -15000, rate=VAT, inclusive=True)
    return document(
        [refund], kind="credit_note", status="issued", number="INV-2026-000042-CN1", reference="INV-2026-000042",
        due_at=None, amount_paid=0, amount_refunded=15000,
    )


def read_back(pdf: bytes, name: str) -> tuple[list[str], list[str]]:
    """Per-page text from pypdf and from pdftotext; writes the PDF and its pages as PNGs."""
    path = SCREENSHOTS / f"{name}.pdf"
    path.write_bytes(pdf)
    pypdf_pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    poppler = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    poppler_pages = poppler.stdout.split("\f")[: len(pypdf_pages)]
    for old in SCREENSHOTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(SCREENSHOTS / name)], check=True)
    pngs = sorted(SCREENSHOTS.glob(f"{name}-*.png"))
    assert len(pngs) == len(pypdf_pages) and all(png.stat().st_size > 5000 for png in pngs)
    return pypdf_pages, poppler_pages


def stamps(text: str) -> set[str]:
    """The stamp is the only line that is exactly PAID or VOID ("AMOUNT PAID" is a label)."""
    return {row.strip() for row in text.splitlines()} & {"PAID", "VOID"}


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    fonts = {}
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            embedded = bool(descriptor and "/FontFile2" in descriptor.get_object())
            fonts[str(font["/BaseFont"]).split("+")[-1]] = embedded
    return fonts


def test_a_korean_invoice_renders_hangul_won_and_a_paid_stamp():
    pdf = render_invoice(korean_paid())

    pypdf_pages, poppler_pages = read_back(pdf, "korean-paid")

    assert len(pypdf_pages) == 1
    for text in (pypdf_pages[0], poppler_pages[0]):
        for expected in ("김민준", "주식회사 테스트", "서울특별시 강남구 테헤란로 152", "대한민국", "INV-2026-000042",
                         "₩15,000", "₩13,636", "₩1,364", "10%", "Invoice", "Billing Portal Inc.", "Page 1 of 1"):
            assert expected in text, (expected, text)
        assert "₩15,000.00" not in text  # KRW has no minor unit
        assert stamps(text) == {"PAID"}
        assert "?" not in text  # no character fell outside the fonts
    # Hangul comes from an embedded TrueType font, never a viewer's substitute.
    assert embedded_fonts(pdf) == {"NanumGothic": True, "NanumGothicBold": True}
    assert pypdf.PdfReader(io.BytesIO(pdf)).pages[0].mediabox.height == pytest.approx(841.89, abs=0.1)  # A4


def test_sixty_lines_run_over_two_pages_with_the_header_repeated():
    pdf = render_invoice(usd_sixty_lines())

    pypdf_pages, poppler_pages = read_back(pdf, "usd-60-lines")

    assert len(pypdf_pages) == 2
    for pages in (pypdf_pages, poppler_pages):
        assert "Page 1 of 2" in pages[0] and "Page 2 of 2" in pages[1]
        for text in pages:
            assert "DESCRIPTION" in text and "UNIT PRICE" in text and "AMOUNT" in text  # repeated header row
        both = "\n".join(pages)
        assert all(both.count(f"API calls, block {n:02d}") == 1 for n in range(1, 61))
        assert "Subtotal" in pages[1] and "Subtotal" not in pages[0]  # the totals close the last page
        assert "$1,500.00" in pages[0]  # ... and the amount due is on the first
        assert "Invoice INV-2026-000043 (continued)" in pages[1]
        assert not stamps(both)
    assert "$25.00" in poppler_pages[0] and "$12.50" in poppler_pages[0]
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    assert (page.mediabox.width, page.mediabox.height) == (612, 792)  # US Letter for en_US
    assert embedded_fonts(pdf) == {"DejaVuSans": True, "DejaVuSans-Bold": True}


def test_a_void_invoice_is_stamped_void_and_owes_nothing():
    pypdf_pages, poppler_pages = read_back(render_invoice(void_usd()), "usd-void")

    for text in (pypdf_pages[0], poppler_pages[0]):
        assert stamps(text) == {"VOID"}
        assert "Date voided" in text and "Feb 2, 2026" in text
        assert "$147.00" in text and "$0.00" in text
        assert "This invoice was voided on Feb 2, 2026" in text


def test_a_credit_note_shows_the_refund_as_negative_lines():
    pdf = render_credit_note(korean_credit_note())

    pypdf_pages, poppler_pages = read_back(pdf, "korean-credit-note")

    for text in (pypdf_pages[0], poppler_pages[0]):
        assert "Credit note" in text and "INV-2026-000042-CN1" in text
        assert "Credits invoice" in text and "INV-2026-000042" in text
        assert "-₩15,000" in text and "-₩13,636" in text and "-₩1,364" in text
        assert "Refunded to you" in text and "김민준" in text
        assert not stamps(text)
    with pytest.raises(ValueError):
        render_credit_note(korean_paid())


def test_latin_names_rare_currencies_and_unknown_characters_never_draw_empty_boxes():
    buyer = Party(name="Dvořák Ærø Łódź", company="김민준 & <Partners>", address_lines=("Straße 1 🎉",))
    lines = [line("Überweisung ₹ ₽ ₺", 123456789)]
    doc = document(lines, status="open", currency="INR", locale="hi_IN", buyer=buyer)

    pypdf_pages, poppler_pages = read_back(render_invoice(doc), "mixed-scripts")

    for text in (pypdf_pages[0], poppler_pages[0]):
        assert "Dvořák Ærø Łódź" in text and "김민준 & <Partners>" in text and "Überweisung ₹ ₽ ₺" in text
        assert "Straße 1 ?" in text  # an emoji no embedded font has is a visible "?", not a blank box
        assert "₹12,34,567.89" in text  # Indian grouping
        assert "Jan 31, 2026" in text or "31 Jan 2026" in text  # Devanagari dates fall back to English


def test_rendering_is_reproducible():
    doc = korean_paid()
    # Invariant mode: the same invoice gives the same bytes (speed is measured in bench/).
    assert render_invoice(doc) == render_invoice(doc)
