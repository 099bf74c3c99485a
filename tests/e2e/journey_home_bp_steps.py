"""What the home blood-pressure journey (issue 14, journey 2) needs around the browser: a hypertensive resident of a
community health centre with his family doctor, the centre's nurse and pharmacist, a home monitoring plan, a prevention programme,
amlodipine taken every morning and a blood pressure monitor at home; the region's clock; the reminder jobs run as the
job worker runs them; and screenshots.

The region's clock stands at 07:30 in Shanghai (ticking from there) on the latest day when that is over an hour ago,
so the journey happens before the morning's 08:00 doses whatever time the tests run, and never ahead of the real time.
The programme in force was set two months earlier, from a clinic blood pressure of 150/95.
"""

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from smartcare.family.devices import registry
from smartcare.family.monitoring import plans as monitoring_plans
from smartcare.fhir import store
from smartcare.hospital.pharmacy import signing
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs.service import claim, run, worker_name
from smartcare.platform.jobs.tables import QUEUED, job
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import plans as programmes
from tests.hospital.video.test_video_browser import CONNECTED
from tests.web_support import make_user

VIDEO_MS = 30000
# Video frames from the other side (the fake camera's) are decoded: polled until more than ten were.
FRAMES_ARRIVE = """async () => {
  const report = await window.smartcareVideo.pc.getStats();
  let frames = 0;
  report.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0; });
  return frames > 10;
}"""
SHOTS = Path(os.environ.get("SMARTCARE_SCREENSHOTS", "/tmp/smartcare-shots")) / "journey-home-bp"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = (7, 30)
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


class RegionClock:
    """The server's clock: ticking from a start, and moved on by the journey (never past the real time)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.offset, self.started = start, timedelta(0), time.monotonic()

    def __call__(self) -> datetime:
        return self.start + self.offset + timedelta(seconds=time.monotonic() - self.started)

    def move_to(self, moment: datetime) -> None:
        """Jump to moment and tick on from there."""
        self.offset += moment - self()


def last_morning(now: datetime) -> datetime:
    """07:30 in Shanghai on the latest day when that was over an hour before now."""
    local = now.astimezone(SHANGHAI) - timedelta(hours=1)
    morning = local.replace(hour=MORNING[0], minute=MORNING[1], second=0, microsecond=0)
    return (morning if morning <= local else morning - timedelta(days=1)).astimezone(UTC)


@dataclass(frozen=True)
class Journey:
    """The ids, names and accounts of one run (tagged, so no other browser test meets them)."""

    tag: str
    clock: RegionClock
    device: str = ""  # the blood pressure monitor's id

    def ref(self, name: str) -> str:
        """The tagged id of one of the journey's resources."""
        return f"{self.tag}-{name}"

    @property
    def patient(self) -> str:
        return self.ref("zhou")

    @property
    def gp(self) -> str:
        return self.ref("gp")

    @property
    def gp_user(self) -> str:
        return f"wen.gp.{self.tag}"

    @property
    def nurse_user(self) -> str:
        return f"lu.nurse.{self.tag}"

    @property
    def pharmacist_user(self) -> str:
        return f"he.pharmacist.{self.tag}"

    @property
    def resident_user(self) -> str:
        return f"zhou.jianguo.{self.tag}"

    @property
    def programme_set_on(self) -> str:
        """The day the programme in force before the journey was set (two months before it, local)."""
        return self.clock.start.astimezone(SHANGHAI).date().isoformat()

    def local_today(self, hhmm: str) -> datetime:
        """Today's hhmm in Shanghai by the region's clock, as an instant."""
        hour, minute = map(int, hhmm.split(":"))
        return self.clock().astimezone(SHANGHAI).replace(hour=hour, minute=minute, second=0, microsecond=0)


def _bp(j: Journey, name: str, systolic: int, diastolic: int, when: datetime) -> dict:
    mmhg = {"unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    return {"resourceType": "Observation", "id": j.ref(name), "status": "final",
            "subject": {"reference": f"Patient/{j.patient}"}, "effectiveDateTime": clock.format_instant(when),
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}],
                     "text": "Blood pressure"},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                           "valueQuantity": {"value": systolic, **mmhg}},
                          {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                           "valueQuantity": {"value": diastolic, **mmhg}}]}


