"""The demo region's notifiable diseases: six years of weekly counts from before SmartCare, twelve weeks of case
reports in every state of their workflow, an outbreak of infectious diarrhoea in Hexi over the last eleven days,
an approved public release with an announcement, and the morning's detection run with the signals it raised.

The city's usual mix is modelled per disease as a weekly mean with a seasonal peak (influenza in winter, hand, foot
and mouth disease in early summer, diarrhoea in summer with a winter norovirus bump) and spread over the districts
by population; counts are Poisson draws from a fixed seed, so the same seed gives the same region.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.engine import Engine

from smartcare.demo import accounts
from smartcare.demo.fhirtypes import human_names
from smartcare.demo.identifiers import make_resident_id
from smartcare.demo.people import sample_age_sex, sample_birth_date, sample_home_address, sample_name
from smartcare.demo.reference import load
from smartcare.fhir import bundles
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.public_health import announcements, detection, history, releases, reporting
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health.release_figures import default_period


@dataclass(frozen=True, slots=True)
class Pattern:
    """How often a disease is reported in the whole city: a weekly mean, its seasonal swing and peak week."""

    disease: str
    icd10: str
    display: str
    weekly: float
    swing: float  # 0: flat; 0.8: the peak week has 1.8 times the mean, the trough 0.2
    peak_week: int


PATTERNS = (
    Pattern("influenza", "J10.1", "Influenza with other respiratory manifestations", 9.0, 0.85, 3),
    Pattern("infectious-diarrhoea", "A08.1", "Acute gastroenteropathy due to Norwalk agent", 6.0, 0.45, 30),
    Pattern("hand-foot-mouth", "B08.4", "Enteroviral vesicular stomatitis with exanthem", 5.0, 0.8, 22),
    Pattern("tuberculosis", "A15.0", "Tuberculosis of lung, confirmed by sputum microscopy", 3.0, 0.1, 12),
    Pattern("viral-hepatitis", "B18.1", "Chronic viral hepatitis B without delta-agent", 3.0, 0.0, 1),
    Pattern("syphilis", "A53.9", "Syphilis, unspecified", 2.0, 0.0, 1),
    Pattern("scarlet-fever", "A38", "Scarlet fever", 1.2, 0.6, 20),
    Pattern("mumps", "B26.9", "Mumps without complication", 1.0, 0.5, 18),
)
HISTORY_YEARS = 6
LIVE_WEEKS = 12
OUTBREAK = ("infectious-diarrhoea", "hexi", 11, 3.0)  # disease, district, last days, extra cases a day
HOSPITALS = {"hedong": "org-hosp-1", "xincheng": "org-hosp-1", "hexi": "org-hosp-2", "hubin": "org-hosp-2",
             "shanqian": "org-hosp-2"}
BUNDLE = 150
CORRECTION = "Please add the onset date from the patient's own account and the work unit."
PREPARER = AccessContext(kind="user", name="cdc.demo", roles=frozenset({"public_health_officer"}), subject="cdc.demo")
APPROVER = AccessContext(kind="user", name="epi.demo", roles=frozenset({"public_health_officer"}), subject="epi.demo")


def _mean(pattern: Pattern, day: date) -> float:
    """The city's expected cases of a disease in the week around day."""
    week = day.isocalendar()[1]
    return pattern.weekly * (1 + pattern.swing * math.cos(2 * math.pi * (week - pattern.peak_week) / 52))


def _shares() -> list[tuple[dict[str, Any], float]]:
    districts = load("region")["districts"]
    total = sum(d["weight"] for d in districts)
    return [(d, d["weight"] / total) for d in districts]


def history_counts(*, first_live_monday: date, seed: int) -> list[history.WeekCount]:
    """Weekly counts by disease and district for the five years before the live weeks."""
    draw = np.random.default_rng(seed)
    start = first_live_monday - timedelta(weeks=52 * HISTORY_YEARS)
    counts = []
    for week in range(52 * HISTORY_YEARS):
        monday = start + timedelta(weeks=week)
        for pattern in PATTERNS:
            for district, share in _shares():
                counts.append(history.WeekCount(pattern.disease, district["code"], monday,
                                                int(draw.poisson(_mean(pattern, monday) * share))))
    return counts


