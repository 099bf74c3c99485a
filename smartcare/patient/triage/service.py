"""Triage sessions as FHIR QuestionnaireResponses (stored and read through the gateway), and what a result offers.

A completed interview of a signed-in patient is written with the patient's own access context, so the access
policy decides and the audit trail records it; the doctor reads them back with theirs. A result also offers the
doctors of the recommended departments with their next free slot, found as the booking pages find them.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.directory import places
from smartcare.hospital.directory import service as directory
from smartcare.hospital.directory.conventions import DEPARTMENT_SYSTEM
from smartcare.hospital.directory.search_index import DoctorQuery
from smartcare.hospital.scheduling import service as scheduling
from smartcare.knowledge import triage
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

QUESTIONNAIRE_URL = "https://smartcare.example/fhir/Questionnaire/triage"
LEVEL_SYSTEM = "https://smartcare.example/fhir/CodeSystem/triage-level"
SESSION_SYSTEM = "https://smartcare.example/fhir/triage-session"
RULE_SYSTEM = "https://smartcare.example/fhir/CodeSystem/triage-rule"
GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"
RECENT_DAYS = 30
SESSIONS_SHOWN = 50
DOCTORS_PER_DEPARTMENT = 3


class SessionNotStored(Exception):
    """The session could not be written (the policy refused it, or the store did)."""


@dataclass(frozen=True)
class Answer:
    """One answered question of a stored session, in both languages."""

    id: str
    text_en: str
    text_zh: str
    value: bool | float | str


@dataclass(frozen=True)
class StoredSession:
    """A triage session as read back from its QuestionnaireResponse."""

    id: str
    authored: datetime | None
    complaint: str
    level: str
    departments: tuple[str, ...]
    red_flags: tuple[tuple[str, str], ...]  # (rule id, what it found)
    answers: tuple[Answer, ...]


def _answer_value(question: triage.Question, value: Any) -> dict[str, Any]:
    if question.kind == "yes_no":
        return {"valueBoolean": bool(value)}
    if question.kind == "scale":
        return {"valueInteger": int(value)}
    if question.kind == "choice":
        option = next((o for o in question.options if o["value"] == value), {"value": str(value)})
        return {"valueCoding": {"system": QUESTIONNAIRE_URL, "code": option["value"],
                                "display": option.get("text_en", option["value"])}}
    return {"valueDecimal": float(value)}


def questionnaire_response(*, patient_id: str, presentation: triage.Presentation, assessment: triage.Assessment,
                           authored: datetime, session: str | None = None) -> dict[str, Any]:
    """The QuestionnaireResponse for one completed interview: complaint, what was known, answers and the result."""
    by_id = {q.id: q for q in triage.questions()}
    items: list[dict[str, Any]] = [{"linkId": "complaint", "text": "Chief complaint",
                                    "answer": [{"valueString": presentation.text}]}]
    if presentation.age_years is not None:
        items.append({"linkId": "age", "text": "Age (years)", "answer": [{"valueDecimal": presentation.age_years}]})
    if presentation.sex:
        items.append({"linkId": "sex", "text": "Sex",
                      "answer": [{"valueCoding": {"system": GENDER_SYSTEM, "code": presentation.sex}}]})
    if presentation.pregnant is not None:
        items.append({"linkId": "pregnant", "text": "Pregnant", "answer": [{"valueBoolean": presentation.pregnant}]})
    answered = [{"linkId": qid, "text": by_id[qid].text_en, "answer": [_answer_value(by_id[qid], value)]}
                for qid, value in triage.check_answers(presentation.answers).items()]
    if answered:
        items.append({"linkId": "answers", "text": "Answers", "item": answered})
    en, _zh = triage.LEVEL_NAMES[assessment.level]
    result: list[dict[str, Any]] = [{"linkId": "level", "text": "Triage level", "answer": [
        {"valueCoding": {"system": LEVEL_SYSTEM, "code": assessment.level, "display": en}}]}]
    if assessment.departments:
        result.append({"linkId": "departments", "text": "Recommended departments", "answer": [
            {"valueCoding": {"system": DEPARTMENT_SYSTEM, "code": d.key, "display": d.name_en}}
            for d in assessment.departments]})
    if assessment.red_flags:
        result.append({"linkId": "red-flags", "text": "Red flags", "answer": [
            {"valueCoding": {"system": RULE_SYSTEM, "code": f.key, "display": f.condition_en}}
            for f in assessment.red_flags]})
    items.append({"linkId": "result", "text": "Triage result", "item": result})
    return {"resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE_URL, "status": "completed",
            **({"identifier": {"system": SESSION_SYSTEM, "value": session}} if session else {}),
            "subject": {"reference": f"Patient/{patient_id}"}, "authored": clock.format_instant(authored),
            "author": {"reference": f"Patient/{patient_id}"}, "item": items}


def store_session(*, ctx: AccessContext, patient_id: str, presentation: triage.Presentation,
                  assessment: triage.Assessment, session: str | None = None) -> str:
    """Write a completed interview for the patient as ctx (policy + audit); the QuestionnaireResponse id.

    session names the interview: the same interview posted again (a reload of the result) is stored once
    (a conditional create on its identifier) and answers with the session stored first."""
    body = questionnaire_response(patient_id=patient_id, presentation=presentation, assessment=assessment,
                                  authored=clock.now(), session=session)
    headers = {"if-none-exist": f"identifier={SESSION_SYSTEM}|{session}&subject=Patient/{patient_id}"} if session else {}
    try:
        created = gateway.serve(ctx, FhirRequest(method="POST", path="QuestionnaireResponse", body=body,
                                                 headers=headers)).body
    except FhirError as exc:
        raise SessionNotStored(exc.message) from exc
    return (created or {}).get("id", "")


def _coding(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["valueCoding"] for a in item.get("answer", []) if "valueCoding" in a]


def _value(answer: dict[str, Any]) -> bool | float | str:
    for name in ("valueBoolean", "valueInteger", "valueDecimal", "valueString"):
        if name in answer:
            return answer[name]
    return answer.get("valueCoding", {}).get("code", "")


def read_session(resource: dict[str, Any]) -> StoredSession:
    """A stored QuestionnaireResponse as a session to show."""
    by_link = {item.get("linkId"): item for item in resource.get("item", [])}
    by_id = {q.id: q for q in triage.questions()}
    result = {item.get("linkId"): item for item in by_link.get("result", {}).get("item", [])}
    answers = []
    for item in by_link.get("answers", {}).get("item", []):
        q = by_id.get(item.get("linkId", ""))
        if q is not None and item.get("answer"):
            answers.append(Answer(q.id, q.text_en, q.text_zh, _value(item["answer"][0])))
    level = next((c.get("code") for c in _coding(result.get("level", {}))), "")
    authored = resource.get("authored")
    return StoredSession(
        id=resource.get("id", ""), authored=clock.parse_instant(authored).astimezone(places.region_zone())
        if authored else None,
        complaint=next((a.get("valueString", "") for a in by_link.get("complaint", {}).get("answer", [])), ""),
        level=level if level in triage.LEVELS else "",
        departments=tuple(c.get("code", "") for c in _coding(result.get("departments", {}))),
        red_flags=tuple((c.get("code", ""), c.get("display", "")) for c in _coding(result.get("red-flags", {}))),
        answers=tuple(answers))


def sessions_of(*, ctx: AccessContext, patient_id: str, days: int | None = None) -> list[StoredSession]:
    """The patient's triage sessions that ctx may see, newest first (only the last `days` days when given)."""
    query = [("subject", f"Patient/{patient_id}"), ("questionnaire", QUESTIONNAIRE_URL), ("_sort", "-authored"),
             ("_count", str(SESSIONS_SHOWN))]
    if days is not None:
        query.append(("authored", "ge" + clock.format_instant(clock.now() - timedelta(days=days))))
    return [read_session(r) for r in gateway.search(ctx, "QuestionnaireResponse", query)]


