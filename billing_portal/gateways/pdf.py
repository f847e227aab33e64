"""Invoice and credit-note PDFs, drawn with ReportLab platypus: the only module importing reportlab.

`render_invoice(doc)` turns a `billing.invoice_document.InvoiceDocument` (plain data built from the
stored invoice) into PDF bytes; `render_credit_note(doc)` is the same for `kind="credit_note"`.
Nothing here reads the database or settings, so a stored invoice renders the same way every time
(the output is byte-for-byte reproducible: ReportLab's invariant mode fixes dates and ids).

Fonts are vendored in gateways/fonts/ and embedded (as subsets) in every PDF, so no system package is
needed: DejaVu Sans for Latin, Greek, Cyrillic and currency signs, NanumGothic for the runs of
Hangul (and Hanja, kana) that DejaVu lacks. Each piece of text is split into runs by which face has
its glyphs; a character neither face has becomes "?" rather than an empty box.

Layout: seller (logo, name, address, tax id) and the title block on top, the buyer from the
invoice's frozen billing snapshot, a lines table whose header row repeats on every page, the tax
breakdown per rate beside the totals, a "Page N of M" footer on every page, and a rotated,
semi-transparent PAID or VOID stamp on the first page.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.numbers import format_decimal
from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from billing_portal.billing.invoice_document import InvoiceDocument
from billing_portal.billing.money import format_money

ASSETS = Path(__file__).resolve().parents[2] / "assets"
# Kept beside this module, not in assets/: Reflex serves assets/ publicly and ships it in the web build.
FONT_DIR = Path(__file__).resolve().parent / "fonts"
LOGO = ASSETS / "logo.png"

SANS, SANS_BOLD = "DejaVuSans", "DejaVuSans-Bold"
CJK, CJK_BOLD = "NanumGothic", "NanumGothic-Bold"
_FONT_FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    CJK: "NanumGothic.ttf",
    CJK_BOLD: "NanumGothicBold.ttf",
}

# Countries whose paper is US Letter; everyone else gets A4.
_LETTER_TERRITORIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR"})

INK = colors.HexColor("#111827")
MUTED = colors.HexColor("#6b7280")
RULE = colors.HexColor("#e5e7eb")
HEADER_BG = colors.HexColor("#f3f4f6")
STAMPS = {"paid": ("PAID", colors.HexColor("#15803d")), "void": ("VOID", colors.HexColor("#b91c1c"))}

# Binary streams: ASCII85 only makes a PDF 25% bigger and, without ReportLab's C accelerator,
# costs more time than the whole layout. This module is the only ReportLab user, so the
# process-wide switch is ours to set.
rl_config.useA85 = 0

_lock = threading.Lock()  # font registration
# ReportLab keeps per-document state on shared objects (each TTFont's subsets) and does not promise
# thread safety; rendering is CPU-bound Python under the GIL anyway, so one render at a time costs
# no throughput.
_render_lock = threading.Lock()
_cmaps: dict[str, dict[int, int]] = {}
_logo: ImageReader | None = None


# --- fonts and text ---------------------------------------------------------------------------


def _ensure_fonts() -> None:
    """Register the vendored fonts and load the logo once per process (about 0.2 s)."""
    global _logo
    if _cmaps:
        return
    with _lock:
        if _cmaps:
            return
        cmaps = {}
        for name, filename in _FONT_FILES.items():
            font = TTFont(name, str(FONT_DIR / filename))
            pdfmetrics.registerFont(font)
            cmaps[name] = font.face.charToGlyph
        pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS_BOLD)
        pdfmetrics.registerFontFamily(CJK, normal=CJK, bold=CJK_BOLD, italic=CJK, boldItalic=CJK_BOLD)
        _logo = _load_logo()
        _cmaps.update(cmaps)


def _load_logo() -> ImageReader | None:
    """The PNG logo flattened onto white and kept as an in-memory JPEG: ReportLab copies JPEG data
    into each PDF as is, where a PNG would be re-compressed on every render (2-3 ms)."""
    if not LOGO.is_file():
        return None
    with PILImage.open(LOGO) as image:
        rgba = image.convert("RGBA")
    flat = PILImage.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    data = BytesIO()
    flat.save(data, "JPEG", quality=95, subsampling=0)
    data.seek(0)
    return ImageReader(data)


# Characters to drop or swap before drawing: bidi marks CLDR puts around some amounts, zero-width
# characters, and control characters (every field is drawn on its own line already).
_TRANSLATE: dict[int, str | None] = {code: None for code in (0x200E, 0x200F, 0x061C, 0x200B, 0xFEFF)}
_TRANSLATE.update({code: " " for code in range(0x00, 0x20)})


def _style(name: str, font: str, **kw) -> ParagraphStyle:
    return ParagraphStyle(name, **{"fontName": font, "fontSize": 9, "leading": 12, "textColor": INK, **kw})


class _Theme:
    """Fonts, paragraph and table styles for one choice of main face; built once (see _theme)."""

    def __init__(self, regular: str, bold: str, fallback: str, fallback_bold: str):
        self.regular, self.bold, self.fallback, self.fallback_bold = regular, bold, fallback, fallback_bold
        R, B = regular, bold  # noqa: N806
        self.body = _style("body", R)
        self.strong = _style("strong", B, fontSize=10.5, leading=14)
        self.small = _style("small", R, fontSize=8, leading=10.5, textColor=MUTED)
        self.label = _style("label", B, fontSize=7, leading=10, textColor=MUTED)
        self.title = _style("title", B, fontSize=22, leading=26, alignment=TA_RIGHT)
        self.cell = _style("cell", R, fontSize=8.5, leading=10.5)
        self.cell_note = _style("cell-note", R, fontSize=7.5, leading=10, textColor=MUTED)
        self.cell_right = _style("cell-right", R, fontSize=8.5, leading=10.5, alignment=TA_RIGHT)
        self.due_label = _style("due-label", B, fontSize=7, leading=10, textColor=MUTED, alignment=TA_RIGHT)
        self.due_amount = _style("due-amount", B, fontSize=18, leading=22, alignment=TA_RIGHT)
        self.due_note = _style("due-note", R, fontSize=8, leading=11, textColor=MUTED, alignment=TA_RIGHT)
        # Layout tables holding other flowables: no padding; the font only keeps ReportLab from
        # selecting (and so referencing) Helvetica for their cells.
        block = [
            ("FONT", (0, 0), (-1, -1), R, 9),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
        self.block_style = TableStyle(block)
        self.header_style = TableStyle([*block, ("ALIGN", (1, 0), (1, 0), "RIGHT")])
        self.parties_style = TableStyle([*block, ("VALIGN", (1, 0), (1, 0), "MIDDLE")])
        self.meta_style = TableStyle([
            ("FONT", (0, 0), (0, -1), R, 8.5, 12),
            ("FONT", (1, 0), (1, -1), B, 8.5, 12),
            ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
            ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (0, -1), 10),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ])
        self.lines_style = TableStyle([
            ("FONT", (0, 0), (-1, 0), B, 7, 10),
            ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("FONT", (0, 1), (-1, -1), R, 8.5, 10.5),
            ("FONT", (1, 1), (1, -1), R, 7.5, 10.5),
            ("TEXTCOLOR", (0, 1), (-1, -1), INK),
            ("TEXTCOLOR", (1, 1), (1, -1), MUTED),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("TOPPADDING", (1, 1), (1, -1), 3.5),  # the smaller period text on the same baseline
            ("TOPPADDING", (0, 0), (-1, 0), 5),
            ("BOTTOMPADDING", (0, 0), (-1, 0), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ("RIGHTPADDING", (0, 0), (-1, -1), 6),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
            ("LINEABOVE", (0, 0), (-1, 0), 0.5, RULE),
        ])
        self.summary_style = [
            ("FONT", (0, 0), (-1, -1), R, 8.5, 11),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ]
        self.tax_style = TableStyle([
            *self.summary_style,
            ("FONT", (0, 0), (-1, 0), B, 7, 10),
            ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
        ])

    def face(self, bold: bool) -> tuple[str, str]:
        return (self.bold, self.fallback_bold) if bold else (self.regular, self.fallback)

    def runs(self, text: str, bold: bool = False) -> list[tuple[str, str]]:
        """Split text into (font, text) runs: the main face where it has the glyph, else the
        fallback face, else "?" in the main face."""
        main, other = self.face(bold)
        main_map, other_map = _cmaps[main], _cmaps[other]
        runs: list[tuple[str, str]] = []
        font, chars = main, []
        for char in text.translate(_TRANSLATE):
            code = ord(char)
            if char == " ":
                wanted = font  # both faces have a space: keep the run going
            elif code in main_map:
                wanted = main
            elif code in other_map:
                wanted = other
            else:
                wanted, char = main, "?"
            if wanted != font and chars:
                runs.append((font, "".join(chars)))
                chars = []
            font = wanted
            chars.append(char)
        if chars:
            runs.append((font, "".join(chars)))
        return runs

    def markup(self, text: str, bold: bool = False) -> str:
        """Paragraph markup for plain text: escaped, with a font switch around fallback runs."""
        main = self.bold if bold else self.regular
        return "".join(
            escape(part) if font == main else f'<font face="{font}">{escape(part)}</font>'
            for font, part in self.runs(text, bold)
        )

    def plain(self, text: str) -> bool:
        """True when the main face has every character, so text can be a plain table cell."""
        main_map = _cmaps[self.regular]
        return all(ord(char) in main_map for char in text)

    def drawable(self, text: str) -> bool:
        """True when one of the two faces has every character of text."""
        main_map, other_map = _cmaps[self.regular], _cmaps[self.fallback]
        return all(ord(char) in main_map or ord(char) in other_map for char in text.translate(_TRANSLATE))


@cache
def _theme(regular: str, bold: str, fallback: str, fallback_bold: str) -> _Theme:
    return _Theme(regular, bold, fallback, fallback_bold)


def _theme_for(locale: str) -> _Theme:
    """NanumGothic leads for Korean documents (one family, two fonts embedded), DejaVu otherwise;
    the other family only fills in characters the first one lacks."""
    if locale.replace("-", "_").split("_")[0].lower() == "ko":
        return _theme(CJK, CJK_BOLD, SANS, SANS_BOLD)
    return _theme(SANS, SANS_BOLD, CJK, CJK_BOLD)


# --- the document ---------------------------------------------------------------------------------


class _Logo(Flowable):
    """The logo from assets/logo.png (decoded once per process, see _load_logo)."""

    def __init__(self, size: float):
        super().__init__()
        self.width = self.height = size

    def draw(self) -> None:
        if _logo is not None:
            self.canv.drawImage(_logo, 0, 0, self.width, self.height)


class _Line(Flowable):
    """One line of text in one font, drawn where a one-line Paragraph would draw it, without the
    cost of parsing markup and breaking lines (most header and address lines)."""

    def __init__(self, text: str, style: ParagraphStyle):
        super().__init__()
        self.text, self.style = text, style

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.style.leading

    def draw(self) -> None:
        canvas, style = self.canv, self.style
        canvas.setFont(style.fontName, style.fontSize)
        canvas.setFillColor(style.textColor)
        baseline = style.leading - style.fontSize  # as Paragraph places its first line
        if style.alignment == TA_RIGHT:
            canvas.drawRightString(self.width, baseline, self.text)
        else:
            canvas.drawString(0, baseline, self.text)


# Pure and called with the same few amounts again and again (every line of a long invoice).
_format_money = lru_cache(maxsize=4096)(format_money)


def _format_date(value: date, locale: str) -> str:
    return format_date(value, "medium", locale=locale)


def _format_interval(start: date, end: date, locale: str) -> str:
    return format_interval(start, end, "yMMMd", locale=locale)


def _format_decimal(value: Decimal | int, locale: str) -> str:
    return format_decimal(value, locale=locale)


@cache
def _english_of(locale: str) -> str:
    """English as written in the locale's country ("hi_IN" -> "en_IN"), else plain "en"."""
    territory = Locale.parse(locale).territory
    if territory:
        try:
            return str(Locale.parse(f"en_{territory}"))
        except (UnknownLocaleError, ValueError):
            pass
    return "en"


