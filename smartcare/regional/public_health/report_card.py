"""The infectious disease report card (传染病报告卡) the doctor completes: its fields and checks, and its answers.

The card's fields and occupation list are data (data/report_card.yaml, with its source). A posted card is checked at
once, every mistake tied to its field (ReportCardInvalid); a checked Card becomes a QuestionnaireResponse of
case_model.REPORT_CARD. A draft's card is pre-filled from the case report and the patient's record; a report sent
back for correction is pre-filled with the answers the doctor gave before.
"""

import copy
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError, Forbidden, NotFound, PreconditionFailed
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge import notifiable
from smartcare.platform import clock, events
from smartcare.platform.clock import format_instant
from smartcare.platform.events import DomainEvent
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import districts, reporting
from smartcare.regional.public_health.case_reports import document_type, person_name

DATA_FILE = Path(__file__).resolve().parent / "data" / "report_card.yaml"
LIMITS = {"name": 50, "parent_name": 50, "id_number": 32, "phone": 32, "address": 200, "work_unit": 100,
          "remarks": 500, "discard_text": 200}
SEXES = ("male", "female")
OUTSIDE = "outside"  # lives outside the region's districts
OCCUPATION_SYSTEM = model.LOCAL + "CodeSystem/report-card-occupation"
CLASSIFICATION_SYSTEM = model.LOCAL + "CodeSystem/case-classification"
GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"
RESIDENT_ID = "https://smartcare.example/fhir/sid/cn-resident-id"
OLDEST = 150  # years: a birth date further back is a typing mistake
CASE_REPORTED = "CaseReported"
RECENT_DAYS = 14
LISTED = 100
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
FIELDS = ("name", "parent_name", "id_number", "sex", "birth_date", "phone", "address", "district", "occupation",
          "work_unit", "disease", "classification", "onset", "diagnosed_at", "death_date", "remarks")

REQUIRED = _("Fill in this field.")
TOO_LONG = _("Write at most {limit} characters.")
CHOOSE = _("Choose one of the answers.")
BAD_DATE = _("Enter a date like 2026-03-02.")
BAD_MOMENT = _("Enter a date and time like 2026-03-02 09:30.")
IN_FUTURE = _("This cannot be in the future.")
ONSET_AFTER_DIAGNOSIS = _("The onset cannot be after the diagnosis.")
BEFORE_BIRTH = _("This cannot be before the birth date.")
DEATH_BEFORE_ONSET = _("The death cannot be before the onset.")
TOO_OLD = _("Enter a birth date in the last {years} years.")
NOT_ALLOWED = _("This disease is not reported with that classification.")
PARENT_NEEDED = _("The card asks for a parent's name for a child under {age}.")
BAD_PHONE = _("Enter a telephone number: digits, spaces, + and - only.")
BAD_ID = _("Enter the ID number in letters and digits only.")
UNKNOWN_DISEASE = _("Choose a disease from the list.")
NOT_FOUND = _("There is no such case report for you.")
CLOSED = _("This case report is no longer open for you to change.")
CHANGED = _("This case report was changed while you had it open (a new result, an escalation or a colleague's "
            "edit). Check it and submit again.")


class ReportCardInvalid(Exception):
    """The report card has mistakes: field -> (English msgid, values for it); nothing was written."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Card:
    """A checked report card."""

    name: str
    parent_name: str
    id_number: str
    sex: str
    birth_date: date
    phone: str
    address: str
    district: dict[str, Any] | None  # a Coding of the region's district; None outside the region
    occupation: str
    work_unit: str
    disease: notifiable.Disease
    subtype: notifiable.Subtype | None
    classification: str
    onset: date
    diagnosed_at: datetime
    death_date: date | None
    remarks: str


@cache
def card_data() -> dict[str, Any]:
    """The report card's data: its occupation list, discard reasons and the parent's-name age."""
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def occupations() -> list[dict[str, str]]:
    """The card's occupations (人群分类): code, English and Chinese."""
    return list(card_data()["occupations"])


def discard_reasons() -> list[dict[str, str]]:
    """Why a doctor may discard a draft: code, English and Chinese."""
    return list(card_data()["discard_reasons"])


