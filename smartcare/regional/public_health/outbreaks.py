"""Outbreak events: a verified signal opened into an event that links the case reports it concerns.

An outbreak is a FHIR List (code outbreak-event, mode working): FHIR's resource for a curated collection of records,
here the case-report Compositions of the event. Its status is current while open and retired once closed; its title,
the officers' notes (List.note, with who and when), the signal it came from, the series it is about and the window
its first cases were taken from are kept on it. Opening one from a verified signal links the counted case reports
of the signal's disease (and subtype) in its district whose day, by the signal's basis, falls in the window: the
signal's period and the outbreak_window periods before it (detection.yaml). A syndromic signal opens an event with no
case linked yet. Officers add and remove case reports, write notes and close the event; each act names the version
seen (If-Match). The List names no one, but its cases do: listing them is audited per case with the patient.
"""

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health import case_series, review, signals
from smartcare.regional.public_health.case_model import COUNTED, LOCAL, extension
from smartcare.regional.public_health.releases import search_as_platform
from smartcare.regional.public_health.signals import SeriesKey, SignalConflict, SignalNotFound, SignalRefused

OUTBREAK_CODE = "outbreak-event"
EXT = LOCAL + "StructureDefinition/outbreak-event-"
SIGNAL, SERIES, WINDOW, OPENED_BY = EXT + "signal", EXT + "series", EXT + "window", EXT + "opened-by"
ACTS = ("add", "remove", "note", "close")
MAX_TITLE, MAX_NOTE = 200, 1000
MAX_LISTED = 200
CANDIDATE_MARGIN = timedelta(days=14)
MAX_CANDIDATES = 100

NO_SUCH_OUTBREAK = _("There is no outbreak %(id)s.")
NOT_VERIFIED = _("Only a verified signal can open an outbreak.")
ALREADY_OPEN = _("This signal has already opened an outbreak.")
TITLE_NEEDED = _("Give the outbreak a title.")
STALE = _("Someone else changed this outbreak while you had it open: read it again, then act.")
CLOSED = _("This outbreak is closed.")
UNKNOWN_ACT = _("Choose one of the acts offered.")
NOTE_NEEDED = _("Write the note.")
NOT_A_CASE = _("There is no counted case report %(id)s.")
ALREADY_LINKED = _("This case report is already part of the outbreak.")
NOT_LINKED = _("This case report is not part of the outbreak.")


@dataclass(frozen=True, slots=True)
class Outbreak:
    """An outbreak event as read back from its List."""

    id: str
    version: int
    title: str
    status: str  # open or closed
    key: SeriesKey
    window_start: date
    window_end: date
    signal: str | None  # DetectedIssue/id
    cases: list[str]  # Composition ids, in the order linked
    notes: list[dict[str, str]]
    opened: str
    opened_by: str


def _value(resource: dict[str, Any], url: str) -> Any:
    found = extension(resource, url) or {}
    return next((v for k, v in found.items() if k.startswith("value")), None)


def read_outbreak(resource: dict[str, Any], version: int) -> Outbreak:
    """An outbreak from its List."""
    parts = str(_value(resource, SERIES) or "||||").split("|")
    window = _value(resource, WINDOW) or {}
    cases = [str((e.get("item") or {}).get("reference", "")).removeprefix("Composition/")
             for e in resource.get("entry") or []]
    return Outbreak(
        id=str(resource.get("id", "")), version=version, title=str(resource.get("title") or ""),
        status="open" if resource.get("status") == "current" else "closed",
        key=SeriesKey(*(parts + [""] * 5)[:5]), window_start=date.fromisoformat(window.get("start") or "2000-01-01"),
        window_end=date.fromisoformat(window.get("end") or "2000-01-01"),
        signal=(_value(resource, SIGNAL) or {}).get("reference"), cases=[c for c in cases if c],
        notes=[{"by": str(n.get("authorString") or ""), "at": str(n.get("time") or ""), "text": str(n.get("text"))}
               for n in resource.get("note") or []],
        opened=str(resource.get("date") or ""), opened_by=str(_value(resource, OPENED_BY) or ""))


def _code() -> str:
    return f"{signals.SYSTEM_URL}|{OUTBREAK_CODE}"


def open_series(conn: Connection) -> set[str]:
    """The series keys of the open outbreaks: their alarms raise no new signal while the outbreak is open."""
    found = search_as_platform(conn, "List", [("code", _code()), ("status", "current")], count=MAX_LISTED)
    return {str(_value(f.resource, SERIES) or "") for f in found.matches}


def window_of(signal: signals.Signal, periods_before: dict[str, int]) -> tuple[date, date]:
    """The days an outbreak opened from signal takes its cases from: its period and periods_before[frequency]
    periods before it."""
    before = periods_before.get(signal.key.frequency, 0) * signals.PERIOD_DAYS[signal.key.frequency]
    return signal.period_start - timedelta(days=before), signal.period_end


