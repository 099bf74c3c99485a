"""Draft case reports from what is recorded: a notifiable diagnosis or a positive result starts the doctor's report card.

Every few minutes a sweep reads the ICD-10 coded Conditions (not entered in error or refuted) and the final
laboratory Observations of the listed tests with a positive answer written in the last LOOK_BACK, so a late or
retried run misses nothing, and matches them against the notifiable list (settings.notifiable_list). Each new case
becomes one draft case report (case_model) for the diagnosing doctor: the Condition's recorder or asserter, or the
practitioner who ordered the test; its organisation is the encounter's service provider (a department stands for its
hospital), else the doctor's. The draft is pre-filled with the patient, disease and subtype, the classification a
result hints, when it was diagnosed, the onset, the deadline, the district of the patient's home and why it was
drafted, in English and Chinese.

The scheduled sweep reads from a little (OVERLAP) before the last completed sweep began, never further back than
LOOK_BACK, so a record it has decided to leave alone (already reported, history, no doctor) is read and audited a few
times rather than every run for a day; a failed run completes no job, so the next one starts from the same place.
Looking twice costs a query, never a second draft: a record a case report already names (a section entry) is not
read again, and Composition.identifier names the trigger, so a conditional create cannot make two. While a report of
the same patient and disease is open, a new diagnosis or result joins it (a result raises its classification hint);
while one was reported in the last REPEAT_WINDOW, nothing is drafted. The platform writes as itself, and each record
it reads or writes for a case is audited with purpose of use PUBHLTH.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import tables
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.fhir.search.values import normalize_string
from smartcare.knowledge import notifiable
from smartcare.platform import audit, clock, i18n
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, handler, periodic
from smartcare.platform.jobs.tables import DONE, job
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import districts
from smartcare.regional.public_health.case_reports import document_type, person_name
from smartcare.regional.public_health.release_figures import catalogue

log = logging.getLogger(__name__)

SWEEP_JOB = "public-health.case-report-drafts"
EVERY_MINUTES = 5
LOOK_BACK = timedelta(hours=24)
OVERLAP = timedelta(minutes=15)  # for records whose transaction began before a sweep and committed after it
REPEAT_WINDOW = timedelta(days=30)
MOST_PER_RUN = 2000
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
TRIGGER_SYSTEM = model.LOCAL + "sid/case-report-trigger"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
FINAL_RESULTS = ("final", "amended", "corrected")
NOT_A_DIAGNOSIS = ("entered-in-error", "refuted")
# How far each case classification goes; a result raises a draft's hint, never lowers it.
CLASSIFICATION_RANK = {"suspected": 1, "positive-screen": 2, "clinical": 2, "carrier": 2, "confirmed": 3}
# The region's districts (GB/T 2260 codes and names): the demo region's description is the region's.
LINK = "/workstation/case-reports/{id}"
CLASS_NAMES = {"A": _("Class A"), "B": _("Class B"), "C": _("Class C")}

# The notice names the patient: by SMS only the title and the link go (private_body).
CASE_REPORT = notification_kind("public-health.case-report", label=_("Notifiable disease case reports"),
                                default_channels=("sms",), private_body=True)


class DraftingFailed(Exception):
    """Some triggers of a sweep could not be drafted (the others were); the job is retried."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """A recorded diagnosis or result that makes a case notifiable, with what the report needs from it."""

    reference: str  # Condition/<id> or Observation/<id>
    resource: dict[str, Any]
    patient: str  # Patient/<id>
    match: notifiable.Match
    at: datetime  # when it was diagnosed (Condition.recordedDate) or found (Observation.issued)
    onset: date | None

    @property
    def is_result(self) -> bool:
        """True for a laboratory result, False for a diagnosis."""
        return self.reference.startswith("Observation/")


def region_zone() -> ZoneInfo:
    """The region's time zone, in which dates (onset, diagnosis day) are read."""
    return ZoneInfo(get_settings().region_timezone)


def parse_moment(text: Any) -> datetime | None:
    """A FHIR dateTime with a time and zone as an aware datetime; None for a bare date or anything else."""
    if not isinstance(text, str) or len(text) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=region_zone())