def disease_choices(cat: notifiable.Catalogue) -> list[tuple[str, notifiable.Disease, notifiable.Subtype | None]]:
    """Every disease and subtype the card offers, as (form value, disease, subtype)."""
    return [(value, d, s) for d in cat.diseases
            for value, s in [(d.id, None), *((f"{d.id}/{s.id}", s) for s in d.subtypes)]]


def age_on(birth: date, day: date) -> int:
    """Whole years of age on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _text(form: Mapping[str, str], key: str, errors: dict, *, required: bool = False) -> str:
    value = " ".join(str(form.get(key) or "").split())
    if len(value) > LIMITS[key]:
        errors[key] = (TOO_LONG, {"limit": LIMITS[key]})
    elif required and not value:
        errors[key] = (REQUIRED, {})
    return value


def _day(form: Mapping[str, str], key: str, errors: dict, *, today: date, required: bool = True) -> date | None:
    value = str(form.get(key) or "").strip()
    if not value:
        if required:
            errors[key] = (REQUIRED, {})
        return None
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors[key] = (BAD_DATE, {})
    elif day > today:
        errors[key], day = (IN_FUTURE, {}), None
    return day


def _moment(form: Mapping[str, str], errors: dict, *, now: datetime) -> datetime | None:
    value = str(form.get("diagnosed_at") or "").strip().replace(" ", "T")
    if not value:
        errors["diagnosed_at"] = (REQUIRED, {})
        return None
    try:
        moment = datetime.fromisoformat(value) if 16 <= len(value) <= 19 else None
    except ValueError:
        moment = None
    if moment is None:
        errors["diagnosed_at"] = (BAD_MOMENT, {})
        return None
    moment = moment.replace(tzinfo=reporting.region_zone())
    if moment > now + timedelta(minutes=1):
        errors["diagnosed_at"] = (IN_FUTURE, {})
        return None
    return moment


def _choice(form: Mapping[str, str], key: str, allowed: set[str] | list[str] | tuple[str, ...], errors: dict) -> str:
    value = str(form.get(key) or "")
    if value not in allowed:
        errors[key] = (CHOOSE, {})
    return value


def _disease(form: Mapping[str, str], cat: notifiable.Catalogue, errors: dict) -> tuple[Any, Any]:
    chosen = str(form.get("disease") or "")
    found = next(((d, s) for value, d, s in disease_choices(cat) if value == chosen), None)
    if found is None:
        errors["disease"] = (UNKNOWN_DISEASE, {})
        return None, None
    return found


def _identity(form: Mapping[str, str], errors: dict) -> tuple[str, str]:
    id_number = _text(form, "id_number", errors).replace(" ", "")
    if id_number and "id_number" not in errors and not (id_number.isascii() and id_number.replace("-", "").isalnum()):
        errors["id_number"] = (BAD_ID, {})
    phone = _text(form, "phone", errors)
    if phone and "phone" not in errors and not all(c.isdigit() or c in " +-()" for c in phone):
        errors["phone"] = (BAD_PHONE, {})
    return id_number, phone


def _dates_agree(values: dict[str, Any], errors: dict, *, today: date) -> None:
    birth, onset, diagnosed, death = (values[k] for k in ("birth_date", "onset", "diagnosed_at", "death_date"))
    if birth and birth.year < today.year - OLDEST:
        errors["birth_date"] = (TOO_OLD, {"years": OLDEST})
    if onset and diagnosed and onset > diagnosed.astimezone(reporting.region_zone()).date():
        errors["onset"] = (ONSET_AFTER_DIAGNOSIS, {})
    for key in ("onset", "death_date"):
        if values[key] and birth and values[key] < birth and key not in errors:
            errors[key] = (BEFORE_BIRTH, {})
    if death and onset and death < onset and "death_date" not in errors:
        errors["death_date"] = (DEATH_BEFORE_ONSET, {})


def parse_card(form: Mapping[str, str], *, cat: notifiable.Catalogue, now: datetime) -> Card:
    """Check a posted report card; ReportCardInvalid names every mistake at once."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    today = now.astimezone(reporting.region_zone()).date()
    disease, subtype = _disease(form, cat, errors)
    classification = _choice(form, "classification", cat.classifications, errors)
    if disease is not None and "classification" not in errors and classification not in disease.classifications:
        errors["classification"] = (NOT_ALLOWED, {})
    region = {d.code: d for d in districts.region_districts()}
    district = _choice(form, "district", [*region, OUTSIDE], errors)
    id_number, phone = _identity(form, errors)
    values = {"birth_date": _day(form, "birth_date", errors, today=today), "onset": _day(form, "onset", errors,
              today=today), "diagnosed_at": _moment(form, errors, now=now),
              "death_date": _day(form, "death_date", errors, today=today, required=False)}
    _dates_agree(values, errors, today=today)
    parent_name = _text(form, "parent_name", errors)
    below = int(card_data()["parent_name_below_age"])
    if values["birth_date"] and not parent_name and "parent_name" not in errors and \
            age_on(values["birth_date"], today) < below:
        errors["parent_name"] = (PARENT_NEEDED, {"age": below})
    card = {"name": _text(form, "name", errors, required=True), "address": _text(form, "address", errors,
            required=True), "work_unit": _text(form, "work_unit", errors), "remarks": _text(form, "remarks", errors),
            "sex": _choice(form, "sex", SEXES, errors),
            "occupation": _choice(form, "occupation", [o["code"] for o in occupations()], errors)}
    if errors:
        raise ReportCardInvalid(errors)
    chosen = region.get(district)
    coding = {"system": model.DISTRICT_SYSTEM, "code": chosen.code, "display": chosen.name_en} if chosen else None
    return Card(parent_name=parent_name, id_number=id_number, phone=phone, district=coding, disease=disease,
                subtype=subtype, classification=classification, **card, **values)