def _record(j: Journey, now: datetime) -> list[dict]:
    """The centre, Dr Wen and nurse Lu on Mr Zhou's care team, his hypertension diagnosed at a visit there in 2024,
    the amlodipine he has taken since, and his last clinic blood pressure (150/95, two months ago)."""
    subject = {"reference": f"Patient/{j.patient}"}
    chc, gp, nurse = j.ref("chc"), j.gp, j.ref("nurse")
    amlodipine = signing.medication_request(
        signing.PrescriptionLine(medicine="amlodipine", dose=5, unit="mg", frequency="QD", route="oral"),
        patient_id=j.patient, ctx=SYSTEM, encounter_id=j.ref("visit"), group=j.ref("rx-2024"),
        now="2024-03-05T02:30:00.000Z")
    return [
        {"resourceType": "Organization", "id": chc, "name": "Xinhua Road Community Health Centre"},
        {"resourceType": "Practitioner", "id": gp, "name": [{"text": "Wen Jing", "family": "Wen", "given": ["Jing"]}]},
        {"resourceType": "Practitioner", "id": nurse, "name": [{"text": "Lu Yan", "family": "Lu", "given": ["Yan"]}]},
        {"resourceType": "Practitioner", "id": j.ref("pharmacist"),
         "name": [{"text": "He Ping", "family": "He", "given": ["Ping"]}]},
        {"resourceType": "PractitionerRole", "id": j.ref("gp-role"), "active": True,
         "practitioner": {"reference": f"Practitioner/{gp}"}, "organization": {"reference": f"Organization/{chc}"}},
        {"resourceType": "Patient", "id": j.patient, "gender": "male", "birthDate": "1958-04-12",
         "name": [{"text": "Zhou Jianguo", "family": "Zhou", "given": ["Jianguo"]}],
         "managingOrganization": {"reference": f"Organization/{chc}"},
         "generalPractitioner": [{"reference": f"Practitioner/{gp}"}]},
        {"resourceType": "CareTeam", "id": j.ref("team"), "status": "active", "subject": subject,
         "participant": [{"member": {"reference": f"Practitioner/{gp}"}},
                         {"member": {"reference": f"Practitioner/{nurse}"}}]},
        {"resourceType": "Encounter", "id": j.ref("visit"), "status": "finished",
         "class": {"system": ACT_CODE, "code": "AMB"}, "subject": subject,
         "serviceProvider": {"reference": f"Organization/{chc}"},
         "participant": [{"individual": {"reference": f"Practitioner/{gp}"}}],
         "period": {"start": "2024-03-05T02:00:00.000Z", "end": "2024-03-05T02:30:00.000Z"}},
        {"resourceType": "Condition", "id": j.ref("htn"), "subject": subject,
         "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
         "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10",
                              "display": "Essential (primary) hypertension"}], "text": "Hypertension"},
         "encounter": {"reference": f"Encounter/{j.ref('visit')}"},
         "onsetDateTime": "2024-03-05", "recordedDate": "2024-03-05"},
        {**amlodipine, "id": j.ref("amlodipine")},
        _bp(j, "clinic-bp", 150, 95, now - timedelta(days=61)),
    ]


@pytest.fixture
def journey(e2e_engine) -> Iterator[Journey]:
    """Mr Zhou's record and accounts at the Xinhua Road centre, his programme set two months ago, a home monitoring
    plan and a blood pressure monitor; the region's clock at 07:30 in Shanghai for the length of the test."""
    morning = last_morning(datetime.now(UTC))
    region = RegionClock(morning - timedelta(days=60))
    clock.set_clock(region)
    try:
        tag = f"hb{uuid.uuid4().hex[:6]}"
        j = Journey(tag=tag, clock=region)
        with unit_of_work(e2e_engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                             for r in _record(j, morning)])
        gp = users.context_for(make_user(e2e_engine, "doctor", j.gp_user, fhir_ref=f"Practitioner/{j.gp}",
                                         organization=f"Organization/{j.ref('chc')}"))
        make_user(e2e_engine, "nurse", j.nurse_user, fhir_ref=f"Practitioner/{j.ref('nurse')}",
                  organization=f"Organization/{j.ref('chc')}")
        make_user(e2e_engine, "pharmacist", j.pharmacist_user, fhir_ref=f"Practitioner/{j.ref('pharmacist')}",
                  organization=f"Organization/{j.ref('chc')}")
        make_user(e2e_engine, "patient", j.resident_user, fhir_ref=f"Patient/{j.patient}")
        drafted = programmes.draft(gp, j.patient)
        programmes.accept(gp, j.patient, drafted.plan["id"],
                          keep_goals={programmes.goal_key(g) for g in drafted.goals},
                          keep_activities={programmes.activity_key(a) for a in drafted.plan.get("activity", [])},
                          targets={})
        monitoring_plans.assign_plan(gp, patient_id=j.patient, template_name="hypertension")
        with unit_of_work(e2e_engine) as conn:
            monitor = registry.register_device(conn, ctx=SYSTEM, kind="bp-monitor", patient_id=j.patient)
        region.move_to(morning)
        yield replace(j, device=monitor.device.device_id)
    finally:
        clock.set_clock(None)


def run_jobs(engine, kind: str, wanted: Callable[[dict], bool]) -> int:
    """Run the due jobs of kind whose payload is wanted, the way the job worker does (claimed, run, and
    succeeding); how many ran."""
    with unit_of_work(engine) as conn:
        rows = conn.execute(sa.select(job.c.id, job.c.payload).where(
            job.c.kind == kind, job.c.state == QUEUED,
            job.c.run_at <= clock.format_instant(clock.now()))).all()
    ids = [row.id for row in rows if wanted(row.payload)]
    for job_id in ids:
        claimed = claim(engine, worker=worker_name(), job_id=job_id)
        assert claimed is not None, f"the {kind} job is due"
        assert run(engine, claimed), f"the {kind} job ran"
    return len(ids)


def shot(page, name: str) -> None:
    """Save a full-page screenshot of the step."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits_the_phone(page) -> None:
    """The page needs no sideways scrolling on the phone."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} is wider than the phone"


def connect_video_visit(doctor, patient) -> None:
    """Both sides check their devices and join; the doctor admits the patient from the waiting room; the call
    connects and video frames arrive on both sides."""
    for page in (doctor, patient):
        page.click("#vv-check")
        page.wait_for_function("() => document.getElementById('vv-check-result').textContent.length > 0")
    patient.click("#vv-join")
    patient.wait_for_function("() => document.getElementById('video-visit').dataset.state === 'waiting'")
    doctor.click("#vv-join")
    doctor.wait_for_selector("#vv-admit:not([disabled])")
    doctor.click("#vv-admit")
    for page in (doctor, patient):
        page.wait_for_function(CONNECTED, timeout=VIDEO_MS)
        page.wait_for_function(FRAMES_ARRIVE, timeout=VIDEO_MS)
