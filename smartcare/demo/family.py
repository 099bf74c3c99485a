"""The demo region's family health: residents of the demo GP's practice monitored at home, and the demo patient's
medicines.

About eight residents of the health centre's general practice (the demo patient among them) get a monitoring plan
from a template, a care team of the family doctor and the centre's nurse, and the home devices their plan reads,
registered as a deployment registers them. A week of readings drawn by the device simulator's generators (fixed seed)
comes in through the devices' ingestion before the plans start; then a few abnormal episodes arrive and are judged
as the live service judges them, so the care team's dashboard opens on alerts of every severity (one already
acknowledged), and the daughter designated as a caregiver has her notice of a fall. The demo patient has active
prescriptions dispensed by the centre's pharmacy, three weeks of doses marked taken or skipped, and one medicine
about to run out. Everything goes through the store and the family modules' own services, as the people would.
"""

import random
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.demo import accounts
from smartcare.family.devices.registry import register_device
from smartcare.family.devices.service import FrameIn, ingest_frames
from smartcare.family.devices.simulator import (
    DEMO_REGION_SERIAL,
    SimulatedDevice,
    SimulatedPatient,
    draw_patient,
    next_frame,
)
from smartcare.family.devices.tables import device_registry
from smartcare.family.monitoring import flows, plans, service
from smartcare.fhir import bundles
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import policy, users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.settings import get_settings

SEED = 2026
MONITORED = 8
HISTORY_DAYS = 7
ADULT = 18
# Which devices each template's readings need, and when (local hour) a resident takes each device's readings.
DEVICES = {"hypertension": ("bp-monitor",), "diabetes": ("glucometer", "bp-monitor"),
           "heart-failure": ("scale", "bp-monitor"), "copd": ("pulse-oximeter", "thermometer"),
           "elderly-alone": ("fall-detector", "bp-monitor")}
TIMES = {"bp-monitor": (7.5, 20.0), "glucometer": (7.0, 19.5), "scale": (7.25,), "pulse-oximeter": (9.0, 21.0),
         "thermometer": (9.1,), "fall-detector": (10.0, 15.0, 20.5)}
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ATC = "http://www.whocc.no/atc"
TIMING_CODES = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
PRESCRIPTION_DAYS = 20


@dataclass(frozen=True, slots=True)
class Story:
    """What happens to one monitored resident: their plan, their body, and the episodes that end their week, each
    (device kind, readings, minutes ago)."""

    template: str
    body: dict[str, Any]
    episodes: tuple[tuple[str, list[dict[str, Any]], int], ...] = ()


def _bp(systolic: int, diastolic: int, rate: int) -> list[dict[str, Any]]:
    return [{"type": "blood-pressure", "systolic": systolic, "diastolic": diastolic, "unit": "mm[Hg]"},
            {"type": "heart-rate", "value": rate, "unit": "/min"}]


# The demo patient first (a blood pressure of 182/111 this afternoon: the GP has acknowledged it), then the others
# oldest first: a fall at home, a weight gain in heart failure, a desaturation and a fever in COPD, a hypoglycaemia,
# a hypertensive crisis, and two residents whose week was uneventful.
DEMO_PATIENT_STORY = Story("hypertension", {"systolic": 146, "diastolic": 92}, (("bp-monitor", _bp(182, 111, 84), 95),))
STORIES = (
    Story("elderly-alone", {"systolic": 138, "diastolic": 82},
          (("fall-detector", [{"type": "fall", "value": True}], 25),)),
    Story("heart-failure", {"systolic": 128, "diastolic": 78, "weight": 71.0},
          (("scale", [{"type": "body-weight", "value": 74.6, "unit": "kg"}], 180),)),
    Story("copd", {"heart_rate": 84}, (
        ("pulse-oximeter", [{"type": "spo2", "value": 86, "unit": "%"}, {"type": "heart-rate", "value": 98,
                                                                          "unit": "/min"}], 70),
        ("thermometer", [{"type": "body-temperature", "value": 38.3, "unit": "Cel"}], 65))),
    Story("diabetes", {"diabetic": True, "fasting_glucose": 7.2, "systolic": 130, "diastolic": 80},
          (("glucometer", [{"type": "glucose", "value": 2.7, "unit": "mmol/L"}], 120),)),
    Story("hypertension", {"systolic": 132, "diastolic": 84}, (("bp-monitor", _bp(186, 114, 88), 50),)),
    Story("diabetes", {"diabetic": True, "fasting_glucose": 6.8, "systolic": 126, "diastolic": 78}),
    Story("hypertension", {"systolic": 128, "diastolic": 80}),
)


def _search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def _age(patient: dict[str, Any], today: datetime) -> int:
    born = str(patient.get("birthDate") or "")
    return today.year - int(born[:4]) if len(born) >= 4 and born[:4].isdigit() else 0


