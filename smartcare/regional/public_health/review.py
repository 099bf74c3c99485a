"""The public-health officers' review of case reports: the list with filters, one report with its history and its
possible duplicates, and the acts on it (verify, request a correction, mark a duplicate, close).

The policy decides first (decide_dataset "case-reports": officers only); the platform then reads and writes the
store as itself, and every report listed, opened or changed is audited under the officer's name with purpose
PUBHLTH and the case's patient, so the person can see that public health opened their report. Each act names the
version the officer saw (If-Match): a report changed since is refused as a conflict, so two officers never
overwrite each other. The officer of each act is kept on the version the act made (REVIEW_ACT), so the report's
version history tells who moved it, and when.

Two reports are possible duplicates when both count, are of the same disease, were diagnosed within
DUPLICATE_WINDOW of each other and name the same person: the same Patient record, records the master patient
index links as one resident (its FHIR Person), or, failing a link, the same resident identity number.
"""

import copy
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import PreconditionFailed
from smartcare.fhir.history import history
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock, i18n
from smartcare.platform.i18n import _
from smartcare.platform.notifications.preferences import notification_kind
from smartcare.platform.notifications.service import notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.platform.settings import get_settings
from smartcare.regional.mpi.national_id import clean
from smartcare.regional.mpi.patients import national_id_of
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health.case_reports import document_type, person_name
from smartcare.regional.public_health.release_figures import catalogue

CASE_REPORTS = "case-reports"
PURPOSE = "PUBHLTH"
OFFICER_ACTS = ("verify", "request-correction", "mark-duplicate", "close")
OUTCOMES = ("recovered", "under-treatment", "died", "lost-to-follow-up", "moved-away", model.NOT_A_CASE)
OUTCOME = model.OUTCOME
REVIEW_ACT = model.EXTENSION + "review-act"  # the officer act that made this version: act, by, note
DUPLICATE = model.EXTENSION + "duplicate"  # on the kept report, one per report marked as its duplicate
MAX_TEXT = 1000
DUPLICATE_WINDOW = timedelta(days=30)
PAGE_SIZE = 25
DEFAULT_DAYS = 90
SEARCH_PAGE = 500
MAX_REPORTS = 20_000
MAX_VERSIONS = 200
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ORGANIZATION = re.compile(r"Organization/[A-Za-z0-9\-.]{1,64}")
MAX_SPAN = timedelta(days=366)
_MAX_REFERENCES = 900  # characters of comma-joined references in one search value (the store allows 1024)

SAME_RECORD, MPI_LINK, SAME_ID = "same-record", "mpi-link", "same-id-number"

CORRECTION_KIND = notification_kind("public-health.correction", label=_("Corrections asked of your case reports"),
                                    private_body=True)
NO_SUCH_REPORT = _("There is no case report %(id)s.")
STALE = _("Someone else changed this report while you had it open (you saw version %(seen)s, it is now version "
          "%(now)s). Read it again, then decide.")
MOVE_REFUSED = _("This act is not open to a report that is %(state)s.")
UNKNOWN_ACT = _("Choose one of the acts offered.")
CORRECTION_NEEDED = _("Write what the reporting doctor should correct.")
TOO_LONG = _("At most %(max)s characters.")
OUTCOME_NEEDED = _("Choose the outcome of the case.")
KEPT_NEEDED = _("Choose the report this one duplicates.")
KEPT_ITSELF = _("A report cannot duplicate itself.")
KEPT_OTHER_DISEASE = _("Both reports must be of the same disease.")
KEPT_NOT_COUNTED = _("The report to keep must be one that counts, not one that is %(state)s.")
BAD_FILTER = _("Write the dates as YYYY-MM-DD, the end not before the start and at most a year apart, and choose "
               "the state, disease and organisation from the lists.")
TOO_MANY = _("Too many case reports fall in this period to list at once: choose a shorter period or a disease.")


