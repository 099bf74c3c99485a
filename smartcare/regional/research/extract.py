"""A research project's de-identified extract: per-project pseudonyms, per-person date shifts, k-anonymity, and its risk report.

The pipeline, under an executed data-use agreement in force (projects.py) and the policy's dataset
decision: read the cohort's patients and the record types the agreement lists; generalise age and
place until every quasi-identifier class holds at least k = 5 people and suppress the rest (kanon.py);
de-identify every record (deidentify.py) with a key of the project's own, so two projects get
unlinkable pseudonyms for the same person; rewrite dates in the mode asked; measure the risk left;
publish aggregate counts with small cells hidden (public_health/suppression.py); audit the release.

Dates, two modes:
- "shift" (default): every date of one person moves by the same number of days, a keyed pseudo-random
  offset from 1 to N days earlier or later (N = max_shift, 182 by default, at most 365), drawn per person
  and per project. Intervals within a person (length of stay, time to readmission, age at onset to a
  few days) are kept exactly; calendar dates, weekdays and seasons are not, and differ between people.
  This is not Safe Harbor (which keeps no date element but the year); it is a technique for the Expert
  Determination route (45 CFR 164.514(b)(1)), where an expert judges the remaining risk, which the
  risk report supports.
- "year": every date is cut to its year, as Safe Harbor (45 CFR 164.514(b)(2)(i)(C)) asks; intervals
  shorter than a year are lost.
In both, birth dates leave the extract: a person's age appears only as the generalised age band.
"""

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.suppression import disclosure_rule, hidden_counts, published
from smartcare.regional.research import kanon
from smartcare.regional.research.deidentify import deidentify, year_only
from smartcare.regional.research.projects import Agreement, agreement_for
from smartcare.regional.research.service import _CODE, DATASET, DATASET_TYPES, PURPOSE, pseudonym_key

DATE_MODES = ("shift", "year")
DEFAULT_SHIFT_DAYS = 182
MAX_SHIFT_DAYS = 365
PAGE_SIZE = 2000  # larger pages: each offset page rescans what it skips
MAX_RECORDS = 500_000
AGE_BAND_EXTENSION = "https://smartcare.example/fhir/StructureDefinition/age-band"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
EXTRACT_PARAMETERS = frozenset({"dates", "max_shift", "cohort"})
# A year alone is left as it is: it says no more than the year, and four digits may be a code.
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?")
_DIGITS = re.compile(r"[0-9]{1,3}")


class ExtractInvalid(ValueError):
    """An extract request that cannot be answered as asked; the message says what to change."""

    status = 400


class ExtractTooLarge(ValueError):
    """More records than one extract may hold; a cohort narrows it."""

    status = 400


@dataclass(frozen=True, slots=True)
class ExtractRequest:
    """How to extract: the date mode, the largest shift in days, and an optional cohort (a Condition code)."""

    dates: str = "shift"
    max_shift: int = DEFAULT_SHIFT_DAYS
    cohort: str | None = None


@dataclass(slots=True)
class Extract:
    """A released extract: the de-identified records, what was done to them, and the risk left."""

    agreement: Agreement
    request: ExtractRequest
    level: kanon.Level
    resources: list[dict[str, Any]]
    counts: dict[str, int]
    cohort_size: int
    suppressed: int
    risk: kanon.Risk
    risk_before: kanon.Risk
    aggregates: dict[str, Any] = field(default_factory=dict)


