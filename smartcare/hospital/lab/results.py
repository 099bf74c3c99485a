"""Results of a received specimen: manual entry as a preliminary report, the technician's review, delta checks.

One DiagnosticReport per ServiceRequest (basedOn), category LAB, coded with the order's LOINC code, with one
Observation per analyte of the order (the catalogue's test, or the tests of its panel). Flags are computed here
from smartcare.knowledge.lab for the patient's sex and age, never taken from whoever typed or sent the value.
A graded analyte (a urine strip pad, a qualitative test) takes one of its grades, stored as valueCodeableConcept
in the local CodeSystem of grades (with SNOMED CT Negative/Positive where exactly meant) and flagged N or A.
Entered results are `preliminary`; the technician's review is recorded on the report (extension REVIEW_EXT:
who and when) and is cleared when the values change; release makes them final (release.py).
"""

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab import specimens
from smartcare.hospital.lab.accession import LOINC, LabRefused, checked_id, order_of
from smartcare.knowledge import lab as knowledge
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

LOCAL = "https://smartcare.example/fhir/"
REVIEW_EXT = LOCAL + "StructureDefinition/lab-technical-review"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
REPORT_CATEGORY = "http://terminology.hl7.org/CodeSystem/v2-0074"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
SNOMED = "http://snomed.info/sct"
FLAG_NAMES = {"LL": "Critical low", "L": "Low", "N": "Normal", "H": "High", "HH": "Critical high", "A": "Abnormal"}
CRITICAL = frozenset({"LL", "HH"})
RELEASED = ("final", "corrected", "amended")
MAX_VALUE_TEXT = 20
MAX_MAGNITUDE = 1e9


@dataclass(frozen=True)
class Patient:
    """What the reference ranges need of a patient: sex and date of birth."""

    sex: str | None
    birth: date | None

    def age_days(self, on: datetime) -> int | None:
        """Age in whole days on a moment, or None without a date of birth."""
        if self.birth is None:
            return None
        return max(0, (on.date() - self.birth).days)


def patient_facts(patient: dict[str, Any]) -> Patient:
    """The sex and birth date of a FHIR Patient, as the ranges read them."""
    sex = patient.get("gender") if patient.get("gender") in ("male", "female") else None
    try:
        birth = date.fromisoformat(patient["birthDate"]) if len(patient.get("birthDate", "")) == 10 else None
    except ValueError:
        birth = None
    return Patient(sex=sex, birth=birth)


def analytes(order: catalogue.LabTest | catalogue.LabPanel) -> tuple[catalogue.LabTest, ...]:
    """The single tests whose values make up the order's report."""
    return order.tests if isinstance(order, catalogue.LabPanel) else (order,)


def parse_value(text: str) -> float | None:
    """The number typed for a result (None when left blank); LabRefused for anything that is not a plain number."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_VALUE_TEXT:
        raise LabRefused(f"a result is at most {MAX_VALUE_TEXT} characters")
    try:
        value = float(text)
    except ValueError:
        raise LabRefused(f"{text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise LabRefused(f"{text!r} is not a result value")
    return value


def parse_grade(test: catalogue.LabTest, text: str) -> knowledge.Answer | None:
    """The grade chosen or typed for a graded test (None when left blank); LabRefused for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_VALUE_TEXT:
        raise LabRefused(f"a result is at most {MAX_VALUE_TEXT} characters")
    answer = knowledge.grade(test.loinc, text)
    if answer is None:
        item = knowledge.analyte(test.loinc)
        allowed = ", ".join(a.en for a in item.answers) if item else ""
        raise LabRefused(f"{text!r} is not a grade of {test.name_en}: choose one of {allowed}")
    return answer


def graded(test: catalogue.LabTest) -> knowledge.Analyte | None:
    """The laboratory knowledge of a test whose results are grades, or None for a numeric test."""
    item = knowledge.analyte(test.loinc)
    return item if item is not None and item.ordinal else None


def parse_entry(test: catalogue.LabTest, text: str) -> float | knowledge.Answer | None:
    """What was entered for a test: a grade for a graded test, else a number (None when left blank)."""
    return parse_grade(test, text) if graded(test) else parse_value(text)


def grade_concept(answer: knowledge.Answer) -> dict[str, Any]:
    """Observation.valueCodeableConcept for a grade: the local code, SNOMED CT where it means exactly that."""
    codings = [{"system": knowledge.ordinal_system(), "code": answer.code, "display": answer.en}]
    if answer.snomed:
        codings.append({"system": SNOMED, "code": answer.snomed, "display": answer.en})
    return {"coding": codings, "text": answer.en}


