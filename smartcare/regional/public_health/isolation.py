"""Home isolation of a case or a close contact: started by an officer with its dates, watched through the family
health module's twice-daily reports, told to the community health centre (CHC) of the person's district, and ended
by an officer or, once its end date has passed, by the daily job.

One isolation is a FHIR EpisodeOfCare: type EPISODE_TYPE, the person as patient, the CHC of their district as
managingOrganization (the organisation that looks after them meanwhile), period start and end as days (the end is
the planned last day until the isolation is finished), identifier CASE_SYSTEM = the case report's id, and
extensions for the role (case or contact), the disease, the district, the end the data gave, the officer's reason
for another end, and how it was finished. status is active, then finished; statusHistory keeps when it was active.

Starting one queues the family module's job that gives the person its home-isolation monitoring plan; finishing the
last one of a person queues the job that completes that plan. The CHC is told, once each, when an isolation starts,
of every day with fewer reports than asked for (the first day and today are not judged), and of every day with a
fever (from the reports' domain event at once, and from the daily job for any it missed). The CHC's work list shows
its own districts' people only (dataset "home-isolation": doctors and nurses of a centre that serves a district).
"""

import copy
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.platform import clock, events, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied, decide_dataset
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import contacts, control, districts, investigation, review
from smartcare.regional.public_health.case_reports import person_name

EPISODE_TYPE = {"system": model.LOCAL + "CodeSystem/public-health-control", "code": "home-isolation",
                "display": "Home isolation"}
CASE_SYSTEM = model.LOCAL + "sid/isolation-case"
EXTENSION = model.LOCAL + "StructureDefinition/isolation-"
ROLE = EXTENSION + "role"  # valueCode case | contact
DISEASE = EXTENSION + "disease"  # valueCoding of the notifiable list
DISTRICT = EXTENSION + "district"  # valueCoding of the district code
PLANNED_END = EXTENSION + "planned-end"  # valueDate: the end the data gave
END_CHANGE = EXTENSION + "end-change"  # the officer's other end: reason, by, at
CLOSING = EXTENSION + "closing"  # how it was finished: how (officer | end-date), reason, by, at
ROLES = ("case", "contact")
CENTRE_DATASET = "home-isolation"
# What the family health module offers, restated (regional code does not import family code): the job that gives a
# resident a monitoring plan (family/monitoring/from_programmes.py), the one that completes the home-isolation plan
# (family/monitoring/from_public_health.py), the plan's template (family/monitoring/data/plan_templates.yaml) and
# the event each report raises (family/monitoring/special.py ISOLATION_REPORT).
MONITORING_START = "monitoring.from-programme"
MONITORING_END = "monitoring.home-isolation-end"
HOME_ISOLATION_TEMPLATE = "home-isolation"
ISOLATION_REPORT = "IsolationReport"
DAILY_JOB = "public-health.isolation-daily"
ALERT_JOB = "public-health.isolation-alert"
WORK_LIST = "/workstation/isolation"
MAX_REASON = 500
MAX_LENGTH = timedelta(days=120)
MAX_BACKDATE = timedelta(days=30)

NO_SUCH_ISOLATION = _("There is no such home isolation.")
NOT_A_RESIDENT = _("Only a person with a record in the region can be isolated at home and monitored: match the "
                   "contact to a resident first.")
ALREADY = _("This person is already in home isolation for this case.")
BAD_DATE = _("Enter the date as YYYY-MM-DD.")
START_RANGE = _("The start must be today or within the last %(days)s days.")
END_BEFORE = _("The end cannot be before the start or before today.")
END_TOO_LATE = _("An isolation lasts at most %(days)s days.")
END_NEEDED = _("The notifiable list gives no isolation period for this: choose the end date.")
REASON_NEEDED = _("Say why the end differs from the one the disease's period gives.")
WHY_NEEDED = _("Write the reason.")
TOO_LONG = _("At most %(max)s characters.")
NOT_ACTIVE = _("This home isolation has already ended.")
STALE = _("Someone else changed this home isolation while you had it open. Read it again, then decide.")
ISOLATION_KIND = {"case": _("case"), "contact": _("close contact")}
STARTED_TITLE = _("Home isolation in your district")
STARTED_BODY = _("%(name)s (%(role)s, %(disease)s), %(address)s, phone %(phone)s, is in home isolation from %(start)s "
                 "to %(end)s. Visit to explain the isolation, check that the twice-daily temperature reports come, "
                 "and deliver what the household needs.")