class _Stamp(Flowable):
    """A rubber stamp (PAID, VOID) drawn on the canvas, rotated and semi-transparent, centred in
    the cell that holds it; its corners may reach into the gutters beside that cell."""

    def __init__(self, text: str, color: colors.Color, font: str, width: float, size: float = 30):
        super().__init__()
        self.text, self.color, self.font, self.size = text, color, font, size
        self.width, self.height = width, size * 0.72 + 20

    def draw(self) -> None:
        canvas, size = self.canv, self.size
        box_w = pdfmetrics.stringWidth(self.text, self.font, size) + 26
        canvas.saveState()
        canvas.translate(self.width / 2, self.height / 2)
        canvas.rotate(12)
        canvas.setFillColor(self.color)
        canvas.setStrokeColor(self.color)
        canvas.setFillAlpha(0.3)
        canvas.setStrokeAlpha(0.45)
        canvas.setLineWidth(2.5)
        canvas.roundRect(-box_w / 2, -self.height / 2, box_w, self.height, 6, stroke=1, fill=0)
        canvas.setFont(self.font, size)
        canvas.drawCentredString(0, -size * 0.36, self.text)
        canvas.restoreState()


class _Builder:
    """Builds the story of one document: money, dates and text in its currency, locale and fonts."""

    LINE_COLUMNS = (96, 34, 74, 44, 80)  # period, qty, unit price, tax, amount; description takes the rest
    CELL_PADDING = 12

    def __init__(self, doc: InvoiceDocument, width: float):
        self.doc, self.width = doc, width
        self.theme = _theme_for(doc.locale)
        self.currency, self.locale = doc.currency, doc.locale
        self.title = "Credit note" if doc.kind == "credit_note" else "Invoice"

    # formatting: in the document's locale, or in English of the same country when that locale
    # writes with a script the fonts lack (Devanagari month names, Arabic-Indic digits, ...)
    def localized(self, render, *args) -> str:
        text = render(*args, self.locale)
        if self.theme.drawable(text):
            return text
        return render(*args, _english_of(self.locale))

    def money(self, amount: int) -> str:
        return self.localized(_format_money, amount, self.currency)

    def date(self, value: datetime | None) -> str:
        return self.localized(_format_date, value.date()) if value else ""

    def period(self, start: datetime | None, end: datetime | None) -> str:
        if start and end and end.date() > start.date():
            return self.localized(_format_interval, start.date(), end.date())
        return self.date(start or end)

    def rate(self, rate: Decimal) -> str:
        return self.localized(_format_decimal, rate) + "%"

    def quantity(self, value: int) -> str:
        return self.localized(_format_decimal, value)

    # text
    def para(self, text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(self.theme.markup(text, bold=style.fontName == self.theme.bold), style)

    def text(self, text: str, style: ParagraphStyle, width: float) -> Flowable:
        """A one-line _Line when the text fits the width in the main face, else a Paragraph."""
        if self.theme.plain(text) and pdfmetrics.stringWidth(text, style.fontName, style.fontSize) <= width:
            return _Line(text, style)
        return self.para(text, style)

    def cell(self, text: str, style: ParagraphStyle | None = None) -> str | Paragraph:
        """A plain string (fast) when the main face has every glyph, else a Paragraph with runs."""
        return text if self.theme.plain(text) else self.para(text, style or self.theme.cell_right)

    def fitted(self, text: str, style: ParagraphStyle, width: float) -> str | Paragraph:
        """A plain string when it fits on one line of the column, else a wrapping Paragraph."""
        if self.theme.plain(text) and pdfmetrics.stringWidth(text, style.fontName, style.fontSize) <= width:
            return text
        return self.para(text, style)

    # blocks
    def story(self) -> list[Flowable]:
        return [
            self.header(),
            Spacer(1, 18),
            self.parties(),
            Spacer(1, 18),
            self.lines_table(),
            Spacer(1, 14),
            KeepTogether([self.summary(), Spacer(1, 12), *self.notes()]),
        ]

    def header(self) -> Table:
        doc, theme = self.doc, self.theme
        seller, width = doc.seller, self.width * 0.55
        left: list[Flowable] = []
        if _logo is not None:
            left += [_Logo(30), Spacer(1, 8)]
        left.append(self.text(seller.name, theme.strong, width))
        if seller.company:
            left.append(self.text(seller.company, theme.body, width))
        left += [self.text(line, theme.body, width) for line in seller.address_lines]
        if seller.tax_id:
            left.append(self.text(f"Tax ID: {seller.tax_id}", theme.body, width))
        if seller.email:
            left.append(self.text(seller.email, theme.body, width))

        rows = [("Number", doc.number), ("Date of issue", self.date(doc.issued_at))]
        if doc.kind == "credit_note":
            if doc.reference:
                rows.append(("Credits invoice", doc.reference))
        else:
            if doc.due_at and doc.status == "open":
                rows.append(("Date due", self.date(doc.due_at)))
            if doc.paid_at:
                rows.append(("Date paid", self.date(doc.paid_at)))
            if doc.voided_at:
                rows.append(("Date voided", self.date(doc.voided_at)))
        meta = Table([[label, self.cell(value)] for label, value in rows], hAlign="RIGHT", style=theme.meta_style)
        right = [_Line(self.title, theme.title), Spacer(1, 10), meta]
        return Table([[left, right]], colWidths=[width, self.width - width], style=theme.header_style)

    def parties(self) -> Table:
        doc, theme = self.doc, self.theme
        buyer = doc.buyer
        widths = [self.width * 0.43, self.width * 0.23, self.width * 0.34]
        left: list[Flowable] = [_Line("BILL TO", theme.label), self.text(buyer.name, theme.strong, widths[0])]
        if buyer.company:
            left.append(self.text(buyer.company, theme.body, widths[0]))
        left += [self.text(line, theme.body, widths[0]) for line in buyer.address_lines]
        if buyer.tax_id:
            left.append(self.text(f"Tax ID: {buyer.tax_id}", theme.body, widths[0]))
        if buyer.email:
            left.append(self.text(buyer.email, theme.small, widths[0]))

        if doc.kind == "credit_note":
            label, amount = "TOTAL CREDITED", self.money(-doc.total)
            note = f"Credit for invoice {doc.reference}" if doc.reference else ""
        elif doc.status == "paid":
            label, amount = "AMOUNT PAID", self.money(doc.amount_paid or doc.total)
            note = f"Paid on {self.date(doc.paid_at)}" if doc.paid_at else ""
        elif doc.status == "void":
            label, amount = "AMOUNT DUE", self.money(0)
            note = "Voided: nothing is owed."
        else:
            label, amount = "AMOUNT DUE", self.money(doc.amount_due)
            note = f"Due {self.date(doc.due_at)}" if doc.due_at and doc.amount_due else ""
        amount_style = theme.due_amount
        wide = pdfmetrics.stringWidth(amount, amount_style.fontName, amount_style.fontSize)
        if wide > widths[2]:  # a huge amount shrinks rather than wraps
            size = amount_style.fontSize * widths[2] / wide
            amount_style = ParagraphStyle("due-amount-fit", amount_style, fontSize=size, leading=size * 1.2)
        right: list[Flowable] = [_Line(label, theme.due_label), self.text(amount, amount_style, widths[2])]
        if note:
            right.append(self.text(note, theme.due_note, widths[2]))
        stamp = STAMPS.get(doc.status) if doc.kind == "invoice" else None
        middle = _Stamp(stamp[0], stamp[1], theme.bold, widths[1]) if stamp else ""
        return Table([[left, middle, right]], colWidths=widths, style=theme.parties_style)

    def lines_table(self) -> Table:
        theme = self.theme
        rows = []
        for line in self.doc.lines:
            rows.append((
                line,
                self.period(line.period_start, line.period_end),
                self.quantity(line.quantity),
                self.money(line.unit_amount),
                self.rate(line.tax_rate) if line.tax_rate else "–",
                self.money(line.amount),
            ))
        widths = self.column_widths(rows)
        text_width, period_width = widths[0] - self.CELL_PADDING, widths[1] - self.CELL_PADDING
        data: list[list] = [["DESCRIPTION", "PERIOD", "QTY", "UNIT PRICE", "TAX", "AMOUNT"]]
        for line, period, quantity, unit_price, rate, amount in rows:
            description: str | Paragraph | list = self.fitted(line.description, theme.cell, text_width)
            if line.proration:
                description = [self.para(line.description, theme.cell), Paragraph("Prorated", theme.cell_note)]
            data.append([
                description,
                self.fitted(period, theme.cell_note, period_width) if period else "",
                self.cell(quantity),
                self.cell(unit_price),
                self.cell(rate),
                self.cell(amount),
            ])
        if not rows:
            data.append([Paragraph("No lines", theme.cell_note), "", "", "", "", ""])
        return Table(data, colWidths=widths, repeatRows=1, style=theme.lines_style)

    def column_widths(self, rows: list[tuple]) -> list[float]:
        """Numbers never wrap: each numeric column is as wide as its widest value (at least its
        default width); the period column grows to fit its dates (up to 130 pt); the description
        takes what is left, and never less than 30% of the width."""
        theme = self.theme
        font, size = theme.regular, theme.cell.fontSize
        fixed = list(self.LINE_COLUMNS)
        for column, title in ((2, "QTY"), (3, "UNIT PRICE"), (4, "TAX"), (5, "AMOUNT")):
            widest = max(
                [pdfmetrics.stringWidth(row[column], font, size) for row in rows]
                + [pdfmetrics.stringWidth(title, theme.bold, 7)]
            )
            fixed[column - 1] = max(fixed[column - 1], widest + self.CELL_PADDING + 1)
        periods = [row[1] for row in rows if row[1] and theme.plain(row[1])]
        if periods:
            widest = max(pdfmetrics.stringWidth(text, font, theme.cell_note.fontSize) for text in periods)
            room = self.width * 0.7 - sum(fixed[1:])
            fixed[0] = max(fixed[0], min(widest + self.CELL_PADDING + 1, 130, room))
        spare = self.width - sum(fixed) - self.width * 0.3
        if spare < 0:  # giant amounts: take it from the period column before the description
            fixed[0] = max(fixed[0] + spare, 60)
        return [self.width - sum(fixed), *fixed]

    def summary(self) -> Table:
        """Tax breakdown per rate (left) beside the totals (right)."""
        doc, theme = self.doc, self.theme
        tax_rows: list[list] = [["TAX RATE", "NET", "TAX"]]
        for row in doc.tax_breakdown:
            name = self.rate(row.rate) + (" incl." if row.inclusive else "")
            money = [self.cell(self.money(row.net)), self.cell(self.money(row.tax))]
            tax_rows.append([self.cell(name, theme.cell), *money])
        left_width = self.width * 0.46
        tax_table = Table(tax_rows, colWidths=[left_width * 0.34, left_width * 0.33, left_width * 0.33],
                          style=theme.tax_style)

        taxed = any(row.rate for row in doc.tax_breakdown)
        subtotal = "Subtotal (excl. tax)" if taxed else "Subtotal"
        totals: list[tuple[str, str, bool]] = [(subtotal, self.money(doc.subtotal), False)]
        for row in doc.tax_breakdown:
            if row.tax or row.rate:
                included = " (included)" if row.inclusive else ""
                totals.append((f"Tax {self.rate(row.rate)}{included}", self.money(row.tax), False))
        totals.append(("Total", self.money(doc.total), True))
        if doc.kind == "invoice":
            if doc.amount_paid:
                totals.append(("Amount paid", self.money(doc.amount_paid), False))
            if doc.amount_refunded:
                totals.append(("Amount refunded", self.money(doc.amount_refunded), False))
            if doc.status == "open":
                totals.append(("Amount due", self.money(doc.amount_due), True))
        elif doc.amount_refunded:
            totals.append(("Refunded to you", self.money(doc.amount_refunded), True))
        right_width = self.width * 0.5
        style = list(theme.summary_style)
        for index, (_, _, strong) in enumerate(totals):
            if strong:
                style += [
                    ("FONT", (0, index), (-1, index), theme.bold, 9.5, 12),
                    ("LINEABOVE", (0, index), (-1, index), 0.8, INK),
                ]
        totals_table = Table(
            [[self.cell(label, theme.cell), self.cell(value)] for label, value, _ in totals],
            colWidths=[right_width * 0.56, right_width * 0.44],
            style=TableStyle(style),
        )
        left: list[Flowable] = [tax_table] if taxed else []
        if any(row.inclusive and row.rate for row in doc.tax_breakdown):
            left += [Spacer(1, 4), self.text("Prices include tax at the rates shown.", theme.small, left_width)]
        return Table(
            [[left, "", totals_table]],
            colWidths=[left_width, self.width - left_width - right_width, right_width],
            style=theme.block_style,
        )

    def notes(self) -> list[Flowable]:
        doc = self.doc
        notes = []
        if doc.kind == "credit_note" and doc.reference:
            notes.append(f"This credit note reduces invoice {doc.reference} by {self.money(-doc.total)}.")
        if doc.kind == "invoice" and doc.status == "void":
            voided = f" on {self.date(doc.voided_at)}" if doc.voided_at else ""
            notes.append(f"This invoice was voided{voided}: nothing is owed on it.")
        if doc.kind == "invoice" and doc.status == "uncollectible":
            notes.append("This invoice was marked uncollectible.")
        if doc.memo:
            notes.append(doc.memo)
        return [self.text(note, self.theme.small, self.width) for note in notes]


# --- page furniture -------------------------------------------------------------------------------


def _draw_runs(canvas: Canvas, theme: _Theme, x: float, y: float, text: str, size: float) -> None:
    """drawString with the font switching of _Theme.runs, for canvas text with user data in it."""
    for font, part in theme.runs(text):
        canvas.setFont(font, size)
        canvas.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, font, size)