class ReviewRefused(Exception):
    """A request the review cannot carry out: message is a catalog msgid, values fill it in; nothing was changed."""

    status = 400

    def __init__(self, message: str, **values: Any):
        super().__init__(message % values if values else message)
        self.message, self.values = message, values


class CaseNotFound(ReviewRefused):
    """No case report has that id."""

    status = 404


class ActRefused(ReviewRefused):
    """The report's state (or the report to keep) does not allow the act."""

    status = 409


class VersionConflict(ReviewRefused):
    """The report changed after the officer read it (a stale If-Match)."""

    status = 409


@dataclass(frozen=True, slots=True)
class Loaded:
    """One case report as read from the store, with the resources it names."""

    resource: dict[str, Any]
    version: int
    facts: model.CaseFacts
    patient: dict[str, Any]
    organization: dict[str, Any]
    practitioner: dict[str, Any]

    @property
    def day(self) -> date | None:
        """The region's calendar day of the diagnosis (else of the report)."""
        if self.facts.diagnosed_at is not None:
            return self.facts.diagnosed_at.astimezone(_zone()).date()
        return _day_or_none(str(self.resource.get("date") or "")[:10])

    @property
    def overdue(self) -> bool:
        """Submitted after its deadline, or still a draft past it."""
        deadline = self.facts.deadline
        return self.facts.overdue or bool(self.facts.state == "draft" and deadline and deadline < clock.now())


@dataclass(frozen=True, slots=True)
class PossibleDuplicate:
    """Another counted report of the same disease that names the same person, and why it is thought to."""

    report: Loaded
    reason: str  # SAME_RECORD, MPI_LINK or SAME_ID


@dataclass(frozen=True, slots=True)
class ReviewQuery:
    """The list's filters (already checked) and the page asked for."""

    start: date
    end: date
    state: str | None = None
    disease: str | None = None
    district: str | None = None
    organization: str | None = None  # Organization/id
    overdue: bool = False
    duplicates: bool = False
    page: int = 1


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of the list: each report with its possible duplicates, and the paging."""

    rows: list[tuple[Loaded, list[PossibleDuplicate]]]
    total: int
    page: int
    pages: int
    organizations: dict[str, str] = field(default_factory=dict)  # Organization/id -> name, for the filter


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of state in a report's version history."""

    version: int
    when: str
    state: str
    act: str  # the act that made it, or "created"
    by: str  # the officer's user name, the reporting doctor's name, or "" for the platform
    note: str


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().region_timezone)


def disease_name(code: str | None, lang: str, subtype: str | None = None) -> str:
    """A disease's (or its subtype's) name in lang, from the list; the code itself when the list does not know it."""
    disease = catalogue().disease(code or "")
    if disease is None:
        return code or ""
    found = next((s for s in disease.subtypes if s.id == subtype), None)
    if found is not None:
        return found.name_zh if lang.startswith("zh") else found.name_en
    return disease.name(lang)


def _reference(value: Any) -> str:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else ""


def _search(conn: Connection, params: list[tuple[str, str]], offset: int) -> Any:
    request = QueryCompiler(strict=True).parse("Composition", params, default_count=SEARCH_PAGE,
                                               max_count=SEARCH_PAGE)
    request.offset, request.total = offset, "none"
    return run_search(conn, SYSTEM, request)