def grade_of(observation_: dict[str, Any]) -> str | None:
    """The grade code recorded on an Observation (neg, trace, 1+ ...), if it holds one."""
    concept = observation_.get("valueCodeableConcept") or {}
    return next((c.get("code") for c in concept.get("coding", []) if c.get("system") == knowledge.ordinal_system()),
                None)


def recorded_value(observation_: dict[str, Any]) -> float | str | None:
    """The value on an Observation as entry compares it: the number, or the grade code."""
    value = (observation_.get("valueQuantity") or {}).get("value")
    return value if isinstance(value, int | float) else grade_of(observation_)


def value_text(observation_: dict[str, Any], *, zh: bool = False) -> str:
    """The result as people read it: the number with its unit, the grade's label, or the text sent."""
    item = knowledge.analyte(loinc_of(observation_) or "")
    answer = item.answer(grade_of(observation_) or "") if item is not None else None
    if answer is not None:
        return answer.label(zh)
    quantity = observation_.get("valueQuantity") or {}
    value = quantity.get("value")
    if isinstance(value, int | float):
        unit = quantity.get("unit", "")
        return f"{value:g} {unit if unit != '1' else ''}".strip()
    concept = observation_.get("valueCodeableConcept") or {}
    return str(observation_.get("valueString") or concept.get("text") or next(
        (c.get("display") or c.get("code") for c in concept.get("coding", [])), ""))


def interpret(loinc: str, value: float, unit: str | None, who: Patient, on: datetime) -> tuple[str | None, Any]:
    """The flag (LL/L/N/H/HH, None when no range applies) and the range, for this patient on that day."""
    rng = knowledge.reference_range(loinc, sex=who.sex, age_days=who.age_days(on))
    if rng is None:
        return None, None
    measured = value
    if unit and rng.unit and unit != rng.unit:
        try:
            measured = knowledge.convert(value, unit, rng.unit, loinc=loinc)
        except ValueError:
            return None, rng
    return knowledge.flag(measured, rng), rng


def _quantity(value: float | None, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def observation(test: catalogue.LabTest, value: float | knowledge.Answer, *, request: dict[str, Any],
                specimen: dict[str, Any], who: Patient, performer: str | None, now: datetime) -> dict[str, Any]:
    """A preliminary laboratory Observation for one analyte (a number or a grade), with its computed flag and
    reference range."""
    unit = test.unit or ""
    collected = (specimen.get("collection") or {}).get("collectedDateTime")
    effective = clock.parse_instant(collected) if collected else now
    if isinstance(value, knowledge.Answer):
        flag, rng, measured = knowledge.grade_flag(value), None, {"valueCodeableConcept": grade_concept(value)}
    else:
        flag, rng = interpret(test.loinc, value, unit, who, effective)
        measured = {"valueQuantity": _quantity(value, unit)}
    resource: dict[str, Any] = {
        "resourceType": "Observation", "status": "preliminary",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": test.loinc, "display": test.name_en}], "text": test.name_en},
        "subject": request["subject"], "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
        "specimen": {"reference": f"Specimen/{specimen['id']}"},
        "effectiveDateTime": clock.format_instant(effective), "issued": clock.format_instant(now), **measured,
    }
    if performer:
        resource["performer"] = [{"reference": performer}]
    if flag:
        resource["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag,
                                                   "display": FLAG_NAMES[flag]}]}]
    if rng is not None and (rng.low is not None or rng.high is not None):
        resource["referenceRange"] = reference_band(rng)
    return resource


def reference_band(rng: Any) -> list[dict[str, Any]]:
    """Observation.referenceRange for one of the knowledge base's ranges, citing its source."""
    band: dict[str, Any] = {"text": rng.source[:500]}
    if rng.low is not None:
        band["low"] = _quantity(rng.low, rng.unit)
    if rng.high is not None:
        band["high"] = _quantity(rng.high, rng.unit)
    return [band]


def report_for(ctx: AccessContext, request_id: str) -> dict[str, Any] | None:
    """The DiagnosticReport of an order, if results were entered or received."""
    found = gateway.search(ctx, "DiagnosticReport", [("based-on", f"ServiceRequest/{request_id}"), ("_count", "5")])
    return found[0] if found else None