def local_day(text: Any) -> date | None:
    """The region's calendar day of a FHIR date or dateTime (None when unreadable)."""
    moment = parse_moment(text)
    if moment is not None:
        return moment.astimezone(region_zone()).date()
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


def _reference(value: Any) -> str | None:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) and reference.count("/") == 1 else None


def _codes(concept: Any, system: str) -> list[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [str(c["code"]) for c in codings or [] if isinstance(c, dict) and c.get("system") == system and c.get("code")]


def _written(resource: dict[str, Any]) -> datetime:
    return parse_moment((resource.get("meta") or {}).get("lastUpdated")) or clock.now()


def _diagnosis(resource: dict[str, Any], cat: notifiable.Catalogue) -> tuple[Any, datetime, date | None] | None:
    verification = set(_codes(resource.get("verificationStatus"),
                              "http://terminology.hl7.org/CodeSystem/condition-ver-status"))
    if verification & set(NOT_A_DIAGNOSIS):
        return None
    match = next(filter(None, map(cat.match_diagnosis, _codes(resource.get("code"), ICD10))), None)
    if match is None:
        return None
    # A recorded date without a time says the day only: the moment the record was written stands for it.
    at = parse_moment(resource.get("recordedDate")) or _written(resource)
    onset = local_day(resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start"))
    return match, at, onset


def _result(resource: dict[str, Any], cat: notifiable.Catalogue) -> tuple[notifiable.Match, datetime, None] | None:
    if resource.get("status") not in FINAL_RESULTS:
        return None
    concept = resource.get("valueCodeableConcept") or {}
    answers = {str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")}
    text = str(resource.get("valueString") or concept.get("text") or "")
    for loinc in _codes(resource.get("code"), LOINC):
        match = cat.match_result(loinc, answer_codes=answers, answer_text=text)
        if match is not None:
            at = parse_moment(resource.get("issued")) or parse_moment(resource.get("effectiveDateTime"))
            return match, at or _written(resource), None
    return None


def trigger_of(resource: dict[str, Any], cat: notifiable.Catalogue) -> Trigger | None:
    """The notifiable trigger a Condition or laboratory Observation is, or None (not notifiable, negative, refuted)."""
    patient = _reference(resource.get("subject"))
    if not patient or not patient.startswith("Patient/"):
        return None
    kind = resource.get("resourceType")
    found = _diagnosis(resource, cat) if kind == "Condition" else _result(resource, cat) if kind == "Observation" \
        else None
    if found is None:
        return None
    match, at, onset = found
    return Trigger(f"{kind}/{resource.get('id')}", resource, patient, match, at, onset)


def _not_reported(res_type: str, resource: sa.Table) -> sa.ColumnElement[bool]:
    """The resource is no case report's section entry yet (other Compositions, such as the encounter note that
    lists the diagnosis, do not count)."""
    ref, kind = tables.idx_reference, tables.idx_token.alias()
    wanted = document_type()
    case_report = sa.exists().where(kind.c.res_pk == ref.c.res_pk, kind.c.res_type == "Composition",
                                    kind.c.param == "type", kind.c.system == wanted["system"],
                                    kind.c.code == wanted["code"])
    return ~sa.exists().where(ref.c.res_type == "Composition", ref.c.param == "entry", ref.c.target_type == res_type,
                              ref.c.target_id == resource.c.res_id, case_report)


def _holds(res_type: str, param: str, codes: tuple[str, ...] | list[str], pk: sa.ColumnElement) -> sa.Exists:
    token = tables.idx_token.alias()
    return sa.exists().where(token.c.res_pk == pk, token.c.res_type == res_type, token.c.param == param,
                             token.c.code.in_(codes))


def _not_dated_before(res_type: str, param: str, moment: datetime, pk: sa.ColumnElement) -> sa.ColumnElement[bool]:
    dated = tables.idx_date.alias()
    return ~sa.exists().where(dated.c.res_pk == pk, dated.c.res_type == res_type, dated.c.param == param,
                              dated.c.high < moment.timestamp())


def candidates(conn: Connection, *, since: datetime, cat: notifiable.Catalogue,
               limit: int = MOST_PER_RUN) -> list[Trigger]:
    """The notifiable diagnoses and positive results written since a moment that no case report names yet.

    A diagnosis recorded, or a specimen taken, long before (an old record edited or loaded late) is history, not a new
    case, and is not read at all.
    """
    resource, token, text = tables.resource, tables.idx_token, tables.idx_string
    stamp = format_instant(since)
    recent = [resource.c.last_updated >= stamp, resource.c.deleted.is_(False)]
    diagnoses = sa.select(resource.c.pk, token.c.code).join(token, token.c.res_pk == resource.c.pk).where(
        resource.c.res_type == "Condition", *recent, token.c.res_type == "Condition", token.c.param == "code",
        token.c.system == ICD10, ~_holds("Condition", "verification-status", NOT_A_DIAGNOSIS, resource.c.pk),
        _not_dated_before("Condition", "recorded-date", since - REPEAT_WINDOW, resource.c.pk),
        _not_reported("Condition", resource))
    known: dict[str, bool] = {}  # a region's diagnoses repeat a few thousand codes: each is matched once

    def listed(code: str) -> bool:
        if code not in known:
            known[code] = cat.match_diagnosis(code) is not None
        return known[code]

    pks = {pk for pk, code in conn.execute(diagnoses) if listed(code)}
    positive_texts = sorted({normalize_string(t) for t in cat.positive_texts})
    said_positive = sa.or_(
        _holds("Observation", "value-concept", sorted(cat.positive_codes), resource.c.pk),
        sa.exists().where(text.c.res_pk == resource.c.pk, text.c.res_type == "Observation",
                          text.c.param == "value-string", text.c.value.in_(positive_texts)))
    results = sa.select(resource.c.pk).join(token, token.c.res_pk == resource.c.pk).where(
        resource.c.res_type == "Observation", *recent, token.c.res_type == "Observation", token.c.param == "code",
        token.c.system == LOINC, token.c.code.in_(sorted(cat.labs)),
        _holds("Observation", "status", FINAL_RESULTS, resource.c.pk), said_positive,
        _not_dated_before("Observation", "date", since - 2 * REPEAT_WINDOW, resource.c.pk),
        _not_reported("Observation", resource))
    pks |= set(conn.execute(results).scalars())
    rows = conn.execute(sa.select(resource.c.content).where(resource.c.pk.in_(sorted(pks)))
                        .order_by(resource.c.last_updated, resource.c.pk).limit(limit)).scalars()
    return [t for t in (trigger_of(content, cat) for content in rows) if t is not None]


# --- who diagnosed it, and where ------------------------------------------------------------------------------

def _read(conn: Connection, reference: str | None) -> dict[str, Any] | None:
    if not reference or reference.count("/") != 1:
        return None
    try:
        return dispatch(conn, SYSTEM, FhirRequest(method="GET", path=reference)).body
    except FhirError:
        return None


def _search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if (e.get("resource") or {}).get("resourceType") == res_type]


def _is_department(organization: dict[str, Any]) -> bool:
    return any("dept" in _codes(t, "http://terminology.hl7.org/CodeSystem/organization-type")
               for t in organization.get("type") or [])


def hospital_of(conn: Connection, organization: str | None) -> str | None:
    """The institution an organisation stands for: a department's hospital (partOf), else the organisation itself."""
    current = organization
    for _depth in range(3):
        found = _read(conn, current)
        parent = _reference((found or {}).get("partOf"))
        if not found or not parent or not _is_department(found):
            break
        current = parent
    return current


def _practitioner_organization(conn: Connection, practitioner: str) -> str | None:
    roles = _search(conn, "PractitionerRole", [("practitioner", practitioner), ("active", "true"), ("_count", "5")])
    found = next(filter(None, (_reference(r.get("organization")) for r in roles)), None)
    if found:
        return found
    return next((u.organization for u in users.linked_to(conn, fhir_ref=practitioner) if u.organization), None)


def attribution(conn: Connection, trigger: Trigger) -> tuple[str | None, str | None]:
    """(Practitioner, Organization) references of who diagnosed the case and where; either may be unknown."""
    resource = trigger.resource
    if trigger.is_result:
        request = _read(conn, next(filter(None, map(_reference, resource.get("basedOn") or [])), None)) or {}
        who = _reference(request.get("requester"))
        encounter = _reference(resource.get("encounter")) or _reference(request.get("encounter"))
    else:
        who = _reference(resource.get("recorder")) or _reference(resource.get("asserter"))
        encounter = _reference(resource.get("encounter"))
    practitioner = who if who and who.startswith("Practitioner/") else None
    organization = _reference(((_read(conn, encounter) or {}) if encounter else {}).get("serviceProvider"))
    if who and who.startswith("PractitionerRole/"):
        role = _read(conn, who) or {}
        practitioner = _reference(role.get("practitioner"))
        organization = organization or _reference(role.get("organization"))
    if not organization and practitioner:
        organization = _practitioner_organization(conn, practitioner)
    if not organization and trigger.is_result:
        organization = next((r for r in map(_reference, resource.get("performer") or [])
                             if r and r.startswith("Organization/")), None)
    return practitioner, hospital_of(conn, organization)


def district_of(patient: dict[str, Any]) -> dict[str, Any] | None:
    """The district of the patient's current (home) address as a Coding: the region's code when it is one of the
    region's districts (districts.of_person), else the name the address gives, else None."""
    found = districts.of_person(patient)
    if found is not None:
        return {"system": model.DISTRICT_SYSTEM, "code": found.code, "display": found.name_en}
    named = next((n for n in map(districts.named_district, districts.current_addresses(patient)) if n), "")
    return {"display": named[:100]} if named else None


# --- the draft ------------------------------------------------------------------------------------------------

def disease_category(disease: notifiable.Disease, subtype: notifiable.Subtype | None) -> dict[str, Any]:
    """Composition.category naming the notifiable disease, then its subtype."""
    codings = [{"system": model.DISEASE_SYSTEM, "code": disease.id, "display": disease.name_en}]
    if subtype is not None:
        codings.append({"system": model.DISEASE_SYSTEM, "code": subtype.id, "display": subtype.name_en})
    return {"coding": codings, "text": (subtype or disease).name_zh}


def reason_extension(match: notifiable.Match) -> dict[str, Any]:
    """Why the case was drafted, in English with its Chinese translation (FHIR translation extension)."""
    return {"valueString": match.reason_en, "_valueString": {"extension": [{"url": TRANSLATION, "extension": [
        {"url": "lang", "valueCode": "zh-Hans"}, {"url": "content", "valueString": match.reason_zh}]}]}}


def reason_text(composition: dict[str, Any], locale: str) -> str:
    """The report's reason for drafting in the reader's language (English when no translation is kept)."""
    found = model.extension(composition, model.REASON) or {}
    if locale.startswith("zh"):
        for translation in (found.get("_valueString") or {}).get("extension") or []:
            parts = {e.get("url"): e for e in translation.get("extension") or [] if isinstance(e, dict)}
            if str((parts.get("lang") or {}).get("valueCode", "")).startswith("zh"):
                return str((parts.get("content") or {}).get("valueString") or "")
    return str(found.get("valueString") or "")


def build_draft(trigger: Trigger, *, cat: notifiable.Catalogue, practitioner: str | None, organization: str | None,
                district: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The draft case-report Composition of one trigger, pre-filled for its doctor."""
    match = trigger.match
    composition: dict[str, Any] = {
        "resourceType": "Composition", "status": "preliminary", "type": {"coding": [document_type()]},
        "identifier": {"system": TRIGGER_SYSTEM, "value": trigger.reference},
        "category": [disease_category(match.disease, match.subtype)], "subject": {"reference": trigger.patient},
        "date": format_instant(now), "author": [{"reference": r} for r in (practitioner, organization) if r],
        "title": f"Infectious disease report card: {(match.subtype or match.disease).name_en}",
    }
    if organization:
        composition["meta"] = {"source": organization}
    set_ext = model.set_extension
    set_ext(composition, model.STATE, {"valueCode": "draft"})
    set_ext(composition, model.DIAGNOSED_AT, {"valueDateTime": format_instant(trigger.at)})
    set_ext(composition, model.DEADLINE, {"valueDateTime": format_instant(cat.deadline(match, trigger.at))})
    set_ext(composition, model.TRIGGER, {"valueReference": {"reference": trigger.reference}})
    set_ext(composition, model.REASON, reason_extension(match))
    if match.classification:
        set_ext(composition, model.CLASSIFICATION, {"valueCode": match.classification})
    if trigger.onset:
        set_ext(composition, model.ONSET, {"valueDate": trigger.onset.isoformat()})
    if district:
        set_ext(composition, model.DISTRICT, {"valueCoding": district})
    join(composition, trigger)
    return composition


def join(composition: dict[str, Any], trigger: Trigger) -> bool:
    """Add a trigger to a report's diagnosis or laboratory section; a result raises a draft's classification hint.

    Returns False when the report held it already.
    """
    if trigger.is_result:
        added = model.add_section_entry(composition, model.LABORATORY_SECTION, "Laboratory results", trigger.reference)
        hinted = trigger.match.classification
        current = (model.extension(composition, model.CLASSIFICATION) or {}).get("valueCode")
        if added and hinted and model.state_of(composition) == "draft" and \
                CLASSIFICATION_RANK.get(hinted, 0) > CLASSIFICATION_RANK.get(current, 0):
            model.set_extension(composition, model.CLASSIFICATION, {"valueCode": hinted})
        return added
    added = model.add_section_entry(composition, model.DIAGNOSIS_SECTION, "Diagnosis", trigger.reference)
    if added and trigger.onset and model.extension(composition, model.ONSET) is None:
        model.set_extension(composition, model.ONSET, {"valueDate": trigger.onset.isoformat()})
    return added


def decide(trigger: Trigger, reports: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """What a trigger does given the patient's reports of its disease: ("join", open report), ("skip", a recent
    report) or ("create", None)."""
    open_ = [r for r in reports if model.state_of(r) in model.OPEN_FOR_DOCTOR]
    if open_:
        return "join", open_[0]
    since = trigger.at - REPEAT_WINDOW
    for report in reports:
        case = model.facts(report)
        reported = case.submitted_at or case.diagnosed_at
        if model.counts(case) and reported is not None and reported >= since:
            return "skip", report
    return "create", None


def _reports_of(conn: Connection, trigger: Trigger) -> list[dict[str, Any]]:
    kind = document_type()
    return _search(conn, "Composition", [
        ("type", f"{kind['system']}|{kind['code']}"), ("subject", trigger.patient),
        ("category", f"{model.DISEASE_SYSTEM}|{trigger.match.disease.id}"), ("_sort", "-date"), ("_count", "50")])


def _write(conn: Connection, composition: dict[str, Any], *, trigger: str) -> dict[str, Any]:
    if composition.get("id"):
        version = (composition.get("meta") or {}).get("versionId")
        freq = FhirRequest(method="PUT", path=f"Composition/{composition['id']}", body=composition,
                           headers={"if-match": f'W/"{version}"'})
    else:
        freq = FhirRequest(method="POST", path="Composition", body=composition,
                           headers={"if-none-exist": f"identifier={TRIGGER_SYSTEM}|{trigger}"})
    return dispatch(conn, SYSTEM, freq).body or {}


def draft_case(conn: Connection, trigger: Trigger, *, cat: notifiable.Catalogue, now: datetime) -> str:
    """Draft, join or skip one trigger in the caller's transaction (audited, the doctor told); what was done."""
    audit.record(conn, ctx=SYSTEM, action="R", subtype="read", purpose="PUBHLTH", patient=trigger.patient,
                 entities=[trigger.reference], description="notifiable disease reporting: a diagnosis or result read")
    if trigger.at < now - REPEAT_WINDOW:
        return "history"
    action, report = decide(trigger, _reports_of(conn, trigger))
    if action == "skip":
        return "reported"
    if action == "join" and report is not None:
        if not join(report, trigger):
            return "already"
        saved = _write(conn, report, trigger=trigger.reference)
        audit.record(conn, ctx=SYSTEM, action="U", subtype="update", purpose="PUBHLTH", patient=trigger.patient,
                     entities=[f"Composition/{saved.get('id')}", trigger.reference],
                     description="notifiable disease reporting: a draft case report given a new diagnosis or result")
        return "joined"
    patient = _read(conn, trigger.patient) or {}
    practitioner, organization = attribution(conn, trigger)
    if not practitioner and not organization:
        log.warning("%s is notifiable but names no doctor or institution to report it", trigger.reference)
        return "unattributed"
    draft = build_draft(trigger, cat=cat, practitioner=practitioner, organization=organization,
                        district=district_of(patient), now=now)
    saved = _write(conn, draft, trigger=trigger.reference)
    audit.record(conn, ctx=SYSTEM, action="C", subtype="create", purpose="PUBHLTH", patient=trigger.patient,
                 entities=[f"Composition/{saved.get('id')}", trigger.reference],
                 description="notifiable disease reporting: a draft case report made for the diagnosing doctor")
    tell_doctor(conn, saved, patient=patient, match=trigger.match)
    return "drafted"


def tell_doctor(conn: Connection, composition: dict[str, Any], *, patient: dict[str, Any],
                match: notifiable.Match) -> int:
    """Notify the report's doctor (each of their accounts, in its language) that a case report waits; how many."""
    doctor = model.facts(composition).practitioner
    told = 0
    for account in users.linked_to(conn, fhir_ref=doctor) if doctor else []:
        t = i18n.translations(account.locale)
        zh = account.locale.startswith("zh")
        body = t.gettext(_("%(patient)s: %(disease)s, %(class)s. Report it by %(deadline)s.")) % {
            "patient": person_name(patient) or composition["subject"]["reference"],
            "disease": (match.subtype or match.disease).name_zh if zh else (match.subtype or match.disease).name_en,
            "class": t.gettext(CLASS_NAMES[match.disease.disease_class]),
            "deadline": clock.wall_clock((model.extension(composition, model.DEADLINE) or {}).get("valueDateTime"))}
        notify(conn, user_id=account.id, kind=CASE_REPORT.name, link=LINK.format(id=composition["id"]),
               title=t.gettext(_("Notifiable disease: a case report to complete")),
               body=f"{body}\n{match.reason_zh if zh else match.reason_en}",
               data={"composition": f"Composition/{composition['id']}"})
        told += 1
    return told


def watermark(conn: Connection, *, now: datetime) -> datetime:
    """Where the scheduled sweep starts reading: OVERLAP before the last completed sweep's period began, or LOOK_BACK
    ago when that is later or no completed sweep is on record."""
    last = conn.execute(sa.select(sa.func.max(job.c.run_at)).where(job.c.kind == SWEEP_JOB, job.c.state == DONE)).scalar()
    floor = now - LOOK_BACK
    return max(floor, clock.parse_instant(last) - OVERLAP) if last else floor


def sweep(*, now: datetime | None = None, engine: Engine | None = None, since: datetime | None = None) -> dict[str, int]:
    """Draft a case report for every new notifiable trigger written since a moment (default: LOOK_BACK ago); counts
    of what was done.

    Each trigger is drafted in a transaction of its own, so one that fails does not hold back the others; the failures
    are raised together at the end (DraftingFailed) and the next run tries them again.
    """
    now = now or clock.now()
    cat = catalogue()
    with unit_of_work(engine) as conn:
        found = candidates(conn, since=max(since, now - LOOK_BACK) if since else now - LOOK_BACK, cat=cat)
    counts: dict[str, int] = defaultdict(int)
    failed: list[str] = []
    for trigger in found:
        try:
            with unit_of_work(engine) as conn:
                counts[draft_case(conn, trigger, cat=cat, now=now)] += 1
        except Exception:
            log.exception("could not draft a case report for %s", trigger.reference)
            failed.append(trigger.reference)
    if failed:
        raise DraftingFailed(f"{len(failed)} notifiable records not drafted: {', '.join(failed[:20])}")
    return dict(counts)


# Outside the job's transaction: each trigger is drafted in a transaction of its own.
@handler(SWEEP_JOB, in_transaction=False)
def sweep_job(engine: Engine, job: Job) -> None:
    """Draft the case reports of the notifiable diagnoses and results written since the last sweep."""
    now = clock.now()
    with unit_of_work(engine) as conn:
        since = watermark(conn, now=now)
    sweep(engine=engine, now=now, since=since)


periodic(SWEEP_JOB, kind=SWEEP_JOB, every_minutes=EVERY_MINUTES)