# --- the form's values --------------------------------------------------------------------------------------------

def _identifier(patient: dict[str, Any]) -> str:
    found = [i for i in patient.get("identifier") or [] if isinstance(i, dict) and isinstance(i.get("value"), str)]
    found.sort(key=lambda i: i.get("system") != RESIDENT_ID)
    return found[0]["value"] if found else ""


def _home(patient: dict[str, Any]) -> dict[str, Any]:
    addresses = districts.current_addresses(patient)
    return addresses[0] if addresses else {}


def local_input(moment: datetime | None) -> str:
    """An instant as a datetime-local field shows it, in the region's time."""
    return moment.astimezone(reporting.region_zone()).strftime("%Y-%m-%dT%H:%M") if moment else ""


def prefill(composition: dict[str, Any], patient: dict[str, Any]) -> dict[str, str]:
    """The card's values for a draft, from the case report and the patient's record."""
    case = model.facts(composition)
    home = _home(patient)
    district = reporting.district_of(patient) or {}
    phone = next((t.get("value", "") for t in patient.get("telecom") or []
                  if isinstance(t, dict) and t.get("system") == "phone"), "")
    deceased = reporting.local_day(patient.get("deceasedDateTime"))
    return {
        "name": person_name(patient), "id_number": _identifier(patient),
        "sex": patient.get("gender", "") if patient.get("gender") in SEXES else "",
        "birth_date": str(patient.get("birthDate") or ""), "phone": str(phone),
        "address": str(home.get("text") or " ".join([*home.get("line", []), home.get("city", "")]).strip()),
        "district": case.district or district.get("code") or (OUTSIDE if home else ""),
        "disease": "/".join(filter(None, (case.disease, case.subtype))), "classification": case.classification or "",
        "onset": case.onset.isoformat() if case.onset else "", "diagnosed_at": local_input(case.diagnosed_at),
        "death_date": deceased.isoformat() if deceased else "",
    }


