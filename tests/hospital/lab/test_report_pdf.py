"""The printable laboratory report: a PDF with the hospital's header, the patient, the results with flags, ranges
and previous values, corrections, who released it and page numbers; in English and Chinese; only when released."""

import base64
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.fhir import store
from smartcare.hospital.lab import release, report_pdf, report_sheet, results
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital

RENAL = {"14682-9": "160", "2823-3": "6.8", "2951-2": "139"}
PRINTED = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def released(lab, key: str, values: dict[str, str]) -> dict:
    """Order, receive, enter, review and release a report for Mrs Wang; the released DiagnosticReport."""
    specimen = received(lab["tech"], place(lab["doctor"], key))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values=values)
    results.review(lab["tech"], report_id=report["id"])
    return release.release(lab["tech"], report_id=report["id"])


def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes with its escapes undone."""
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 1 < len(raw):
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(raw[i + 1:i + 2], raw[i + 1:i + 2])
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the PDF's pages, run after run: Latin-1 in Helvetica, UTF-16 in the CID font (Type0)."""
    wide = {name for body in re.findall(rb"obj(.*?)endobj", pdf, re.DOTALL) if b"/Subtype /Type0" in body
            for name in re.findall(rb"/Name /(F\d+)", body)}
    streams = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\n?endstream", pdf, re.DOTALL):
        try:  # ReportLab compresses with Flate, then writes the bytes as ASCII85
            streams.append(zlib.decompress(base64.a85decode(raw.strip().removesuffix(b"~>"))))
        except (ValueError, zlib.error):
            streams.append(raw)
    shown, font = [], b""
    for stream in streams:
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:[^()\\]|\\.)*)\)\s*Tj", stream, re.DOTALL):
            if token.group(1) is not None:
                font = token.group(1)
                continue
            data = _literal(token.group(2))
            shown.append(data.decode("utf-16-be", errors="replace") if font in wide else data.decode("latin-1"))
    return "".join(shown)


def test_the_pdf_has_the_hospital_the_patient_and_the_results(lab):
    report = released(lab, "renal", RENAL)
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    pdf = report_pdf.render(sheet, locale="en", printed_at=PRINTED, compress=False)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for shown in ("City Hospital", "Laboratory report", "Wang Fang", "Female / 76 years", "Li Wei", "medicine",
                  "Potassium", "6.8", "HH", "160", "Critical value", "Page 1 of 1", "Printed: 2026-03-03 09:30",
                  "Released by", sheet.accession):
        assert shown in text, shown
    assert sheet.hospital.name == "City Hospital" and sheet.department == "medicine"
    potassium = next(line for line in sheet.lines if line.loinc == "2823-3")
    assert potassium.flag == "HH" and potassium.critical and potassium.range_text == "3.5–5.3"


def test_a_compressed_pdf_is_smaller_and_still_a_pdf(lab):
    report = released(lab, "renal", RENAL)
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    packed = report_pdf.render(sheet, locale="en", printed_at=PRINTED)
    assert packed.startswith(b"%PDF") and packed.rstrip().endswith(b"%%EOF")
    assert len(packed) < len(report_pdf.render(sheet, locale="en", printed_at=PRINTED, compress=False))
    assert "Wang Fang" in pdf_text(packed)


def test_the_previous_result_and_its_change_are_shown(lab, now):
    released(lab, "potassium", {"2823-3": "4.0"})
    now[0] += timedelta(hours=30)
    report = released(lab, "potassium", {"2823-3": "5.9"})
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    line = sheet.lines[0]
    assert (line.previous, line.flag) == (4.0, "H") and line.change == pytest.approx(1.9)
    assert [v for _, v in line.trend] == [4.0, 5.9]
    text = pdf_text(report_pdf.render(sheet, locale="en", printed_at=PRINTED, compress=False))
    assert "4 (2026-03-02)" in text and "+1.9 (+48%)" in text


def test_the_chinese_report_uses_the_cid_font_for_chinese_text(lab):
    report = released(lab, "renal", RENAL)
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="zh-Hans")
    pdf = report_pdf.render(sheet, locale="zh-Hans", printed_at=PRINTED, compress=False)
    assert b"/BaseFont /STSong-Light" in pdf and b"UniGB-UCS2-H" in pdf
    text = pdf_text(pdf)
    for shown in ("检验报告", "肾功能", "钾", "危急值", "第 1 页，共 1 页", "Wang Fang", "City Hospital"):
        assert shown in text, shown


