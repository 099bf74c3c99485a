"""What the notifiable-disease journey needs around the browser: a hospital with a doctor and a patient, four weeks of
reported infectious diarrhoea with an outbreak in Hexi, the reporting sweep run as the job worker runs it, and
screenshots at desktop and phone width.

The region's clock stands at 10:00 in Shanghai on Monday 2026-06-08 (ticking from there), so yesterday closes ISO
week 2026-W23: the outbreak's last days are both the days the detection judges and the last complete week a release
may cover, whatever day the tests run on.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from smartcare.fhir import store
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue
from smartcare.platform.jobs.service import claim, run, worker_name
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.tokens import issue_access_token
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import reporting
from tests.e2e.conftest import DESKTOP, MOBILE

NOW = datetime(2026, 6, 8, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
LAST_WEEK = date(2026, 6, 1)  # the Monday of 2026-W23, the last complete week
PASSWORD = "Willow-Harbour-Ledger-63"
SHOTS = Path("/tmp")
HEXI = {"code": "339902", "name": "Hexi District"}
HEDONG = {"code": "339901", "name": "Hedong District"}
DIARRHOEA = ("A09.0", "Other and unspecified gastroenteritis and colitis of infectious origin")
ICD10 = "http://hl7.org/fhir/sid/icd-10"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
# Cases by day of onset over the four weeks 2026-W20 to W23 (Monday first): a case every other day in Hexi, then the
# outbreak of its last days; a few cases in Hedong. The doctor's patient falls ill on the Saturday of W23 on top.
HEXI_DAYS = [0, 1, 0, 1, 0, 1, 0] * 3 + [1, 0, 1, 1, 3, 7, 12]
HEDONG_DAYS = [0, 1, 0, 0, 1, 0, 0] + [0, 0, 1, 0, 0, 1, 0] + [0, 0, 0, 0, 1, 0, 0] + [0] * 7
FIRST_DAY = LAST_WEEK - timedelta(weeks=3)
PATIENT_ONSET = LAST_WEEK + timedelta(days=5)


@dataclass(frozen=True)
class Region:
    """The ids and accounts of one loaded journey."""

    tag: str
    patient_id: str
    patient_name: str
    doctor: users.User
    preparer: str
    approver: str


@contextmanager
def region_clock() -> Iterator[Callable[[], datetime]]:
    """The server's clock at NOW, ticking, for the length of the block; yields the clock."""
    started = time.monotonic()

    def ticking() -> datetime:
        return NOW + timedelta(seconds=time.monotonic() - started)

    clock.set_clock(ticking)
    try:
        yield ticking
    finally:
        clock.set_clock(None)


def client_token(account: users.User, base_url: str, region_now: Callable[[], datetime]) -> str:
    """A bearer token of account's FHIR client, with the claims /auth/token's password grant gives a user.

    It is signed at the machine's time, the server's clock set back for that moment: the JWT library checks a token's
    expiry against the machine's clock, not the region's.
    """
    clock.set_clock(None)
    try:
        token, _lifetime = issue_access_token(
            subject=account.id, kind="user", name=account.username, roles={str(account.role)},
            scopes=parse_scopes("user/Condition.cru"), audience=f"{base_url}/fhir",
            organization=account.organization, fhir_user=account.fhir_ref)
    finally:
        clock.set_clock(region_now)
    return token


