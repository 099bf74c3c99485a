"""Syndromic surveillance: the chief complaints of the region's triage interviews and outpatient visits, read into
syndromes (knowledge/surveillance/syndromes.py) and counted per day and per district of the patient's home address.

Read through the store as the platform, never through the patient or hospital code:
- the patient app's triage interviews: QuestionnaireResponses of the triage questionnaire, item "complaint" (free
  text, English or Chinese), on the day authored;
- outpatient notes: Compositions of LOINC 34108-1 Outpatient Note, the sub-section coded LOINC 10154-3 Chief
  complaint, on the day of the note (a note entered in error is left out);
- outpatient and emergency Encounters' reasonCode text, on the day the visit began, where no note of that
  encounter gives a chief complaint (so one visit is read once).
A person counts once a day per syndrome, whichever sources name it; a person whose district is unknown or outside the
region counts for the whole region only. Days are the region's. Only counts leave this module, and each run writes
one audit entry per source it read (a statistical read, like a public release's).
"""

import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.knowledge.surveillance.syndromes import classify
from smartcare.platform import audit
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.case_model import LOCAL
from smartcare.regional.public_health.case_series import REGION, zone
from smartcare.regional.public_health.districts import code_of
from smartcare.regional.public_health.releases import search_as_platform

# The patient app's triage questionnaire (smartcare/patient/triage/service.py, QUESTIONNAIRE_URL).
TRIAGE_QUESTIONNAIRE = LOCAL + "Questionnaire/triage"
# The workstation's notes (smartcare/hospital/workstation/notes_compose.py): the outpatient note's LOINC type, the
# chief complaint's LOINC section code and the extension that keeps a field's typed value.
LOINC = "http://loinc.org"
OUTPATIENT_NOTE = "34108-1"
CHIEF_COMPLAINT = "10154-3"
FIELD_VALUE = LOCAL + "StructureDefinition/note-field-value"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VISIT_CLASSES = ("AMB", "EMER")
SOURCES = ("triage", "note", "encounter")
CASE_REPORTS = "case-reports"
PAGE_SIZE = 1000
MAX_RECORDS = 500_000
_TAG = re.compile(r"<[^>]{0,500}>")


@dataclass(slots=True)
class SyndromicCounts:
    """People with each syndrome per day, for every (syndrome, place) that has any, and how many records were read."""

    counts: dict[tuple[str, str], Counter] = field(default_factory=dict)
    read: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def _pages(conn: Connection, res_type: str, params: list[tuple[str, str]]) -> Iterator[tuple[dict, dict]]:
    """(resource, its Patient) for every match of a search run as the platform, page by page."""
    offset = 0
    while offset < MAX_RECORDS:
        result = search_as_platform(conn, res_type, [*params, ("_sort", "_id")], count=PAGE_SIZE, offset=offset)
        patients = {f"Patient/{s.res_id}": s.resource for s in result.included if s.res_type == "Patient"}
        for found in result.matches:
            subject = str((found.resource.get("subject") or {}).get("reference") or "")
            yield found.resource, patients.get(subject) or {}
        offset += len(result.matches)
        if not result.has_next:
            return


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone()).date()
    except ValueError:
        return None


def _range(start: date, end: date, name: str) -> list[tuple[str, str]]:
    # A day either side: an instant written in another time zone still reaches the exact check on the region's day.
    return [(name, f"ge{start - timedelta(days=1)}"), (name, f"lt{end + timedelta(days=2)}")]


def triage_complaints(conn: Connection, start: date, end: date) -> Iterator[tuple[date, dict, str, str]]:
    """(day, patient, complaint, "") of every triage interview authored from start to end."""
    params = [("questionnaire", TRIAGE_QUESTIONNAIRE), *_range(start, end, "authored"),
              ("_include", "QuestionnaireResponse:subject:Patient")]
    for response, patient in _pages(conn, "QuestionnaireResponse", params):
        item = next((i for i in response.get("item") or [] if i.get("linkId") == "complaint"), {})
        text = " ".join(str(a.get("valueString") or "") for a in item.get("answer") or [])
        yield _day(response.get("authored")), patient, text, ""


