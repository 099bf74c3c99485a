"""Structured questions by department for an online consultation, answered when it is opened.

The questions are data (data/questions.yaml, keyed by the department codes of the directory). The answers are a
FHIR QuestionnaireResponse of the patient whose `encounter` is the consultation's Encounter (R4 has no element on
Encounter that may point to a QuestionnaireResponse), announced in the chat by a message of the patient's side
that refers to it, so both sides' history shows it and the doctor reads it through the access policy.
"""

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway, store, tables
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.consultation import service
from smartcare.platform.security.context import AccessContext

DATA = Path(__file__).parent / "data" / "questions.yaml"
QUESTIONNAIRE = service.LOCAL + "Questionnaire/consultation-"
DEPARTMENT_SYSTEM = service.LOCAL + "CodeSystem/department"
MAX_ANSWER = 200
FIELD = "q-"
CLIENT_ID = "department-questions"
YES_NO = {True: ("Yes", "是"), False: ("No", "否")}
_NUMBER = re.compile(r"[0-9]{1,4}([.,][0-9]{1,2})?")


class Option(BaseModel):
    """One choice of a choice question."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    en: str
    zh: str

    def label(self, zh: bool) -> str:
        """The option in the reader's language."""
        return self.zh if zh else self.en


class Question(BaseModel):
    """One question of a department's set, in both languages."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    kind: Literal["text", "number", "yes-no", "choice", "note"]
    en: str
    zh: str
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    unit_en: str = ""
    unit_zh: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "Question":
        if (self.kind == "choice") != bool(self.options):
            raise ValueError(f"{self.id}: options belong to choice questions, and a choice question needs them")
        if self.kind == "number" and (self.min is None or self.max is None or self.min >= self.max):
            raise ValueError(f"{self.id}: a number question needs min below max")
        return self

    def text(self, zh: bool) -> str:
        """The question in the reader's language."""
        return self.zh if zh else self.en

    def unit(self, zh: bool) -> str:
        """The unit of a number question in the reader's language."""
        return self.unit_zh if zh else self.unit_en


class QuestionFile(BaseModel):
    """The whole file: its source and the questions of each department."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str
    departments: dict[str, tuple[Question, ...]]

    @model_validator(mode="after")
    def _unique(self) -> "QuestionFile":
        for key, found in self.departments.items():
            if not found or len({q.id for q in found}) != len(found):
                raise ValueError(f"{key}: needs questions, each id once")
        return self


@cache
def load() -> QuestionFile:
    """The question sets, checked once."""
    return QuestionFile.model_validate(yaml.safe_load(DATA.read_text(encoding="utf-8")))


def for_department(key: str | None) -> tuple[Question, ...]:
    """The questions of a department key (none for a department without a set)."""
    return load().departments.get(key or "", ())


def _coded_key(resource: dict[str, Any]) -> str | None:
    return next((c.get("code") for t in resource.get("type", []) for c in t.get("coding", [])
                 if c.get("system") == DEPARTMENT_SYSTEM and c.get("code")), None)


def department_key(conn: Connection, department_id: str) -> str | None:
    """The directory's department code of an Organization, or, lacking one, its name written as a key."""
    org = service._content(conn, "Organization", department_id[:64]) or {}
    coded = _coded_key(org)
    if coded:
        return coded
    named = re.sub(r"[^a-z]+", "-", (org.get("name") or "").lower()).strip("-")
    return named if named in load().departments else None


def _doctor_keys(conn: Connection, practitioner_id: str) -> list[str]:
    """The department codes of a doctor: of the departments (Organizations) and the services (HealthcareService,
    as the directory codes clinics within a hospital) their roles name."""
    ref = tables.idx_reference.c
    roles = sa.select(ref.res_pk).where(ref.res_type == "PractitionerRole", ref.param == "practitioner",
                                        ref.target_type == "Practitioner", ref.target_id == practitioner_id)
    services = conn.execute(sa.select(ref.target_id).where(
        ref.res_pk.in_(roles), ref.res_type == "PractitionerRole", ref.param == "service",
        ref.target_type == "HealthcareService").order_by(ref.target_id)).scalars().all()
    keys = [_coded_key(service._content(conn, "HealthcareService", s) or {}) for s in services]
    keys += [department_key(conn, d) for d in sorted(service._departments(conn, practitioner_id))]
    return [k for k in keys if k]


def target_key(conn: Connection, target: str) -> str | None:
    """The question set for a chosen target: "pool:<department>" or "doctor:<practitioner>" (the first of the
    doctor's departments that has a set)."""
    kind, _sep, target_id = (target or "").partition(":")
    target_id = target_id.strip()[:64]
    if not target_id:
        return None
    if kind == "pool":
        return department_key(conn, target_id)
    if kind == "doctor":
        return next((k for k in _doctor_keys(conn, target_id) if k in load().departments), None)
    return None