def choose_residents(conn: Connection, *, gp: str, demo_patient: str) -> list[dict[str, Any]]:
    """The demo patient, then up to MONITORED - 1 of the GP's other adult patients, topped up with the centre's
    other adults (the GP's dashboard shows the whole centre's monitored residents), oldest first."""
    now = clock.now()
    mine = _search(conn, "Patient", [("general-practitioner", gp), ("_count", "200")])
    centre = _search(conn, "Patient", [("organization", accounts.CLINIC), ("_sort", "birthdate"), ("_count", "60")])
    demo = [p for p in [*mine, *centre] if p["id"] == demo_patient.removeprefix("Patient/")][:1] or \
        _search(conn, "Patient", [("_id", demo_patient.removeprefix("Patient/"))])
    chosen = {p["id"]: p for p in demo}
    oldest_first = sorted((p for p in mine if _age(p, now) >= ADULT), key=lambda p: p.get("birthDate", ""))
    for patient in [*oldest_first, *(p for p in centre if _age(p, now) >= ADULT)]:
        if len(chosen) >= MONITORED:
            break
        chosen.setdefault(patient["id"], patient)
    first, *others = chosen.values()
    return [first, *sorted(others, key=lambda p: p.get("birthDate", ""))]


def _care_team(patient_id: str, gp: str, nurse: str | None, start: str) -> dict[str, Any]:
    members = [{"role": [{"text": "family doctor"}], "member": {"reference": gp}}]
    if nurse:
        members.append({"role": [{"text": "community nurse"}], "member": {"reference": nurse}})
    return {"resourceType": "CareTeam", "id": f"ct-home-{patient_id}", "status": "active",
            "name": "Home monitoring team", "subject": {"reference": f"Patient/{patient_id}"},
            "period": {"start": start}, "participant": members,
            "managingOrganization": [{"reference": accounts.CLINIC}]}


def _daughter(patient: dict[str, Any]) -> list[dict[str, Any]]:
    """The daughter of a resident living alone and the proxy Consent that lets her see her mother's record."""
    patient_id = patient["id"]
    family = next((n.get("family") for n in patient.get("name", []) if n.get("family")), "王")
    role = {"coding": [{"system": V3_ROLE, "code": "DAU", "display": "natural daughter"}]}
    daughter = {"resourceType": "RelatedPerson", "id": f"rp-family-{patient_id}", "active": True,
                "identifier": [{"system": accounts.FAMILY_CAREGIVER_SID, "value": accounts.FAMILY_CAREGIVER}],
                "patient": {"reference": f"Patient/{patient_id}"}, "relationship": [role],
                "name": [{"family": family, "given": ["丽"]}], "telecom": [{"system": "phone", "value": "13800000000"}]}
    consent = {
        "resourceType": "Consent", "id": f"consent-family-{patient_id}", "status": "active",
        "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
        "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "actor": [{"role": role, "reference": {"reference": f"RelatedPerson/"
                                                                                         f"rp-family-{patient_id}"}}]},
    }
    return [daughter, consent]