def load_reports(conn: Connection, *, disease: str | None = None, since: date | None = None,
                 ids: list[str] | None = None) -> list[Loaded]:
    """Case reports (of a disease, written since a day, or with these ids) with their patient, organisation and doctor.

    A report is written after its diagnosis, so Composition.date bounds the search in the store. Raises
    ReviewRefused when more than MAX_REPORTS match.
    """
    wanted = document_type()
    params = [("type", f"{wanted['system']}|{wanted['code']}"), ("_include", "Composition:subject:Patient"),
              ("_include", "Composition:author:Organization"), ("_include", "Composition:author:Practitioner")]
    if disease:
        params.append(("category", f"{model.DISEASE_SYSTEM}|{disease}"))
    if since:
        params.append(("date", f"ge{since.isoformat()}"))
    if ids:
        params.append(("_id", ",".join(ids)))
    found: list[Loaded] = []
    while True:
        result = _search(conn, params, len(found))
        included = {f"{s.res_type}/{s.res_id}": s.resource or {} for s in result.included}
        for stored in result.matches:
            facts = model.facts(stored.resource)
            found.append(Loaded(stored.resource, stored.version, facts, included.get(facts.patient or "", {}),
                                included.get(facts.organization or "", {}), included.get(facts.practitioner or "", {})))
        if not result.has_next:
            return found
        if len(found) >= MAX_REPORTS:
            raise ReviewRefused(TOO_MANY)


def _person_of(conn: Connection, patients: set[str]) -> dict[str, str]:
    """Each Patient reference the master patient index links to other records, mapped to its resident (Person id)."""
    linked: dict[str, str] = {}
    pending = sorted(patients)
    while pending:
        chunk: list[str] = []
        while pending and sum(len(p) + 1 for p in chunk) + len(pending[0]) < _MAX_REFERENCES:
            chunk.append(pending.pop(0))
        request = QueryCompiler(strict=True).parse("Person", [("patient", ",".join(chunk))],
                                                   default_count=SEARCH_PAGE, max_count=SEARCH_PAGE)
        request.total = "none"
        for stored in run_search(conn, SYSTEM, request).matches:
            if (stored.resource or {}).get("active") is False:
                continue  # an identity merged into another: the other one's Person names its records
            for link in (stored.resource or {}).get("link") or []:
                target = _reference(link.get("target") if isinstance(link, dict) else None)
                if target in patients:
                    linked[target] = stored.res_id
    return linked


def _id_number(patient: dict[str, Any]) -> str:
    number = national_id_of(patient)
    return clean(number) if number else ""


def possible_duplicates(conn: Connection, reports: list[Loaded]) -> dict[str, list[PossibleDuplicate]]:
    """For every counted report among reports, the others that are possibly the same case (see the module's text)."""
    counted = [r for r in reports if model.counts(r.facts) and r.facts.disease and r.facts.patient]
    by_disease: dict[str, list[Loaded]] = {}
    for report in counted:
        by_disease.setdefault(report.facts.disease or "", []).append(report)
    candidates = [r for group in by_disease.values() if len(group) > 1 for r in group]
    person = _person_of(conn, {r.facts.patient or "" for r in candidates})
    found: dict[str, list[PossibleDuplicate]] = {}
    for group in by_disease.values():
        buckets: dict[tuple[str, str], list[Loaded]] = {}
        for report in group if len(group) > 1 else []:
            keys = [(SAME_RECORD, report.facts.patient or "")]
            if report.facts.patient in person:
                keys.append((MPI_LINK, person[report.facts.patient or ""]))
            if number := _id_number(report.patient):
                keys.append((SAME_ID, number))
            for key in keys:
                buckets.setdefault(key, []).append(report)
        reasons: dict[tuple[str, str], str] = {}
        for (reason, _value), members in sorted(buckets.items(), key=lambda item: _STRENGTH[item[0][0]]):
            for a in members:
                for b in members:
                    if a.facts.id != b.facts.id and _near(a, b):
                        reasons.setdefault((a.facts.id, b.facts.id), reason)
        by_id = {r.facts.id: r for r in group}
        for (a, b), reason in reasons.items():
            found.setdefault(a, []).append(PossibleDuplicate(by_id[b], reason))
    return found


_STRENGTH = {SAME_RECORD: 0, MPI_LINK: 1, SAME_ID: 2}


def _near(a: Loaded, b: Loaded) -> bool:
    return a.day is not None and b.day is not None and abs(a.day - b.day) <= DUPLICATE_WINDOW


