"""A released laboratory report as a printable PDF: the hospital's header, the patient and the order, the results
with flags, reference ranges and previous values, corrections, who released it, and "page X of Y" on every page.

Drawn with ReportLab. Chinese text is set in ReportLab's built-in CID font STSong-Light (UnicodeCIDFont): no font
file ships with the code, the PDF reader supplies the glyphs. Text that Helvetica's encoding (cp1252) holds is set
in Helvetica. Everything from the record is escaped before it goes into a Paragraph, whose text is mini-HTML.
"""

import io
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from smartcare.hospital.lab.report_sheet import Line, Sheet, local_time
from smartcare.platform import clock, i18n

LATIN, LATIN_BOLD, CJK = "Helvetica", "Helvetica-Bold", "STSong-Light"
MEDIA_TYPE = "application/pdf"
MARGIN, TOP, BOTTOM = 15 * mm, 38 * mm, 18 * mm
RESULT_COLUMNS = (50 * mm, 20 * mm, 13 * mm, 21 * mm, 30 * mm, 46 * mm)
CRITICAL_INK, CRITICAL_FILL, RULE, MUTED = (colors.HexColor("#a50e0e"), colors.HexColor("#fdecea"),
                                            colors.HexColor("#444444"), colors.HexColor("#555555"))
LABEL_FILL = colors.HexColor("#f1f3f4")
# Glyphs the CID font lacks, and what stands in for them.
_CID_STAND_INS = str.maketrans({"µ": "μ", "•": "*", "·": "-", "–": "-"})
_POWER = re.compile(r"10\*(\d{1,2})(/.*)?")
_UNITS = {"umol/L": "µmol/L", "ug/L": "µg/L", "Cel": "°C", "[IU]/L": "IU/L", "m[IU]/L": "mIU/L", "u[IU]/mL": "µIU/mL",
          "mm[Hg]": "mmHg", "%": "%", "1": ""}


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated into the reader's language when the PDF is drawn."""
    return message


SEX = {"male": _("Male"), "female": _("Female"), "other": _("Other"), "unknown": _("Unknown")}
CHANGED = {"corrected": _("Corrected report"), "amended": _("Amended report")}
LEGEND = _("Flags: H high, L low, HH critical high, LL critical low, A abnormal (a graded result other than the "
           "usual one). Critical values are shaded and were sent to the ordering doctor on release. Reference ranges "
           "are for the patient's sex and age.")


class _Words:
    """The reader's language: translated labels, and text set in Helvetica with its Chinese runs in the CID font."""

    def __init__(self, locale: str) -> None:
        self.zh = locale == "zh-Hans"
        self.gettext = i18n.translations(locale).gettext
        self._styles: dict[tuple[Any, ...], ParagraphStyle] = {}

    def __call__(self, message: str, **values: Any) -> str:
        text = self.gettext(message)
        return text % values if values else text

    def labelled(self, message: str, value: str) -> str:
        """A translated label and its value ("Printed: 2026-03-03 09:30", "打印时间：...")."""
        return f"{self(message)}{'：' if self.zh else ': '}{value}"

    @staticmethod
    def text(text: str) -> str:
        """Plain text as Paragraph markup: escaped, with the runs Helvetica cannot set switched to the CID font."""
        return "".join(f'<font face="{_cid_font()}">{escape(chunk.translate(_CID_STAND_INS))}</font>' if cjk
                       else escape(chunk) for chunk, cjk in runs(text))

    def style(self, *, size: float, bold: bool, cjk: bool, ink: Any, align: int) -> ParagraphStyle:
        key = (size, bold, cjk, ink, align)
        if key not in self._styles:
            self._styles[key] = ParagraphStyle(
                f"s{len(self._styles)}", fontName=LATIN_BOLD if bold else LATIN, fontSize=size, leading=size * 1.3,
                textColor=ink, alignment=align, wordWrap="CJK" if cjk else None)
        return self._styles[key]

    def para(self, text: str = "", *, size: float = 9, bold: bool = False, ink: Any = colors.black,
             align: int = TA_LEFT, markup: str | None = None) -> Paragraph:
        """A Paragraph of plain text, or of markup built with text(); Chinese text wraps between any characters."""
        body = markup if markup is not None else self.text(text)
        return Paragraph(body, self.style(size=size, bold=bold, cjk=f'face="{CJK}"' in body, ink=ink, align=align))

    def draw(self, canv: Canvas, text: str, x: float, y: float, *, size: float, bold: bool = False,
             align: str = "centre") -> None:
        """Draw one line of text on the canvas, run by run, centred on x or starting or ending at x."""
        pieces = [(chunk.translate(_CID_STAND_INS), _cid_font()) if cjk else (chunk, LATIN_BOLD if bold else LATIN)
                  for chunk, cjk in runs(text)]
        width = sum(pdfmetrics.stringWidth(chunk, font, size) for chunk, font in pieces)
        x -= {"centre": width / 2, "left": 0, "right": width}[align]
        for chunk, font in pieces:
            canv.setFont(font, size)
            canv.drawString(x, y, chunk)
            x += pdfmetrics.stringWidth(chunk, font, size)