def _coded(concept: Any, system: str, code: str) -> bool:
    return any(c.get("system") == system and c.get("code") == code for c in (concept or {}).get("coding") or [])


def note_complaint(composition: dict[str, Any]) -> str:
    """The chief complaint a note gives: its typed value, else its narrative without the markup ("" when none)."""
    pending = list(composition.get("section") or [])
    while pending:
        section = pending.pop(0)
        if _coded(section.get("code"), LOINC, CHIEF_COMPLAINT):
            typed = next((e.get("valueString") for e in section.get("extension") or [] if e.get("url") == FIELD_VALUE),
                         None)
            return str(typed) if typed else html.unescape(_TAG.sub(" ", str((section.get("text") or {}).get("div"))))
        pending += section.get("section") or []
    return ""


def note_complaints(conn: Connection, start: date, end: date) -> Iterator[tuple[date, dict, str, str]]:
    """(day, patient, chief complaint, encounter reference) of every outpatient note written from start to end."""
    params = [("type", f"{LOINC}|{OUTPATIENT_NOTE}"), *_range(start, end, "date"),
              ("_include", "Composition:subject:Patient")]
    for note, patient in _pages(conn, "Composition", params):
        if note.get("status") != "entered-in-error":
            yield _day(note.get("date")), patient, note_complaint(note), str(
                (note.get("encounter") or {}).get("reference") or "")


def encounter_reasons(conn: Connection, start: date, end: date) -> Iterator[tuple[date, dict, str, str]]:
    """(day, patient, reason text, encounter reference) of every outpatient or emergency visit begun start to end."""
    params = [("class", ",".join(f"{ACT_CODE}|{c}" for c in VISIT_CLASSES)), *_range(start, end, "date"),
              ("_include", "Encounter:subject:Patient")]
    for encounter, patient in _pages(conn, "Encounter", params):
        reasons = [str(r.get("text") or " ".join(str(c.get("display") or "") for c in r.get("coding") or []))
                   for r in encounter.get("reasonCode") or [] if isinstance(r, dict)]
        if any(r.strip() for r in reasons) and encounter.get("status") != "entered-in-error":
            yield _day((encounter.get("period") or {}).get("start")), patient, "; ".join(reasons), \
                f"Encounter/{encounter.get('id')}"


def _place(patient: dict[str, Any]) -> str | None:
    return code_of(patient)


def daily_counts(conn: Connection, *, ctx: AccessContext, start: date, end: date) -> SyndromicCounts:
    """People with each syndrome per day from start to end, by district and for the region; audited per source.

    Raises AccessDenied unless ctx may read case reports (public-health officers, or the platform itself).
    """
    decide_dataset(ctx, CASE_REPORTS)
    result = SyndromicCounts(counts=defaultdict(Counter))
    seen: set[tuple[str, date, str]] = set()
    noted: set[str] = set()
    readers = (("triage", triage_complaints, f"QuestionnaireResponse?questionnaire={TRIAGE_QUESTIONNAIRE}"),
               ("note", note_complaints, f"Composition?type={LOINC}|{OUTPATIENT_NOTE}"),
               ("encounter", encounter_reasons, "Encounter?class=AMB,EMER"))
    for source, reader, query in readers:
        read = 0
        for day, patient, text, encounter in reader(conn, start, end):
            read += 1
            if source == "note" and encounter and text.strip():
                noted.add(encounter)
            if day is None or not start <= day <= end or (source == "encounter" and encounter in noted):
                continue
            person = f"Patient/{patient.get('id')}" if patient.get("id") else f"{source}:{read}"
            for syndrome in sorted(classify(text).syndromes):
                if (person, day, syndrome) in seen:
                    continue
                seen.add((person, day, syndrome))
                result.counts[(syndrome, REGION)][day] += 1
                if place := _place(patient):
                    result.counts[(syndrome, place)][day] += 1
        result.by_source[source] = read
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH",
                     entities=[f"{query}&date=ge{start.isoformat()}&date=le{end.isoformat()}"],
                     description=f"syndromic surveillance: {read} {source} records read, counts kept only")
    result.read = sum(result.by_source.values())
    result.counts = dict(result.counts)
    return result