def matching_cases(conn: Connection, key: SeriesKey, start: date, end: date) -> list[review.Loaded]:
    """The counted case reports of a disease series' subject and place whose day (by its basis) is within start-end;
    none for a syndrome."""
    if key.kind != "disease":
        return []
    disease, _sep, subtype = key.subject.partition("/")
    found = []
    for report in review.load_reports(conn, disease=disease, since=start):
        case = report.facts
        day = case_series.case_day(case, key.basis)
        place = case_series.district_for(case, report.patient)
        if (case.state in COUNTED and (not subtype or case.subtype == subtype) and day is not None
                and start <= day <= end and (key.place == case_series.REGION or place == key.place)):
            found.append(report)
    return sorted(found, key=lambda r: (case_series.case_day(r.facts, key.basis) or date.min, r.facts.id))


def _audit_cases(conn: Connection, ctx: AccessContext, reports: list[review.Loaded], description: str) -> None:
    for report in reports:
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=signals.PURPOSE,
                     patient=review.patient_reference(report), entities=[f"Composition/{report.facts.id}"],
                     description=description)


def open_outbreak(conn: Connection, *, ctx: AccessContext, signal_id: str, title: str, version: int,
                  periods_before: dict[str, int]) -> Outbreak:
    """Open an outbreak from the version of a verified signal the officer saw, linking its cases (see window_of,
    with the outbreak_window of detection.yaml); audited.

    Raises SignalRefused (no title), SignalNotFound, SignalConflict (not verified, already opened, changed).
    """
    decide_dataset(ctx, signals.CASE_REPORTS)
    name = signals.checked_text(title, field="title", limit=MAX_TITLE, required=TITLE_NEEDED)
    found = signals.stored_signal(conn, signal_id)
    signal = signals.read_signal(found.resource, found.version)
    if signal.version != version:
        raise SignalConflict(signals.STALE)
    if signal.state != "verified":
        raise SignalConflict(NOT_VERIFIED)
    if signal.outbreak:
        raise SignalConflict(ALREADY_OPEN)
    start, end = window_of(signal, periods_before)
    linked = matching_cases(conn, signal.key, start, end)
    outbreak_id, now = store.new_id(), clock.format_instant(clock.now())
    resource = {
        "resourceType": "List", "status": "current", "mode": "working", "title": name, "date": now,
        "code": {"coding": [{"system": signals.SYSTEM_URL, "code": OUTBREAK_CODE, "display": "Outbreak event"}]},
        "extension": [{"url": SIGNAL, "valueReference": {"reference": f"DetectedIssue/{signal.id}"}},
                      {"url": SERIES, "valueString": signal.key.text},
                      {"url": WINDOW, "valuePeriod": {"start": start.isoformat(), "end": end.isoformat()}},
                      {"url": OPENED_BY, "valueString": ctx.name[:200]}],
        "entry": [{"item": {"reference": f"Composition/{r.facts.id}"}, "date": now} for r in linked],
    }
    marked = copy.deepcopy(found.resource)
    marked["extension"] = [*marked.get("extension", []),
                           {"url": signals.OUTBREAK, "valueReference": {"reference": f"List/{outbreak_id}"}}]
    try:
        written = store.write_batch(conn, SYSTEM, [store.Write("PUT", "List", outbreak_id, resource),
                                                   store.Write("PUT", "DetectedIssue", signal.id, marked, version)])
    except PreconditionFailed:
        raise SignalConflict(signals.STALE) from None
    audit.record(conn, ctx=ctx, action="C", subtype="create", purpose=signals.PURPOSE,
                 entities=[w.reference for w in written], description=f"outbreak opened with {len(linked)} cases")
    _audit_cases(conn, ctx, linked, "outbreak opened: case report linked")
    return read_outbreak(written[0].resource, written[0].version)


def _stored(conn: Connection, outbreak_id: str) -> store.Stored:
    try:
        found = store.read(conn, SYSTEM, res_type="List", res_id=outbreak_id[:64])
    except FhirError:
        raise SignalNotFound(NO_SUCH_OUTBREAK, id=outbreak_id[:64]) from None
    codes = {c.get("code") for c in (found.resource.get("code") or {}).get("coding") or []}
    if OUTBREAK_CODE not in codes:
        raise SignalNotFound(NO_SUCH_OUTBREAK, id=outbreak_id[:64])
    return found


def listed(conn: Connection, *, ctx: AccessContext, status: str | None = None) -> list[Outbreak]:
    """The newest outbreaks (open, closed or both); audited."""
    decide_dataset(ctx, signals.CASE_REPORTS)
    params = [("code", _code()), ("_sort", "-date")]
    if status in ("open", "closed"):
        params.append(("status", "current" if status == "open" else "retired"))
    found = search_as_platform(conn, "List", params, count=MAX_LISTED)
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=signals.PURPOSE,
                 entities=[f"List?code={OUTBREAK_CODE}"], description="outbreaks listed")
    return [read_outbreak(f.resource, f.version) for f in found.matches]