def read_patient(ctx: AccessContext, patient_ref: str) -> dict[str, Any]:
    """The patient's own record (for age and sex), or {} when it cannot be read."""
    try:
        return gateway.read(ctx, patient_ref)
    except FhirError:
        return {}


def age_of(patient: dict[str, Any], today: date) -> int | None:
    """Age in whole years from the record's birth date, or None."""
    try:
        born = date.fromisoformat(str(patient.get("birthDate", ""))[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _slot_for(practitioner_id: str, starts: datetime) -> str | None:
    """The id of the bookable slot of the doctor that starts at `starts` (or their first bookable one that day)."""
    day = starts.astimezone(places.region_zone()).date().isoformat()
    with unit_of_work() as conn:
        found = [s for s in scheduling.list_slots(conn, day=day, practitioner_id=practitioner_id) if s["bookable"]]
    exact = [s for s in found if clock.parse_instant(s["start"]) == starts]
    chosen = (exact or found)[:1]
    return chosen[0]["slot"].removeprefix("Slot/") if chosen else None


def doctors_for(department_keys: list[str], locale: str) -> list[dict[str, Any]]:
    """For each department: its doctors with a next free slot (soonest first) and that slot's id for booking."""
    offered = []
    for key in department_keys:
        if key == "emergency":
            continue
        found = [r for r in directory.find_doctors(query=DoctorQuery(department=key)) if r.next_free]
        found.sort(key=lambda r: (r.next_free, r.doctor.rank))
        doctors = []
        for r in found[:DOCTORS_PER_DEPARTMENT]:
            slot = _slot_for(r.doctor.practitioner_id, r.next_free)
            if slot is None:
                continue
            place = places.place_of(r.doctor.practitioner_id, r.doctor.service_id or "", locale)
            doctors.append({"id": r.doctor.practitioner_id, "place": place, "title": r.doctor.title, "slot": slot,
                            "next_free": r.next_free.astimezone(places.region_zone())})
        offered.append({"key": key, "doctors": doctors})
    return offered