def _put(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
             "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]


def _body(story: Story, rng: random.Random) -> SimulatedPatient:
    return replace(draw_patient(rng), **story.body)


def _week(devices: list[SimulatedDevice], *, now: datetime, tz: ZoneInfo, rng: random.Random) -> list[FrameIn]:
    """A week of each device's readings at its usual times, ending three hours ago, as the simulator draws them."""
    frames = []
    today = now.astimezone(tz).date()
    slots = []
    for back in range(HISTORY_DAYS, -1, -1):
        day = today - timedelta(days=back)
        for device in devices:
            for hour in TIMES[device.kind]:
                at = datetime.combine(day, time(int(hour), round(hour % 1 * 60)), tzinfo=tz) + \
                    timedelta(minutes=rng.randint(-10, 10))
                if now - timedelta(days=HISTORY_DAYS) <= at < now - timedelta(hours=3):
                    slots.append((at, device))
    for at, device in sorted(slots, key=lambda s: (s[0], s[1].device_id)):
        frame = next_frame(device, at, rng)
        if frame is not None:
            frames.append(FrameIn(device.device_id, frame, at + timedelta(seconds=rng.randint(2, 40))))
    return frames


def _register(conn: Connection, patient_id: str, kinds: tuple[str, ...], body: SimulatedPatient,
              tz: ZoneInfo) -> list[SimulatedDevice]:
    devices = []
    for kind in kinds:
        registered = register_device(conn, ctx=SYSTEM, kind=kind, patient_id=patient_id,
                                     serial=f"{DEMO_REGION_SERIAL}{patient_id}-{kind}"[:64],
                                     model=f"Home {kind}", manufacturer="SmartCare demo devices")
        devices.append(SimulatedDevice(registered.device.device_id, kind, body, timezone=str(tz)))
    return devices


def _monitor(engine: Engine, residents: list[dict[str, Any]], *, gp_ctx: AccessContext, caregiver: str | None,
             tz: ZoneInfo) -> int:
    """Devices, a week of readings, the plans (assigned by the GP), then the episodes, judged as they come in; the
    demo patient's alert is acknowledged by the GP. The resources written."""
    rng = random.Random(SEED)
    now = clock.now()
    stories = [DEMO_PATIENT_STORY, *STORIES]
    homes: list[tuple[str, Story, list[SimulatedDevice]]] = []
    with unit_of_work(engine) as conn:
        for patient, story in zip(residents, stories, strict=False):
            kinds = DEVICES[story.template]
            homes.append((patient["id"], story, _register(conn, patient["id"], kinds, _body(story, rng), tz)))
    history = [f for _pid, _story, devices in homes for f in _week(devices, now=now, tz=tz, rng=rng)]
    written = sum(len(r.observations) for r in ingest_frames(engine, history, live=False))
    for patient_id, story, _devices in homes:
        plans.assign_plan(gp_ctx, patient_id=patient_id, template_name=story.template,
                          caregivers=[caregiver] if caregiver and story.template == "elderly-alone" else None,
                          care_teams=[f"CareTeam/ct-home-{patient_id}"])
    episodes = []
    for _patient_id, story, devices in homes:
        for kind, readings, minutes_ago in story.episodes:
            device = next(d for d in devices if d.kind == kind)
            at = now - timedelta(minutes=minutes_ago)
            episodes.append(FrameIn(device.device_id, {"seq": device.seq, "time": at.astimezone(tz).isoformat(
                timespec="seconds"), "readings": readings}, at + timedelta(seconds=5)))
            device.seq += 1
    written += sum(len(r.observations) for r in ingest_frames(engine, episodes, live=False))
    demo_patient = homes[0][0] if homes else None
    with unit_of_work(engine) as conn:
        alerts = service.open_alerts(conn, f"Patient/{demo_patient}") if demo_patient else []
    # The story's alert is the crisis; a routine "raised" alert from the week's readings may be open too.
    crisis = [a for a in alerts if service.rule_of(a) == "bp-crisis"]
    for alert in (crisis or alerts)[:1]:
        service.acknowledge(gp_ctx, alert_id=alert["id"], note="Phoned: feels well; medicines to be reviewed "
                                                               "at the clinic this week.")
    return written + len(homes) + sum(len(d) for _p, _s, d in homes)


def _medicine(atc: str, display: str, zh: str) -> dict[str, Any]:
    return {"coding": [{"system": ATC, "code": atc, "display": display}], "text": zh}


def _order(patient_id: str, gp: str, authored: str, medicine: dict[str, Any], *, code: str,
           when: list[str] | None, days: int, text: str) -> dict[str, Any]:
    repeat: dict[str, Any] = {"frequency": 1, "period": 1, "periodUnit": "d"}
    if when:
        repeat["when"] = when
    return {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                  "code": "community", "display": "Community"}]}],
        "medicationCodeableConcept": medicine, "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": authored, "requester": {"reference": gp},
        "dosageInstruction": [{"sequence": 1, "text": text, "timing": {
            "repeat": repeat, "code": {"coding": [{"system": TIMING_CODES, "code": code, "display": code}]}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route"}],
                      "text": "口服"},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet", "system": "http://unitsofmeasure.org",
                                              "code": "{tbl}"}}]}],
        "dispenseRequest": {"numberOfRepeatsAllowed": 5,
                            "expectedSupplyDuration": {"value": days, "unit": "days",
                                                       "system": "http://unitsofmeasure.org", "code": "d"}},
    }


def _dispense(order: dict[str, Any], quantity: int, handed: str) -> dict[str, Any]:
    return {"resourceType": "MedicationDispense", "status": "completed",
            "medicationCodeableConcept": order["medicationCodeableConcept"], "subject": order["subject"],
            "authorizingPrescription": [{"reference": f"MedicationRequest/{order['id']}"}],
            "quantity": {"value": quantity, "unit": "tablet"}, "whenPrepared": handed, "whenHandedOver": handed,
            "dosageInstruction": order["dosageInstruction"]}


def _intakes(doses: list[Any], now: datetime, rng: random.Random) -> list[tuple[Any, str]]:
    """Which past doses the patient marked taken or skipped (most taken, some skipped, a few left unanswered)."""
    marked = []
    for dose in doses:
        if dose.due >= now:
            continue
        roll = rng.random()
        if dose.due > now - timedelta(hours=12) or roll < 0.82:
            marked.append((dose, "taken"))
        elif roll < 0.9:
            marked.append((dose, rng.choice(("forgot", "side-effects", "felt-well"))))
    return marked