class _NumberedCanvas(Canvas):
    """Holds pages back until the end so each footer can say "Page N of M"."""

    def __init__(self, *args, theme: _Theme, footer: str, margin: float, **kwargs):
        super().__init__(*args, **kwargs)
        self._theme, self._footer, self._margin = theme, footer, margin
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        width, _ = self._pagesize
        left, right, y = self._margin, width - self._margin, 12 * mm
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(left, y + 10, right, y + 10)
        self.setFillColor(MUTED)
        _draw_runs(self, self._theme, left, y, self._footer, 7.5)
        self.setFont(self._theme.regular, 7.5)
        self.drawRightString(right, y, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def _page_size(locale: str) -> tuple[float, float]:
    parts = locale.replace("-", "_").split("_")
    return LETTER if len(parts) > 1 and parts[-1].upper() in _LETTER_TERRITORIES else A4


# --- entry points ---------------------------------------------------------------------------------


def render_invoice(doc: InvoiceDocument) -> bytes:
    """The PDF of an invoice or (kind="credit_note") a credit note, as bytes."""
    _ensure_fonts()
    page_width, page_height = _page_size(doc.locale)
    margin, top, bottom = 18 * mm, 16 * mm, 22 * mm
    width = page_width - 2 * margin
    builder = _Builder(doc, width)
    theme, title = builder.theme, f"{builder.title} {doc.number}"

    def continued(canvas: Canvas, _template) -> None:
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(theme.regular, 7.5)
        canvas.drawRightString(page_width - margin, page_height - 10 * mm, f"{title} (continued)")
        canvas.restoreState()

    def canvas_maker(*args, **kwargs) -> _NumberedCanvas:
        return _NumberedCanvas(*args, theme=theme, footer=f"{doc.seller.name} · {title}", margin=margin, **kwargs)

    # A frame without ReportLab's default 6 pt padding, so text and tables share the margins.
    frame = Frame(margin, bottom, width, page_height - top - bottom, 0, 0, 0, 0, id="body")
    buffer = BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=(page_width, page_height),
        pageTemplates=[
            PageTemplate("first", [frame], autoNextPageTemplate="later"),
            PageTemplate("later", [frame], onPage=continued),
        ],
        title=title,
        author=doc.seller.name,
        subject=f"{title} for {doc.buyer.name}",
        creator="Billing Portal",
        initialFontName=theme.regular,
        invariant=1,
    )
    with _render_lock:
        template.build(builder.story(), canvasmaker=canvas_maker)
    return buffer.getvalue()


def render_credit_note(doc: InvoiceDocument) -> bytes:
    """The PDF of a credit note: refunds are its (negative) lines."""
    if doc.kind != "credit_note":
        raise ValueError("render_credit_note needs an InvoiceDocument with kind='credit_note'")
    return render_invoice(doc)
