"""The International Patient Summary as a readable PDF in the reader's language: who, each section's title and its
records in plain words, and when it was made.

Drawn with ReportLab as the lab report PDF is (hospital/lab/report_pdf.py): Chinese text is set in ReportLab's
built-in CID font STSong-Light, whose glyphs the PDF reader supplies, so no font file ships with the code; text
Helvetica's encoding (cp1252) holds is set in Helvetica. Record text is escaped before it goes into a Paragraph,
whose text is mini-HTML.
"""

import io
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from smartcare.fhir.ips.narrative import describe, person_name
from smartcare.fhir.ips.references import Resolver
from smartcare.platform import clock, i18n

LATIN, LATIN_BOLD, CJK = "Helvetica", "Helvetica-Bold", "STSong-Light"
MEDIA_TYPE = "application/pdf"
MAX_LINES = 400
MUTED = colors.HexColor("#555555")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated into the reader's language when the PDF is drawn."""
    return message


TITLE = _("Patient summary")
BORN = _("Born")
MADE = _("Made on")
NOTHING = _("Nothing recorded.")
NOTE = _("A summary of the health record as SmartCare holds it; ask the institutions named for the full details.")


@lru_cache(maxsize=1)
def _cid_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return CJK


def _fits_latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def marked_up(text: str, *, bold: bool = False) -> str:
    """Text escaped for a Paragraph, its runs Helvetica cannot draw set in the CID font."""
    runs: list[tuple[bool, str]] = []
    for char in text:
        latin = _fits_latin(char)
        if runs and runs[-1][0] == latin:
            runs[-1] = (latin, runs[-1][1] + char)
        else:
            runs.append((latin, char))
    font = _cid_font()
    return "".join(f'<font name="{LATIN_BOLD if bold else LATIN}">{escape(run)}</font>' if latin
                   else f'<font name="{font}">{escape(run)}</font>' for latin, run in runs)


def _styles() -> dict[str, ParagraphStyle]:
    return {"title": ParagraphStyle("title", fontName=LATIN_BOLD, fontSize=16, leading=22, spaceAfter=4),
            "section": ParagraphStyle("section", fontName=LATIN_BOLD, fontSize=12, leading=17, spaceBefore=8),
            "line": ParagraphStyle("line", fontName=LATIN, fontSize=10, leading=15, leftIndent=4 * mm),
            "muted": ParagraphStyle("muted", fontName=LATIN, fontSize=9, leading=13, textColor=MUTED)}


def _sections(bundle: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, list[str]]]]:
    """The Patient and each section's (title, lines) of an IPS document Bundle."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    resolver = Resolver(entries)
    composition = next((e["resource"] for e in entries if e["resource"].get("resourceType") == "Composition"), {})
    patient = next((e["resource"] for e in entries if e["resource"].get("resourceType") == "Patient"), {})
    shown = []
    for section in composition.get("section") or []:
        lines = []
        for ref in section.get("entry") or []:
            target = resolver.resolve(str((ref or {}).get("reference") or ""), None)
            if target is not None:
                lines.append(describe(entries[target]["resource"]))
        shown.append((str(section.get("title") or ""), lines[:MAX_LINES]))
    return patient, shown


def render(bundle: dict[str, Any], *, locale: str) -> bytes:
    """The summary Bundle as PDF bytes, labelled in locale ('en' or 'zh-Hans')."""
    words = i18n.translations(locale)
    say = words.gettext
    styles = _styles()
    patient, sections = _sections(bundle)
    story: list[Any] = [Paragraph(marked_up(say(TITLE), bold=True), styles["title"])]
    who = person_name(patient) or "-"
    born = str(patient.get("birthDate") or "")
    story.append(Paragraph(marked_up(f"{who} · {say(BORN)} {born}" if born else who), styles["line"]))
    made = clock.wall_clock(str(bundle.get("timestamp") or "")) or clock.wall_clock(clock.format_instant(clock.now()))
    story.append(Paragraph(marked_up(f"{say(MADE)} {made}"), styles["muted"]))
    for title, lines in sections:
        story.append(Paragraph(marked_up(title, bold=True), styles["section"]))
        for line in lines or [say(NOTHING)]:
            story.append(Paragraph(marked_up(f"• {line}"), styles["line"]))
    story += [Spacer(1, 6 * mm), Paragraph(marked_up(say(NOTE)), styles["muted"])]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=say(TITLE), author="SmartCare")
    doc.build(story)
    return out.getvalue()