def _matches(report: Loaded, query: ReviewQuery, duplicates: dict[str, list[PossibleDuplicate]]) -> bool:
    facts, day = report.facts, report.day
    district = str(((report.patient.get("address") or [{}])[0] or {}).get("district") or "")
    return (day is not None and query.start <= day <= query.end
            and (query.state is None or facts.state == query.state)
            and (query.disease is None or facts.disease == query.disease)
            and (query.district is None or query.district in (facts.district, district))
            and (query.organization is None or facts.organization == query.organization)
            and (not query.overdue or report.overdue)
            and (not query.duplicates or bool(duplicates.get(facts.id))))


def list_cases(conn: Connection, *, ctx: AccessContext, query: ReviewQuery) -> CasePage:
    """One page of case reports matching query, newest diagnosis first, each with its possible duplicates; audited.

    Raises AccessDenied when the policy refuses ctx the case reports, ReviewRefused when too many match.
    """
    decide_dataset(ctx, CASE_REPORTS)
    reports = load_reports(conn, disease=query.disease, since=query.start - DUPLICATE_WINDOW)
    duplicates = possible_duplicates(conn, reports)
    chosen = sorted((r for r in reports if _matches(r, query, duplicates)),
                    key=lambda r: (r.day or date.min, r.facts.id), reverse=True)
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(query.page, 1), pages)
    shown = chosen[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    listing = "Composition?type=55751-2 (public health review list)"
    for report in shown:
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=PURPOSE, patient=patient_reference(report),
                     entities=[f"Composition/{report.facts.id}", listing], description="case report review list")
    if not shown:
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=PURPOSE, entities=[listing],
                     description="case report review list: none found")
    organizations = {r.facts.organization: str(r.organization.get("name") or r.facts.organization)
                     for r in reports if r.facts.organization}
    return CasePage([(r, duplicates.get(r.facts.id, [])) for r in shown], len(chosen), page, pages, organizations)


def patient_reference(report: Loaded) -> str | None:
    """The report's Patient reference, for the audit trail (None when the subject is not a Patient)."""
    patient = report.facts.patient or ""
    return patient if patient.startswith("Patient/") else None


def read_case(conn: Connection, *, ctx: AccessContext, report_id: str) -> tuple[Loaded, list[PossibleDuplicate]]:
    """One case report with its possible duplicates; audited. CaseNotFound for anything that is not a case report."""
    decide_dataset(ctx, CASE_REPORTS)
    report = find_report(conn, report_id)
    since = (report.day or today()) - DUPLICATE_WINDOW
    reports = [r for r in load_reports(conn, disease=report.facts.disease, since=since) if r.facts.id != report_id]
    duplicates = possible_duplicates(conn, [report, *reports]).get(report_id, [])
    audit.record(conn, ctx=ctx, action="R", subtype="read", purpose=PURPOSE, patient=patient_reference(report),
                 entities=[f"Composition/{report_id}"], description="case report review")
    return report, duplicates


def find_report(conn: Connection, report_id: str) -> Loaded:
    """The case report with this id and the resources it names (not audited); CaseNotFound when there is none."""
    found = load_reports(conn, ids=[report_id]) if _ID.fullmatch(report_id) else []
    if not found:
        raise CaseNotFound(NO_SUCH_REPORT, id=report_id[:64])
    return found[0]


def state_history(conn: Connection, report: Loaded) -> list[HistoryEntry]:
    """Each change of the report's state, oldest first, with the act that made it, who and when."""
    versions = history(conn, SYSTEM, res_type="Composition", res_id=report.facts.id, count=MAX_VERSIONS).entries
    entries: list[HistoryEntry] = []
    previous: str | None = None
    for stored in reversed(versions):
        if stored.deleted or not stored.resource or model.state_of(stored.resource) == previous:
            continue
        state = model.state_of(stored.resource)
        act = next((a for (s, a), t in model.MOVES.items() if s == previous and t == state), "created")
        entries.append(HistoryEntry(stored.version, stored.last_updated, state, act,
                                    *_actor(stored.resource, act, report)))
        previous = state
    return entries