def answers_of(response: dict[str, Any]) -> dict[str, str]:
    """The card's values as a QuestionnaireResponse of REPORT_CARD holds them (the fields as the form posts them)."""
    found: dict[str, str] = {}
    for item in response.get("item") or []:
        answer = next(iter(item.get("answer") or []), {})
        for key, value in answer.items():
            if key == "valueCoding":
                found[item.get("linkId", "")] = str(value.get("code", ""))
            elif key == "valueDateTime":
                found[item.get("linkId", "")] = local_input(reporting.parse_moment(value))
            elif key.startswith("value"):
                found[item.get("linkId", "")] = str(value)
    if found.get("subtype"):
        found["disease"] = f"{found.get('disease', '')}/{found.pop('subtype')}"
    if "district" not in found and found:
        found["district"] = OUTSIDE
    return found


def _item(link: str, text: str, answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"linkId": link, "text": text, "answer": [answer]}] if answer else []


def _coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"valueCoding": {"system": system, "code": code, **({"display": display} if display else {})}}


def _string(value: str) -> dict[str, Any] | None:
    return {"valueString": value} if value else None


def response_resource(card: Card, *, patient: str, author: str | None, now: datetime) -> dict[str, Any]:
    """The completed report card as a QuestionnaireResponse of case_model.REPORT_CARD."""
    occupation = next(o for o in occupations() if o["code"] == card.occupation)
    items = [
        *_item("name", "Patient name", _string(card.name)),
        *_item("parent_name", "Parent's name", _string(card.parent_name)),
        *_item("id_number", "ID number", _string(card.id_number)),
        *_item("sex", "Sex", _coding(GENDER_SYSTEM, card.sex)),
        *_item("birth_date", "Birth date", {"valueDate": card.birth_date.isoformat()}),
        *_item("phone", "Telephone", _string(card.phone)),
        *_item("address", "Current address", _string(card.address)),
        *_item("district", "District", {"valueCoding": card.district} if card.district else None),
        *_item("occupation", "Occupation", _coding(OCCUPATION_SYSTEM, card.occupation, occupation["en"])),
        *_item("work_unit", "Work unit or school", _string(card.work_unit)),
        *_item("disease", "Disease", _coding(model.DISEASE_SYSTEM, card.disease.id, card.disease.name_en)),
        *_item("subtype", "Subtype", _coding(model.DISEASE_SYSTEM, card.subtype.id, card.subtype.name_en)
               if card.subtype else None),
        *_item("classification", "Case classification", _coding(CLASSIFICATION_SYSTEM, card.classification)),
        *_item("onset", "Onset date", {"valueDate": card.onset.isoformat()}),
        *_item("diagnosed_at", "Diagnosis date and time", {"valueDateTime": format_instant(card.diagnosed_at)}),
        *_item("death_date", "Death date", {"valueDate": card.death_date.isoformat()} if card.death_date else None),
        *_item("remarks", "Remarks", _string(card.remarks)),
    ]
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "questionnaire": model.REPORT_CARD,
                                "status": "completed", "subject": {"reference": patient},
                                "authored": format_instant(now), "item": items}
    if author:
        response["author"] = {"reference": author}
    return response


# --- opening, submitting and discarding a report ------------------------------------------------------------------

class ReportRefused(Exception):
    """A report the caller may not open (404) or not change now (409); message is an English msgid."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Opened:
    """A case report opened by its doctor: the Composition, its patient, facts and the card's earlier answers."""

    composition: dict[str, Any]
    patient: dict[str, Any]
    case: model.CaseFacts
    answers: dict[str, str]
    response: str | None  # QuestionnaireResponse/<id> of the answers given before
    version: str


def _reporters(ctx: AccessContext) -> str:
    """The authors whose reports ctx may open: ctx's own Practitioner and organisation (comma: either)."""
    own = ctx.fhir_user if (ctx.fhir_user or "").startswith("Practitioner/") else None
    return ",".join(filter(None, (own, ctx.organization))) if "doctor" in ctx.roles else ""


