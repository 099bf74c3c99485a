"""The community doctor's form for a resident's basic public-health record: checking what was typed, then writing
it as FHIR records in one transaction (all of it or, on any problem, none of it).

Each form item is one record found again by its identifier (basic_record.json's identifier_system, value
"<patient>/<item>"), so saving the form again updates the same records; an item cleared on the form withdraws
the record the form wrote for it (entered in error). Records that institutions sent are never touched here.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.regional.records.basic_record import NONE_SECTIONS, data, observation_code

HISTORY_ROWS = 3
MAX_TEXT = 200
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
SOCIAL_HISTORY = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history",
                  "display": "Social History"}
PROBLEM_LIST = {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item",
                "display": "Problem List Item"}
SURGICAL = {"system": "http://snomed.info/sct", "code": "387713003", "display": "Surgical procedure"}
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the form: the field it is about and a message (a catalog msgid with its values)."""

    field: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)


class BasicRecordInvalid(Exception):
    """The form has problems; nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s) in the form")
        self.problems = problems


class BasicRecordRefused(Exception):
    """The store refused a write (the access policy, a validation); nothing was written."""


@dataclass
class Answers:
    """The form's answers, checked."""

    diseases: dict[str, str] = field(default_factory=dict)  # key -> diagnosis date ("" if not given)
    history: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # surgery/trauma/transfusion rows
    family: dict[str, list[str]] = field(default_factory=dict)  # relative -> disease keys
    choices: dict[str, str] = field(default_factory=dict)  # smoking/drinking/exercise -> answer key
    sets: dict[str, list[str]] = field(default_factory=dict)  # diet/disability -> answer keys
    allergies: list[str] = field(default_factory=list)
    allergy_other: str = ""
    none: set[str] = field(default_factory=set)  # sections answered "none" (and "allergy")


def _checked(fields: dict[str, str], name: str) -> bool:
    return fields.get(name, "") in ("on", "1", "true", "yes")


def check_date(value: str, *, today: date, birth: str) -> str | None:
    """The catalog message for a bad date (YYYY, YYYY-MM or YYYY-MM-DD, not in the future, not before birth), or
    None when it is good."""
    found = _DATE.fullmatch(value)
    if not found:
        return _("Enter the date as YYYY-MM-DD, YYYY-MM or YYYY.")
    year, month, day = int(found[1]), int(found[2] or 1), int(found[3] or 1)
    try:
        given = date(year, month, day)
    except ValueError:
        return _("There is no such date.")
    if given > today:
        return _("The date cannot be in the future.")
    if birth and value < birth[: len(value)]:
        return _("The date cannot be before the date of birth.")
    return None


def _text(fields: dict[str, str], name: str, problems: list[Problem]) -> str:
    value = fields.get(name, "").strip()
    if len(value) > MAX_TEXT:
        problems.append(Problem(name, _("At most %(max)s characters."), {"max": MAX_TEXT}))
        return ""
    return value


def _dated(fields: dict[str, str], name: str, problems: list[Problem], *, today: date, birth: str) -> str:
    value = fields.get(name, "").strip()[:20]
    if value and (message := check_date(value, today=today, birth=birth)):
        problems.append(Problem(name, message))
        return ""
    return value


def _history_rows(fields: dict[str, str], section: str, problems: list[Problem], *, today: date,
                  birth: str) -> list[tuple[str, str]]:
    rows = []
    for n in range(1, HISTORY_ROWS + 1):
        name = _text(fields, f"{section}.{n}.name", problems)
        when = _dated(fields, f"{section}.{n}.date", problems, today=today, birth=birth)
        if fields.get(f"{section}.{n}.date", "").strip() and not fields.get(f"{section}.{n}.name", "").strip():
            problems.append(Problem(f"{section}.{n}.name", _("Say what it was, or clear the date.")))
        rows.append((name, when))
    return rows