def _latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def runs(text: str) -> list[tuple[str, bool]]:
    """text cut into runs that Helvetica's encoding (cp1252) holds (False) and runs that need the CID font (True).

    Latin text stays in Helvetica in either language: the CID font's Latin glyphs are spaced for Chinese text."""
    found: list[tuple[str, bool]] = []
    for char in text:
        cjk = not _latin(char)
        if found and found[-1][1] == cjk:
            found[-1] = (found[-1][0] + char, cjk)
        else:
            found.append((char, cjk))
    return found


@lru_cache(maxsize=1)
def _cid_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    # The CID font has no bold or italic face: <b> inside a paragraph keeps it as it is.
    pdfmetrics.registerFontFamily(CJK, normal=CJK, bold=CJK, italic=CJK, boldItalic=CJK)
    return CJK


def unit_markup(unit: str) -> str:
    """A UCUM unit as Paragraph markup, as printed on a lab sheet: 10*9/L as ×10⁹/L, umol/L as µmol/L."""
    unit = _UNITS.get(unit, unit)
    power = _POWER.fullmatch(unit)
    if power:
        return f"×10<super>{power.group(1)}</super>{_Words.text(power.group(2) or '')}"
    return _Words.text(unit)


def _pairs(words: _Words, rows: list[tuple[str, str, str, str]]) -> Table:
    """The patient and order block: label and value, twice a row."""
    cells = [[words.para(words(a), size=8, ink=MUTED), words.para(b, size=9.5),
              words.para(words(c), size=8, ink=MUTED), words.para(d, size=9.5)] for a, b, c, d in rows]
    table = Table(cells, colWidths=(27 * mm, 63 * mm, 27 * mm, 63 * mm))
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                               ("BACKGROUND", (0, 0), (0, -1), LABEL_FILL), ("BACKGROUND", (2, 0), (2, -1), LABEL_FILL),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


def _patient_block(sheet: Sheet, words: _Words) -> Table:
    sex = words(SEX[sheet.sex]) if sheet.sex in SEX else sheet.sex
    age = words(_("%(age)s years"), age=sheet.age) if sheet.age is not None else ""
    ident = sheet.patient_identifier or {}
    left = [(_("Patient"), sheet.patient_name), (_("Sex / age"), " / ".join(p for p in (sex, age) if p)),
            (_("Date of birth"), sheet.birth_date),
            (_("Resident ID") if ident.get("kind") == "national" else _("Identifier"), ident.get("value", "")),
            (_("Ordering department"), sheet.department), (_("Ordering doctor"), sheet.ordering_doctor)]
    # Accessioning gives the order its placer number from the accession number: one number, shown once.
    order = (_("Order number"), sheet.order_number) if sheet.order_number not in ("", sheet.accession) else (
        _("Order time"), sheet.ordered)
    right = [(_("Accession number"), sheet.accession), (_("Specimen"), sheet.specimen), order,
             (_("Collection time"), sheet.collected), (_("Receipt time"), sheet.received),
             (_("Report time"), sheet.reported)]
    return _pairs(words, [(a, b or "—", c, d or "—") for (a, b), (c, d) in zip(left, right, strict=True)])


