"""What matters now on the app home, as pure functions over FHIR resources (dicts): the next appointment and its
queue session, results new since the last visit, medicines due today, and alerts.

No database and no HTTP here: home.py reads the resources through the gateway and hands them in.
"""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.platform import clock
from smartcare.platform.web import fhir_text

# HL7 v3 GTSAbbreviation timing codes (Timing.code) that say how many doses a day; QOD is every other day.
# Recalled from the FHIR R4 value set "TimingAbbreviation", not re-read today.
TIMES_A_DAY = {"QD": 1, "AM": 1, "PM": 1, "BID": 2, "TID": 3, "QID": 4, "Q4H": 6, "Q6H": 4, "Q8H": 3}
ABNORMAL_FLAGS = {"H", "HH", "L", "LL", "A", "AA", "HU", "LU", "POS"}
URGENT_PRIORITIES = ("urgent", "asap", "stat")
OPEN_TASK_STATUSES = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")
NEW_RESULTS_WITHOUT_VISIT = timedelta(days=30)
NOON = 12


def _instant(text: str | None) -> datetime | None:
    if not text or len(text) < 16:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _reference_id(reference: str | None, kind: str) -> str | None:
    if reference and reference.startswith(f"{kind}/"):
        return reference.split("/", 1)[1]
    return None


def queue_session(appointment: dict[str, Any], zone: ZoneInfo) -> str | None:
    """The clinic queue session (practitioner:YYYY-MM-DD:am|pm, the queue API's key) an appointment falls in."""
    start = _instant(appointment.get("start"))
    practitioner = next((_reference_id((p.get("actor") or {}).get("reference"), "Practitioner")
                         for p in appointment.get("participant", [])
                         if _reference_id((p.get("actor") or {}).get("reference"), "Practitioner")), None)
    if start is None or practitioner is None:
        return None
    local = start.astimezone(zone)
    return f"{practitioner}:{local.date().isoformat()}:{'am' if local.hour < NOON else 'pm'}"


def next_appointment(appointments: list[dict[str, Any]], zone: ZoneInfo) -> dict[str, Any] | None:
    """The first booked or checked-in appointment, with whether it is checked in and its queue session."""
    for appointment in appointments:
        status = appointment.get("status")
        if status not in ("booked", "arrived", "checked-in"):
            continue
        return {
            "id": appointment.get("id", ""),
            "when": appointment.get("start") or "",
            "what": fhir_text.concept_text((appointment.get("serviceType") or [None])[0])
            or appointment.get("description", ""),
            "checked_in": status in ("arrived", "checked-in"),
            "session": queue_session(appointment, zone),
        }
    return None


def last_visit(encounters: list[dict[str, Any]]) -> datetime | None:
    """When the person's most recent visit (an Encounter that has started) began."""
    starts = [_instant((e.get("period") or {}).get("start")) for e in encounters]
    found = [s for s in starts if s is not None]
    return max(found) if found else None


def _abnormal(flags: list[dict[str, Any]]) -> bool:
    return any(c.get("code") in ABNORMAL_FLAGS for f in flags for c in f.get("coding", []))


def new_results(reports: list[dict[str, Any]], *, since: datetime | None, now: datetime) -> list[dict[str, Any]]:
    """Released reports issued after the last visit (or within 30 days when there was none), newest first."""
    cutoff = since or now - NEW_RESULTS_WITHOUT_VISIT
    rows = []
    for report in reports:
        issued = _instant(report.get("issued") or report.get("effectiveDateTime"))
        if report.get("status") not in ("final", "amended", "corrected") or issued is None or issued <= cutoff:
            continue
        rows.append({"id": report.get("id", ""), "what": fhir_text.concept_text(report.get("code")),
                     "when": clock.wall_clock(report.get("issued") or report.get("effectiveDateTime"))[:10]})
    return sorted(rows, key=lambda row: row["when"], reverse=True)


def _doses_a_day(timing: dict[str, Any]) -> tuple[list[str], int | None]:
    """A Timing's local dose times (HH:MM, where the order names them) and how many doses a day."""
    repeat = timing.get("repeat") or {}
    times = sorted(str(t)[:5] for t in repeat.get("timeOfDay") or [])
    if times:
        return times, len(times)
    code = next((c.get("code") for c in (timing.get("code") or {}).get("coding", []) if c.get("code")), None)
    if code in TIMES_A_DAY:
        return [], TIMES_A_DAY[code]
    frequency, period = repeat.get("frequency", 1), repeat.get("period")
    if repeat.get("periodUnit") == "d" and period == 1 and isinstance(frequency, int) and frequency > 0:
        return [], frequency
    if repeat.get("when"):
        return [], len(repeat["when"])
    return [], None


def _in_bounds(repeat: dict[str, Any], today: date) -> bool:
    bounds = repeat.get("boundsPeriod") or {}
    start, end = str(bounds.get("start") or "")[:10], str(bounds.get("end") or "")[:10]
    return (not start or start <= today.isoformat()) and (not end or today.isoformat() <= end)


def medication_due_today(requests: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Active, scheduled (not as-needed) medicines to take today, each with its dose times or doses a day."""
    due = []
    for request in requests:
        if request.get("status") != "active" or request.get("intent") not in ("order", "plan", "original-order"):
            continue
        for dosage in request.get("dosageInstruction") or []:
            timing = dosage.get("timing") or {}
            if dosage.get("asNeededBoolean") or not _in_bounds(timing.get("repeat") or {}, today):
                continue
            times, per_day = _doses_a_day(timing)
            if per_day is None:
                continue
            due.append({"medicine": fhir_text.concept_text(request.get("medicationCodeableConcept"))
                        or (request.get("medicationReference") or {}).get("display", ""),
                        "times": times, "per_day": per_day, "text": dosage.get("text", "")})
            break
    return due


def _concept_text(concept: dict[str, Any] | None, locale: str) -> str:
    return fhir_text.translated(concept, "text", locale) or fhir_text.concept_text(concept)


def alerts(results: list[dict[str, Any]], tasks: list[dict[str, Any]], flags: list[dict[str, Any]],
           locale: str = "en") -> list[str]:
    """Short alert texts: abnormal recent results, urgent open tasks about the person, and active flags; a task's
    description and a flag's text in locale where the record carries that language (FHIR's translation extension),
    else as written."""
    found = [f"{fhir_text.concept_text(o.get('code'))}: {fhir_text.observation_value(o)}".strip(": ")
             for o in results if _abnormal(o.get("interpretation") or [])]
    found += [fhir_text.translated(t, "description", locale) or _concept_text(t.get("code"), locale) for t in tasks
              if t.get("priority") in URGENT_PRIORITIES and t.get("status") in OPEN_TASK_STATUSES]
    found += [_concept_text(f.get("code"), locale) for f in flags if f.get("status") == "active"]
    return [text for text in dict.fromkeys(found) if text]