MISSED_TITLE = _("Home isolation reports missed")
MISSED_BODY = _("%(name)s (%(address)s, phone %(phone)s) sent %(count)s of the %(expected)s temperature reports "
                "asked for on %(day)s. Call or visit to check on them and help them report.")
FEVER_TITLE = _("Fever in home isolation")
FEVER_BODY = _("%(name)s (%(address)s, phone %(phone)s) reported %(celsius)s °C on %(day)s. Call or visit now, check "
               "their condition, and arrange a fever clinic visit if needed.")


class IsolationInvalid(review.ReviewRefused):
    """What an officer asked of an isolation cannot be done: field names the form field; nothing was written."""

    def __init__(self, field: str, message: str, **values: Any):
        super().__init__(message, **values)
        self.field = field


@dataclass(frozen=True, slots=True)
class Isolation:
    """One home isolation as stored."""

    id: str
    version: int
    patient: str
    role: str
    case_id: str
    disease: str
    start: date
    end: date
    planned_end: date | None
    status: str  # active | finished
    centre: str | None  # Organization/id of the CHC
    district: str | None
    recorded: datetime
    end_change: dict[str, str]
    closing: dict[str, str]

    @property
    def active(self) -> bool:
        """Still in force."""
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Watched:
    """A person in isolation as the CHC and the officers see them: who, where, and their reports."""

    isolation: Isolation
    name: str
    address: str
    phone: str
    reports: control.Reports


def _isolation(stored: Any) -> Isolation:
    resource = stored.resource or {}
    period = resource.get("period") or {}
    history = next((h for h in resource.get("statusHistory") or [] if isinstance(h, dict)), {})
    recorded = control.instant((history.get("period") or {}).get("start")) or clock.now()
    return Isolation(
        id=stored.res_id, version=stored.version, patient=str((resource.get("patient") or {}).get("reference") or ""),
        role=str(control.extension_value(resource, ROLE, "valueCode") or "case"),
        case_id=next((str(i.get("value")) for i in resource.get("identifier") or []
                      if isinstance(i, dict) and i.get("system") == CASE_SYSTEM), ""),
        disease=str((control.extension_value(resource, DISEASE, "valueCoding") or {}).get("code") or ""),
        start=date.fromisoformat(str(period.get("start"))[:10]), end=date.fromisoformat(str(period.get("end"))[:10]),
        planned_end=control.day_from(control.extension_value(resource, PLANNED_END, "valueDate")),
        status=str(resource.get("status") or ""),
        centre=(resource.get("managingOrganization") or {}).get("reference"),
        district=(control.extension_value(resource, DISTRICT, "valueCoding") or {}).get("code"), recorded=recorded,
        end_change=control.extension_parts(resource, END_CHANGE), closing=control.extension_parts(resource, CLOSING))


def _find(conn: Connection, params: list[tuple[str, str]]) -> list[Isolation]:
    wanted = [("type", f"{EPISODE_TYPE['system']}|{EPISODE_TYPE['code']}"), *params]
    return [_isolation(m) for m in control.search_all(conn, "EpisodeOfCare", wanted)]


def of_case(conn: Connection, report_id: str) -> list[Isolation]:
    """Every home isolation started for a case report (its case and contacts), active or finished (not audited)."""
    return _find(conn, [("identifier", f"{CASE_SYSTEM}|{report_id}")])


def active_of(conn: Connection, patient: str) -> list[Isolation]:
    """The person's home isolations in force (not audited)."""
    return _find(conn, [("patient", patient), ("status", "active")])


def read(conn: Connection, isolation_id: str) -> Isolation:
    """One home isolation (not audited); CaseNotFound when there is none with that id."""
    try:
        stored = store.read(conn, SYSTEM, res_type="EpisodeOfCare", res_id=isolation_id[:64])
    except FhirError:
        raise review.CaseNotFound(NO_SUCH_ISOLATION) from None
    if not any((c.get("system"), c.get("code")) == (EPISODE_TYPE["system"], EPISODE_TYPE["code"])
               for t in (stored.resource or {}).get("type") or [] for c in t.get("coding") or []):
        raise review.CaseNotFound(NO_SUCH_ISOLATION)
    return _isolation(stored)