def _previous(line: Line, words: _Words) -> Paragraph:
    if line.previous is None:
        return words.para("")
    change = f"{line.change:+g}" + (f" ({line.percent:+.0f}%)" if line.percent is not None else "")
    if line.delta_exceeded:
        change = f"<b>{words.text(change + ' ' + words(_('Delta check')))}</b>"
    else:
        change = words.text(change)
    markup = f"{words.text(f'{line.previous:g} ({line.previous_when})')}<br/><font size=7.5>{change}</font>"
    return words.para(size=8.5, markup=markup)


def _result_row(line: Line, words: _Words) -> list[Paragraph]:
    ink = CRITICAL_INK if line.critical else colors.black
    abnormal = bool(line.flag and line.flag != "N")
    name = words.text(line.name) + (f" <font size=7 color='#555555'>{escape(line.loinc)}</font>" if line.loinc else "")
    notes = [words(_("Critical value"))] if line.critical else []
    notes += [words(_("Corrected"))] if line.status == "corrected" else []
    if notes:
        name += f"<br/><font size=7.5 color='#a50e0e'>{words.text(' / '.join(notes))}</font>"
    return [words.para(markup=name),
            words.para(line.value_text, bold=abnormal, ink=ink, size=9.5),
            words.para(line.flag if abnormal else "", bold=True, ink=ink),
            words.para(size=8.5, markup=unit_markup(line.ucum or line.unit)),
            words.para(line.range_text, size=8.5),
            _previous(line, words)]


def _results_table(sheet: Sheet, words: _Words) -> Table:
    head = [words.para(words(h), size=8, bold=True) for h in
            (_("Test"), _("Result"), _("Flag"), _("Unit"), _("Reference range"), _("Previous result"))]
    table = Table([head, *(_result_row(line, words) for line in sheet.lines)], colWidths=RESULT_COLUMNS,
                  repeatRows=1)
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEABOVE", (0, 0), (-1, 0), 0.8, RULE),
             ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE), ("LINEBELOW", (0, -1), (-1, -1), 0.8, RULE),
             ("BACKGROUND", (0, 0), (-1, 0), LABEL_FILL), ("TOPPADDING", (0, 0), (-1, -1), 3),
             ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    style += [("LINEBELOW", (0, row), (-1, row), 0.25, colors.HexColor("#cccccc")) for row in range(1, len(sheet.lines))]
    style += [("BACKGROUND", (0, row), (-1, row), CRITICAL_FILL)
              for row, line in enumerate(sheet.lines, start=1) if line.critical]
    table.setStyle(TableStyle(style))
    return table


def _corrections(sheet: Sheet, words: _Words) -> list[Any]:
    if sheet.status not in ("corrected", "amended"):
        return []
    parts: list[Any] = [words.para(words(CHANGED[sheet.status]), size=10.5, bold=True, ink=CRITICAL_INK)]
    for c in sheet.corrections:
        text = words(_("%(test)s: corrected from %(old)s (%(at)s). Reason: %(reason)s"), test=c.test, old=c.old,
                     at=c.at, reason=c.reason)
        parts.append(words.para(text, size=8.5))
    box = Table([[p] for p in parts], colWidths=(180 * mm,))
    box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, CRITICAL_INK), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return [box, Spacer(1, 4 * mm)]


def _sign_off(sheet: Sheet, words: _Words) -> Table:
    reviewed = " ".join(p for p in (sheet.reviewed_by, sheet.reviewed_at) if p) or "—"
    released = " ".join(p for p in (sheet.released_by, sheet.reported) if p) or "—"
    cells = [[words.para(words.labelled(_("Reviewed by"), reviewed), size=9),
              words.para(words.labelled(_("Released by"), released), size=9)]]
    table = Table(cells, colWidths=(90 * mm, 90 * mm))
    table.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.6, RULE), ("TOPPADDING", (0, 0), (-1, -1), 4)]))
    return table


