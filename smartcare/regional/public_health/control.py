"""Control of a case and its contacts, the parts the contact list, home isolation and their pages share: the disease's
control facts, the region's districts and their community health centres (CHCs), notices to a centre's staff, the
twice-daily home-isolation reports read back from the store, and vaccination status from Immunization resources.

Control facts (contacts' observation period, the isolation rule, the fever line, reports a day, the vaccines) are
data in the notifiable list (knowledge/notifiable, its `control` section, each with a source). The districts and the
centre serving each come from the region's map file (data/districts.geojson, "chc"), as the case reports' districts do.
Home-isolation reports are the Observations the family health module writes (family/monitoring/special.py): they
are read through the store, never through family code, so their codes are restated below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.knowledge.notifiable.catalogue import Control, ControlRules, NotifiableListInvalid, Vaccine
from smartcare.platform import audit, i18n
from smartcare.platform.i18n import _
from smartcare.platform.notifications.preferences import notification_kind
from smartcare.platform.notifications.service import notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import review
from smartcare.regional.public_health.districts import current_addresses

PURPOSE = "PUBHLTH"
SEARCH_PAGE = 500
MAX_MATCHES = 50_000
MAX_IMMUNIZATIONS = 200
CENTRE_ROLES = ("doctor", "nurse")
# What the family health module writes for a home-isolation report (family/monitoring/special.py): a body
# temperature (LOINC 8310-5, in Cel) and a symptoms Observation (its SYMPTOMS_CODE) with SNOMED CT findings.
LOINC = "http://loinc.org"
TEMPERATURE = (LOINC, "8310-5")
SYMPTOMS = (model.LOCAL + "CodeSystem/monitoring", "isolation-symptoms")
SNOMED = "http://snomed.info/sct"
# The symptoms a person in home isolation may report (family/monitoring/data/plan_templates.yaml, `symptoms`).
SYMPTOM_NAMES = {"386661006": _("Fever"), "49727002": _("Cough"), "162397003": _("Sore throat"),
                 "267036007": _("Shortness of breath"), "44169009": _("Loss of smell"), "62315008": _("Diarrhoea"),
                 "25064002": _("Headache"), "84229001": _("Tiredness")}

CONTROL_KIND = notification_kind("public-health.control", label=_("Home isolation in your centre's districts"),
                                 private_body=True)


@dataclass(frozen=True, slots=True)
class Report:
    """One temperature report (or reading) of a person in home isolation."""

    at: datetime
    celsius: float


@dataclass(frozen=True, slots=True)
class ReportDay:
    """How many temperature reports came on one day of the isolation, and whether too few came."""

    day: date
    count: int
    judged: bool  # a whole day of the isolation that has passed (the first day and today are not judged)
    missed: bool


@dataclass(frozen=True, slots=True)
class Reports:
    """A person's home-isolation reports: the last, each day's count, the highest fever and the last symptoms."""

    last: Report | None
    days: tuple[ReportDay, ...]
    fever: Report | None  # the highest temperature at or above the fever line, if any
    fevers: tuple[Report, ...]
    symptoms: tuple[str, ...]  # SNOMED CT codes of the last symptoms report
    symptoms_at: datetime | None

    @property
    def missed_days(self) -> list[date]:
        """The judged days with fewer reports than asked for."""
        return [d.day for d in self.days if d.missed]


@dataclass(frozen=True, slots=True)
class Dose:
    """One recorded dose of a relevant vaccine."""

    day: str
    name: str
    number: str


@dataclass(frozen=True, slots=True)
class VaccineStatus:
    """A relevant vaccine and the doses the record holds of it (none: "not recorded", never "unvaccinated")."""

    vaccine: Vaccine
    doses: tuple[Dose, ...]


def zone() -> ZoneInfo:
    """The region's time zone."""
    return ZoneInfo(get_settings().region_timezone)


def rules() -> ControlRules:
    """The control facts of the notifiable list in use; NotifiableListInvalid when the list has none."""
    found = review.catalogue().control
    if found is None:
        raise NotifiableListInvalid("the notifiable-disease list in use has no 'control' section")
    return found


def control_of(facts: model.CaseFacts) -> Control | None:
    """How the case's disease (or its subtype) is controlled, or None when the list gives nothing."""
    return review.catalogue().control_for(facts.disease, facts.subtype)