def get(conn: Connection, *, ctx: AccessContext, outbreak_id: str) -> tuple[Outbreak, list[review.Loaded]]:
    """One outbreak and its case reports (each audited with its patient); SignalNotFound for anything else."""
    decide_dataset(ctx, signals.CASE_REPORTS)
    found = _stored(conn, outbreak_id)
    outbreak = read_outbreak(found.resource, found.version)
    by_id = {r.facts.id: r for r in review.load_reports(conn, ids=outbreak.cases)} if outbreak.cases else {}
    linked = [by_id[c] for c in outbreak.cases if c in by_id]
    audit.record(conn, ctx=ctx, action="R", subtype="read", purpose=signals.PURPOSE, entities=[found.reference],
                 description="outbreak opened")
    _audit_cases(conn, ctx, linked, "outbreak: case report listed")
    return outbreak, linked


def candidates(conn: Connection, *, ctx: AccessContext, outbreak: Outbreak) -> list[review.Loaded]:
    """Counted case reports of the outbreak's disease and place, from CANDIDATE_MARGIN before its window to today,
    not yet linked, newest first (at most MAX_CANDIDATES, each audited with its patient)."""
    decide_dataset(ctx, signals.CASE_REPORTS)
    start = outbreak.window_start - CANDIDATE_MARGIN
    found = [r for r in matching_cases(conn, outbreak.key, start, review.today()) if r.facts.id not in outbreak.cases]
    found = found[-MAX_CANDIDATES:][::-1]  # the newest first
    _audit_cases(conn, ctx, found, "outbreak: possible case report listed")
    return found


def _changed(conn: Connection, ctx: AccessContext, outbreak: Outbreak, found: store.Stored, act: str, case_id: str,
             text: str) -> tuple[dict[str, Any], review.Loaded | None]:
    """The List after the act, and the case report added or removed (checked first)."""
    resource = copy.deepcopy(found.resource)
    now = clock.format_instant(clock.now())
    report = None
    if act in ("add", "remove"):
        try:
            report = review.find_report(conn, case_id.removeprefix("Composition/").strip())
        except review.CaseNotFound:
            raise SignalRefused(NOT_A_CASE, field="case", id=case_id[:64]) from None
        if act == "add" and report.facts.state not in COUNTED:
            raise SignalRefused(NOT_A_CASE, field="case", id=case_id[:64])
        if act == "add" and report.facts.id in outbreak.cases:
            raise SignalConflict(ALREADY_LINKED, field="case")
        if act == "remove" and report.facts.id not in outbreak.cases:
            raise SignalConflict(NOT_LINKED, field="case")
        reference = f"Composition/{report.facts.id}"
        entries = [e for e in resource.get("entry") or [] if (e.get("item") or {}).get("reference") != reference]
        resource["entry"] = entries + ([{"item": {"reference": reference}, "date": now}] if act == "add" else [])
        if not resource["entry"]:
            resource.pop("entry")
            resource["emptyReason"] = {"text": "no case linked"}
        else:
            resource.pop("emptyReason", None)
    if text:
        resource["note"] = [*resource.get("note", []), {"authorString": ctx.name[:200], "time": now, "text": text}]
    if act == "close":
        resource["status"] = "retired"
    return resource, report


def act(conn: Connection, *, ctx: AccessContext, outbreak_id: str, act_name: str, version: int, case_id: str = "",
        text: str = "") -> Outbreak:
    """Add or remove a case report (by id), write a note or close the version of an open outbreak the officer saw;
    audited. Raises SignalRefused (bad input), SignalNotFound, SignalConflict (closed, changed meanwhile)."""
    decide_dataset(ctx, signals.CASE_REPORTS)
    if act_name not in ACTS:
        raise SignalRefused(UNKNOWN_ACT)
    note = signals.checked_text(text, field="text", limit=MAX_NOTE, required=NOTE_NEEDED if act_name == "note" else None)
    found = _stored(conn, outbreak_id)
    outbreak = read_outbreak(found.resource, found.version)
    if outbreak.version != version:
        raise SignalConflict(STALE)
    if outbreak.status != "open":
        raise SignalConflict(CLOSED)
    resource, report = _changed(conn, ctx, outbreak, found, act_name, case_id[:80], note)
    try:
        saved = store.update(conn, SYSTEM, resource, res_type="List", res_id=found.res_id, if_match=version)
    except PreconditionFailed:
        raise SignalConflict(STALE) from None
    audit.record(conn, ctx=ctx, action="U", subtype="update", purpose=signals.PURPOSE,
                 patient=review.patient_reference(report) if report else None,
                 entities=[saved.reference, *([f"Composition/{report.facts.id}"] if report else [])],
                 description=f"outbreak: {act_name}")
    return read_outbreak(saved.resource, saved.version)