def _actor(resource: dict[str, Any], act: str, report: Loaded) -> tuple[str, str]:
    """Who made a version and the note they left: the officer for an officer act, the doctor for their own."""
    if act in OFFICER_ACTS:
        parts = review_act(resource)
        if parts.get("act") == act:
            return parts.get("by", ""), parts.get("note", "")
        return "", ""
    if act in ("submit", "discard") or (act == "created" and model.state_of(resource) != "draft"):
        why = (model.extension(resource, model.DISCARD_REASON) or {}).get("valueCodeableConcept") or {}
        note = str(why.get("text") or "") if act == "discard" and isinstance(why, dict) else ""
        return person_name(report.practitioner) or (report.facts.practitioner or ""), note
    return "", ""


def review_act(resource: dict[str, Any]) -> dict[str, str]:
    """The officer act recorded on a version: {"act", "by", "note"} (empty when there is none)."""
    found = model.extension(resource, REVIEW_ACT) or {}
    return {str(part.get("url")): str(part.get("valueCode") or part.get("valueString") or "")
            for part in found.get("extension") or [] if isinstance(part, dict)}


def recorded_duplicates(resource: dict[str, Any]) -> list[str]:
    """The reports marked as duplicates of this one (Composition/id)."""
    return [_reference(e.get("valueReference")) for e in resource.get("extension") or []
            if isinstance(e, dict) and e.get("url") == DUPLICATE and _reference(e.get("valueReference"))]


def _checked_text(text: str, *, required: str | None = None) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ReviewRefused(TOO_LONG, max=MAX_TEXT)
    if required and not text:
        raise ReviewRefused(required)
    return text


def act(conn: Connection, *, ctx: AccessContext, report_id: str, act_name: str, seen_version: int, text: str = "",
        outcome: str = "", kept_id: str = "") -> Loaded:
    """Carry out an officer's act on the version of the report they saw; the report as it now is.

    Raises AccessDenied (not an officer), CaseNotFound, ReviewRefused (bad input), VersionConflict (changed since)
    or ActRefused (the state does not allow it); nothing is changed then.
    """
    decide_dataset(ctx, CASE_REPORTS)
    if act_name not in OFFICER_ACTS:
        raise ReviewRefused(UNKNOWN_ACT)
    text = _checked_text(text, required=CORRECTION_NEEDED if act_name == "request-correction" else None)
    if act_name == "close" and outcome not in OUTCOMES:
        raise ReviewRefused(OUTCOME_NEEDED)
    if act_name == "mark-duplicate" and not kept_id.strip():
        raise ReviewRefused(KEPT_NEEDED)
    report = find_report(conn, report_id)
    if report.version != seen_version:
        raise VersionConflict(STALE, seen=seen_version, now=report.version)
    changed = copy.deepcopy(report.resource)
    try:
        model.move(changed, act_name)
    except model.CaseReportMoveRefused:
        raise ActRefused(MOVE_REFUSED, state=report.facts.state) from None
    writes = [(store.Write("PUT", "Composition", report_id, changed, seen_version), report)]
    if act_name == "request-correction":
        model.set_extension(changed, model.CORRECTION, {"valueString": text})
    elif act_name == "close":
        model.set_extension(changed, OUTCOME, {"valueCode": outcome})
    elif act_name == "mark-duplicate":
        writes.append(_keep(conn, report, kept_id.strip()))
        kept = {"reference": f"Composition/{writes[1][1].facts.id}"}
        model.set_extension(changed, model.DUPLICATE_OF, {"valueReference": kept})
    model.set_extension(changed, REVIEW_ACT, {"extension": [
        {"url": "act", "valueCode": act_name}, {"url": "by", "valueString": ctx.name[:200]},
        *([{"url": "note", "valueString": text}] if text else [])]})
    try:
        saved = store.write_batch(conn, SYSTEM, [write for write, _report in writes])
    except PreconditionFailed:
        raise VersionConflict(STALE, seen=seen_version, now="?") from None
    for written, (_write, about) in zip(saved, writes, strict=True):
        audit.record(conn, ctx=ctx, action="U", subtype="update", purpose=PURPOSE, patient=patient_reference(about),
                     entities=[f"Composition/{written.res_id}/_history/{written.version}"],
                     description=f"case report review: {act_name}")
    if act_name == "request-correction":
        _tell_doctor(conn, report, text)
    return find_report(conn, report_id)