def address_line(patient: dict[str, Any]) -> str:
    """The person's home address as one line (the Chinese text when there is one)."""
    for address in current_addresses(patient):
        text = address.get("text") or ", ".join(str(p) for p in [*(address.get("line") or []), address.get("district"),
                                                                 address.get("city")] if p)
        if text:
            return str(text)[:200]
    return ""


def phone_of(patient: dict[str, Any]) -> str:
    """The person's first phone number."""
    return next((str(t.get("value"))[:40] for t in patient.get("telecom") or []
                 if isinstance(t, dict) and t.get("system") in ("phone", "sms") and t.get("value")), "")


def centre_staff(conn: Connection, organization: str) -> list[users.User]:
    """The doctors' and nurses' accounts of a community health centre (locked ones left out)."""
    return [u for role in CENTRE_ROLES for u in users.list_users(conn, role=role)
            if u.organization == organization and not u.locked]


def tell_centre(conn: Connection, organization: str, *, title: str, body: str,
                values: Callable[[str], dict[str, str]], link: str, data: dict[str, str]) -> int:
    """Notify every doctor and nurse of the centre, each in their language (values gives the body's values for a
    locale); how many were told."""
    told = 0
    for account in centre_staff(conn, organization):
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=CONTROL_KIND.name, title=t.gettext(title),
               body=(t.gettext(body) % values(account.locale))[:2000], link=link, data=data)
        told += 1
    return told


def audit_person(conn: Connection, ctx: AccessContext, patient: str | None, entities: list[str], description: str, *,
                 action: str = "R", subtype: str = "read") -> None:
    """One audit entry for public health's access to a person's records (PUBHLTH, with the person when known)."""
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, purpose=PURPOSE,
                 patient=patient if (patient or "").startswith("Patient/") else None,
                 entities=entities, description=description[:200])


def search(conn: Connection, res_type: str, params: list[tuple[str, str]], *, count: int = SEARCH_PAGE) -> list[Any]:
    """One page of a store search as the platform (the caller has asked the policy and audits)."""
    request = QueryCompiler(strict=True).parse(res_type, params, default_count=count, max_count=count)
    request.total = "none"
    return run_search(conn, SYSTEM, request).matches


def search_all(conn: Connection, res_type: str, params: list[tuple[str, str]]) -> list[Any]:
    """Every match of a store search as the platform, page by page (at most MAX_MATCHES)."""
    found: list[Any] = []
    while len(found) < MAX_MATCHES:
        request = QueryCompiler(strict=True).parse(res_type, params, default_count=SEARCH_PAGE,
                                                   max_count=SEARCH_PAGE)
        request.offset, request.total = len(found), "none"
        result = run_search(conn, SYSTEM, request)
        found.extend(result.matches)
        if not result.has_next or not result.matches:
            break
    return found


def _has_code(resource: dict[str, Any], wanted: tuple[str, str]) -> bool:
    return any(isinstance(c, dict) and (c.get("system"), c.get("code")) == wanted
               for c in (resource.get("code") or {}).get("coding") or [])


def extension_value(resource: dict[str, Any], url: str, key: str) -> Any:
    """The value (valueCode, valueDate ...) of resource's extension url, or None."""
    found = model.extension(resource, url)
    return found.get(key) if found else None


def extension_parts(resource: dict[str, Any], url: str) -> dict[str, str]:
    """The parts of a complex extension as texts by their url (reason, by, at ...)."""
    return {str(p.get("url")): str(p.get("valueString") or p.get("valueCode") or p.get("valueDateTime") or "")
            for p in (model.extension(resource, url) or {}).get("extension") or [] if isinstance(p, dict)}


def day_from(value: Any) -> date | None:
    """A YYYY-MM-DD text as a date; None for anything else."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def instant(value: Any) -> datetime | None:
    """A FHIR dateTime with a time as an aware datetime (the region's zone when it has none); None otherwise."""
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone())


def read_reports(conn: Connection, patient: str, since: date) -> list[dict[str, Any]]:
    """The person's temperature and home-isolation symptoms Observations since a day (region time), newest first."""
    start = datetime.combine(since, datetime.min.time(), zone())
    codes = ",".join(f"{system}|{code}" for system, code in (TEMPERATURE, SYMPTOMS))
    found = search_all(conn, "Observation", [("subject", patient), ("code", codes),
                                             ("date", f"ge{start.isoformat()}"), ("_sort", "-date")])
    return [m.resource for m in found if (m.resource or {}).get("status") not in ("entered-in-error", "cancelled")]