def results_of(ctx: AccessContext, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's Observations, in the report's order."""
    refs = [r["reference"] for r in report.get("result", []) if r.get("reference", "").startswith("Observation/")]
    return [gateway.read(ctx, ref) for ref in refs]


def reviewed(report: dict[str, Any]) -> dict[str, str] | None:
    """Who reviewed the report and when ({'by', 'at'}), or None when not reviewed since the last change."""
    for ext in report.get("extension", []):
        if ext.get("url") == REVIEW_EXT:
            parts = {e.get("url"): e for e in ext.get("extension", [])}
            return {"by": ((parts.get("reviewer") or {}).get("valueReference") or {}).get("reference", ""),
                    "at": (parts.get("time") or {}).get("valueDateTime", "")}
    return None


def loinc_of(resource: dict[str, Any]) -> str | None:
    """The LOINC code of an Observation."""
    return next((c.get("code") for c in (resource.get("code") or {}).get("coding", []) if c.get("system") == LOINC),
                None)


def _report(request: dict[str, Any], order: catalogue.LabTest | catalogue.LabPanel, specimen: dict[str, Any],
            now: datetime) -> dict[str, Any]:
    code = {"coding": [{"system": LOINC, "code": order.loinc, "display": order.name_en}], "text": order.name_en} \
        if order.loinc else request["code"]
    return {"resourceType": "DiagnosticReport", "status": "preliminary",
            "category": [{"coding": [{"system": REPORT_CATEGORY, "code": "LAB", "display": "Laboratory"}]}],
            "code": code, "subject": request["subject"],
            "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
            "specimen": [{"reference": f"Specimen/{specimen['id']}"}],
            "effectiveDateTime": (specimen.get("collection") or {}).get("collectedDateTime")
            or clock.format_instant(now), "result": []}


def entry_form(ctx: AccessContext, specimen_id: str) -> dict[str, Any]:
    """What the entry page needs: the specimen, its order, the analytes, the report and its results so far."""
    specimen = specimens.read(ctx, specimen_id)
    request_ref = next((r.get("reference", "") for r in specimen.get("request", [])), "")
    if not request_ref.startswith("ServiceRequest/"):
        raise LabRefused("the specimen belongs to no order", status=404)
    request = gateway.read(ctx, request_ref)
    order = order_of(request)
    if order is None:
        raise LabRefused("the order's test is not in the laboratory catalogue", status=404)
    report = report_for(ctx, request["id"])
    return {"specimen": specimen, "request": request, "order": order, "tests": analytes(order), "report": report,
            "results": results_of(ctx, report) if report else []}


def enter_results(ctx: AccessContext, *, specimen_id: str, values: dict[str, str]) -> dict[str, Any]:
    """Enter (or re-enter before release) the order's results as a preliminary report; returns the report."""
    form = entry_form(ctx, specimen_id)
    specimen, request, report = form["specimen"], form["request"], form["report"]
    if specimens.stage(specimen) != specimens.RECEIVED:
        raise LabRefused("results are entered for a specimen the laboratory has received", status=409)
    if report is not None and report.get("status") != "preliminary":
        raise LabRefused("the report was released; a change now is a correction", status=409)
    tests = {t.loinc: t for t in form["tests"]}
    if not tests:
        raise LabRefused("this order has no analytes to enter by hand; its results come from the analyser")
    unknown = set(values) - set(tests)
    if unknown:
        raise LabRefused("a result was given for a test that is not part of this order")
    parsed = {code: parse_entry(tests[code], text) for code, text in values.items()}
    parsed = {code: value for code, value in parsed.items() if value is not None}
    if not parsed:
        raise LabRefused("enter at least one result")
    who = patient_facts(gateway.read(ctx, request["subject"]["reference"]))
    now = clock.now()
    existing = {loinc_of(o): o for o in form["results"]}
    entries: list[dict[str, Any]] = []
    refs = list((report or {}).get("result", []))
    for code, value in parsed.items():
        fresh = observation(tests[code], value, request=request, specimen=specimen, who=who,
                            performer=ctx.fhir_user, now=now)
        old = existing.get(code)
        if old is not None:
            entries.append({"resource": {**fresh, "id": old["id"]}, "request": {
                "method": "PUT", "url": f"Observation/{old['id']}",
                "ifMatch": f'W/"{(old.get("meta") or {}).get("versionId", "1")}"'}})
        else:
            url = f"urn:uuid:{uuid.uuid4()}"
            entries.append({"fullUrl": url, "resource": fresh, "request": {"method": "POST", "url": "Observation"}})
            refs.append({"reference": url})
    if report is None:
        body = {**_report(request, form["order"], specimen, now), "result": refs}
        entries.append({"resource": body, "request": {"method": "POST", "url": "DiagnosticReport"}})
    else:
        body = {**report, "result": refs, "extension": [e for e in report.get("extension", [])
                                                        if e.get("url") != REVIEW_EXT]}
        entries.append({"resource": body, "request": {
            "method": "PUT", "url": f"DiagnosticReport/{report['id']}",
            "ifMatch": f'W/"{(report.get("meta") or {}).get("versionId", "1")}"'}})
    if "extension" in body and not body["extension"]:
        del body["extension"]
    transaction(ctx, entries)
    return report_for(ctx, request["id"]) or {}


def transaction(ctx: AccessContext, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the entries in one FHIR transaction as ctx (all or nothing); returns the response bundle."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}


def read_report(ctx: AccessContext, report_id: str) -> dict[str, Any]:
    """One laboratory report, read as ctx."""
    report = gateway.read(ctx, f"DiagnosticReport/{checked_id(report_id, 'report')}")
    if not any(c.get("code") == "LAB" for cat in report.get("category", []) for c in cat.get("coding", [])):
        raise LabRefused("no such laboratory report", status=404)
    return report


def review(ctx: AccessContext, *, report_id: str) -> dict[str, Any]:
    """Record the technician's review of a preliminary report (who and when)."""
    report = read_report(ctx, report_id)
    if report.get("status") != "preliminary":
        raise LabRefused("only a preliminary report is reviewed", status=409)
    if not report.get("result"):
        raise LabRefused("the report has no results to review", status=409)
    mark: dict[str, Any] = {"url": REVIEW_EXT, "extension": [
        {"url": "time", "valueDateTime": clock.format_instant(clock.now())}]}
    if ctx.fhir_user:
        mark["extension"].insert(0, {"url": "reviewer", "valueReference": {"reference": ctx.fhir_user}})
    body = {**report, "extension": [*(e for e in report.get("extension", []) if e.get("url") != REVIEW_EXT), mark]}
    return specimens.put(ctx, body)


def previous_result(ctx: AccessContext, observation_: dict[str, Any]) -> dict[str, Any] | None:
    """The patient's last released result of the same test before this one, if any."""
    code = loinc_of(observation_)
    if not code:
        return None
    found = gateway.search(ctx, "Observation", [
        ("subject", observation_["subject"]["reference"]), ("code", f"{LOINC}|{code}"),
        ("status", ",".join(RELEASED)), ("_sort", "-date"), ("_count", "5")])
    mine = observation_.get("effectiveDateTime", "")
    return next((o for o in found if o.get("id") != observation_.get("id")
                 and o.get("effectiveDateTime", "") < mine and (o.get("valueQuantity") or {}).get("value") is not None),
                None)


def _moment(text: str | None) -> datetime:
    """An effective time as an aware datetime (a bare date counts as its midnight UTC)."""
    moment = clock.parse_instant(text or "1970-01-01")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def delta(ctx: AccessContext, observation_: dict[str, Any]) -> dict[str, Any] | None:
    """The previous result and, when the change exceeds the analyte's delta limit, the delta-check finding."""
    previous = previous_result(ctx, observation_)
    value = (observation_.get("valueQuantity") or {}).get("value")
    if previous is None or value is None:
        return None
    before = previous["valueQuantity"]["value"]
    hours = (_moment(observation_.get("effectiveDateTime")) - _moment(previous.get("effectiveDateTime"))
             ).total_seconds() / 3600
    try:
        finding = knowledge.delta_check(loinc_of(observation_), float(value), float(before),
                                        hours_between=max(hours, 0.0))
    except ValueError:
        finding = None
    return {"previous": before, "unit": previous["valueQuantity"].get("unit", ""),
            "when": previous.get("effectiveDateTime", "")[:16].replace("T", " "), "finding": finding}


def flag_of(observation_: dict[str, Any]) -> str | None:
    """The computed flag recorded on an Observation (LL/L/N/H/HH, A for an abnormal grade), if any."""
    return next((c.get("code") for i in observation_.get("interpretation", []) for c in i.get("coding", [])
                 if c.get("system") == INTERPRETATION), None)
