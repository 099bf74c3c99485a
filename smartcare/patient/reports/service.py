"""The patient's lab reports explained: each result against the range for their age and sex, what it commonly
means and what to do, panels read together, trends against earlier results; also for values typed in from a
paper lab sheet of another hospital.

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
    value: float
    unit: str
    level: str
    flag: str | None
    low: float | None
    high: float | None
    meaning: str
    action: str
    source: str
    trend: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Explained:
    """A whole report (or paper sheet) explained: the results, the patterns across them, the overall advice."""

    title: str
    issued: str
    results: list[ExplainedResult]
    patterns: list[dict[str, str]]
    advice: str
    unknown: list[str] = field(default_factory=list)


# How UCUM counts print on a lab sheet.
_UNIT_DISPLAY = {"10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "10*6/L": "×10⁶/L", "Cel": "°C", "umol/L": "µmol/L"}


def unit_display(unit: str) -> str:
    """A UCUM unit as people read it on a lab sheet (10*9/L as ×10⁹/L)."""
    return _UNIT_DISPLAY.get(unit, unit)


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
    if not unit or unit == analyte.unit:
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
        if analyte is None or not math.isfinite(value):
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


def _advice(results: list[ExplainedResult], patterns: list[lab.PanelFinding]) -> str:
    actions = {r.action for r in results} | {p.action for p in patterns}
    return next((a for a in ACTION_ORDER if a in actions), "routine")


def _patterns(results: list[ExplainedResult], *, sex: str | None, age_days: int | None,
              zh: bool) -> tuple[list[dict[str, str]], list[lab.PanelFinding]]:
    found = lab.interpret_panel({r.loinc: r.value for r in results}, sex=sex, age_days=age_days)
    return [{"meaning": f.meaning_zh if zh else f.meaning_en, "action": f.action, "source": f.source}
            for f in found], found


def my_reports(ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """The patient's released laboratory reports, newest first."""
    found = gateway.search(ctx, "DiagnosticReport", [("patient", patient_id), ("status", ",".join(RELEASED)),
                                                     ("_sort", "-issued"), ("_count", "50"), ("_total", "none")])
    return [{"id": r["id"], "title": (r.get("code") or {}).get("text") or next(
        (c.get("display") for c in (r.get("code") or {}).get("coding", [])), "Laboratory report"),
             "issued": str(r.get("issued") or r.get("effectiveDateTime") or "")[:10], "status": r.get("status")}
            for r in found]


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
            points[code].append((str(o.get("effectiveDateTime") or o.get("issued") or "")[:10], float(value)))
    return {code: sorted(p) for code, p in points.items()}


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
    values = [(code, float(q["value"]), q.get("code") or q.get("unit") or "")
              for o in observations if (code := _code(o.get("code")))
              and isinstance((q := o.get("valueQuantity") or {}).get("value"), int | float)]
    trends = _trends(ctx, (report.get("subject") or {}).get("reference", "").removeprefix("Patient/"),
                     sorted({v[0] for v in values}))
    results, unknown = explain_values(values, sex=sex, age_days=age_days, zh=zh, trends=trends)
    patterns, found = _patterns(results, sex=sex, age_days=age_days, zh=zh)
    title = (report.get("code") or {}).get("text") or next(
        (c.get("display") for c in (report.get("code") or {}).get("coding", [])), "")
    return Explained(title=title, issued=str(report.get("issued") or "")[:10], results=results, patterns=patterns,
                     advice=_advice(results, found), unknown=unknown)


def explain_paper(lines: list[tuple[str, str, str]], *, sex: str | None, age_days: int | None, zh: bool) -> Explained:
    """Values typed in from a paper lab sheet: (analyte, value, unit) lines explained the same way."""
    if not lines:
        raise ReportProblem("add at least one result")
    if len(lines) > MAX_PAPER_LINES:
        raise ReportProblem(f"at most {MAX_PAPER_LINES} results at a time")
    values = []
    for name, text, unit in lines:
        try:
            value = float(text)
        except ValueError:
            raise ReportProblem(f"{name[:40]}: {text[:20]!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or value > 1e7:
            raise ReportProblem(f"{name[:40]}: {text[:20]!r} is not a plausible result")
        values.append((name, value, unit))
    results, unknown = explain_values(values, sex=sex, age_days=age_days, zh=zh)
    patterns, found = _patterns(results, sex=sex, age_days=age_days, zh=zh)
    return Explained(title="", issued="", results=results, patterns=patterns, advice=_advice(results, found),
                     unknown=unknown)