def read_form(fields: dict[str, str], *, today: date, birth: str) -> Answers:
    """The form's answers, checked; BasicRecordInvalid listing every problem (each with its field)."""
    problems: list[Problem] = []
    spec = data()
    answers = Answers()
    for disease in spec["diseases"]:
        if not disease.get("family_only") and _checked(fields, f"disease.{disease['key']}"):
            answers.diseases[disease["key"]] = _dated(fields, f"disease.{disease['key']}.date", problems,
                                                      today=today, birth=birth)
    for section in ("surgery", "trauma", "transfusion"):
        answers.history[section] = _history_rows(fields, section, problems, today=today, birth=birth)
    for relative in spec["relatives"]:
        answers.family[relative["key"]] = [d["key"] for d in spec["diseases"]
                                           if _checked(fields, f"family.{relative['key']}.{d['key']}")]
    for item in ("smoking", "drinking", "exercise"):
        chosen = fields.get(item, "")[:40]
        if chosen and chosen not in {a["key"] for a in spec[item]["answers"]}:
            problems.append(Problem(item, _("Choose one of the listed answers.")))
        elif chosen:
            answers.choices[item] = chosen
    for item in ("diet", "disability"):
        answers.sets[item] = [a["key"] for a in spec[item]["answers"] if _checked(fields, f"{item}.{a['key']}")]
    if "none" in answers.sets["disability"] and len(answers.sets["disability"]) > 1:
        problems.append(Problem("disability", _("You ticked none and also listed some; untick one.")))
    answers.allergies = [a["key"] for a in spec["drug_allergies"] if _checked(fields, f"allergy.{a['key']}")]
    answers.allergy_other = _text(fields, "allergy.other", problems)
    answers.none = {s for s in (*NONE_SECTIONS, "allergy") if _checked(fields, f"{s}.none")}
    listed = {"past": bool(answers.diseases), "family": any(answers.family.values()),
              "allergy": bool(answers.allergies or answers.allergy_other),
              **{s: any(name for name, _when in answers.history[s]) for s in ("surgery", "trauma", "transfusion")}}
    for section in sorted(answers.none):
        if listed[section]:
            problems.append(Problem(f"{section}.none", _("You ticked none and also listed some; untick one.")))
    if problems:
        raise BasicRecordInvalid(problems)
    return answers


def _concept(system: str, code: str, display: str, text: str = "") -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    return {**concept, "text": text} if text else concept


def _disease(key: str) -> dict[str, Any]:
    return next(d for d in data()["diseases"] if d["key"] == key)


def _when(value: str, element: str) -> dict[str, Any]:
    return {element: value} if value else {}


def _writes(patient_id: str, answers: Answers, today: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(type, item, resource or None to withdraw) for every item of the form."""
    spec, subject = data(), {"reference": f"Patient/{patient_id}"}
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    confirmed = _concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")
    for disease in spec["diseases"]:
        key = disease["key"]
        out.append(("Condition", f"disease.{key}", None if key not in answers.diseases else {
            "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": confirmed, "category": [{"coding": [PROBLEM_LIST]}],
            "code": _concept(ICD10, disease["icd10"], disease["en"], disease["zh"]), "subject": subject,
            "recordedDate": today, **_when(answers.diseases[key], "onsetDateTime")}))
    for n, (name, when) in enumerate(answers.history["surgery"], start=1):
        out.append(("Procedure", f"surgery.{n}", {
            "status": "completed", "category": {"coding": [SURGICAL]}, "code": {"text": name}, "subject": subject,
            **_when(when, "performedDateTime")} if name else None))
    for n, (name, when) in enumerate(answers.history["trauma"], start=1):
        trauma = spec["trauma"]
        out.append(("Condition", f"trauma.{n}", {
            "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved",
                                       "Resolved"),
            "verificationStatus": confirmed, "code": _concept(trauma["system"], trauma["code"], trauma["display"], name),
            "subject": subject, "recordedDate": today, **_when(when, "onsetDateTime")} if name else None))
    for n, (reason, when) in enumerate(answers.history["transfusion"], start=1):
        transfusion = spec["transfusion"]
        out.append(("Procedure", f"transfusion.{n}", {
            "status": "completed", "code": _concept(transfusion["system"], transfusion["code"], transfusion["display"]),
            "reasonCode": [{"text": reason}], "subject": subject, **_when(when, "performedDateTime")}
            if reason else None))
    for relative in spec["relatives"]:
        diseases = answers.family.get(relative["key"], [])
        out.append(("FamilyMemberHistory", f"family.{relative['key']}", {
            "status": "completed", "patient": subject, "date": today,
            "relationship": _concept(ROLE_CODE, relative["code"], relative["en"]),
            "condition": [{"code": _concept(ICD10, _disease(k)["icd10"], _disease(k)["en"], _disease(k)["zh"])}
                          for k in diseases]} if diseases else None))
    out += _lifestyle_writes(answers, subject, today)
    out += _allergy_writes(answers, subject, today)
    return out


def _observation(item: str, subject: dict[str, Any], today: str, **value: Any) -> dict[str, Any]:
    system, code = observation_code(item)
    return {"status": "final", "category": [{"coding": [SOCIAL_HISTORY]}],
            "code": _concept(system, code, data()[item]["display"]), "subject": subject, "effectiveDateTime": today,
            **value}


def _answer_concept(item: str, key: str) -> dict[str, Any]:
    answer = next(a for a in data()[item]["answers"] if a["key"] == key)
    if answer.get("system"):
        return _concept(answer["system"], answer["code"], answer["display"], answer["zh"])
    return _concept(data()["answer_system"], key, answer["en"], answer["zh"])


def _lifestyle_writes(answers: Answers, subject: dict[str, Any],
                      today: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Lifestyle and disability items: an answer left empty keeps what was recorded before (it is not withdrawn)."""
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for item, key in answers.choices.items():
        out.append(("Observation", item, _observation(item, subject, today,
                                                      valueCodeableConcept=_answer_concept(item, key))))
    for item, keys in answers.sets.items():
        if keys:
            out.append(("Observation", item, _observation(item, subject, today, component=[
                {"code": _answer_concept(item, key), "valueBoolean": True} for key in keys])))
    return out


def _allergy(subject: dict[str, Any], today: str, code: dict[str, Any]) -> dict[str, Any]:
    return {"clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active",
                                       "Active"),
            "verificationStatus": _concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                           "confirmed", "Confirmed"),
            "category": ["medication"], "code": code, "patient": subject, "recordedDate": today}


