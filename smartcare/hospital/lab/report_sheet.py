"""A released laboratory report gathered for reading and printing: the hospital, the patient, the order and its
specimen, each result with its flag, range, previous result, change and trend, the corrections and who released it.

Everything is read through the FHIR gateway as the reader (a clinician, the patient or their proxy), so the access
policy decides and every read is audited; directory records (organisations, practitioners) are readable by every
signed-in caller. The report, its results, patient, order, specimen and releaser come in one search with _include,
the earlier results of the same tests in one more. Only released reports (final, corrected, amended) are gathered:
a preliminary one is refused with 409, so nothing unreleased is ever printed.

The hospital in the header is the top of the partOf chain from the ordering doctor's department (the requester's
PractitionerRole: the organisation providing its HealthcareService, else its organization); failing that from the
laboratory that performed the test, the institution that sent the record (meta.source), then the patient's managing
organisation. Only the ordering side names the ordering department.
"""

import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab import results
from smartcare.hospital.lab.accession import LabRefused, checked_id, order_of
from smartcare.hospital.workstation.banner import identifiers
from smartcare.hospital.workstation.codes import label, parse_moment, region_zone
from smartcare.knowledge import calculators
from smartcare.knowledge import lab as knowledge
from smartcare.platform import clock
from smartcare.platform.web import fhir_text

TREND_POINTS = 10
MAX_CHAIN = 6
_INCLUDES = ("result", "subject", "based-on", "specimen", "results-interpreter")
_CORRECTED = re.compile(r"Corrected from (?P<old>.{0,80}?): (?P<reason>.*)", re.DOTALL)
_CJK = re.compile(r"[\u3400-\u9fff]")
# How UCUM codes print on a lab sheet.
_UNIT_TEXT = {"10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "10*6/L": "×10⁶/L", "umol/L": "µmol/L", "ug/L": "µg/L",
              "Cel": "°C", "[IU]/L": "IU/L", "mm[Hg]": "mmHg", "1": ""}
_EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"


@dataclass(frozen=True)
class Hospital:
    """Who issues the report: the hospital's name, address and telephone (blank when not recorded)."""

    name: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Correction:
    """A result changed after release: the test, the value it had, why, and when."""

    test: str
    old: str
    reason: str
    at: str


@dataclass(frozen=True)
class Line:
    """One result as a report shows it."""

    loinc: str
    name: str
    value: float | None
    value_text: str
    unit: str
    ucum: str
    flag: str | None
    range_text: str
    low: float | None
    high: float | None
    status: str
    previous: float | None = None
    previous_when: str = ""
    change: float | None = None
    percent: float | None = None
    delta_exceeded: bool = False
    trend: list[tuple[str, float]] = field(default_factory=list)

    @property
    def unit_text(self) -> str:
        """The unit as people read it on a lab sheet (10*9/L as ×10⁹/L, umol/L as µmol/L)."""
        return _UNIT_TEXT.get(self.ucum, self.unit) if self.ucum else self.unit

    @property
    def critical(self) -> bool:
        """True for a critical value (LL or HH)."""
        return self.flag in results.CRITICAL


@dataclass(frozen=True)
class Sheet:
    """A released laboratory report with everything its reader and its printout show."""

    report_id: str
    status: str
    title: str
    hospital: Hospital
    department: str
    patient_id: str
    patient_name: str
    sex: str
    age: int | None
    birth_date: str
    patient_identifier: dict[str, str] | None
    order_number: str
    accession: str
    specimen: str
    ordered: str
    collected: str
    received: str
    reported: str
    ordering_doctor: str
    released_by: str
    reviewed_by: str
    reviewed_at: str
    conclusion: str
    lines: list[Line]
    corrections: list[Correction]

    @property
    def has_critical(self) -> bool:
        """True when any result is a critical value."""
        return any(line.critical for line in self.lines)


