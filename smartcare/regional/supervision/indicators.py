"""Quality indicators per facility and month, as plain functions over FHIR resources (dicts) and queue waits.

What each indicator counts, and its source, is in data/indicators.json. A facility is a hospital or
clinic: the top of an Organization's partOf chain (a department counts for its hospital). A record
belongs to the facility of its encounter's serviceProvider; failing that, of the order it is based on,
of an Organization performing it, or of the organisation that sent it (meta.source). A month is the
"YYYY-MM" of the timestamp as recorded.
"""

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "indicators.json"
ATC = "http://www.whocc.no/atc"
ANTIBACTERIALS = "J01"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OUTPATIENT, INPATIENT = "AMB", "IMP"
READMISSION_DAYS = 30
CRITICAL_DEADLINE_MINUTES = 15
NOT_COUNTED = frozenset({"entered-in-error", "cancelled"})
REPORTED = frozenset({"final", "amended", "corrected", "appended"})
UNKNOWN = "unknown"


@cache
def definitions() -> list[dict[str, Any]]:
    """The indicators' definitions with their sources (data/indicators.json)."""
    return json.loads(DATA.read_text(encoding="utf-8"))["indicators"]


@dataclass(frozen=True, slots=True)
class Cell:
    """One indicator value for a facility and month, with what it was computed from."""

    value: float | None
    numerator: float
    denominator: int
    extra: float | None = None  # critical-ack: share acknowledged within the deadline


def parse_time(value: Any) -> datetime | None:
    """A FHIR dateTime or instant with a time as a datetime; None for dates alone and anything else."""
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def month_of(value: Any) -> str | None:
    """The "YYYY-MM" of a timestamp as written, or None."""
    return value[:7] if isinstance(value, str) and len(value) >= 7 and value[4] == "-" else None


def reference_id(value: Any, res_type: str) -> str | None:
    """The id a Reference points to when it is to res_type, else None."""
    reference = value.get("reference") if isinstance(value, dict) else None
    if isinstance(reference, str) and reference.startswith(f"{res_type}/"):
        return reference.split("/", 1)[1]
    return None


def _coded(concept: Any, system: str) -> list[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c["code"] for c in codings or [] if isinstance(c, dict) and c.get("system") == system
            and isinstance(c.get("code"), str)]


class Facilities:
    """Finds the facility (top Organization) each record belongs to, from the records around it."""

    def __init__(self, organizations: Iterable[dict[str, Any]], *, encounters: Iterable[dict[str, Any]] = (),
                 requests: Iterable[dict[str, Any]] = (), staff: dict[str, set[str]] | None = None):
        self.organizations = {o["id"]: o for o in organizations if isinstance(o.get("id"), str)}
        self.encounters = {e["id"]: e for e in encounters if isinstance(e.get("id"), str)}
        self.requests = {r["id"]: r for r in requests if isinstance(r.get("id"), str)}
        self.staff = staff or {}  # practitioner id -> organisation ids of their roles

    def root(self, org_id: str | None) -> str | None:
        """The top of an Organization's partOf chain (itself when it is part of nothing)."""
        seen: set[str] = set()
        while org_id and org_id not in seen:
            seen.add(org_id)
            parent = reference_id((self.organizations.get(org_id) or {}).get("partOf"), "Organization")
            if parent is None or parent not in self.organizations:
                return org_id
            org_id = parent
        return org_id

    def name(self, org_id: str) -> str:
        """The facility's name, or its id."""
        return str((self.organizations.get(org_id) or {}).get("name") or org_id)

    def of(self, resource: dict[str, Any], depth: int = 0) -> str | None:
        """The facility a record belongs to (see the module docstring); None when nothing says."""
        provider = reference_id(resource.get("serviceProvider"), "Organization")
        if provider:
            return self.root(provider)
        encounter = self.encounters.get(reference_id(resource.get("encounter"), "Encounter") or "")
        if encounter is not None and depth < 3:
            found = self.of(encounter, depth + 1)
            if found:
                return found
        for based_on in resource.get("basedOn") or []:
            request = self.requests.get(reference_id(based_on, "ServiceRequest") or "")
            if request is not None and depth < 3 and (found := self.of(request, depth + 1)):
                return found
        performers = resource.get("performer")
        for performer in performers if isinstance(performers, list) else []:
            if (org := reference_id(performer, "Organization")) is not None:
                return self.root(org)
        source = (resource.get("meta") or {}).get("source")
        if isinstance(source, str) and source.startswith("Organization/"):
            return self.root(source.split("/", 1)[1])
        return None

    def of_practitioner(self, practitioner_id: str) -> str | None:
        """The facility where a practitioner works (the first, by id, when there are several)."""
        roots = sorted({r for org in self.staff.get(practitioner_id, set()) if (r := self.root(org))})
        return roots[0] if roots else None


def _class(encounter: dict[str, Any]) -> str | None:
    concept = encounter.get("class")
    return concept.get("code") if isinstance(concept, dict) else None