def story(sheet: Sheet, words: _Words) -> list[Any]:
    """The flowing content of the report, page after page under the header."""
    parts: list[Any] = [_patient_block(sheet, words), Spacer(1, 5 * mm), *_corrections(sheet, words),
                        words.para(sheet.title, size=11, bold=True), Spacer(1, 1.5 * mm), _results_table(sheet, words),
                        Spacer(1, 1.5 * mm),
                        words.para(words(LEGEND), size=7.5, ink=MUTED)]
    if sheet.conclusion:
        parts += [Spacer(1, 3 * mm), words.para(words.labelled(_("Comment"), sheet.conclusion), size=9)]
    parts += [Spacer(1, 6 * mm), KeepTogether([_sign_off(sheet, words)])]
    return parts


def _header(sheet: Sheet, words: _Words) -> Callable[[Canvas, Any], None]:
    """Draws the hospital's header on each page (and on later pages, whose report it is)."""
    width, height = A4
    title = words(_("Laboratory report"))
    if sheet.status in ("corrected", "amended"):
        title += f" ({words(CHANGED[sheet.status])})"
    phone = words.labelled(_("Telephone"), sheet.hospital.phone) if sheet.hospital.phone else ""
    contact = "    ".join(p for p in (sheet.hospital.address, phone) if p)

    def draw(canv: Canvas, doc: Any) -> None:
        canv.saveState()
        words.draw(canv, sheet.hospital.name, width / 2, height - 15 * mm, size=15, bold=True)
        if contact:
            canv.setFillColor(MUTED)
            words.draw(canv, contact, width / 2, height - 20.5 * mm, size=8.5)
            canv.setFillColor(colors.black)
        words.draw(canv, title, width / 2, height - 28.5 * mm, size=13, bold=True)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.8)
        canv.line(MARGIN, height - 31.5 * mm, width - MARGIN, height - 31.5 * mm)
        if doc.page > 1:
            who = "   ".join(p for p in (sheet.patient_name, sheet.accession, sheet.title) if p)
            words.draw(canv, who, MARGIN, height - 35.5 * mm, size=8.5, align="left")
        canv.restoreState()
    return draw


def _paged_canvas(words: _Words, printed: str) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so each footer can say "page X of Y"."""

    class PagedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self._footer(number, total)
                super().showPage()
            super().save()

        def _footer(self, number: int, total: int) -> None:
            width = A4[0]
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, 13 * mm, width - MARGIN, 13 * mm)
            self.setFillColor(MUTED)
            words.draw(self, words.labelled(_("Printed"), printed), MARGIN, 9 * mm, size=8, align="left")
            words.draw(self, words(_("Page %(page)s of %(pages)s"), page=number, pages=total), width - MARGIN,
                       9 * mm, size=8, align="right")
            self.restoreState()

    return PagedCanvas


def render(sheet: Sheet, *, locale: str, printed_at: datetime | None = None, compress: bool = True) -> bytes:
    """The report as PDF bytes in locale (en or zh-Hans); compress=False leaves the page text readable (tests)."""
    words = _Words(locale)
    printed = local_time(clock.format_instant(printed_at or clock.now()))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP,
                            bottomMargin=BOTTOM, title=" ".join((words(_("Laboratory report")), sheet.title)),
                            author=sheet.hospital.name, creator="SmartCare", pageCompression=1 if compress else 0)
    header = _header(sheet, words)
    doc.build(story(sheet, words), onFirstPage=header, onLaterPages=header,
              canvasmaker=_paged_canvas(words, printed))
    return buffer.getvalue()


def download_name(sheet: Sheet) -> str:
    """A file name for the PDF that is safe in a Content-Disposition header."""
    stem = re.sub(r"[^A-Za-z0-9.-]", "", sheet.accession or sheet.report_id)[:40] or "report"
    return f"lab-report-{stem}.pdf"


def response_headers(sheet: Sheet) -> dict[str, str]:
    """The HTTP headers of the PDF: shown in the browser (inline) under a safe name, never kept by a cache."""
    return {"Content-Disposition": f'inline; filename="{download_name(sheet)}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"}