def test_an_english_report_with_a_chinese_name_sets_it_in_the_cid_font(lab):
    with unit_of_work() as conn:
        patient = store.read(conn, SYSTEM, res_type="Patient", res_id="p-wang").resource
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang",
                                                     {**patient, "name": [{"text": "王芳"}]})])
    report = released(lab, "potassium", {"2823-3": "4.1"})
    pdf = report_pdf.render(report_sheet.gather(lab["doctor"], report["id"], locale="en"), locale="en",
                            printed_at=PRINTED, compress=False)
    assert b"STSong-Light" in pdf and "王芳" in pdf_text(pdf) and "Laboratory report" in pdf_text(pdf)


def test_a_correction_is_shown_with_its_reason(lab):
    report = released(lab, "potassium", {"2823-3": "5.6"})
    release.correct(lab["tech"], report_id=report["id"], values={"2823-3": "4.2"}, reason="haemolysed sample re-run")
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    assert sheet.status == "corrected" and sheet.corrections[0].old == "5.6 mmol/L"
    text = pdf_text(report_pdf.render(sheet, locale="en", printed_at=PRINTED, compress=False))
    assert "Laboratory report (Corrected report)" in text and "haemolysed sample re-run" in text
    assert "corrected from 5.6 mmol/L" in text and "4.2" in text


def test_a_preliminary_report_is_not_printed(lab):
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={"2823-3": "4.0"})
    with pytest.raises(LabRefused, match="not been released") as refused:
        report_sheet.gather(lab["doctor"], report["id"], locale="en")
    assert refused.value.status == 409


@pytest.mark.parametrize("report_id", ["../etc/passwd", "<script>", "x" * 65, "", "no-such-report"])
def test_hostile_or_unknown_ids_are_not_found(lab, report_id):
    with pytest.raises(LabRefused) as refused:
        report_sheet.gather(lab["doctor"], report_id, locale="en")
    assert refused.value.status == 404


def test_markup_in_the_record_is_printed_as_text(lab):
    with unit_of_work() as conn:
        patient = store.read(conn, SYSTEM, res_type="Patient", res_id="p-wang").resource
        hospital = store.read(conn, SYSTEM, res_type="Organization", res_id="org-h").resource
        store.write_batch(conn, SYSTEM, [
            store.Write("PUT", "Patient", "p-wang", {**patient, "name": [{"text": "<b>Wang & Co</b>"}]}),
            store.Write("PUT", "Organization", "org-h", {**hospital, "name": "<i>City</i> & Hospital",
                                                          "telecom": [{"system": "phone", "value": "<br/>"}]})])
    report = released(lab, "potassium", {"2823-3": "4.1"})
    release.correct(lab["tech"], report_id=report["id"], values={"2823-3": "4.4"}, reason="<para>& </b>")
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    text = pdf_text(report_pdf.render(sheet, locale="en", printed_at=PRINTED, compress=False))
    assert "<b>Wang & Co</b>" in text and "<i>City</i> & Hospital" in text and "<para>& </b>" in text


def test_without_any_organisation_the_header_says_smartcare(lab):
    report = released(lab, "potassium", {"2823-3": "4.1"})
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("DELETE", "Organization", o, None)
                                         for o in ("org-h", "dept-medicine", "dept-laboratory")])
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    assert sheet.hospital == report_sheet.Hospital(name="SmartCare")


def test_a_long_report_runs_over_pages_with_their_numbers(lab):
    report = released(lab, "renal", RENAL)
    sheet = report_sheet.gather(lab["doctor"], report["id"], locale="en")
    long = report_sheet.Sheet(**{**sheet.__dict__, "lines": sheet.lines * 20})
    text = pdf_text(report_pdf.render(long, locale="en", printed_at=PRINTED, compress=False))
    pages = {(int(page), int(total)) for page, total in re.findall(r"Page (\d+) of (\d+)", text)}
    total = max(t for _, t in pages)
    assert total >= 2 and pages == {(n, total) for n in range(1, total + 1)}
    assert "Wang Fang   " + sheet.accession in text  # later pages say whose report they are


def test_the_download_name_is_safe():
    sheet = report_sheet.Sheet(**{name: "" for name in report_sheet.Sheet.__dataclass_fields__} | {
        "report_id": "r1", "accession": 'L2603"; filename=x\r\n', "lines": [], "corrections": [], "age": None,
        "patient_identifier": None, "hospital": report_sheet.Hospital(name="H")})
    assert report_pdf.download_name(sheet) == "lab-report-L2603filenamex.pdf"