def parse_request(params: list[tuple[str, str]]) -> ExtractRequest:
    """Check an extract request's parameters (dates, max_shift, cohort); ExtractInvalid otherwise."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in EXTRACT_PARAMETERS:
            raise ExtractInvalid(f"Unknown parameter '{name[:40]}': an extract takes only dates, max_shift and cohort")
        if name in given:
            raise ExtractInvalid(f"The parameter '{name}' is given more than once")
        given[name] = value.strip()
    dates = given.get("dates") or "shift"
    if dates not in DATE_MODES:
        raise ExtractInvalid("dates must be shift (per-person date shifting) or year (dates cut to the year)")
    shift = given.get("max_shift") or str(DEFAULT_SHIFT_DAYS)
    if not _DIGITS.fullmatch(shift) or not 1 <= int(shift) <= MAX_SHIFT_DAYS:
        raise ExtractInvalid(f"max_shift must be a whole number of days from 1 to {MAX_SHIFT_DAYS}")
    cohort = given.get("cohort") or None
    if cohort is not None and not _CODE.fullmatch(cohort):
        raise ExtractInvalid("cohort must be one condition code, or system|code (for example "
                             "http://hl7.org/fhir/sid/icd-10|E11)")
    return ExtractRequest(dates, int(shift), cohort)


def project_key(project: str) -> bytes:
    """The pseudonym key of one project: two projects never share one, so their pseudonyms cannot be joined."""
    return hmac.new(pseudonym_key(), f"research-project/{project}".encode(), hashlib.sha256).digest()


def shift_days(patient_id: str, *, key: bytes, max_days: int) -> int:
    """The days a person's dates move in one project: from 1 to max_days, earlier or later, never 0."""
    digest = hmac.new(key, f"date-shift/Patient/{patient_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    days = 1 + (number >> 1) % max_days
    return days if number & 1 else -days


def shifted(value: str, days: int) -> str:
    """A FHIR date, dateTime or instant moved by days, at its own precision; other text unchanged."""
    if not _DATE.fullmatch(value):
        return value
    year, month = int(value[:4]), int(value[5:7])
    day = int(value[8:10]) if len(value) >= 10 else 1
    try:
        moved = date(year, month, day) + timedelta(days=days)
    except (ValueError, OverflowError):
        return year_only(value)
    text = moved.isoformat()
    return text[:len(value)] if len(value) <= 10 else text + value[10:]


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the patient a record is about (its own id for a Patient), or None."""
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id") or "") or None
    for name in ("subject", "patient"):
        reference = (resource.get(name) or {}).get("reference") if isinstance(resource.get(name), dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference.split("/", 1)[1]
    return None


def _all(conn: Connection, res_type: str, params: list[tuple[str, str]] = ()) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        request = QueryCompiler(strict=True).parse(res_type, list(params), default_count=PAGE_SIZE,
                                                   max_count=PAGE_SIZE)
        request.offset, request.total = offset, "none"
        result = run_search(conn, SYSTEM, request)
        yield from (found.resource for found in result.matches)
        if not result.has_next:
            return
        offset += len(result.matches)
        if offset >= MAX_RECORDS:
            raise ExtractTooLarge(f"More than {MAX_RECORDS} {res_type} records: choose a cohort")


def _cohort(conn: Connection, code: str | None) -> set[str] | None:
    if code is None:
        return None
    return {pid for c in _all(conn, "Condition", [("code", code)]) if (pid := patient_of(c))}


def _generalised_patient(out: dict[str, Any], person: kanon.Person, qi: tuple[str, str, str],
                         level: kanon.Level) -> dict[str, Any]:
    out.pop("birthDate", None)
    out["extension"] = [{"url": AGE_BAND_EXTENSION, "valueString": qi[0]}]
    place = {"district": person.district} if level.district and person.district else {}
    if person.city:
        place["city"] = person.city
    out.pop("address", None)
    if place:
        out["address"] = [place]
    return out


def _published_list(counts: dict[str, int]) -> dict[str, Any]:
    rule = disclosure_rule()
    values: dict[tuple, int] = {("item", key): n for key, n in counts.items()}
    values[("total",)] = sum(counts.values())
    lines = [[*[("item", key) for key in counts], ("total",)]]
    hidden = hidden_counts(values, lines, threshold=rule.threshold, totals=frozenset({("total",)}))
    return {"total": published(values[("total",)], ("total",), hidden, rule),
            "rows": [{"key": key, "count": published(n, ("item", key), hidden, rule)}
                     for key, n in sorted(counts.items())]}


def aggregates(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Patients by age band and by ICD-10 category (three characters) in the released records, small cells hidden."""
    bands: Counter = Counter()
    categories: dict[str, set[str]] = {}
    for resource in resources:
        if resource.get("resourceType") == "Patient":
            band = next((e.get("valueString") for e in resource.get("extension", [])
                         if e.get("url") == AGE_BAND_EXTENSION), kanon.UNKNOWN)
            bands[band] += 1
        elif resource.get("resourceType") == "Condition":
            for coding in (resource.get("code") or {}).get("coding", []):
                if coding.get("system") == ICD10 and isinstance(coding.get("code"), str) and (pid := patient_of(resource)):
                    categories.setdefault(coding["code"][:3], set()).add(pid)
    rule = disclosure_rule()
    return {"threshold": rule.threshold, "shown_as": rule.shown_as, "source": rule.source,
            "patients_by_age_band": _published_list(dict(bands)),
            "patients_by_icd10_category": _published_list({c: len(p) for c, p in categories.items()})}


def build(conn: Connection, *, ctx: AccessContext, project: str, request: ExtractRequest,
          release: bool = True) -> Extract:
    """The de-identified, k-anonymous extract of a project for ctx, with its risk report; audited.

    With release False only the risk report and aggregates are wanted: the audit says nothing was released.

    Raises AccessDenied (policy), ProjectRefused (no DUA in force naming ctx), ExtractTooLarge.
    """
    decide_dataset(ctx, DATASET)
    agreement = agreement_for(conn, ctx=ctx, project=project)
    today = clock.now().date()
    residents = {p["id"]: p for p in _all(conn, "Patient") if isinstance(p.get("id"), str)}
    population = {pid: kanon.person_of(p, day=today) for pid, p in residents.items()}
    cohort = _cohort(conn, request.cohort)
    people = [person for pid, person in population.items() if cohort is None or pid in cohort]
    generalised = kanon.generalise(people)
    level = generalised.level
    key = project_key(agreement.project)
    resources: list[dict[str, Any]] = []
    counts: Counter = Counter()
    counted: list[dict[str, Any]] = []  # what the aggregates read: de-identified, or raw when nothing is released
    for res_type in (t for t in DATASET_TYPES if t in agreement.data_types or t == "Patient"):
        source = (residents[pid] for pid in generalised.classes) if res_type == "Patient" else _all(conn, res_type)
        for resource in source:
            pid = patient_of(resource)
            if pid not in generalised.classes:
                continue
            counts[res_type] += 1
            if not release:
                # The risk report needs only counts: nothing is de-identified because nothing leaves.
                band = generalised.classes[pid][0]
                counted.append({"resourceType": "Patient", "extension": [{"url": AGE_BAND_EXTENSION,
                                                                          "valueString": band}]}
                               if res_type == "Patient" else resource)
                continue
            days = shift_days(pid, key=key, max_days=request.max_shift)
            dates = (lambda value, d=days: shifted(value, d)) if request.dates == "shift" else year_only
            out = deidentify(resource, key=key, as_of_year=today.year, dates=dates)
            if res_type == "Patient":
                out = _generalised_patient(out, population[pid], generalised.classes[pid], level)
            resources.append(out)
    counted = counted if not release else resources
    before = kanon.measure([kanon.quasi_identifiers(p, kanon.GENERALISATION[0]) for p in people],
                           kanon.class_sizes(population.values(), kanon.GENERALISATION[0]))
    risk = kanon.measure(list(generalised.classes.values()), kanon.class_sizes(population.values(), level))
    extract = Extract(agreement, request, level, resources, dict(counts), len(people), len(generalised.suppressed),
                      risk, before, aggregates(counted))
    _audit(conn, ctx, extract, release=release)
    return extract


def _audit(conn: Connection, ctx: AccessContext, extract: Extract, *, release: bool) -> None:
    agreement = extract.agreement
    per_type = ", ".join(f"{t} {n}" for t, n in sorted(extract.counts.items())) or "nothing"
    what = "research extract released" if release else "research extract risk report (no records released)"
    description = (f"{what}, project {agreement.project} under data-use agreement {agreement.number}: "
                   f"{per_type}; {extract.suppressed} of {extract.cohort_size} patients suppressed for k-anonymity "
                   f"(k={kanon.K}, {extract.level.label}); dates {extract.request.dates}")
    audit.record(conn, ctx=ctx, action="R", subtype="export" if release else "search", purpose=PURPOSE,
                 entities=[f"ResearchStudy/{agreement.project}", f"Contract/{agreement.contract}"],
                 description=description[:1000])


def risk_report(extract: Extract) -> dict[str, Any]:
    """The extract's risk report as the API returns it and the page shows it."""

    def figures(risk: kanon.Risk) -> dict[str, Any]:
        return {"records": risk.records, "classes": risk.classes, "smallest_class": risk.smallest_class,
                "prosecutor_max": round(risk.prosecutor_max, 4), "prosecutor_average": round(risk.prosecutor_average, 4),
                "records_at_risk": risk.records_at_risk, "share_at_risk": round(risk.share_at_risk, 4),
                "journalist_max": None if risk.journalist_max is None else round(risk.journalist_max, 4),
                "marketer": None if risk.marketer is None else round(risk.marketer, 4)}

    agreement = extract.agreement
    return {
        "project": agreement.project, "title": agreement.title, "agreement": agreement.number,
        "contract": agreement.contract, "institution": agreement.institution, "purpose": agreement.purpose,
        "term": {"start": agreement.start, "end": agreement.end}, "signed": agreement.signed,
        "dates": extract.request.dates, "max_shift_days": extract.request.max_shift if extract.request.dates == "shift"
        else None, "cohort": extract.request.cohort,
        "k": kanon.K, "risk_threshold": kanon.RISK_THRESHOLD, "quasi_identifiers": list(kanon.QUASI_IDENTIFIERS),
        "generalisation": extract.level.label, "age_band_years": extract.level.age_width,
        "location": "district" if extract.level.district else "city", "cohort_patients": extract.cohort_size,
        "suppressed_patients": extract.suppressed, "released": extract.counts,
        "before": figures(extract.risk_before), "after": figures(extract.risk),
        "aggregates": extract.aggregates,
    }