@dataclass(frozen=True, slots=True)
class Case:
    """One live case: who, what, where and when it was diagnosed."""

    number: int
    pattern: Pattern
    district: dict[str, Any]
    diagnosed: datetime


def live_cases(*, today: date, seed: int, zone: ZoneInfo) -> list[Case]:
    """The cases diagnosed in the last twelve weeks (today included), with the outbreak's on top."""
    draw, rng = np.random.default_rng(seed + 1), random.Random(seed + 2)
    cases: list[Case] = []
    disease, where, days, extra = OUTBREAK
    for offset in range(7 * LIVE_WEEKS - 1, -1, -1):
        day = today - timedelta(days=offset)
        for pattern in PATTERNS:
            for district, share in _shares():
                mean = _mean(pattern, day) * share / 7
                if pattern.disease == disease and district["key"] == where and offset < days:
                    mean += extra
                for _ in range(int(draw.poisson(mean))):
                    at = datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), zone)
                    cases.append(Case(len(cases) + 1, pattern, district, at))
    return cases


def _state(case: Case, now: datetime, newest: set[int]) -> str:
    """Where a case's report stands: the last 18 hours' and each hospital's two newest still drafts (and now and then
    one left past its 24-hour deadline), this fortnight's submitted (one in twenty sent back for a correction), older
    ones verified or closed."""
    age = now - case.diagnosed
    if age < timedelta(hours=18) or case.number in newest or (
            timedelta(hours=26) < age < timedelta(hours=48) and case.number % 7 == 0):
        return "draft"
    if age < timedelta(days=14):
        return "correction-requested" if case.number % 20 == 0 else "submitted"
    return "closed" if case.number % 4 == 0 else "verified"


def _resources(case: Case, *, rng: random.Random, doctors: dict[str, str], now: datetime,
               newest: set[int]) -> list[dict[str, Any]]:
    """The case's Patient, its diagnosing Condition and its case report, as the reporting sweep would draft it."""
    age, sex = sample_age_sex(rng)
    birth = sample_birth_date(rng, age, case.diagnosed.date())
    name = sample_name(rng, sex, birth.year)
    hospital = HOSPITALS[case.district["key"]]
    patient = {
        "resourceType": "Patient", "id": f"ph-case-{case.number}", "gender": sex, "birthDate": birth.isoformat(),
        "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id",
                        "value": make_resident_id(address_code=case.district["code"], birth_date=birth,
                                                  sequence=(case.number * 2 + (sex == "male")) % 1000)}],
        "name": human_names(name.family_zh, name.given_zh, name.family_pinyin, name.given_pinyin),
        "address": [sample_home_address(rng, case.district)],
        "managingOrganization": {"reference": f"Organization/{hospital}"},
    }
    onset = case.diagnosed.date() - timedelta(days=rng.randint(0, 3))
    condition = {
        "resourceType": "Condition", "id": f"ph-cond-{case.number}",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": case.pattern.icd10,
                             "display": case.pattern.display}]},
        "subject": {"reference": f"Patient/{patient['id']}"}, "onsetDateTime": onset.isoformat(),
        "recordedDate": clock.format_instant(case.diagnosed), "recorder": {"reference": doctors[hospital]},
    }
    cat = reporting.catalogue()
    trigger = reporting.trigger_of(condition, cat)
    report = reporting.build_draft(trigger, cat=cat, practitioner=doctors[hospital],
                                   organization=f"Organization/{hospital}",
                                   district={"system": model.DISTRICT_SYSTEM, "code": case.district["code"]},
                                   now=case.diagnosed)
    report["id"] = f"ph-report-{case.number}"
    state = _state(case, now, newest)
    if state != "draft":
        submitted = case.diagnosed + timedelta(hours=rng.choice((1, 3, 6, 20)))
        model.set_extension(report, model.SUBMITTED_AT, {"valueDateTime": clock.format_instant(submitted)})
        model.set_extension(report, model.CLASSIFICATION, {"valueCode": trigger.match.disease.classifications[-1]
                                                           if case.pattern.disease != "viral-hepatitis" else "clinical"})
        for act in {"submitted": ("submit",), "correction-requested": ("submit", "request-correction"),
                    "verified": ("submit", "verify"), "closed": ("submit", "verify", "close")}[state]:
            model.move(report, act)
        if state == "correction-requested":
            model.set_extension(report, model.CORRECTION, {"valueString": CORRECTION})
        if state == "closed":
            model.set_extension(report, model.OUTCOME, {"valueCode": "recovered"})
    return [patient, condition, report]