def _keep(conn: Connection, duplicate: Loaded, kept_id: str) -> tuple[store.Write, Loaded]:
    """The write that records, on the report kept, that duplicate was marked as its duplicate (checked first)."""
    kept_id = kept_id.removeprefix("Composition/")
    if kept_id == duplicate.facts.id:
        raise ActRefused(KEPT_ITSELF)
    try:
        kept = find_report(conn, kept_id)
    except CaseNotFound:
        raise ActRefused(NO_SUCH_REPORT, id=kept_id[:64]) from None
    if kept.facts.disease != duplicate.facts.disease:
        raise ActRefused(KEPT_OTHER_DISEASE)
    if kept.facts.state not in model.COUNTED:
        raise ActRefused(KEPT_NOT_COUNTED, state=kept.facts.state)
    resource = copy.deepcopy(kept.resource)
    resource["extension"] = [*(resource.get("extension") or []),
                             {"url": DUPLICATE, "valueReference": {"reference": f"Composition/{duplicate.facts.id}"}}]
    return store.Write("PUT", "Composition", kept.facts.id, resource, kept.version), kept


def _tell_doctor(conn: Connection, report: Loaded, text: str) -> None:
    """Notify the reporting doctor's accounts, each in its language, of the correction asked and where to make it."""
    doctor = report.facts.practitioner
    for account in users.linked_to(conn, fhir_ref=doctor) if doctor else []:
        t = i18n.translations(account.locale)
        disease = disease_name(report.facts.disease, account.locale, report.facts.subtype)
        body = t.gettext(_("Public health asks you to correct your report of %(disease)s: %(text)s")) % {
            "disease": disease, "text": text}
        notify(conn, user_id=account.id, kind=CORRECTION_KIND.name,
               title=t.gettext(_("A case report needs correcting")), body=body[:2000],
               link=f"/workstation/case-reports/{report.facts.id}",
               data={"report": f"Composition/{report.facts.id}"})


def today() -> date:
    """Today in the region."""
    return clock.now().astimezone(_zone()).date()


def _day_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def parse_query(params: dict[str, str]) -> ReviewQuery:
    """The list's filters from a query string (default: the last DEFAULT_DAYS days); ReviewRefused when malformed."""
    end = _day_or_none(params["to"]) if params.get("to") else today()
    start = _day_or_none(params["from"]) if params.get("from") else (end and end - timedelta(days=DEFAULT_DAYS))
    state, disease = params.get("state") or None, params.get("disease") or None
    organization, page = params.get("organization") or None, params.get("page") or "1"
    if (start is None or end is None or end < start or end - start > MAX_SPAN or (state and state not in model.STATES)
            or (disease and catalogue().disease(disease) is None) or len(params.get("district") or "") > 40
            or (organization and not _ORGANIZATION.fullmatch(organization))
            or not (page.isascii() and page.isdigit() and len(page) <= 5)):
        raise ReviewRefused(BAD_FILTER)
    return ReviewQuery(start=start, end=end, state=state, disease=disease, district=params.get("district") or None,
                       organization=organization, overdue=params.get("overdue") in ("on", "true"),
                       duplicates=params.get("duplicates") in ("on", "true"), page=max(int(page), 1))
