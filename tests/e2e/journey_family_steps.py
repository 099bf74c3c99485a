"""What the family journey (issue 14, journey 3) needs around the browser: an elderly resident who lives alone, with
his own patient account, a released lab report, two medicines taken on a schedule and a wearable fall detector at
home; his daughter, a resident with her own patient account; their community health centre with his family doctor
(who sees patients there, with today's slots) and the centre's nurse on his care team; the region's clock; how the
care team's system finds the family account he named; the fall as his detector sends it; and screenshots.

The region's clock stands at 07:30 in Shanghai (ticking from there) on the latest day when that is over an hour ago
(journey_home_bp_steps.last_morning), so the morning's 08:00 doses are still to come and today's slots are free.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import orjson
import pytest

from smartcare.family.devices import registry
from smartcare.family.devices import service as devices
from smartcare.fhir import gateway, store
from smartcare.hospital.directory.conventions import DEPARTMENT_SYSTEM
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.scheduling import schedules
from smartcare.hospital.scheduling.rules import ScheduleTemplate, Session
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import policy
from smartcare.platform.security.context import SYSTEM, AccessContext
from tests.e2e.journey_home_bp_steps import SHANGHAI, RegionClock, last_morning
from tests.hospital.scheduling.conftest import HOURS
from tests.web_support import make_user

SHOTS = Path(os.environ.get("SMARTCARE_SCREENSHOTS", "/tmp/smartcare-shots")) / "journey-family"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
FATHER, DAUGHTER = "Wang Dehai", "Wang Li"
GP, HOSPITAL = "Qiao Mingyuan", "Dongfeng Road Community Health Centre"
REPORT_TITLE = "Diabetes review blood tests"


@dataclass(frozen=True)
class Family:
    """The ids and accounts of one run (tagged, so no other browser test meets them)."""

    tag: str
    clock: RegionClock
    detector: str  # the father's fall detector's device id
    daughter_user_id: str

    def ref(self, name: str) -> str:
        """The tagged id of one of the journey's resources."""
        return f"{self.tag}-{name}"

    @property
    def father(self) -> str:
        return self.ref("father")

    @property
    def daughter(self) -> str:
        return self.ref("daughter")

    @property
    def report(self) -> str:
        return self.ref("report")

    @property
    def gp(self) -> str:
        return self.ref("gp")

    @property
    def team(self) -> str:
        return self.ref("team")

    @property
    def father_user(self) -> str:
        return f"wang.dehai.{self.tag}"

    @property
    def daughter_user(self) -> str:
        return f"wang.li.{self.tag}"

    @property
    def nurse_user(self) -> str:
        return f"he.nurse.{self.tag}"


def _lab(j: Family, key: str, code: str, value: float, unit: str, when: datetime) -> dict:
    """A released result as the laboratory writes it (named as the order catalogue names the test)."""
    name = next(t.name_en for t in catalogue.lab_tests() if t.loinc == code)
    return {"resourceType": "Observation", "id": j.ref(key), "status": "final", "category": [
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                             "code": "laboratory"}]}],
            "subject": {"reference": f"Patient/{j.father}"}, "effectiveDateTime": clock.format_instant(when),
            "code": {"coding": [{"system": LOINC, "code": code, "display": name}], "text": name},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _medicine(j: Family, name: str, medicine: str, dose: float, frequency: str, authored: datetime) -> dict:
    line = signing.PrescriptionLine(medicine=medicine, dose=dose, unit="mg", frequency=frequency, route="oral",
                                    days=30)
    request = signing.medication_request(line, patient_id=j.father, ctx=SYSTEM, encounter_id=None,
                                         group=j.ref("rx"), now=clock.format_instant(authored))
    return {**request, "id": j.ref(name), "requester": {"reference": f"Practitioner/{j.gp}"}}


def _dispense(j: Family, name: str, tablets: int, handed_over: datetime) -> dict:
    """The pharmacy handed over a month of the medicine (counted in tablets, 30 days)."""
    return {"resourceType": "MedicationDispense", "id": j.ref(f"{name}-dispensed"), "status": "completed",
            "subject": {"reference": f"Patient/{j.father}"}, "medicationCodeableConcept": {"text": name},
            "authorizingPrescription": [{"reference": f"MedicationRequest/{j.ref(name)}"}],
            "quantity": {"value": tablets, "unit": "tablet"},
            "daysSupply": {"value": 30, "unit": "days", "system": UCUM, "code": "d"},
            "whenHandedOver": clock.format_instant(handed_over)}