def open_report(ctx: AccessContext, report_id: str) -> Opened:
    """A case report that ctx wrote or that their organisation made, read through the gateway (policy, audit).

    Raises ReportRefused (404) for anything else, the same answer whether or not the report exists.
    """
    authors = _reporters(ctx)
    if not authors or not _ID.fullmatch(report_id or ""):
        raise ReportRefused(NOT_FOUND, status=404)
    kind = document_type()
    found = gateway.search(ctx, "Composition", [("_id", report_id), ("type", f"{kind['system']}|{kind['code']}"),
                                                ("author", authors), ("_include", "Composition:subject:Patient")])
    composition = next((r for r in found if r.get("resourceType") == "Composition"), None)
    if composition is None:
        raise ReportRefused(NOT_FOUND, status=404)
    patient = next((r for r in found if r.get("resourceType") == "Patient"), {})
    response = next(iter(model.section_entries(composition, model.REPORT_CARD_SECTION)), None)
    try:
        answers = answers_of(gateway.read(ctx, response)) if response else {}
    except FhirError:  # the answers out of reach: the card is filled from the record again (the refusal is audited)
        answers = {}
    return Opened(composition, patient, model.facts(composition), answers, response,
                  str((composition.get("meta") or {}).get("versionId", "")))


def _submitted(opened: Opened, card: Card, *, ctx: AccessContext, now: datetime,
               cat: notifiable.Catalogue) -> dict[str, Any]:
    updated = copy.deepcopy(opened.composition)
    set_ext = model.set_extension
    updated["category"] = [reporting.disease_category(card.disease, card.subtype)]
    updated["title"] = f"Infectious disease report card: {(card.subtype or card.disease).name_en}"
    set_ext(updated, model.CLASSIFICATION, {"valueCode": card.classification})
    set_ext(updated, model.ONSET, {"valueDate": card.onset.isoformat()})
    set_ext(updated, model.DIAGNOSED_AT, {"valueDateTime": format_instant(card.diagnosed_at)})
    if opened.case.submitted_at is None:  # a corrected report keeps its first submission: that is when it came in
        set_ext(updated, model.SUBMITTED_AT, {"valueDateTime": format_instant(now)})
    set_ext(updated, model.DISTRICT, {"valueCoding": card.district} if card.district else None)
    drafted = opened.case.diagnosed_at
    if card.disease.id != opened.case.disease and drafted:  # another disease may have another limit
        within = cat.urgent_within if cat.is_urgent(card.disease) else cat.standard_within
        set_ext(updated, model.DEADLINE, {"valueDateTime": format_instant(drafted + within)})
    updated["date"] = format_instant(now)
    updated["attester"] = [{"mode": "professional", "time": format_instant(now), "party": {"reference": ctx.fhir_user}}]
    model.move(updated, "submit")
    return updated


def _checked_open(opened: Opened, version: str, *, states: frozenset[str] | set[str]) -> None:
    if opened.case.state not in states:
        raise ReportRefused(CLOSED, status=409)
    if version != opened.version:
        raise ReportRefused(CHANGED, status=409)


def _put(composition: dict[str, Any], version: str) -> dict[str, Any]:
    return {"resource": composition, "request": {"method": "PUT", "url": f"Composition/{composition['id']}",
                                                 "ifMatch": f'W/"{version}"'}}


def _serve(ctx: AccessContext, freq: FhirRequest) -> None:
    try:
        gateway.serve(ctx, freq)
    except PreconditionFailed as exc:
        raise ReportRefused(CHANGED, status=409) from exc
    except (Forbidden, NotFound) as exc:  # the policy refuses the write (audited): the same answer as a missing report
        raise ReportRefused(NOT_FOUND, status=404) from exc


