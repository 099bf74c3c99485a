"""The patient's lab reports explained: each result against the range for their age and sex, what it commonly
means and what to do, panels read together, trends against earlier results; also for values typed in from a
paper lab sheet of another hospital.

Graded results (the urine test strip, a stool test for blood) are explained by their grade: normal or abnormal,
what a positive commonly means and what to do, and the strip read together (a likely urinary infection ...).

Reports are read through the FHIR gateway as the patient (or their proxy), so the access policy decides and
each read is audited. Only released reports (final, amended, corrected) are shown.
"""

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge import lab
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

RELEASED = ("final", "amended", "corrected")
LOINC = "http://loinc.org"
MAX_PAPER_LINES = 12
TREND_POINTS = 10
# How urgent each action is, most urgent first (a report's overall advice is its most urgent line's).
ACTION_ORDER = ("urgent", "see-doctor-soon", "routine")


class ReportProblem(Exception):
    """A report that cannot be shown, or paper values that cannot be read: what is wrong."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class ExplainedResult:
    """One result with its meaning for this person."""

    loinc: str
    name: str
    what: str
    value: float | str
    unit: str
    level: str
    flag: str | None
    low: float | None
    high: float | None
    meaning: str
    action: str
    source: str
    trend: list[tuple[str, float]] = field(default_factory=list)
    grade: str = ""
    usual: str = ""


@dataclass(frozen=True)
class Explained:
    """A whole report (or paper sheet) explained: the results, the patterns across them, the overall advice."""

    title: str
    issued: str
    results: list[ExplainedResult]
    patterns: list[dict[str, str]]
    advice: str
    unknown: list[str] = field(default_factory=list)


# How UCUM counts print on a lab sheet (a ratio such as urine specific gravity has no unit to print).
_UNIT_DISPLAY = {"10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "10*6/L": "×10⁶/L", "Cel": "°C", "umol/L": "µmol/L",
                 "1": ""}


def unit_display(unit: str | None) -> str:
    """A UCUM unit as people read it on a lab sheet (10*9/L as ×10⁹/L)."""
    return _UNIT_DISPLAY.get(unit or "", unit or "")


def person_of(patient: dict[str, Any], on: date) -> tuple[str | None, int | None]:
    """The sex and age in days the reference ranges are chosen by."""
    sex = patient.get("gender") if patient.get("gender") in ("female", "male") else None
    try:
        born = date.fromisoformat(str(patient.get("birthDate", ""))[:10])
    except ValueError:
        return sex, None
    return sex, max(0, (on - born).days)


def _code(concept: dict[str, Any] | None) -> str | None:
    return next((c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == LOINC), None)


def _in_unit(value: float, unit: str, analyte: lab.Analyte) -> float:
    if not unit or unit == analyte.unit or analyte.unit is None:
        return value
    try:
        return lab.convert(value, unit, analyte.unit, loinc=analyte.loinc)
    except ValueError:
        raise ReportProblem(f"{analyte.name_en}: {unit} cannot be converted to {analyte.unit}") from None


def explain_values(values: list[tuple[str, float, str]], *, sex: str | None, age_days: int | None, zh: bool,
                   trends: dict[str, list[tuple[str, float]]] | None = None) -> tuple[list[ExplainedResult], list[str]]:
    """Each (LOINC or analyte name, value, unit) explained; the names no analyte matches are returned apart."""
    explained, unknown = [], []
    for code, value, unit in values:
        analyte = lab.analyte(code)
        if analyte is None or analyte.ordinal or not math.isfinite(value):
            unknown.append(code)
            continue
        value = _in_unit(value, unit, analyte)
        meaning = lab.interpret(analyte.loinc, value, sex=sex, age_days=age_days)
        rng = meaning.range
        explained.append(ExplainedResult(
            loinc=analyte.loinc, name=analyte.name_zh if zh else analyte.name_en,
            what=analyte.what_zh if zh else analyte.what_en, value=round(value, analyte.decimals),
            unit=unit_display(analyte.unit),
            level=meaning.level, flag=meaning.flag, low=rng.low if rng else None, high=rng.high if rng else None,
            meaning=meaning.meaning_zh if zh else meaning.meaning_en, action=meaning.action, source=meaning.source,
            trend=(trends or {}).get(analyte.loinc, [])))
    return explained, unknown


def explain_grades(grades: list[tuple[str, str]], *, zh: bool) -> tuple[list[ExplainedResult], list[str]]:
    """Each (LOINC or analyte name, grade code) of a graded test explained; names that match none come apart."""
    explained, unknown = [], []
    for code, grade in grades:
        analyte = lab.analyte(code)
        if analyte is None or analyte.answer(grade) is None:
            unknown.append(code)
            continue
        meaning = lab.interpret_grade(analyte.loinc, grade)
        explained.append(ExplainedResult(
            loinc=analyte.loinc, name=analyte.name_zh if zh else analyte.name_en,
            what=analyte.what_zh if zh else analyte.what_en, value=meaning.answer.label(zh), unit="",
            level=meaning.level, flag=meaning.flag, low=None, high=None,
            meaning=meaning.meaning_zh if zh else meaning.meaning_en, action=meaning.action, source=meaning.source,
            grade=meaning.answer.code, usual=(" / " if zh else " or ").join(a.label(zh) for a in meaning.usual)))
    return explained, unknown


def _advice(results: list[ExplainedResult], patterns: list[lab.PanelFinding]) -> str:
    actions = {r.action for r in results} | {p.action for p in patterns}
    return next((a for a in ACTION_ORDER if a in actions), "routine")


def _patterns(results: list[ExplainedResult], *, sex: str | None, age_days: int | None, zh: bool,
              earlier: dict[str, list[str]] | None = None) -> tuple[list[dict[str, str]], list[lab.PanelFinding]]:
    numbers = {r.loinc: r.value for r in results if not r.grade and isinstance(r.value, int | float)}
    found = lab.interpret_panel(numbers, sex=sex, age_days=age_days)
    found += lab.interpret_grades({r.loinc: r.grade for r in results if r.grade}, earlier=earlier)
    return [{"meaning": f.meaning_zh if zh else f.meaning_en, "action": f.action, "source": f.source}
            for f in found], found


def my_reports(ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """The patient's released laboratory reports, newest first."""
    found = gateway.search(ctx, "DiagnosticReport", [("patient", patient_id), ("status", ",".join(RELEASED)),
                                                     ("_sort", "-issued"), ("_count", "50"), ("_total", "none")])
    return [{"id": r["id"], "title": (r.get("code") or {}).get("text") or next(
        (c.get("display") for c in (r.get("code") or {}).get("coding", [])), "Laboratory report"),
             "issued": clock.wall_clock(r.get("issued") or r.get("effectiveDateTime"))[:10], "status": r.get("status")}
            # Imaging reports (category RAD) have their own pages (patient/reports/imaging.py).
            for r in found if "RAD" not in {c.get("code") for cat in r.get("category", [])
                                            for c in cat.get("coding", [])}]