def antibiotic_rate(encounters: list[dict[str, Any]], requests: list[dict[str, Any]],
                    facilities: Facilities) -> dict[tuple[str, str], Cell]:
    """Outpatient encounters with a J01 prescription over all outpatient encounters, per facility and month (%)."""
    with_antibiotic = set()
    for request in requests:
        if request.get("status") in NOT_COUNTED:
            continue
        if any(code.startswith(ANTIBACTERIALS) for code in _coded(request.get("medicationCodeableConcept"), ATC)):
            encounter = reference_id(request.get("encounter"), "Encounter")
            if encounter:
                with_antibiotic.add(encounter)
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for encounter in encounters:
        month = month_of((encounter.get("period") or {}).get("start"))
        if _class(encounter) != OUTPATIENT or encounter.get("status") in NOT_COUNTED or month is None:
            continue
        cell = tally[(facilities.of(encounter) or UNKNOWN, month)]
        cell[1] += 1
        cell[0] += encounter.get("id") in with_antibiotic
    return {key: Cell(round(100 * n / d, 1), n, d) for key, (n, d) in tally.items()}


@dataclass(frozen=True, slots=True)
class Wait:
    """One outpatient's wait as the queue recorded it."""

    facility: str | None
    arrived: datetime
    called: datetime | None
    returned: bool


def outpatient_wait(waits: Iterable[Wait]) -> dict[tuple[str, str], Cell]:
    """Mean minutes from check-in to first call, per facility and month of arrival."""
    minutes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for wait in waits:
        if wait.called is None or wait.returned or wait.called < wait.arrived:
            continue
        key = (wait.facility or UNKNOWN, wait.arrived.isoformat()[:7])
        minutes[key].append((wait.called - wait.arrived).total_seconds() / 60)
    return {key: Cell(round(statistics.fmean(values), 1), round(sum(values), 1), len(values))
            for key, values in minutes.items()}


def report_turnaround(reports: list[dict[str, Any]], specimens: dict[str, dict[str, Any]],
                      requests: dict[str, dict[str, Any]], facilities: Facilities) -> dict[tuple[str, str], Cell]:
    """Median minutes from specimen receipt (else the order) to report issue, per facility and month of issue."""
    minutes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for report in reports:
        issued = parse_time(report.get("issued"))
        if report.get("status") not in REPORTED or issued is None:
            continue
        start = None
        for link in report.get("specimen") or []:
            start = start or parse_time((specimens.get(reference_id(link, "Specimen") or "") or {}).get("receivedTime"))
        for link in report.get("basedOn") or []:
            start = start or parse_time((requests.get(reference_id(link, "ServiceRequest") or "") or {}).get("authoredOn"))
        if start is None or start > issued:
            continue
        key = (facilities.of(report) or UNKNOWN, month_of(report["issued"]))
        minutes[key].append((issued - start).total_seconds() / 60)
    return {key: Cell(round(statistics.median(values), 1), round(sum(values), 1), len(values))
            for key, values in minutes.items()}


def readmission(encounters: list[dict[str, Any]], facilities: Facilities, *,
                days: int = READMISSION_DAYS) -> dict[tuple[str, str], Cell]:
    """Discharges followed by another inpatient admission of the same patient within days, per facility and month (%)."""
    stays: dict[str, list[tuple[datetime, datetime | None, dict[str, Any]]]] = defaultdict(list)
    for encounter in encounters:
        if _class(encounter) != INPATIENT or encounter.get("status") in NOT_COUNTED:
            continue
        patient = reference_id(encounter.get("subject"), "Patient")
        period = encounter.get("period") or {}
        admitted = parse_time(period.get("start"))
        if patient and admitted:
            stays[patient].append((admitted, parse_time(period.get("end")), encounter))
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for patient_stays in stays.values():
        patient_stays.sort(key=lambda s: s[0])
        for i, (_, discharged, encounter) in enumerate(patient_stays):
            if discharged is None or encounter.get("status") != "finished":
                continue
            again = any(discharged < later <= discharged + timedelta(days=days) for later, _, _ in patient_stays[i + 1:])
            cell = tally[(facilities.of(encounter) or UNKNOWN, month_of(encounter["period"]["end"]))]
            cell[1] += 1
            cell[0] += again
    return {key: Cell(round(100 * n / d, 1), n, d) for key, (n, d) in tally.items()}


def critical_acknowledgement(tasks: list[dict[str, Any]], facilities: Facilities, *,
                             deadline: int = CRITICAL_DEADLINE_MINUTES) -> dict[tuple[str, str], Cell]:
    """Mean minutes from a critical value's release to its read-back acknowledgement, per facility and month."""
    minutes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for task in tasks:
        released = parse_time(task.get("authoredOn"))
        acknowledged = parse_time((task.get("executionPeriod") or {}).get("end"))
        if task.get("status") != "completed" or released is None or acknowledged is None or acknowledged < released:
            continue
        key = (facilities.of(task) or UNKNOWN, month_of(task["executionPeriod"]["end"]))
        minutes[key].append((acknowledged - released).total_seconds() / 60)
    return {key: Cell(round(statistics.fmean(values), 1), round(sum(values), 1), len(values),
                      round(100 * sum(v <= deadline for v in values) / len(values), 1))
            for key, values in minutes.items()}