def local_time(text: str | None) -> str:
    """A FHIR instant as the region's wall-clock time (YYYY-MM-DD HH:MM), or as much of it as is known."""
    if not isinstance(text, str) or not text:
        return ""
    if len(text) <= 10:
        return text
    moment = parse_moment(text)
    return moment.astimezone(region_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _read(ctx: Any, reference: str | None, res_type: str) -> dict[str, Any] | None:
    """A resource of res_type at reference, or None when there is none (or it cannot be read)."""
    if not isinstance(reference, str) or not reference.startswith(f"{res_type}/"):
        return None
    with suppress(FhirError, LabRefused):
        return gateway.read(ctx, f"{res_type}/{checked_id(reference.split('/', 1)[1], res_type)}")
    return None


def _bundle(ctx: Any, report_id: str) -> dict[str, dict[str, Any]]:
    """The report and what it refers to, by reference ("Observation/o1": {...})."""
    query = [("_id", checked_id(report_id, "report")), *(("_include", f"DiagnosticReport:{i}") for i in _INCLUDES)]
    body = gateway.serve(ctx, FhirRequest(method="GET", path="DiagnosticReport", query=query)).body or {}
    found = {}
    for entry in body.get("entry", []):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") and resource.get("id") and entry.get("search", {}).get("mode") != "outcome":
            found[f"{resource['resourceType']}/{resource['id']}"] = resource
    return found


def _is_lab(report: dict[str, Any]) -> bool:
    return any(c.get("code") == "LAB" for cat in report.get("category", []) for c in cat.get("coding", []))


def released_report(ctx: Any, report_id: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The released laboratory report and the resources it refers to; LabRefused 404 (none) or 409 (not released)."""
    found = _bundle(ctx, report_id)
    report = found.get(f"DiagnosticReport/{report_id}")
    if report is None or not _is_lab(report):
        raise LabRefused("no such laboratory report", status=404)
    if report.get("status") not in results.RELEASED:
        raise LabRefused("this report has not been released yet; only a released report is shown and printed",
                         status=409)
    return report, found


def organization_name(organization: dict[str, Any], zh: bool) -> str:
    """An organisation's name in the reader's language (its Chinese alias for Chinese readers)."""
    alias = next((a for a in organization.get("alias", []) if isinstance(a, str) and _CJK.search(a)), None)
    return (alias if zh and alias else None) or organization.get("name") or alias or ""


def _address(organization: dict[str, Any], zh: bool) -> str:
    address = next(iter(organization.get("address") or []), None) or {}
    text = address.get("text") or ""
    parts = [*address.get("line", []), address.get("district"), address.get("city"), address.get("postalCode")]
    structured = ", ".join(str(p) for p in parts if p)
    if zh:
        return text or structured
    return structured or text


def _chain(ctx: Any, reference: str | None) -> list[dict[str, Any]]:
    """The organisation at reference and those it is part of, up to the top (cycles and long chains cut)."""
    chain: list[dict[str, Any]] = []
    organization = _read(ctx, reference, "Organization")
    while organization is not None and len(chain) < MAX_CHAIN:
        chain.append(organization)
        parent = (organization.get("partOf") or {}).get("reference")
        if not parent or any(f"Organization/{o['id']}" == parent for o in chain):
            break
        organization = _read(ctx, parent, "Organization")
    return chain


def _role_organizations(ctx: Any, reference: str | None) -> list[str]:
    """The organisations a practitioner (or a practitioner role) works for, each role's department first (the
    organisation providing its HealthcareService, when the role names the hospital itself)."""
    if isinstance(reference, str) and reference.startswith("PractitionerRole/"):
        roles = [r for r in [_read(ctx, reference, "PractitionerRole")] if r]
    elif isinstance(reference, str) and reference.startswith("Practitioner/"):
        roles = []
        with suppress(FhirError):
            roles = gateway.search(ctx, "PractitionerRole", [("practitioner", reference), ("active", "true"),
                                                             ("_count", "10")])
    else:
        return []
    found = []
    for role in roles:
        service = _read(ctx, next((s.get("reference") for s in role.get("healthcareService", [])), None),
                        "HealthcareService") or {}
        found += [(service.get("providedBy") or {}).get("reference", ""),
                  (role.get("organization") or {}).get("reference", "")]
    return [f for f in found if f]


def _starting_points(ctx: Any, report: dict[str, Any], request: dict[str, Any],
                     patient: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """Organisations to climb from to the hospital, best first, each marked True on the ordering side; read only
    as far as they are needed."""
    for reference in _role_organizations(ctx, (request.get("requester") or {}).get("reference")):
        yield reference, True
    for performer in report.get("performer", []):
        reference = performer.get("reference", "")
        for found in [reference] if reference.startswith("Organization/") else _role_organizations(ctx, reference):
            yield found, False
    for performer in request.get("performer", []):
        service = _read(ctx, performer.get("reference"), "HealthcareService") or {}
        yield (service.get("providedBy") or {}).get("reference") or performer.get("reference", ""), False
    yield (report.get("meta") or {}).get("source", ""), False
    yield (patient.get("managingOrganization") or {}).get("reference", ""), False


def hospital_of(ctx: Any, report: dict[str, Any], request: dict[str, Any], patient: dict[str, Any], *,
                zh: bool) -> tuple[Hospital, str]:
    """The hospital issuing the report and the ordering department's name (see the module docstring)."""
    tried: set[str] = set()
    for start, ordering in _starting_points(ctx, report, request, patient):
        if not start.startswith("Organization/") or start in tried:
            continue
        tried.add(start)
        chain = _chain(ctx, start)
        if not chain:
            continue
        top = chain[-1]
        name = organization_name(top, zh)
        phone = next((t.get("value", "") for t in top.get("telecom", []) if t.get("system") == "phone"), "")
        department = organization_name(chain[0], zh) if ordering and len(chain) > 1 else ""
        department = department.removeprefix(name).lstrip(" -–") or department
        return Hospital(name=name, address=_address(top, zh), phone=phone), department
    return Hospital(name="SmartCare"), ""


def display_name(person: dict[str, Any], locale: str) -> str:
    """A person's name; for English readers with the alphabetic (pinyin) name beside a Chinese one."""
    name = fhir_text.person_name(person)
    if locale == "zh-Hans":
        return name
    latin = next((n.get("text") or " ".join([*n.get("given", []), n.get("family", "")]).strip()
                  for n in person.get("name", []) if any(e.get("url") == _EN_REPRESENTATION and e.get("valueCode")
                                                         == "ABC" for e in n.get("extension", []))), "")
    return f"{name} ({latin})" if latin and latin != name else name


def _person(ctx: Any, found: dict[str, dict[str, Any]], reference: str | None, locale: str) -> str:
    """A practitioner's name (through a PractitionerRole when that is what is referred to)."""
    if isinstance(reference, str) and reference.startswith("PractitionerRole/"):
        reference = ((_read(ctx, reference, "PractitionerRole") or {}).get("practitioner") or {}).get("reference")
    if not isinstance(reference, str) or not reference:
        return ""
    person = found.get(reference) or _read(ctx, reference, "Practitioner")
    # A practitioner missing from the directory is still named by the record's reference, not left blank.
    return display_name(person, locale) if person else reference.rsplit("/", 1)[-1]


def _releaser(report: dict[str, Any]) -> str | None:
    """Who released the report: its resultsInterpreter, else (reports from elsewhere) the practitioner performer."""
    for key in ("resultsInterpreter", "performer"):
        found = [r.get("reference", "") for r in report.get(key, [])]
        chosen = next((r for r in found if r.startswith(("Practitioner/", "PractitionerRole/"))), None)
        if chosen:
            return chosen
    return None


def range_text(observation: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """The reference range as printed ("3.5–5.3", "≥ 60", "≤ 5.2", or its text) with its limits."""
    band = (observation.get("referenceRange") or [{}])[0]
    low, high = (band.get("low") or {}).get("value"), (band.get("high") or {}).get("value")
    low = float(low) if isinstance(low, int | float) else None
    high = float(high) if isinstance(high, int | float) else None
    if low is not None and high is not None:
        return f"{low:g}–{high:g}", low, high
    if low is not None:
        return f"≥ {low:g}", low, high
    if high is not None:
        return f"≤ {high:g}", low, high
    return "", None, None


def _names(request: dict[str, Any], zh: bool) -> dict[str, str]:
    order = order_of(request)
    return {t.loinc: t.name_zh if zh else t.name_en for t in (results.analytes(order) if order else ())}


def _name(observation: dict[str, Any], names: dict[str, str], locale: str) -> str:
    code = results.loinc_of(observation) or ""
    if code in names:
        return names[code]
    analyte = knowledge.analyte(code) if code else None
    if analyte is not None:
        return analyte.name_zh if locale == "zh-Hans" else analyte.name_en
    return label(observation.get("code"), locale)


def _history(ctx: Any, patient_ref: str, codes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The patient's released results of these tests, newest first, by LOINC code."""
    if not codes:
        return {}
    found = gateway.search(ctx, "Observation", [
        ("subject", patient_ref), ("code", ",".join(f"{results.LOINC}|{c}" for c in codes)),
        ("status", ",".join(results.RELEASED)), ("_sort", "-date"), ("_count", "200")])
    by_code: dict[str, list[dict[str, Any]]] = {}
    for observation in found:
        by_code.setdefault(results.loinc_of(observation) or "", []).append(observation)
    return by_code


def _value(observation: dict[str, Any]) -> float | None:
    value = (observation.get("valueQuantity") or {}).get("value")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _hours(later: str | None, earlier: str | None) -> float:
    a, b = parse_moment(later), parse_moment(earlier)
    return max((a - b).total_seconds() / 3600, 0.0) if a and b else 0.0


def _line(observation: dict[str, Any], earlier: list[dict[str, Any]], name: str, zh: bool = False) -> Line:
    """One result with its previous result, the change since, the delta check and the trend up to it."""
    mine = observation.get("effectiveDateTime", "")
    before = [o for o in earlier if o.get("id") != observation.get("id") and o.get("effectiveDateTime", "") < mine
              and _value(o) is not None]
    value, quantity = _value(observation), observation.get("valueQuantity") or {}
    text, low, high = range_text(observation)
    graded = knowledge.analyte(results.loinc_of(observation) or "")
    if not text and graded is not None and graded.ordinal:
        text = ("、" if zh else ", ").join(a.label(zh) for a in graded.answers if a.normal)
    line = dict(loinc=results.loinc_of(observation) or "", name=name, value=value,
                value_text=f"{value:g}" if value is not None else results.value_text(observation, zh=zh)
                if results.grade_of(observation) else fhir_text.observation_value(observation),
                unit=quantity.get("unit") or quantity.get("code") or "",
                ucum=quantity.get("code") or "" if quantity.get("system") == results.UCUM else "",
                flag=results.flag_of(observation),
                range_text=text, low=low, high=high, status=observation.get("status", ""))
    points = [(local_time(o.get("effectiveDateTime"))[:10], _value(o)) for o in reversed(before[:TREND_POINTS - 1])]
    if value is not None:
        points.append((local_time(mine)[:10], value))
    line["trend"] = [(day, v) for day, v in points if v is not None]
    if before and value is not None:
        previous = before[0]
        old = _value(previous) or 0.0
        finding = None
        with suppress(ValueError):
            finding = knowledge.delta_check(line["loinc"], value, old,
                                            hours_between=_hours(mine, previous.get("effectiveDateTime")))
        line |= dict(previous=old, previous_when=local_time(previous.get("effectiveDateTime"))[:10],
                     change=value - old, percent=(value - old) / abs(old) * 100 if old else None,
                     delta_exceeded=finding is not None)
    return Line(**line)


def _corrections(observations: list[dict[str, Any]], names: dict[str, str]) -> list[Correction]:
    found = []
    for observation in observations:
        if observation.get("status") != "corrected":
            continue
        for note in observation.get("note", []):
            match = _CORRECTED.fullmatch(str(note.get("text", "")))
            if match:
                found.append(Correction(test=names.get(results.loinc_of(observation) or "", ""),
                                        old=match["old"], reason=match["reason"], at=local_time(note.get("time"))))
    return sorted(found, key=lambda c: c.at)


def _patient_facts(patient: dict[str, Any], on: str | None, locale: str) -> dict[str, Any]:
    born = None
    with suppress(ValueError):
        born = date.fromisoformat(str(patient.get("birthDate", ""))[:10])
    moment = parse_moment(on)
    day = (moment if isinstance(moment, datetime) else clock.now()).astimezone(region_zone()).date()
    shown = identifiers(patient, locale)
    return {"patient_id": patient.get("id", ""), "patient_name": display_name(patient, locale),
            "sex": patient.get("gender", ""), "age": calculators.age_in_years(born, day) if born else None,
            "birth_date": patient.get("birthDate", ""),
            "patient_identifier": next((i for i in shown if i["kind"] == "national"), shown[0] if shown else None)}


def gather(ctx: Any, report_id: str, *, locale: str) -> Sheet:
    """The released report report_id as ctx may read it, in locale; LabRefused (404 none, 409 not released)."""
    zh = locale == "zh-Hans"
    report, found = released_report(ctx, report_id)
    request = found.get(next((b.get("reference", "") for b in report.get("basedOn", [])), "")) or {}
    specimen = found.get(next((s.get("reference", "") for s in report.get("specimen", [])), "")) or {}
    patient = found.get((report.get("subject") or {}).get("reference", "")) or {}
    observations = [found[r["reference"]] for r in report.get("result", []) if r.get("reference") in found]
    observations = [o for o in observations if o.get("status") in results.RELEASED]
    names = _names(request, zh)
    history = _history(ctx, (report.get("subject") or {}).get("reference", ""),
                       sorted({c for o in observations if (c := results.loinc_of(o))}))
    lines = [_line(o, history.get(results.loinc_of(o) or "", []), _name(o, names, locale), zh)
             for o in observations]
    hospital, department = hospital_of(ctx, report, request, patient, zh=zh)
    order = order_of(request)
    title = (order.name_zh if zh else order.name_en) if order else label(report.get("code"), locale)
    reviewed = results.reviewed(report) or {}
    kind = next((c.get("code") for c in (specimen.get("type") or {}).get("coding", [])), None)
    specimen_name = (order.specimen.name_zh if zh else order.specimen.name_en) if order and (
        kind in (None, order.specimen.snomed)) else label(specimen.get("type"), locale)
    return Sheet(
        report_id=report["id"], status=report.get("status", ""), title=title, hospital=hospital,
        department=department, **_patient_facts(patient, specimen.get("collection", {}).get("collectedDateTime")
                                                or report.get("effectiveDateTime"), locale),
        order_number=next((i.get("value", "") for i in request.get("identifier", []) if i.get("value")), ""),
        accession=((specimen.get("accessionIdentifier") or {}).get("value") or ""), specimen=specimen_name,
        ordered=local_time(request.get("authoredOn")),
        collected=local_time((specimen.get("collection") or {}).get("collectedDateTime")
                             or report.get("effectiveDateTime")),
        received=local_time(specimen.get("receivedTime")), reported=local_time(report.get("issued")),
        ordering_doctor=_person(ctx, found, (request.get("requester") or {}).get("reference"), locale),
        released_by=_person(ctx, found, _releaser(report), locale),
        reviewed_by=_person(ctx, found, reviewed.get("by"), locale), reviewed_at=local_time(reviewed.get("at")),
        conclusion=str(report.get("conclusion") or ""), lines=lines,
        corrections=_corrections(observations, {results.loinc_of(o) or "": _name(o, names, locale)
                                                for o in observations}))