def _trends(ctx: AccessContext, patient_id: str, codes: list[str]) -> dict[str, list[tuple[str, float]]]:
    if not codes:
        return {}
    earlier = gateway.search(ctx, "Observation", [("patient", patient_id), ("code", ",".join(codes)),
                                                  ("status", ",".join(RELEASED)), ("_sort", "-date"),
                                                  ("_count", "200"), ("_total", "none")])
    points: dict[str, list[tuple[str, float]]] = {}
    for o in earlier:
        code, value = _code(o.get("code")), (o.get("valueQuantity") or {}).get("value")
        if code and isinstance(value, int | float) and len(points.setdefault(code, [])) < TREND_POINTS:
            points[code].append((clock.wall_clock(o.get("effectiveDateTime") or o.get("issued"))[:10], float(value)))
    return {code: sorted(p) for code, p in points.items()}


def grade_code(observation: dict[str, Any]) -> str | None:
    """The grade code of a graded result: our own code, else the grade its coding or text spells (NEG, 2+ ...)."""
    analyte = lab.analyte(_code(observation.get("code")) or "")
    concept = observation.get("valueCodeableConcept")
    if analyte is None or not analyte.ordinal or not isinstance(concept, dict):
        return None
    own = next((c.get("code") for c in concept.get("coding", []) if c.get("system") == lab.ordinal_system()), None)
    if own and analyte.answer(own) is not None:
        return own
    texts = [c.get(key) for c in concept.get("coding", []) for key in ("code", "display")] + [concept.get("text")]
    return next((a.code for t in texts if isinstance(t, str) and (a := lab.grade(analyte.loinc, t))), None)


def _earlier_grades(ctx: AccessContext, patient_id: str, codes: list[str], mine: list[dict[str, Any]]) -> dict[
        str, list[str]]:
    """The grades of the patient's released results of these graded tests from before this report's."""
    if not codes or not patient_id:
        return {}
    ids = {o.get("id") for o in mine}
    since = min((str(o.get("effectiveDateTime") or "") for o in mine), default="")
    found = gateway.search(ctx, "Observation", [("patient", patient_id), ("code", ",".join(codes)),
                                                ("status", ",".join(RELEASED)), ("_sort", "-date"),
                                                ("_count", "50"), ("_total", "none")])
    earlier: dict[str, list[str]] = {}
    for o in found:
        code, grade = _code(o.get("code")), grade_code(o)
        if code and grade and o.get("id") not in ids and str(o.get("effectiveDateTime") or "") < since:
            earlier.setdefault(code, []).append(grade)
    return earlier


