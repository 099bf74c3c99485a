"""The case investigation: its questions as data (data/investigation.yaml, a FHIR Questionnaire), the checks of what
an officer typed with messages in their language, and the answers kept as a QuestionnaireResponse (questionnaire
case_model.INVESTIGATION) that the case report names in a section of its own.

A draft is saved as in-progress with whatever it holds (each answer still checked); completing it needs the
required answers, and a completed investigation changed later is amended. Contacts stay structured (name, relation,
phone, last contact) so the contact list can be followed up from them.
"""

import copy
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import review

DATA_FILE = Path(__file__).resolve().parent / "data" / "investigation.yaml"
ANSWERS = model.LOCAL + "CodeSystem/case-investigation-answer"
SECTION = "case-investigation"  # the Composition.section code (case_model.SECTION_SYSTEM) naming the response
TYPES = frozenset({"date", "string", "text", "decimal", "phone", "choice", "choices"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,19}")

TOO_LONG = _("At most %(max)s characters.")
BAD_DATE = _("Enter the date as YYYY-MM-DD.")
NO_SUCH_DATE = _("There is no such date.")
FUTURE_DATE = _("The date cannot be in the future.")
OUT_OF_RANGE = _("Enter a number from %(low)s to %(high)s.")
BAD_PHONE = _("Enter a phone number: digits, spaces, brackets, a dash or a leading +.")
CHOOSE = _("Choose one of the answers.")
CHOOSE_LISTED = _("Choose from the list only.")
REQUIRED = _("Answer this before completing the investigation.")
ROW_KEY = _("Fill this in, or clear the rest of the row.")
TO_BEFORE_FROM = _("The end cannot be before the start.")
TRIP_NEEDED = _("List at least one trip, or answer that there was none.")
NOT_REPORTED = _("Only a reported case can be investigated; this report is %(state)s.")


class InvestigationSpecInvalid(ValueError):
    """The investigation form's data file is inconsistent."""


class InvestigationInvalid(Exception):
    """The form has mistakes: field name -> (msgid, values); nothing was written."""

    status = 400

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]):
        super().__init__("; ".join(f"{name}: {message % values}" for name, (message, values) in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Item:
    """One question: its linkId, type, labels, bounds and answer options (code, en, zh)."""

    id: str
    type: str
    en: str
    zh: str
    required: bool = False
    max: int = 200
    options: tuple[tuple[str, str, str], ...] = ()
    low: float | None = None
    high: float | None = None
    decimals: int = 0
    unit: str = ""

    def label(self, lang: str) -> str:
        """The question in lang."""
        return self.zh if lang.startswith("zh") else self.en


@dataclass(frozen=True, slots=True)
class Rows:
    """A repeating part of a group (trips, contacts, specimens): rows shown empty at first, at most max, keyed by key."""

    id: str
    en: str
    zh: str
    shown: int
    max: int
    key: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """One section of the form: its questions, then its rows if it has any."""

    id: str
    en: str
    zh: str
    items: tuple[Item, ...]
    rows: Rows | None


@dataclass(frozen=True, slots=True)
class Spec:
    """The whole form as the data file gives it."""

    url: str
    version: str
    title_en: str
    title_zh: str
    source: str
    verification: str
    groups: tuple[Group, ...]


def _item(raw: dict[str, Any], limits: dict[str, int]) -> Item:
    if raw.get("type") not in TYPES:
        raise InvestigationSpecInvalid(f"item {raw.get('id')!r}: unknown type {raw.get('type')!r}")
    options = tuple((str(o["code"]), str(o["en"]), str(o["zh"])) for o in raw.get("options") or [])
    if raw["type"] in ("choice", "choices") and not options:
        raise InvestigationSpecInvalid(f"item {raw['id']!r}: a choice needs options")
    number = raw["type"] == "decimal"
    if number and not all(isinstance(raw.get(bound), int | float) for bound in ("min", "max")):
        raise InvestigationSpecInvalid(f"item {raw['id']!r}: a number needs min and max")
    # For a number, max is its upper bound; for text, its length limit.
    return Item(id=str(raw["id"]), type=raw["type"], en=str(raw["en"]), zh=str(raw["zh"]),
                required=bool(raw.get("required")), max=int(limits.get(raw["type"], 200) if number else
                                                            raw.get("max") or limits.get(raw["type"], 200)),
                options=options, low=raw.get("min") if number else None, high=raw.get("max") if number else None,
                decimals=int(raw.get("decimals") or 0), unit=str(raw.get("unit") or ""))


def parse_spec(raw: dict[str, Any]) -> Spec:
    """The form from its parsed YAML, checked: known types, options for choices, unique ids, row keys that exist."""
    limits = raw.get("limits") or {}
    groups = []
    for group in raw.get("groups") or []:
        rows = group.get("rows")
        row_spec = None
        if rows:
            items = tuple(_item(i, limits) for i in rows["items"])
            if rows["key"] not in {i.id for i in items}:
                raise InvestigationSpecInvalid(f"rows {rows['id']!r}: key {rows['key']!r} is not one of its items")
            row_spec = Rows(str(rows["id"]), str(rows["en"]), str(rows["zh"]), int(rows["shown"]), int(rows["max"]),
                            str(rows["key"]), items)
        groups.append(Group(str(group["id"]), str(group["en"]), str(group["zh"]),
                            tuple(_item(i, limits) for i in group.get("items") or []), row_spec))
    ids = [i.id for g in groups for i in g.items] + [g.rows.id for g in groups if g.rows] + [g.id for g in groups]
    if len(ids) != len(set(ids)):
        raise InvestigationSpecInvalid("group, item and row ids must be unique")
    return Spec(str(raw["url"]), str(raw["version"]), str(raw["title_en"]), str(raw["title_zh"]), str(raw["source"]),
                str(raw["verification"]), tuple(groups))


@cache
def spec() -> Spec:
    """The case investigation form in data/investigation.yaml, read once."""
    found = parse_spec(yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")))
    if found.url != model.INVESTIGATION:
        raise InvestigationSpecInvalid(f"the form's url must be {model.INVESTIGATION}")
    return found


def _questionnaire_item(item: Item) -> dict[str, Any]:
    kind = {"phone": "string", "choices": "choice"}.get(item.type, item.type)
    made: dict[str, Any] = {"linkId": item.id, "text": item.en, "type": kind}
    if item.required:
        made["required"] = True
    if item.type == "choices":
        made["repeats"] = True
    if item.type in ("string", "text", "phone"):
        made["maxLength"] = item.max
    if item.options:
        made["answerOption"] = [{"valueCoding": {"system": ANSWERS, "code": code, "display": en}}
                                for code, en, _zh in item.options]
    return made


def questionnaire() -> dict[str, Any]:
    """The form as a FHIR R4 Questionnaire (English texts; the Chinese ones are in the data file)."""
    form = spec()
    items = []
    for group in form.groups:
        inner = [_questionnaire_item(i) for i in group.items]
        if group.rows:
            inner.append({"linkId": group.rows.id, "text": group.rows.en, "type": "group", "repeats": True,
                          "item": [_questionnaire_item(i) for i in group.rows.items]})
        items.append({"linkId": group.id, "text": group.en, "type": "group", "item": inner})
    return {"resourceType": "Questionnaire", "url": form.url, "version": form.version, "name": "CaseInvestigation",
            "title": form.title_en, "status": "active", "subjectType": ["Patient"], "item": items}


def _date(value: str, today: date) -> tuple[str, dict[str, Any]] | None:
    if not _DATE.fullmatch(value):
        return BAD_DATE, {}
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return NO_SUCH_DATE, {}
    return (FUTURE_DATE, {}) if day > today else None


def _problem(item: Item, value: str, today: date) -> tuple[str, dict[str, Any]] | None:
    """What is wrong with one typed answer, or None."""
    if item.type in ("string", "text", "phone") and len(value) > item.max:
        return TOO_LONG, {"max": item.max}
    if item.type == "date":
        return _date(value, today)
    if item.type == "phone" and not _PHONE.fullmatch(value):
        return BAD_PHONE, {}
    if item.type == "choice" and value not in {code for code, _en, _zh in item.options}:
        return CHOOSE, {}
    if item.type == "decimal":
        try:
            number = float(value) if len(value) <= 8 else None
        except ValueError:
            number = None
        if number is None or number != number or not (item.low or 0) <= number <= (item.high or 0):
            return OUT_OF_RANGE, {"low": f"{item.low:g}", "high": f"{item.high:g}"}
    return None


def _answer(item: Item, name: str, fields: dict[str, str], errors: dict[str, tuple[str, dict[str, Any]]],
            today: date) -> str | list[str]:
    if item.type == "choices":
        ticked = [key.split(":", 1)[1] for key, value in fields.items() if key.startswith(name + ":") and value]
        if set(ticked) - {code for code, _en, _zh in item.options}:
            errors[name] = (CHOOSE_LISTED, {})
        return [code for code, _en, _zh in item.options if code in ticked]
    value = (fields.get(name) or "").strip()
    problem = _problem(item, value, today) if value else None
    if problem:
        errors[name] = problem
    return value


def _rows(rows: Rows, fields: dict[str, str], errors: dict[str, tuple[str, dict[str, Any]]],
          today: date) -> list[dict[str, Any]]:
    kept = []
    for n in range(1, rows.max + 1):
        names = {item.id: f"{rows.id}.{n}.{item.id}" for item in rows.items}
        row = {item.id: _answer(item, names[item.id], fields, errors, today) for item in rows.items}
        if not any(row.values()):
            continue
        if not row[rows.key] and names[rows.key] not in errors:
            errors[names[rows.key]] = (ROW_KEY, {})
        if row.get("from") and row.get("to") and row["to"] < row["from"] and names["to"] not in errors:
            errors[names["to"]] = (TO_BEFORE_FROM, {})
        kept.append(row)
    return kept


def read_form(fields: dict[str, str], *, today: date, complete: bool) -> dict[str, Any]:
    """The form's answers, checked: {"items": {id: answer}, "rows": {rows id: [row]}}; InvestigationInvalid lists
    every mistake by field. Completing needs every required answer; a draft does not."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    answers: dict[str, Any] = {"items": {}, "rows": {}}
    for group in spec().groups:
        for item in group.items:
            answers["items"][item.id] = _answer(item, item.id, fields, errors, today)
            if complete and item.required and not answers["items"][item.id] and item.id not in errors:
                errors[item.id] = (REQUIRED, {})
        if group.rows:
            answers["rows"][group.rows.id] = _rows(group.rows, fields, errors, today)
    if complete and answers["items"].get("travelled") == "yes" and not answers["rows"].get("trip"):
        errors.setdefault("trip.1.place", (TRIP_NEEDED, {}))
    if errors:
        raise InvestigationInvalid(errors)
    return answers


def _coding(item: Item, code: str) -> dict[str, Any]:
    display = next(en for c, en, _zh in item.options if c == code)
    return {"valueCoding": {"system": ANSWERS, "code": code, "display": display}}


def _values(item: Item, value: str | list[str]) -> list[dict[str, Any]]:
    if not value:
        return []
    if item.type == "choices":
        return [_coding(item, code) for code in value]
    if item.type == "choice":
        return [_coding(item, str(value))]
    if item.type == "date":
        return [{"valueDate": value}]
    if item.type == "decimal":
        return [{"valueDecimal": round(float(value), item.decimals) if item.decimals else float(round(float(value)))}]
    return [{"valueString": value}]


def _answered(item: Item, value: str | list[str]) -> list[dict[str, Any]]:
    values = _values(item, value)
    return [{"linkId": item.id, "text": item.en, "answer": values}] if values else []


def response_items(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The QuestionnaireResponse items of checked answers: one group per section, a repeated group per row."""
    items = []
    for group in spec().groups:
        inner = [part for item in group.items for part in _answered(item, answers["items"].get(item.id, ""))]
        for row in answers["rows"].get(group.rows.id, []) if group.rows else []:
            inner.append({"linkId": group.rows.id, "text": group.rows.en,
                          "item": [part for item in group.rows.items for part in _answered(item, row.get(item.id))]})
        if inner:
            items.append({"linkId": group.id, "text": group.en, "item": inner})
    return items


def answer_text(answer: dict[str, Any], *, display: bool = False) -> str:
    """One QuestionnaireResponse answer as text: a coding's code (its display when display is asked), else the value."""
    for key, value in answer.items():
        if key == "valueCoding" and isinstance(value, dict):
            return str((value.get("display") if display else None) or value.get("code") or "")
        if key.startswith("value"):
            return str(value)
    return ""


def form_fields(response: dict[str, Any]) -> dict[str, str]:
    """A saved QuestionnaireResponse back as the form's fields (to show the form filled in)."""
    fields: dict[str, str] = {}
    for group in response.get("item") or []:
        counts: dict[str, int] = {}
        for item in group.get("item") or [] if isinstance(group, dict) else []:
            link = str(item.get("linkId") or "")
            if "item" in item:
                counts[link] = counts.get(link, 0) + 1
                for part in item.get("item") or []:
                    texts = [answer_text(a) for a in part.get("answer") or []]
                    fields[f"{link}.{counts[link]}.{part.get('linkId')}"] = texts[0] if texts else ""
                continue
            for answer in item.get("answer") or []:
                text = answer_text(answer)
                if "valueCoding" in answer and _is_choices(link):
                    fields[f"{link}:{text}"] = "on"
                else:
                    fields[link] = text
    return fields


def _is_choices(link_id: str) -> bool:
    return any(i.id == link_id and i.type == "choices" for g in spec().groups for i in g.items)


def responses_of(conn: Connection, composition: dict[str, Any]) -> dict[str, store.Stored]:
    """The QuestionnaireResponses a case report names in its sections, by questionnaire (report card, investigation)."""
    found: dict[str, store.Stored] = {}
    for section in composition.get("section") or []:
        for entry in section.get("entry") or [] if isinstance(section, dict) else []:
            reference = (entry or {}).get("reference") if isinstance(entry, dict) else None
            if not isinstance(reference, str) or not reference.startswith("QuestionnaireResponse/"):
                continue
            try:
                stored = store.read(conn, SYSTEM, res_type="QuestionnaireResponse", res_id=reference.split("/", 1)[1])
            except FhirError:
                continue
            questionnaire = str((stored.resource or {}).get("questionnaire") or "")
            found.setdefault(questionnaire.split("|", 1)[0], stored)
    return found


def open_investigation(conn: Connection, *, ctx: AccessContext,
                       report_id: str) -> tuple[review.Loaded, store.Stored | None]:
    """A case report and its investigation so far (None before the first save); audited."""
    decide_dataset(ctx, review.CASE_REPORTS)
    report = review.find_report(conn, report_id)
    found = responses_of(conn, report.resource).get(model.INVESTIGATION)
    entities = [f"Composition/{report_id}", *([f"QuestionnaireResponse/{found.res_id}"] if found else [])]
    audit.record(conn, ctx=ctx, action="R", subtype="read", purpose=review.PURPOSE,
                 patient=review.patient_reference(report), entities=entities, description="case investigation")
    return report, found


def save(conn: Connection, *, ctx: AccessContext, report_id: str, answers: dict[str, Any], complete: bool,
         report_version: int, form_version: int | None) -> store.Stored:
    """Save the investigation of a reported case (a draft, or completed) on the versions the officer saw; audited.

    Raises CaseNotFound, ActRefused (the report is not a reported case), VersionConflict (someone saved first).
    """
    decide_dataset(ctx, review.CASE_REPORTS)
    report = review.find_report(conn, report_id)
    if report.facts.state not in model.COUNTED:
        raise review.ActRefused(NOT_REPORTED, state=report.facts.state)
    existing = responses_of(conn, report.resource).get(model.INVESTIGATION)
    seen = form_version if existing else report_version
    now = (existing.version if existing else report.version)
    if seen != now:
        raise review.VersionConflict(review.STALE, seen=seen, now=now)
    was = str((existing.resource or {}).get("status") or "") if existing else ""
    status = ("amended" if was in ("completed", "amended") else "completed") if complete else "in-progress"
    response = {"resourceType": "QuestionnaireResponse", "questionnaire": model.INVESTIGATION, "status": status,
                "authored": clock.format_instant(clock.now()), "author": {"display": ctx.name[:200]},
                "item": response_items(answers)}
    if report.facts.patient:
        response["subject"] = {"reference": report.facts.patient}
    response_id = existing.res_id if existing else store.new_id()
    writes = [store.Write("PUT", "QuestionnaireResponse", response_id, {**response, "id": response_id},
                          existing.version if existing else None)]
    if existing is None:
        composition = copy.deepcopy(report.resource)
        model.add_section_entry(composition, SECTION, "Case investigation", f"QuestionnaireResponse/{response_id}")
        writes.append(store.Write("PUT", "Composition", report_id, composition, report.version))
    try:
        saved = store.write_batch(conn, SYSTEM, writes)[0]
    except PreconditionFailed:
        raise review.VersionConflict(review.STALE, seen=seen, now="?") from None
    audit.record(conn, ctx=ctx, action="C" if existing is None else "U",
                 subtype="create" if existing is None else "update", purpose=review.PURPOSE,
                 patient=review.patient_reference(report),
                 entities=[f"QuestionnaireResponse/{saved.res_id}/_history/{saved.version}", f"Composition/{report_id}"],
                 description=f"case investigation saved ({status})")
    return saved