def _prescribe(engine: Engine, *, patient_id: str, gp: str, gp_ctx: AccessContext, patient_ctx: AccessContext,
               tz: ZoneInfo) -> int:
    """The demo patient's two prescriptions, dispensed by the centre's pharmacy, three weeks of intakes marked,
    the next reminders planned and the refill reminder of the medicine running out; resources written."""
    # Imported here, not with the loader: importing the medication module subscribes it to every store write, and
    # the region's bulk load before this has no prescriptions of the app to review or plan.
    from smartcare.family.medication import records, reminders, schedule, supply

    rng = random.Random(SEED + 1)
    now = clock.now()
    start = datetime.combine(now.astimezone(tz).date() - timedelta(days=PRESCRIPTION_DAYS), time(9), tzinfo=tz)
    authored, handed = clock.format_instant(start), clock.format_instant(start + timedelta(hours=1))
    pharmacy = AccessContext(kind="user", name="pharmacy-chc-1", roles=frozenset({"pharmacist"}),
                             organization=accounts.CLINIC, scopes=users.scope_ceiling("pharmacist"))
    with unit_of_work(engine) as conn:
        amlodipine = records.create(conn, gp_ctx, _order(
            patient_id, gp, authored, _medicine("C08CA01", "amlodipine", "苯磺酸氨氯地平片"), code="QD", when=None,
            days=30, text="口服，每次5mg，每日1次"))
        atorvastatin = records.create(conn, gp_ctx, _order(
            patient_id, gp, authored, _medicine("C10AA05", "atorvastatin", "阿托伐他汀钙片"), code="QN",
            when=["HS"], days=30, text="口服，每次20mg，每晚1次"))
        marked = {o["id"]: _intakes(schedule.doses_between([o], start, now, tz), now, rng)
                  for o in (amlodipine, atorvastatin)}
        taken = {rid: sum(1 for _d, state in doses if state == "taken") for rid, doses in marked.items()}
        # Amlodipine: a month's box; atorvastatin: what was handed over leaves three nights (the refill is due).
        records.create(conn, pharmacy, _dispense(amlodipine, 30, handed))
        records.create(conn, pharmacy, _dispense(atorvastatin, taken[atorvastatin["id"]] + 3, handed))
        for doses in marked.values():
            for dose, state in doses:
                when = dose.due + timedelta(minutes=rng.randint(0, 40))
                reminders.record_intake(conn, patient_ctx, dose_key=dose.key, taken=state == "taken",
                                        reason=None if state == "taken" else state, when=when)
        reminders.plan_patient(conn, patient_id=patient_id, now=now)
        record = records.gather(conn, SYSTEM, patient_id=patient_id, since=start)
        supply.check_refills(conn, record=record, patient_id=patient_id, now=now)
    return 4 + sum(len(d) for d in marked.values())


def loaded(engine: Engine) -> bool:
    """True when the family demo's devices are registered already."""
    with engine.connect() as conn:
        return conn.execute(sa.select(device_registry.c.device_id).where(
            device_registry.c.serial.like(f"{DEMO_REGION_SERIAL}%")).limit(1)).first() is not None


def load_family(engine: Engine) -> int:
    """Monitor about eight of the demo GP's residents at home and give the demo patient their medicines (once);
    how many resources were written."""
    if loaded(engine):
        return 0
    flows.install()  # readings are judged as they are stored, as in the running service
    tz = ZoneInfo(get_settings().region_timezone)
    start = clock.format_instant(clock.now())
    with unit_of_work(engine) as conn:
        gp, nurse = accounts.family_doctor(conn), accounts.home_nurse(conn)
        demo = accounts.first_resource(conn, "Patient", [("organization", accounts.CLINIC)])
        if gp is None or demo is None:
            return 0
        residents = choose_residents(conn, gp=gp, demo_patient=demo["id"])
        alone = residents[1] if len(residents) > 1 else None
        family = _daughter(alone) if alone else []
        bundles.transaction(conn, SYSTEM, _put([*(_care_team(p["id"], gp, nurse, start) for p in residents),
                                                *family]), "")
    # The people the alerts and reminders go to sign in with the demo accounts: they exist before the first notice.
    accounts.ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        gp_user = users.get_by_username(conn, username="gp.demo")
        patient_user = users.get_by_username(conn, username="patient.demo")
    if gp_user is None or patient_user is None:
        return 0
    written = len(residents) + len(family)
    written += _monitor(engine, residents, gp_ctx=users.context_for(gp_user),
                        caregiver=f"RelatedPerson/{family[0]['id']}" if family else None, tz=tz)
    written += _prescribe(engine, patient_id=demo["id"], gp=gp, gp_ctx=users.context_for(gp_user),
                          patient_ctx=users.context_for(patient_user), tz=tz)
    return written