def default_end(facts: model.CaseFacts, role: str, start: date, contact: contacts.Contact | None) -> date | None:
    """The end the data gives: a case's onset (else the start) plus the isolation days, a contact's observation end."""
    if role == "contact":
        return contact.observation_end if contact else None
    found = control.control_of(facts)
    if found is None or found.isolation_days is None:
        return None
    return (facts.onset or start) + timedelta(days=found.isolation_days)


def parse_day(text: str, field: str) -> date:
    """A YYYY-MM-DD date typed in a form; IsolationInvalid naming the field otherwise."""
    found = control.day_from(text.strip())
    if found is None:
        raise IsolationInvalid(field, BAD_DATE)
    return found


def _reason(text: str, *, required: str | None) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_REASON:
        raise IsolationInvalid("reason", TOO_LONG, max=MAX_REASON)
    if required and not text:
        raise IsolationInvalid("reason", required)
    return text


def _check_end(start: date, end: date, today: date) -> None:
    if end < start or end < today:
        raise IsolationInvalid("end", END_BEFORE)
    if end - start > MAX_LENGTH:
        raise IsolationInvalid("end", END_TOO_LATE, days=MAX_LENGTH.days)


def _who(conn: Connection, report: review.Loaded, patient: str, role: str) -> contacts.Contact | None:
    """The contact being isolated (None for the case); NOT_A_RESIDENT unless the person is the case or a matched
    contact on the case's list."""
    if role == "case" and patient == report.facts.patient:
        return None
    found = next((c for c in contacts.read_list(conn, report.facts.id).contacts if c.resident == patient), None)
    if role != "contact" or found is None:
        raise IsolationInvalid("patient", NOT_A_RESIDENT)
    return found


def _episode(report: review.Loaded, patient: dict[str, Any], role: str, start: date, end: date,
             planned: date | None) -> dict[str, Any]:
    district = districts.of_person(patient)
    extensions: list[dict[str, Any]] = [
        {"url": ROLE, "valueCode": role},
        {"url": DISEASE, "valueCoding": {"system": model.DISEASE_SYSTEM, "code": report.facts.disease or ""}}]
    if district:
        extensions.append({"url": DISTRICT, "valueCoding": {"system": model.DISTRICT_SYSTEM, "code": district.code,
                                                            "display": district.name_en}})
    if planned:
        extensions.append({"url": PLANNED_END, "valueDate": planned.isoformat()})
    episode: dict[str, Any] = {
        "resourceType": "EpisodeOfCare", "status": "active", "type": [{"coding": [EPISODE_TYPE]}],
        "identifier": [{"system": CASE_SYSTEM, "value": report.facts.id}],
        "statusHistory": [{"status": "active", "period": {"start": clock.format_instant(clock.now())}}],
        "patient": {"reference": f"Patient/{patient['id']}"},
        "period": {"start": start.isoformat(), "end": end.isoformat()}, "extension": extensions}
    if district and district.centre:
        episode["managingOrganization"] = {"reference": district.centre}
    return episode