def explain_report(ctx: AccessContext, *, report_id: str, today: date, zh: bool) -> Explained:
    """One released report of the patient's, explained line by line and as panels, with trends."""
    if not report_id or len(report_id) > 64 or not all(c.isalnum() or c in "-." for c in report_id):
        raise ReportProblem("no such report", status=404)
    bundle = gateway.serve(ctx, FhirRequest(method="GET", path="DiagnosticReport", query=[
        ("_id", report_id), ("_include", "DiagnosticReport:result"), ("_include", "DiagnosticReport:subject")])).body
    entries = [e["resource"] for e in (bundle or {}).get("entry", [])]
    report = next((r for r in entries if r["resourceType"] == "DiagnosticReport"), None)
    if report is None or report.get("status") not in RELEASED:
        raise ReportProblem("no such report", status=404)
    patient = next((r for r in entries if r["resourceType"] == "Patient"), {})
    sex, age_days = person_of(patient, today)
    observations = [r for r in entries if r["resourceType"] == "Observation" and r.get("status") in RELEASED]
    position = {r.get("reference"): n for n, r in enumerate(report.get("result", []))}
    observations.sort(key=lambda o: position.get(f"Observation/{o.get('id')}", len(position)))
    values = [(code, float(q["value"]), q.get("code") or q.get("unit") or "")
              for o in observations if (code := _code(o.get("code")))
              and isinstance((q := o.get("valueQuantity") or {}).get("value"), int | float)]
    graded = [o for o in observations if grade_code(o)]
    patient_id = (report.get("subject") or {}).get("reference", "").removeprefix("Patient/")
    trends = _trends(ctx, patient_id, sorted({v[0] for v in values}))
    results, unknown = explain_values(values, sex=sex, age_days=age_days, zh=zh, trends=trends)
    grades, _ = explain_grades([(_code(o.get("code")) or "", grade_code(o) or "") for o in graded], zh=zh)
    earlier = _earlier_grades(ctx, patient_id, sorted({g.loinc for g in grades}), graded)
    results = _in_report_order(results + grades, observations)
    unknown += _ungraded(observations, zh=zh)
    patterns, found = _patterns(results, sex=sex, age_days=age_days, zh=zh, earlier=earlier)
    title = (report.get("code") or {}).get("text") or next(
        (c.get("display") for c in (report.get("code") or {}).get("coding", [])), "")
    return Explained(title=title, issued=clock.wall_clock(report.get("issued"))[:10], results=results, patterns=patterns,
                     advice=_advice(results, found), unknown=unknown)


def _ungraded(observations: list[dict[str, Any]], *, zh: bool) -> list[str]:
    """The graded tests whose result is no grade of theirs (text an analyzer sent), by name: not explained."""
    names = []
    for o in observations:
        analyte = lab.analyte(_code(o.get("code")) or "")
        if analyte is not None and analyte.ordinal and not grade_code(o):
            names.append(analyte.name_zh if zh else analyte.name_en)
    return names


def _in_report_order(results: list[ExplainedResult], observations: list[dict[str, Any]]) -> list[ExplainedResult]:
    order = {code: n for n, o in enumerate(observations) if (code := _code(o.get("code")))}
    return sorted(results, key=lambda r: order.get(r.loinc, len(order)))


def _paper_grade(name: str, text: str, *, zh: bool) -> str:
    """The grade code typed or picked for a graded test on a paper sheet; ReportProblem when it is none of its."""
    analyte = lab.analyte(name)
    answer = lab.grade(name, text)
    if analyte is None or answer is None:
        allowed = "、".join(a.zh for a in analyte.answers) if zh and analyte else ", ".join(
            a.en for a in analyte.answers) if analyte else ""
        shown = (analyte.name_zh if zh else analyte.name_en) if analyte else name[:40]
        raise ReportProblem(f"{shown}：“{text[:20]}”不是该项目的结果等级，请选择{allowed}" if zh else
                            f"{shown}: {text[:20]!r} is not a grade of this test; choose {allowed}")
    return answer.code


def explain_paper(lines: list[tuple[str, str, str]], *, sex: str | None, age_days: int | None, zh: bool) -> Explained:
    """Values typed in from a paper lab sheet: (analyte, value, unit) lines explained the same way; a graded test
    (urine strip) takes its grade as the value (Negative, 2+, 阴性 ...)."""
    if not lines:
        raise ReportProblem("add at least one result")
    if len(lines) > MAX_PAPER_LINES:
        raise ReportProblem(f"at most {MAX_PAPER_LINES} results at a time")
    values, grades = [], []
    for name, text, unit in lines:
        analyte = lab.analyte(name)
        if analyte is not None and analyte.ordinal:
            grades.append((analyte.loinc, _paper_grade(name, text, zh=zh)))
            continue
        try:
            value = float(text)
        except ValueError:
            raise ReportProblem(f"{name[:40]}: {text[:20]!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or value > 1e7:
            raise ReportProblem(f"{name[:40]}: {text[:20]!r} is not a plausible result")
        values.append((name, value, unit))
    results, unknown = explain_values(values, sex=sex, age_days=age_days, zh=zh)
    graded, _ = explain_grades(grades, zh=zh)
    results += graded
    patterns, found = _patterns(results, sex=sex, age_days=age_days, zh=zh)
    return Explained(title="", issued="", results=results, patterns=patterns, advice=_advice(results, found),
                     unknown=unknown)