def submit(ctx: AccessContext, report_id: str, *, form: Mapping[str, str], version: str,
           now: datetime | None = None) -> model.CaseFacts:
    """Submit the doctor's report card: answers kept as a QuestionnaireResponse, the report moved to submitted with
    If-Match, and CaseReported published once it is committed. ReportCardInvalid or ReportRefused write nothing."""
    now = now or clock.now()
    cat = reporting.catalogue()
    opened = open_report(ctx, report_id)
    card = parse_card(form, cat=cat, now=now)
    _checked_open(opened, version, states=model.OPEN_FOR_DOCTOR)
    response = response_resource(card, patient=str(opened.case.patient), author=ctx.fhir_user, now=now)
    if opened.response:
        response["id"] = opened.response.split("/", 1)[1]
        entry = {"resource": response, "request": {"method": "PUT", "url": opened.response}}
    else:
        entry = {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": response,
                 "request": {"method": "POST", "url": "QuestionnaireResponse"}}
    updated = _submitted(opened, card, ctx=ctx, now=now, cat=cat)
    model.replace_section_entry(updated, model.REPORT_CARD_SECTION, "Report card",
                                opened.response or entry["fullUrl"])
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry, _put(updated, opened.version)]}
    _serve(ctx, FhirRequest(method="POST", path="", body=bundle))
    case = model.facts(updated)
    events.publish(DomainEvent(CASE_REPORTED, {
        "composition": f"Composition/{case.id}", "patient": case.patient, "disease": case.disease,
        "subtype": case.subtype, "classification": case.classification, "district": case.district,
        "organization": case.organization, "practitioner": case.practitioner,
        "submitted_at": format_instant(now), "overdue": case.overdue, "corrected": updated["status"] == "amended"}))
    return case


def discard(ctx: AccessContext, report_id: str, *, reason: str, text: str, version: str,
            now: datetime | None = None) -> model.CaseFacts:
    """Discard a draft with the doctor's reason (with If-Match); ReportCardInvalid or ReportRefused write nothing."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    chosen = next((r for r in discard_reasons() if r["code"] == reason), None)
    if chosen is None:
        errors["reason"] = (CHOOSE, {})
    words = _text({"discard_text": text}, "discard_text", errors, required=reason == "other")
    if errors:
        raise ReportCardInvalid(errors)
    opened = open_report(ctx, report_id)
    _checked_open(opened, version, states={"draft"})
    updated = copy.deepcopy(opened.composition)
    coding = {"system": model.DISCARD_REASON_SYSTEM, "code": reason, "display": chosen["en"]}
    model.set_extension(updated, model.DISCARD_REASON,
                        {"valueCodeableConcept": {"coding": [coding], **({"text": words} if words else {})}})
    updated["date"] = format_instant(now or clock.now())
    model.move(updated, "discard")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [_put(updated, opened.version)]}
    _serve(ctx, FhirRequest(method="POST", path="", body=bundle))
    return model.facts(updated)


def _with_patients(ctx: AccessContext, query: list[tuple[str, str]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = gateway.search(ctx, "Composition", [*query, ("_include", "Composition:subject:Patient")])
    patients = {f"Patient/{r.get('id')}": r for r in found if r.get("resourceType") == "Patient"}
    return [(c, patients.get(str((c.get("subject") or {}).get("reference")), {}))
            for c in found if c.get("resourceType") == "Composition"]


def _own(ctx: AccessContext) -> list[tuple[str, str]]:
    kind = document_type()
    return [("type", f"{kind['system']}|{kind['code']}"), ("author", str(ctx.fhir_user)), ("_count", str(LISTED))]


def doctor_reports(ctx: AccessContext, *, now: datetime | None = None) -> tuple[list, list]:
    """The doctor's open reports (drafts and correction requests, soonest deadline first) and those submitted in the
    last RECENT_DAYS, each as (Composition, Patient)."""
    if not _reporters(ctx) or not (ctx.fhir_user or "").startswith("Practitioner/"):
        return [], []
    since = ((now or clock.now()) - timedelta(days=RECENT_DAYS)).date().isoformat()
    open_ = _with_patients(ctx, [*_own(ctx), ("status", "preliminary")])
    open_.sort(key=lambda pair: format_instant(model.facts(pair[0]).deadline or datetime.max.replace(tzinfo=UTC)))
    recent = _with_patients(ctx, [*_own(ctx), ("status", "final,amended"), ("date", f"ge{since}"), ("_sort", "-date")])
    return open_, recent


def open_count(ctx: AccessContext) -> int:
    """How many case reports wait for the doctor (drafts and correction requests)."""
    if not _reporters(ctx) or not (ctx.fhir_user or "").startswith("Practitioner/"):
        return 0
    query = [*_own(ctx), ("status", "preliminary"), ("_summary", "count")]
    return int((gateway.serve(ctx, FhirRequest(method="GET", path="Composition", query=query)).body or {})
               .get("total") or 0)