def _entries(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _doctors(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        first = accounts.hospital_doctor(conn)
        role = accounts.first_resource(conn, "PractitionerRole", [("role", "doctor"),
                                                                   ("organization.partof", "Organization/org-hosp-2")])
    second = role["practitioner"]["reference"] if role else first
    return {"org-hosp-1": first or "", "org-hosp-2": second or ""}


def _release(engine: Engine) -> None:
    """The officer prepares a release of the last eight weeks and an announcement; a second officer approves both."""
    with unit_of_work(engine) as conn:
        if releases.approved(conn, limit=1):
            return
        prepared = releases.prepare(conn, ctx=PREPARER, period=default_period(clock.now().date()))
        releases.decide_release(conn, ctx=APPROVER, release_id=prepared.id, approve=True)
        note = announcements.Draft(
            title_en="Diarrhoea: wash hands, cook shellfish through",
            body_en="Cases of infectious diarrhoea have risen this week, most in Hexi District.\n\n"
                    "Wash your hands with soap before eating and after the toilet, cook shellfish through and stay "
                    "home for 48 hours after vomiting or diarrhoea stops.",
            title_zh="感染性腹泻增多：勤洗手，贝类要煮熟",
            body_zh="本周感染性腹泻病例增多，以河西区为主。\n\n饭前便后用肥皂洗手，贝类海鲜要彻底煮熟，"
                    "呕吐或腹泻停止后48小时内请居家休息。")
        written = announcements.write(conn, ctx=PREPARER, draft=note)
        announcements.decide_announcement(conn, ctx=APPROVER, announcement_id=written.id, approve=True)


def load_public_health(engine: Engine, *, seed: int) -> int:
    """Load the history, the live case reports and an approved release (once); how many resources were written."""
    with unit_of_work(engine) as conn:
        if history.weekly_history(conn):
            return 0
    now = clock.now()
    zone = reporting.region_zone()
    today = now.astimezone(zone).date()
    first_live_monday = today - timedelta(days=today.weekday()) - timedelta(weeks=LIVE_WEEKS - 1)
    counts = history_counts(first_live_monday=first_live_monday, seed=seed)
    with unit_of_work(engine) as conn:
        written = history.import_history(conn, ctx=SYSTEM, counts=counts,
                                         source="the city's notifiable disease reporting system before SmartCare")
    doctors = _doctors(engine)
    rng = random.Random(seed + 3)
    cases = [case for case in live_cases(today=today, seed=seed, zone=zone) if case.diagnosed <= now]
    newest = {case.number for hospital in set(HOSPITALS.values())
              for case in sorted((c for c in cases if HOSPITALS[c.district["key"]] == hospital),
                                 key=lambda c: c.diagnosed)[-2:]}
    resources = [r for case in cases for r in _resources(case, rng=rng, doctors=doctors, now=now, newest=newest)]
    for chunk in _chunks(_entries(resources), BUNDLE):
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, chunk, "")
    _release(engine)
    with unit_of_work(engine) as conn:  # this morning's detection run, as the daily job makes it
        raised = detection.run(conn, ctx=PREPARER).signals
    return written + len(resources) + len(raised)