def _allergy_writes(answers: Answers, subject: dict[str, Any],
                    today: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    spec = data()
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for allergy in spec["drug_allergies"]:
        chosen = allergy["key"] in answers.allergies
        out.append(("AllergyIntolerance", f"allergy.{allergy['key']}", _allergy(subject, today, _concept(
            allergy["system"], allergy["code"], allergy["display"], allergy["zh"])) if chosen else None))
    out.append(("AllergyIntolerance", "allergy.other", _allergy(subject, today, {"text": answers.allergy_other})
                if answers.allergy_other else None))
    none = spec["no_known_drug_allergy"]
    out.append(("AllergyIntolerance", "allergy.none", _allergy(subject, today, _concept(
        none["system"], none["code"], none["display"])) if "allergy" in answers.none else None))
    return out


def _withdrawn(res_type: str, resource: dict[str, Any]) -> dict[str, Any]:
    withdrawn = dict(resource)
    if res_type in ("Condition", "AllergyIntolerance"):
        system = ("http://terminology.hl7.org/CodeSystem/condition-ver-status" if res_type == "Condition"
                  else "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification")
        withdrawn["verificationStatus"] = _concept(system, "entered-in-error", "Entered in Error")
        withdrawn.pop("clinicalStatus", None)  # FHIR: no clinical status on an entered-in-error record
    else:
        withdrawn["status"] = "entered-in-error"
    return withdrawn


def _find(conn: Any, ctx: AccessContext, res_type: str, identifier: str) -> dict[str, Any] | None:
    body = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type, query=[
        ("identifier", identifier), ("_count", "1")])).body or {}
    return next((e["resource"] for e in body.get("entry", []) if e.get("search", {}).get("mode") == "match"), None)


def _questionnaire_response(patient_id: str, answers: Answers, ctx: AccessContext, now: str) -> dict[str, Any]:
    spec = data()
    return {"status": "completed", "questionnaire": spec["questionnaire"],
            "subject": {"reference": f"Patient/{patient_id}"}, "authored": now,
            **({"author": {"reference": ctx.fhir_user}} if ctx.fhir_user else {}),
            "item": [{"linkId": f"{s}.none", "answer": [{"valueBoolean": s in answers.none}]}
                     for s in NONE_SECTIONS]}


def save(*, ctx: AccessContext, patient_id: str, fields: dict[str, str], birth: str) -> int:
    """Check the form and write it as ctx, all in one transaction; returns how many records were written.
    BasicRecordInvalid (nothing written) for bad input, BasicRecordRefused when the store refuses a write."""
    moment = clock.now()
    answers = read_form(fields, today=moment.date(), birth=birth)
    system = data()["identifier_system"]
    today = moment.date().isoformat()
    writes = _writes(patient_id, answers, today)
    writes.append(("QuestionnaireResponse", "form", _questionnaire_response(
        patient_id, answers, ctx, clock.format_instant(moment))))
    written = 0
    try:
        with unit_of_work() as conn:
            for res_type, item, resource in writes:
                identifier = f"{system}|{patient_id}/{item}"
                if resource is None:
                    existing = _find(conn, ctx, res_type, identifier)
                    if existing is None or _withdrawn(res_type, existing) == existing:
                        continue
                    body = _withdrawn(res_type, existing)
                    path, query = f"{res_type}/{existing['id']}", []
                else:
                    value = {"system": system, "value": f"{patient_id}/{item}"}
                    body = {"resourceType": res_type, "identifier": value if res_type == "QuestionnaireResponse"
                            else [value], **resource}
                    path, query = res_type, [("identifier", identifier)]
                gateway.serve_within(conn, ctx, FhirRequest(method="PUT", path=path, query=query, body=body))
                written += 1
    except FhirError as exc:
        raise BasicRecordRefused(exc.message) from exc
    return written