def _refused(question: Question, zh: bool) -> service.ConsultationError:
    return service.ConsultationError(f"Check the answer to: {question.text(zh)}", code="bad-answer", status=400)


def _answer(question: Question, raw: str, zh: bool) -> dict[str, Any] | None:
    """One form value checked and written as a FHIR answer (None when left empty)."""
    raw = (raw or "").strip()
    if not raw or question.kind == "note":
        return None
    if len(raw) > MAX_ANSWER:
        raise _refused(question, zh)
    if question.kind == "text":
        return {"valueString": raw}
    if question.kind == "yes-no":
        if raw not in ("yes", "no"):
            raise _refused(question, zh)
        return {"valueBoolean": raw == "yes"}
    if question.kind == "choice":
        option = next((o for o in question.options if o.code == raw), None)
        if option is None:
            raise _refused(question, zh)
        return {"valueCoding": {"system": QUESTIONNAIRE + "answers", "code": option.code, "display": option.en}}
    if not _NUMBER.fullmatch(raw):
        raise _refused(question, zh)
    value = float(raw.replace(",", "."))
    if not question.min <= value <= question.max:
        raise _refused(question, zh)
    return {"valueDecimal": value}


def shown_answer(question: Question | None, answer: dict[str, Any], zh: bool) -> str:
    """An answer as a reader sees it, in their language."""
    if "valueBoolean" in answer:
        return YES_NO[bool(answer["valueBoolean"])][1 if zh else 0]
    if "valueCoding" in answer:
        code = answer["valueCoding"].get("code")
        option = next((o for o in (question.options if question else ()) if o.code == code), None)
        return option.label(zh) if option else answer["valueCoding"].get("display") or code or ""
    if "valueDecimal" in answer:
        value = answer["valueDecimal"]
        text = str(int(value)) if float(value).is_integer() else str(value)
        return f"{text} {question.unit(zh)}".strip() if question else text
    return str(answer.get("valueString", ""))


def checked_answers(key: str | None, form: dict[str, str], *, zh: bool) -> list[tuple[Question, dict[str, Any]]]:
    """The answered questions of the department's set from a form's q-<id> fields, each checked."""
    found = []
    for question in for_department(key):
        answer = _answer(question, form.get(FIELD + question.id, ""), zh)
        if answer is not None:
            found.append((question, answer))
    return found


def record_answers(conn: Connection, ctx: AccessContext, *, consultation_id: str, key: str,
                   answers: list[tuple[Question, dict[str, Any]]], zh: bool = False) -> str | None:
    """Store the patient's answers with the consultation and announce them in the chat; the response's id."""
    if not answers:
        return None
    thread = service._thread(conn, consultation_id)
    if service._side(conn, ctx, thread, "create") not in ("patient", "system"):
        raise service.ConsultationError("The patient answers the questions", code="forbidden", status=403)
    response = {
        "resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": QUESTIONNAIRE + key,
        "subject": {"reference": f"Patient/{thread.patient_id}"},
        "encounter": {"reference": f"Encounter/{thread.encounter_id}"}, "authored": service._now(),
        "item": [{"linkId": q.id, "text": q.text(zh), "answer": [a]} for q, a in answers],
    }
    if ctx.fhir_user:
        response["author"] = {"reference": ctx.fhir_user}
    stored = store.create(conn, ctx, response)
    text = "\n".join(f"{q.text(zh)}{'' if q.text(zh)[-1] in '?？:：' else '：' if zh else ':'} "
                     f"{shown_answer(q, a, zh)}" for q, a in answers)
    service.store_message(conn, ctx, thread=thread, side="patient", client_id=CLIENT_ID, text=text[:service.MAX_TEXT],
                          category="questions", references=[f"QuestionnaireResponse/{stored.res_id}"])
    return stored.res_id


def answers_of(conn: Connection, ctx: AccessContext, *, consultation_id: str, zh: bool) -> list[dict[str, str]]:
    """The answers stored with a consultation, read through the access policy, in the reader's language."""
    try:
        bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path="QuestionnaireResponse", query=[
            ("encounter", f"Encounter/{consultation_id[:64]}"), ("_count", "5")])).body or {}
    except FhirError:
        return []
    found = []
    for entry in bundle.get("entry", []):
        response = entry.get("resource") or {}
        if not str(response.get("questionnaire", "")).startswith(QUESTIONNAIRE):
            continue
        by_id = {q.id: q for q in for_department(response["questionnaire"].removeprefix(QUESTIONNAIRE))}
        for item in response.get("item", []):
            question = by_id.get(item.get("linkId"))
            for answer in item.get("answer", [])[:1]:
                found.append({"question": question.text(zh) if question else item.get("text", ""),
                              "answer": shown_answer(question, answer, zh)})
    return found