def start(conn: Connection, *, ctx: AccessContext, report_id: str, patient: str, role: str, start_text: str,
          end_text: str, reason: str, today: date) -> Isolation:
    """Put the case or a matched contact of a reported case under home isolation; starts the monitoring, tells the
    CHC. IsolationInvalid (a field), ActRefused (the report is not a reported case), CaseNotFound."""
    decide_dataset(ctx, review.CASE_REPORTS)
    report = review.find_report(conn, report_id)
    if report.facts.state not in model.COUNTED:
        raise review.ActRefused(investigation.NOT_REPORTED, state=report.facts.state)
    if role not in ROLES:
        raise IsolationInvalid("patient", NOT_A_RESIDENT)
    contact = _who(conn, report, patient, role)
    if any(i.case_id == report_id for i in active_of(conn, patient)):
        raise IsolationInvalid("patient", ALREADY)
    first = parse_day(start_text, "start")
    if not today - MAX_BACKDATE <= first <= today:
        raise IsolationInvalid("start", START_RANGE, days=MAX_BACKDATE.days)
    planned = default_end(report.facts, role, first, contact)
    end = parse_day(end_text, "end") if end_text.strip() else planned
    if end is None:
        raise IsolationInvalid("end", END_NEEDED)
    _check_end(first, end, today)
    why = _reason(reason, required=REASON_NEEDED if planned is not None and end != planned else None)
    try:
        person = store.read(conn, SYSTEM, res_type="Patient", res_id=patient.removeprefix("Patient/")).resource or {}
    except FhirError:  # the record went away since it was matched
        raise IsolationInvalid("patient", NOT_A_RESIDENT) from None
    episode = _episode(report, person, role, first, end, planned)
    if why:
        episode["extension"].append(_change(ctx, why))
    saved = store.write_batch(conn, SYSTEM, [store.Write("POST", "EpisodeOfCare", store.new_id(), episode)])[0]
    control.audit_person(conn, ctx, patient, [f"EpisodeOfCare/{saved.res_id}/_history/1", f"Composition/{report_id}"],
                         f"home isolation started ({role})", action="C", subtype="create")
    enqueue(conn, kind=MONITORING_START, payload={"patient": patient.removeprefix("Patient/"),
                                                  "templates": [HOME_ISOLATION_TEMPLATE]},
            key=f"isolation-monitoring-start:{saved.res_id}")
    if episode.get("managingOrganization"):
        enqueue(conn, kind=ALERT_JOB, payload={"isolation": saved.res_id, "reason": "started"},
                key=f"isolation-alert:{saved.res_id}:started")
    return read(conn, saved.res_id)


def _change(ctx: AccessContext, reason: str) -> dict[str, Any]:
    return {"url": END_CHANGE, "extension": [{"url": "reason", "valueString": reason},
                                             {"url": "by", "valueString": ctx.name[:200]},
                                             {"url": "at", "valueDateTime": clock.format_instant(clock.now())}]}


def _current(conn: Connection, isolation_id: str, seen_version: int) -> tuple[Isolation, dict[str, Any]]:
    found = read(conn, isolation_id)
    if found.version != seen_version:
        raise review.VersionConflict(STALE)
    if not found.active:
        raise review.ActRefused(NOT_ACTIVE)
    stored = store.read(conn, SYSTEM, res_type="EpisodeOfCare", res_id=found.id)
    resource = copy.deepcopy(stored.resource or {})
    resource.pop("meta", None)
    return found, resource


def _save(conn: Connection, ctx: AccessContext, found: Isolation, resource: dict[str, Any], description: str) -> None:
    try:
        saved = store.write_batch(conn, SYSTEM, [store.Write("PUT", "EpisodeOfCare", found.id, resource,
                                                             found.version)])[0]
    except PreconditionFailed:
        raise review.VersionConflict(STALE) from None
    control.audit_person(conn, ctx, found.patient, [f"EpisodeOfCare/{found.id}/_history/{saved.version}"],
                         description, action="U", subtype="update")


def _checked_officer(conn: Connection, ctx: AccessContext, isolation_id: str) -> None:
    """Officers only, and only isolations of a case report (the dataset they have)."""
    decide_dataset(ctx, review.CASE_REPORTS)
    if not read(conn, isolation_id).case_id:
        raise review.CaseNotFound(NO_SUCH_ISOLATION)


def change_end(conn: Connection, *, ctx: AccessContext, isolation_id: str, seen_version: int, end_text: str,
               reason: str, today: date) -> Isolation:
    """Move the end of an isolation in force, with the officer's reason; audited."""
    _checked_officer(conn, ctx, isolation_id)
    end = parse_day(end_text, "end")
    why = _reason(reason, required=WHY_NEEDED)
    found, resource = _current(conn, isolation_id, seen_version)
    _check_end(found.start, end, today)
    resource["period"] = {**resource.get("period", {}), "end": end.isoformat()}
    model.set_extension(resource, END_CHANGE, None)
    resource["extension"] = [*(resource.get("extension") or []), _change(ctx, why)]
    _save(conn, ctx, found, resource, f"home isolation end moved to {end.isoformat()}")
    return read(conn, isolation_id)


