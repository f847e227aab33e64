"""Invoice PDFs per second: ours (gateways/pdf.py) against a bare ReportLab document of the same
layout (same fonts, seller/buyer blocks, line table, totals, page numbers), 1-line and 50-line
invoices. Goal: ours takes at most twice the bare document's time.

    .venv/bin/python -m bench.invoice_pdf
"""

from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from bench.report import emit, per_second
from billing_portal.billing.invoice_document import DocLine, InvoiceDocument, Party
from billing_portal.billing.money import format_money
from billing_portal.billing.tax import invoice_totals, line_tax
from billing_portal.gateways.pdf import FONT_DIR, render_invoice

ISSUED = datetime(2026, 1, 31, 12, tzinfo=UTC)
SELLER = Party(name="Billing Portal Inc.", address_lines=("1 Market Street", "San Francisco, CA 94105"),
               tax_id="US 12-3456789", email="billing@example.com")
BUYER = Party(name="김민준", company="주식회사 테스트", address_lines=("서울특별시 강남구 테헤란로 152", "Seoul, 06236"),
              tax_id="123-45-67890", email="minjun@example.kr")
VAT = Decimal("10")


def invoice(line_count: int) -> InvoiceDocument:
    lines = []
    for n in range(line_count):
        amount = 15000 + n * 100
        lines.append(DocLine(
            description=f"Pro plan — block {n + 1}", quantity=1, unit_amount=amount, amount=amount,
            tax_rate=VAT, tax_inclusive=True, tax_amount=line_tax(amount, VAT, True).tax,
            period_start=ISSUED, period_end=datetime(2026, 2, 28, 12, tzinfo=UTC),
        ))
    totals = invoice_totals(lines)
    return InvoiceDocument(
        kind="invoice", number="INV-2026-000042", status="paid", currency="KRW", locale="ko_KR",
        issued_at=ISSUED, due_at=ISSUED, paid_at=ISSUED, seller=SELLER, buyer=BUYER, lines=tuple(lines),
        tax_breakdown=totals.by_rate, subtotal=totals.subtotal, tax=totals.tax, total=totals.total,
        amount_paid=totals.total,
    )


def bare_reportlab(doc: InvoiceDocument) -> bytes:
    """The same content laid out with plain platypus and no extras (no stamp, logo or theme)."""
    style = ParagraphStyle("bare", fontName="BareSans", fontSize=9, leading=12)
    money = lambda amount: format_money(amount, doc.currency, doc.locale)  # noqa: E731
    party = lambda p: Paragraph("<br/>".join([p.name, p.company, *p.address_lines, p.tax_id]), style)  # noqa: E731
    rows = [["Description", "Qty", "Unit price", "Tax", "Amount"]] + [
        [Paragraph(line.description, style), str(line.quantity), money(line.unit_amount), f"{line.tax_rate}%",
         money(line.amount)] for line in doc.lines
    ]
    table = Table(rows, repeatRows=1, colWidths=[80 * mm, 15 * mm, 30 * mm, 15 * mm, 30 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "BareSans", 9),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey)]))
    totals = Table([["Subtotal", money(doc.subtotal)], ["Tax", money(doc.tax)], ["Total", money(doc.total)]])
    totals.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "BareSans", 9)]))
    out = BytesIO()

    def page_number(canvas, template):
        canvas.setFont("BareSans", 8)
        canvas.drawString(18 * mm, 10 * mm, f"{doc.number} · page {template.page}")

    SimpleDocTemplate(out, pagesize=A4, invariant=1).build(
        [Paragraph(f"Invoice {doc.number}", style), party(doc.seller), Spacer(1, 6 * mm), party(doc.buyer),
         Spacer(1, 6 * mm), table, Spacer(1, 4 * mm), totals],
        onFirstPage=page_number, onLaterPages=page_number,
    )
    return out.getvalue()


def main() -> None:
    pdfmetrics.registerFont(TTFont("BareSans", str(FONT_DIR / "NanumGothic.ttf")))
    for line_count in (1, 50):
        doc = invoice(line_count)
        ours = per_second(lambda: render_invoice(doc))
        bare = per_second(lambda: bare_reportlab(doc))
        # Time per document is 1/rate: ours may take up to 2x the bare document's time.
        slowdown = bare / ours
        emit(f"invoice_pdf_{line_count}_line{'s' if line_count > 1 else ''}", ours, "pdf/s",
             "<= 2x the time of bare ReportLab", bare, slowdown <= 2.0, time_ratio=round(slowdown, 3))


if __name__ == "__main__":
    main()