def _record(j: Family, now: datetime) -> list[dict]:
    """The centre, Dr Qiao (who sees patients there) and nurse He on Mr Wang's care team; Mr Wang, 85, living alone
    with diabetes and hypertension, his medicines and the blood tests released yesterday; his daughter Wang Li."""
    chc, gp, nurse = j.ref("chc"), j.gp, j.ref("nurse")
    yesterday, spring = now - timedelta(days=1), now - timedelta(days=90)
    return [
        {"resourceType": "Organization", "id": chc, "name": HOSPITAL, "alias": ["东风路社区卫生服务中心"]},
        {"resourceType": "HealthcareService", "id": j.ref("gp-clinic"), "name": "General Practice",
         "type": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": "general-practice", "display": "General Practice"}],
                   "text": "全科医学科"}],
         "providedBy": {"reference": f"Organization/{chc}"}, "availableTime": HOURS},
        {"resourceType": "Location", "id": j.ref("room"), "name": "General practice room 2", "alias": ["全科2诊室"],
         "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                      "code": "ro"}]}},
        {"resourceType": "Practitioner", "id": gp, "active": True,
         "name": [{"text": GP, "family": "Qiao", "given": ["Mingyuan"]}]},
        {"resourceType": "PractitionerRole", "id": j.ref("gp-role"), "active": True,
         "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}]}],
         "practitioner": {"reference": f"Practitioner/{gp}"}, "organization": {"reference": f"Organization/{chc}"},
         "healthcareService": [{"reference": f"HealthcareService/{j.ref('gp-clinic')}"}],
         "location": [{"reference": f"Location/{j.ref('room')}"}]},
        {"resourceType": "Practitioner", "id": nurse, "name": [{"text": "He Fang", "family": "He", "given": ["Fang"]}]},
        {"resourceType": "Patient", "id": j.father, "gender": "male", "birthDate": "1941-02-17",
         "name": [{"text": FATHER, "family": "Wang", "given": ["Dehai"]}],
         "managingOrganization": {"reference": f"Organization/{chc}"},
         "generalPractitioner": [{"reference": f"Practitioner/{gp}"}]},
        # Her record is the newer one: searches list it before his (newest first).
        {"resourceType": "Patient", "id": j.daughter, "gender": "female", "birthDate": "1972-09-03",
         "name": [{"text": DAUGHTER, "family": "Wang", "given": ["Li"]}],
         "managingOrganization": {"reference": f"Organization/{chc}"}},
        {"resourceType": "CareTeam", "id": j.team, "status": "active", "subject": {"reference": f"Patient/{j.father}"},
         "participant": [{"member": {"reference": f"Practitioner/{gp}"}},
                         {"member": {"reference": f"Practitioner/{nurse}"}}]},
        _lab(j, "hba1c-spring", "4548-4", 7.1, "%", spring),
        _lab(j, "hba1c", "4548-4", 7.9, "%", yesterday),
        _lab(j, "hb", "718-7", 136, "g/L", yesterday),
        _lab(j, "k", "2823-3", 4.4, "mmol/L", yesterday),
        {"resourceType": "DiagnosticReport", "id": j.report, "status": "final", "category": [LAB],
         "subject": {"reference": f"Patient/{j.father}"}, "code": {"text": REPORT_TITLE},
         "effectiveDateTime": clock.format_instant(yesterday), "issued": clock.format_instant(yesterday),
         "performer": [{"reference": f"Organization/{chc}"}],
         "result": [{"reference": f"Observation/{j.ref(n)}"} for n in ("hba1c", "hb", "k")]},
        _medicine(j, "amlodipine", "amlodipine", 5, "QD", now - timedelta(days=7)),
        _medicine(j, "metformin", "metformin", 500, "BID", now - timedelta(days=7)),
        _dispense(j, "amlodipine", 30, now - timedelta(days=7)),
        _dispense(j, "metformin", 60, now - timedelta(days=7)),
    ]


def _clinic_hours(j: Family) -> ScheduleTemplate:
    """Dr Qiao's clinic: every day 08:00-11:30, 30-minute slots, 10 CNY."""
    return ScheduleTemplate(role_id=j.ref("gp-role"), practitioner_id=j.gp, practitioner_name=GP,
                            service_id=j.ref("gp-clinic"), organization_id=j.ref("chc"), weekdays=frozenset(range(7)),
                            sessions=(Session("am", time(8), time(11, 30)),), slot_minutes=30, capacity=1, fee=1000)


@pytest.fixture
def family(e2e_engine) -> Iterator[Family]:
    """Mr Wang's and his daughter's records and accounts, his doctor's slots today and tomorrow, the centre's nurse,
    and his fall detector; the region's clock at 07:30 in Shanghai for the length of the test."""
    morning = last_morning(datetime.now(UTC))
    region = RegionClock(morning)
    clock.set_clock(region)
    try:
        tag = f"fa{uuid.uuid4().hex[:6]}"
        j = Family(tag=tag, clock=region, detector="", daughter_user_id="")
        with unit_of_work(e2e_engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                             for r in _record(j, morning)])
        with unit_of_work(e2e_engine) as conn:
            schedules.generate_slots(conn, template=_clinic_hours(j), start=morning.astimezone(SHANGHAI).date(),
                                     days=2)
            detector = registry.register_device(conn, ctx=SYSTEM, kind="fall-detector", patient_id=j.father)
        make_user(e2e_engine, "patient", j.father_user, fhir_ref=f"Patient/{j.father}")
        daughter = make_user(e2e_engine, "patient", j.daughter_user, fhir_ref=f"Patient/{j.daughter}")
        make_user(e2e_engine, "nurse", j.nurse_user, fhir_ref=f"Practitioner/{j.ref('nurse')}",
                  organization=f"Organization/{j.ref('chc')}")
        yield Family(tag=tag, clock=region, detector=detector.device.device_id, daughter_user_id=daughter.id)
    finally:
        clock.set_clock(None)


def family_account_of(ctx: AccessContext, patient_id: str, user_id: str) -> dict:
    """The RelatedPerson about the patient that stands for the family account user_id, read as ctx."""
    people = gateway.search(ctx, "RelatedPerson", [("patient", f"Patient/{patient_id}"),
                                                   ("identifier", f"{policy.ACCOUNT_SID}|{user_id}")])
    [person] = [p for p in people if p.get("active") is not False]
    return person


def report_fall(engine, device_id: str, seq: int) -> None:
    """The wearable detector reports a fall, through the devices' ingestion path (as the monitoring tests send)."""
    frame = {"seq": seq, "time": clock.now().isoformat(timespec="seconds"),
             "readings": [{"type": "fall", "value": True}]}
    result = devices.ingest_frame(engine, device_id=device_id, payload=orjson.dumps(frame))
    assert result.status == "accepted", result.as_json()


def shot(page, name: str) -> None:
    """Save a full-page screenshot of the step."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