def _close(conn: Connection, ctx: AccessContext, found: Isolation, resource: dict[str, Any], *, how: str,
           reason: str, today: date) -> None:
    """Finish an isolation in force and, when it was the person's last, queue the end of their monitoring."""
    now = clock.format_instant(clock.now())
    resource["status"] = "finished"
    resource["period"] = {"start": found.start.isoformat(), "end": min(found.end, today).isoformat()}
    resource["statusHistory"] = [{"status": "active", "period": {"start": clock.format_instant(found.recorded),
                                                                 "end": now}}]
    resource["extension"] = [*(resource.get("extension") or []), {"url": CLOSING, "extension": [
        {"url": "how", "valueCode": how}, {"url": "by", "valueString": ctx.name[:200]}, {"url": "at", "valueDateTime": now},
        *([{"url": "reason", "valueString": reason}] if reason else [])]}]
    _save(conn, ctx, found, resource, f"home isolation finished ({how})")
    if not [i for i in active_of(conn, found.patient) if i.id != found.id]:
        enqueue(conn, kind=MONITORING_END, payload={"patient": found.patient.removeprefix("Patient/")},
                key=f"isolation-monitoring-end:{found.id}")


def finish(conn: Connection, *, ctx: AccessContext, isolation_id: str, seen_version: int, reason: str,
           today: date) -> Isolation:
    """End an isolation now at an officer's word, with the reason; the person's monitoring stops if it was the last."""
    _checked_officer(conn, ctx, isolation_id)
    why = _reason(reason, required=WHY_NEEDED)
    found, resource = _current(conn, isolation_id, seen_version)
    _close(conn, ctx, found, resource, how="officer", reason=why, today=today)
    return read(conn, isolation_id)


def watched(conn: Connection, found: Isolation, today: date) -> Watched:
    """The person of an isolation with their reports so far (not audited: the caller audits)."""
    try:
        patient = store.read(conn, SYSTEM, res_type="Patient", res_id=found.patient.removeprefix("Patient/")).resource
    except FhirError:
        patient = None
    recorded = found.recorded.astimezone(control.zone()).date()
    last_day = found.end if found.active else min(found.end, today)
    reports = control.summarise(control.read_reports(conn, found.patient, found.start), first_day=found.start,
                                judged_from=max(found.start, recorded) + timedelta(days=1), last_day=last_day,
                                today=today, rules_=control.rules())
    return Watched(found, person_name(patient or {}), control.address_line(patient or {}), control.phone_of(patient or {}),
                   reports)


def _centre_of(ctx: AccessContext) -> str:
    decide_dataset(ctx, CENTRE_DATASET)
    if not districts.served_by(ctx.organization):
        raise AccessDenied("Only the staff of a community health centre that serves a district see its people in "
                           "home isolation")
    return str(ctx.organization)


def centre_list(conn: Connection, *, ctx: AccessContext, today: date) -> list[Watched]:
    """The people in home isolation in the districts of the caller's CHC, with their reports; each one audited."""
    centre = _centre_of(ctx)
    found = [watched(conn, i, today) for i in _find(conn, [("organization", centre), ("status", "active")])]
    for row in found:
        control.audit_person(conn, ctx, row.isolation.patient, [f"EpisodeOfCare/{row.isolation.id}"],
                             "home isolation work list", subtype="search")
    if not found:
        control.audit_person(conn, ctx, None, [f"EpisodeOfCare?organization={centre}&status=active"],
                             "home isolation work list: nobody", subtype="search")
    return sorted(found, key=lambda w: (not w.reports.fever, -len(w.reports.missed_days), w.isolation.end))


def centre_person(conn: Connection, *, ctx: AccessContext, isolation_id: str, today: date) -> Watched:
    """One person in home isolation for the caller's CHC, day by day; AccessDenied for another centre's; audited."""
    centre = _centre_of(ctx)
    found = read(conn, isolation_id)
    if found.centre != centre:
        raise AccessDenied("This person is in home isolation in another community health centre's district")
    control.audit_person(conn, ctx, found.patient, [f"EpisodeOfCare/{found.id}"], "home isolation reports")
    return watched(conn, found, today)


# --- the jobs: alerts to the CHC, the daily end and check, the reports' event ----------------------------------