def _reference(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _home(district: dict[str, str], street: str) -> dict[str, Any]:
    return {"use": "home", "text": f"{street}, {district['name']}, Riverside City", "line": [street],
            "city": "Riverside City", "district": district["name"], "country": "CN"}


def _reported_case(n: int, day: date, district: dict[str, str], *, tag: str, doctor: str,
                   hospital: str) -> list[dict[str, Any]]:
    """A patient of the outbreak series, their diagnosis and their verified case report, as the sweep drafts it."""
    patient = {"resourceType": "Patient", "id": f"{tag}-case-{n}", "gender": "male" if n % 2 else "female",
               "birthDate": f"{1950 + n % 50}-03-0{1 + n % 9}", "name": [{"family": "Case", "given": [f"Seed{n}"]}],
               "address": [_home(district, f"{n} Willow Lane")], "managingOrganization": {"reference": hospital}}
    diagnosed = datetime.combine(day, day_time(10, 0), reporting.region_zone())
    condition = {"resourceType": "Condition", "id": f"{tag}-cond-{n}",
                 "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
                 "code": {"coding": [{"system": ICD10, "code": DIARRHOEA[0], "display": DIARRHOEA[1]}]},
                 "subject": {"reference": _reference(patient)}, "onsetDateTime": day.isoformat(),
                 "recordedDate": clock.format_instant(diagnosed), "recorder": {"reference": doctor}}
    cat = reporting.catalogue()
    report = reporting.build_draft(reporting.trigger_of(condition, cat), cat=cat, practitioner=doctor,
                                   organization=hospital, now=diagnosed,
                                   district={"system": model.DISTRICT_SYSTEM, "code": district["code"]})
    report["id"] = f"{tag}-report-{n}"
    model.set_extension(report, model.SUBMITTED_AT, {"valueDateTime": clock.format_instant(diagnosed)})
    model.set_extension(report, model.CLASSIFICATION, {"valueCode": "clinical"})
    model.move(report, "submit")
    model.move(report, "verify")
    return [patient, condition, report]


def outbreak_resources(*, tag: str, doctor: str, hospital: str) -> list[dict[str, Any]]:
    """The reported cases of HEXI_DAYS and HEDONG_DAYS, each a patient, a diagnosis and a verified report."""
    resources: list[dict[str, Any]] = []
    for district, days in ((HEXI, HEXI_DAYS), (HEDONG, HEDONG_DAYS)):
        for offset, cases in enumerate(days):
            for _ in range(cases):
                resources += _reported_case(len(resources) // 3 + 1, FIRST_DAY + timedelta(days=offset), district,
                                            tag=tag, doctor=doctor, hospital=hospital)
    return resources


def load_region(engine: Engine, tag: str, *, outbreak: bool = True) -> Region:
    """A hospital in Hexi with Dr Qiao and her patient Ms Lin (at home in Hexi), the outbreak series reported by the
    hospital's other doctor (unless outbreak is False), and the accounts: the doctor and two public-health officers."""
    hospital = {"resourceType": "Organization", "id": f"{tag}-hosp", "name": "Hexi People's Hospital"}
    doctor = {"resourceType": "Practitioner", "id": f"{tag}-qiao", "name": [{"family": "Qiao", "given": ["Min"]}]}
    colleague = {"resourceType": "Practitioner", "id": f"{tag}-fang", "name": [{"family": "Fang", "given": ["Yu"]}]}
    patient = {"resourceType": "Patient", "id": f"{tag}-lin", "gender": "female", "birthDate": "1991-05-12",
               "name": [{"family": "Lin", "given": ["Xiaoyu"]}],
               "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id",
                               "value": "339902199105120026"}],
               "telecom": [{"system": "phone", "value": "+86 139 5550 0126"}],
               "address": [_home(HEXI, "8 Riverbank Road")], "managingOrganization": {"reference": _reference(hospital)}}
    resources = [hospital, doctor, colleague, patient]
    if outbreak:
        resources += outbreak_resources(tag=tag, doctor=_reference(colleague), hospital=_reference(hospital))
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
        account = users.create_user(conn, username=f"dr.qiao.{tag}", password=PASSWORD, role="doctor",
                                    fhir_ref=_reference(doctor), organization=_reference(hospital))
        for name in ("cdc", "epi"):
            users.create_user(conn, username=f"{name}.{tag}", password=PASSWORD, role="public_health_officer")
    return Region(tag=tag, patient_id=patient["id"], patient_name="Xiaoyu Lin", doctor=account,
                  preparer=f"cdc.{tag}", approver=f"epi.{tag}")


def run_reporting_sweep(engine: Engine, tag: str) -> None:
    """Run the case-report sweep the way the job worker does: its job enqueued, claimed and run (and succeeding)."""
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind=reporting.SWEEP_JOB, payload={}, key=f"{reporting.SWEEP_JOB}:{tag}")
    claimed = claim(engine, worker=worker_name(), job_id=job_id)
    assert claimed is not None, "the sweep's job is due at once"
    assert run(engine, claimed), "the sweep drafted every notifiable record"


def diagnosis(region: Region) -> dict[str, Any]:
    """The Condition the doctor's client records: an encounter diagnosis of A09.0, confirmed, written now."""
    return {"resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "encounter-diagnosis"}]}],
            "code": {"coding": [{"system": ICD10, "code": DIARRHOEA[0], "display": DIARRHOEA[1]}]},
            "subject": {"reference": f"Patient/{region.patient_id}"},
            "recorder": {"reference": region.doctor.fhir_ref}, "recordedDate": clock.format_instant(clock.now())}


def shoot(page, name: str) -> None:
    """Full-page screenshots of page at desktop width, then loaded afresh at phone size (390x844), as a phone shows
    it; the page is left at desktop width."""
    page.screenshot(path=str(SHOTS / f"sc-notifiable-{name}.png"), full_page=True)
    page.set_viewport_size(MOBILE)
    page.reload()
    page.screenshot(path=str(SHOTS / f"sc-notifiable-{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