def summarise(observations: list[dict[str, Any]], *, first_day: date, judged_from: date, last_day: date, today: date,
              rules_: ControlRules) -> Reports:
    """The reports of an isolation from first_day to last_day: counts per day, the days with too few among those from
    judged_from to yesterday, the highest fever and the last symptoms reported."""
    temperatures: list[Report] = []
    symptoms: tuple[str, ...] = ()
    symptoms_at: datetime | None = None
    for observation in observations:
        at = instant(observation.get("effectiveDateTime"))
        if at is None:
            continue
        if _has_code(observation, TEMPERATURE):
            value = (observation.get("valueQuantity") or {}).get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                temperatures.append(Report(at, float(value)))
        elif _has_code(observation, SYMPTOMS) and (symptoms_at is None or at > symptoms_at):
            symptoms_at = at
            symptoms = tuple(str(c.get("code")) for component in observation.get("component") or []
                             for c in (component.get("code") or {}).get("coding") or []
                             if isinstance(c, dict) and c.get("system") == SNOMED and c.get("code"))
    temperatures = [r for r in temperatures if first_day <= r.at.astimezone(zone()).date() <= last_day]
    temperatures.sort(key=lambda r: r.at)
    counts: dict[date, int] = {}
    for report in temperatures:
        day = report.at.astimezone(zone()).date()
        counts[day] = counts.get(day, 0) + 1
    days = []
    day = first_day
    while day <= min(last_day, today):
        judged = judged_from <= day < today
        count = counts.get(day, 0)
        days.append(ReportDay(day, count, judged, judged and count < rules_.reports_per_day))
        day += timedelta(days=1)
    fevers = tuple(r for r in temperatures if r.celsius >= rules_.fever_celsius)
    highest = max(fevers, key=lambda r: (r.celsius, r.at)) if fevers else None
    return Reports(temperatures[-1] if temperatures else None, tuple(days), highest, fevers, symptoms, symptoms_at)


def symptom_name(code: str, lang: str) -> str:
    """A reported symptom's name in lang (its SNOMED CT code when not one the reports use)."""
    known = SYMPTOM_NAMES.get(code)
    return i18n.translations(lang).gettext(known) if known else code


def _linked_records(conn: Connection, patient: str) -> list[str]:
    """The person's Patient records: this one and those the master patient index links to it (its Person)."""
    records = {patient}
    for person in search(conn, "Person", [("patient", patient)], count=20):
        if (person.resource or {}).get("active") is False:
            continue
        for link in (person.resource or {}).get("link") or []:
            target = ((link or {}).get("target") or {}).get("reference") if isinstance(link, dict) else None
            if isinstance(target, str) and target.startswith("Patient/"):
                records.add(target)
    return sorted(records)[:20]


def _dose(resource: dict[str, Any]) -> Dose:
    occurred = resource.get("occurrenceDateTime") or resource.get("occurrenceString") or ""
    concept = resource.get("vaccineCode") or {}
    name = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []
                                        if isinstance(c, dict) and c.get("display")), "")
    applied = next((p for p in resource.get("protocolApplied") or [] if isinstance(p, dict)), {})
    number = applied.get("doseNumberPositiveInt") or applied.get("doseNumberString") or ""
    return Dose(str(occurred)[:10], str(name)[:120], str(number)[:20])


def vaccination(conn: Connection, patient: str, control: Control | None) -> list[VaccineStatus]:
    """The doses of each vaccine relevant to the disease that the person's records hold (given, not "not done")."""
    vaccines = control.vaccines if control else ()
    if not vaccines or not patient.startswith("Patient/"):
        return [VaccineStatus(v, ()) for v in vaccines]
    records = _linked_records(conn, patient)
    found = [m.resource or {} for m in search(conn, "Immunization", [("patient", ",".join(records))],
                                               count=MAX_IMMUNIZATIONS)]
    given = [r for r in found if r.get("status") == "completed"]
    statuses = []
    for vaccine in vaccines:
        doses = [_dose(r) for r in given
                 if any(isinstance(c, dict) and vaccine.matches(str(c.get("system") or ""), str(c.get("code") or ""))
                        for c in (r.get("vaccineCode") or {}).get("coding") or [])]
        statuses.append(VaccineStatus(vaccine, tuple(sorted(doses, key=lambda d: d.day))))
    return statuses