def _alert_values(seen: Watched, payload: dict[str, Any]) -> Any:
    """The notice's values for a reader's locale: the person, their role and disease, and what happened."""
    found = seen.isolation

    def values(locale: str) -> dict[str, str]:
        t = i18n.translations(locale)
        return {"name": seen.name or found.patient, "address": seen.address or "—", "phone": seen.phone or "—",
                "role": t.gettext(ISOLATION_KIND.get(found.role, found.role)),
                "disease": review.disease_name(found.disease, locale), "start": found.start.isoformat(),
                "end": found.end.isoformat(), "day": str(payload.get("day", ""))[:10],
                "count": str(payload.get("count", "")), "expected": str(control.rules().reports_per_day),
                "celsius": str(payload.get("celsius", ""))[:6]}
    return values


ALERTS = {"started": (STARTED_TITLE, STARTED_BODY), "missed": (MISSED_TITLE, MISSED_BODY),
          "fever": (FEVER_TITLE, FEVER_BODY)}


@handler(ALERT_JOB)
def alert(conn: Connection, job: Job) -> None:
    """Tell the CHC of a person in isolation that it started, that reports were missed or that they have a fever
    (nothing once the isolation has ended, or where no centre serves their district)."""
    reason = str(job.payload.get("reason", ""))
    try:
        found = read(conn, str(job.payload.get("isolation", "")))
    except review.CaseNotFound:
        return
    if reason not in ALERTS or not found.active or not found.centre:
        return
    seen = watched(conn, found, review.today())
    title, body = ALERTS[reason]
    told = control.tell_centre(conn, found.centre, title=title, body=body,
                               values=_alert_values(seen, job.payload),
                               link=f"{WORK_LIST}/{found.id}", data={"isolation": f"EpisodeOfCare/{found.id}"})
    control.audit_person(conn, SYSTEM, found.patient, [f"EpisodeOfCare/{found.id}", found.centre],
                         f"home isolation: {told} of the community health centre's staff told ({reason})")


def _alert(conn: Connection, found: Isolation, reason: str, day: date, **values: Any) -> None:
    enqueue(conn, kind=ALERT_JOB, payload={"isolation": found.id, "reason": reason, "day": day.isoformat(), **values},
            key=f"isolation-alert:{found.id}:{reason}:{day.isoformat()}")


def check(conn: Connection, found: Isolation, today: date) -> None:
    """Queue the CHC's alerts for an isolation's missed days and fevers (each alert once, by its job key)."""
    if not found.centre:
        return
    reports = watched(conn, found, today).reports
    for day in reports.days:
        if day.missed:
            _alert(conn, found, "missed", day.day, count=day.count)
    for report in reports.fevers:
        _alert(conn, found, "fever", report.at.astimezone(control.zone()).date(), celsius=f"{report.celsius:.1f}")


def sweep(*, today: date | None = None, engine: Engine | None = None) -> dict[str, int]:
    """The daily run: alert the CHC of missed days and fevers, then finish the isolations whose end date has passed
    (each in a transaction of its own); counts of each."""
    today = today or review.today()
    with unit_of_work(engine) as conn:
        found = _find(conn, [("status", "active")])
    counts = {"checked": 0, "ended": 0}
    for isolation in found:
        with unit_of_work(engine) as conn:
            check(conn, isolation, today)
            counts["checked"] += 1
            if isolation.end < today:
                current, resource = _current(conn, isolation.id, isolation.version)
                _close(conn, SYSTEM, current, resource, how="end-date", reason="", today=today)
                counts["ended"] += 1
    return counts


@handler(DAILY_JOB, in_transaction=False)
def daily_job(engine: Engine, _job: Job) -> None:
    """Alert the CHCs of missed reports and fevers, and finish the isolations past their end date."""
    sweep(engine=engine)


periodic(DAILY_JOB, kind=DAILY_JOB, daily_at="00:30", tz=get_settings().region_timezone)


def on_report(event: events.DomainEvent) -> None:
    """A home-isolation report with a fever: queue the CHC's alert at once for each isolation the person is in."""
    temperature, patient = event.payload.get("temperature"), str(event.payload.get("patient", ""))
    if not isinstance(temperature, int | float) or temperature < control.rules().fever_celsius:
        return
    at = control.instant(event.payload.get("time")) or clock.now()
    with unit_of_work() as conn:
        for found in active_of(conn, patient[:80]):
            if found.centre:
                _alert(conn, found, "fever", at.astimezone(control.zone()).date(), celsius=f"{temperature:.1f}")


events.subscribe(ISOLATION_REPORT, on_report)
