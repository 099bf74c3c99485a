"""Demo in-patient care: rooms and beds for every ward of the demo hospitals, and a few current in-patients.

Each ward's beds (as many as its bed-count extension says) are laid out three to a room. A handful of
adult residents lie in the medical and surgical wards of each hospital, admitted a few days before
`now`, under a doctor of the department, with nursing vitals every six hours and their NEWS2 scores,
written as the ward pages write them. Everything but the anchor time follows from the seed.
"""

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from smartcare.demo import fhirtypes as ft
from smartcare.fhir import bundles
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.wards import beds, codes, vitals
from smartcare.knowledge.diseases import icd10
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

BEDS_PER_ROOM = 3
HOSPITALS = ("org-hosp-1", "org-hosp-2")
# The wards that get in-patients, each with the reason the patients are in for.
IN_PATIENT_WARDS = {"internal-medicine": "J18.9", "cardiology": "I50.9", "respiratory": "J44.1",
                    "general-surgery": "K35.8"}
PATIENTS_PER_WARD = 2
CHARTING_HOURS = 6


def _search(conn, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def _location(loc_id: str, name: str, alias: str, kind: str, display: str, part_of: str) -> dict[str, Any]:
    return {"resourceType": "Location", "id": loc_id, "status": "active", "name": name, "alias": [alias],
            "mode": "instance", "physicalType": ft.concept(codes.PHYSICAL_TYPE, kind, display),
            "partOf": ft.reference("Location", part_of)}


def ward_layout(ward: dict[str, Any]) -> list[dict[str, Any]]:
    """The rooms and (free) beds of one ward, three beds to a room."""
    count = next((e["valueInteger"] for e in ward.get("extension", []) if e["url"] == ft.BED_COUNT_EXTENSION), 0)
    made = []
    for number in range(1, count + 1):
        room = (number - 1) // BEDS_PER_ROOM + 1
        room_id = f"{ward['id']}-room-{room:02d}"
        if (number - 1) % BEDS_PER_ROOM == 0:
            made.append(_location(room_id, f"Room {room}", f"{room}号病房", codes.ROOM, "Room", ward["id"]))
        bed = _location(f"{ward['id']}-bed-{number:02d}", f"Bed {number}", f"{number}床", codes.BED, "Bed", room_id)
        bed["operationalStatus"] = {"system": codes.BED_STATUS, "code": codes.FREE, "display": "Unoccupied"}
        made.append(bed)
    return made


def _department_key(ward: dict[str, Any], hospital: str) -> str:
    return (ward.get("managingOrganization") or {}).get("reference", "").removeprefix(f"Organization/{hospital}-")


def _severity(rng: random.Random, hours_in: float, stay_hours: float) -> float:
    """How unwell the patient is, from about 1 on admission down towards 0.2, with some noise."""
    return max(0.0, 1.0 - 0.8 * hours_in / max(stay_hours, 1.0) + rng.uniform(-0.12, 0.12))


def _readings(rng: random.Random, severity: float, copd: bool) -> vitals.Readings:
    on_oxygen = severity > 0.55
    spo2 = round(90 + rng.uniform(-2, 2)) if copd else round(97 - 5 * severity + rng.uniform(-1, 1))
    return vitals.Readings(
        systolic=round(128 - 22 * severity + rng.uniform(-8, 8)), diastolic=round(76 - 8 * severity + rng.uniform(-5, 5)),
        pulse=round(76 + 34 * severity + rng.uniform(-5, 5)), respiratory_rate=round(15 + 9 * severity + rng.uniform(-1, 1)),
        temperature=round(36.7 + 1.7 * severity + rng.uniform(-0.2, 0.2), 1), spo2=min(100, spo2),
        spo2_scale=2 if copd else 1, on_oxygen=on_oxygen, consciousness="A")


def _as_put(entry: dict[str, Any], res_id: str, source: str) -> dict[str, Any]:
    resource = {**entry["resource"], "id": res_id, "meta": {"source": source}}
    return {"fullUrl": entry["fullUrl"], "resource": resource,
            "request": {"method": "PUT", "url": f"{resource['resourceType']}/{res_id}"}}


def _stay(rng: random.Random, number: int, *, patient: str, hospital: str, bed: dict[str, Any], reason: str,
          attending: str, team: list[str], now: datetime) -> list[dict[str, Any]]:
    """One in-patient's Encounter, care team and charted vitals, as PUT entries with fixed ids."""
    admitted = now - timedelta(hours=rng.randint(30, 110))
    start = clock.format_instant(admitted)
    diagnosis = icd10.find(reason)
    encounter_id = f"enc-ward-{number:03d}"
    encounter = {
        "resourceType": "Encounter", "id": encounter_id, "meta": {"source": f"Organization/{hospital}"},
        "status": "in-progress",
        "class": {"system": codes.ACT_CODE, "code": codes.INPATIENT, "display": "inpatient encounter"},
        "subject": {"reference": patient},
        "participant": [{"type": [ft.concept(codes.PARTICIPATION, codes.ATTENDER, "attender")],
                         "individual": {"reference": attending}}],
        "period": {"start": start},
        "reasonCode": [{"coding": [{"system": codes.ICD10, "code": diagnosis.code, "display": diagnosis.title_en}],
                        "text": diagnosis.title_zh}],
        "hospitalization": {"admitSource": ft.concept(codes.ADMIT_SOURCE, "emd", "From accident/emergency department")},
        "location": [{"location": {"reference": f"Location/{bed['id']}", "display": bed["name"]}, "status": "active",
                      "period": {"start": start}}],
        "serviceProvider": {"reference": f"Organization/{hospital}"},
    }
    team_resource = {
        "resourceType": "CareTeam", "id": f"ct-ward-{number:03d}", "meta": {"source": f"Organization/{hospital}"},
        "status": "active", "name": "Ward care team", "subject": {"reference": patient},
        "encounter": {"reference": f"Encounter/{encounter_id}"}, "period": {"start": start},
        "participant": [{"member": {"reference": m}} for m in sorted({attending, *team})],
        "managingOrganization": [{"reference": f"Organization/{hospital}"}],
    }
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in (encounter, team_resource)]
    stay_hours = (now - admitted).total_seconds() / 3600
    nurses = [m for m in team if m != attending] or [attending]
    moment, charted = admitted + timedelta(minutes=30), 0
    while moment < now:
        readings = _readings(rng, _severity(rng, (moment - admitted).total_seconds() / 3600, stay_hours),
                             reason == "J44.1")
        made = vitals.observations(readings, patient=patient, encounter=f"Encounter/{encounter_id}",
                                   performer=rng.choice(nurses), when=clock.format_instant(moment), adult=True,
                                   key=f"{number}-{charted}-")
        entries += [_as_put(e, f"obs-ward-{number:03d}-{charted:02d}-{i}", f"Organization/{hospital}")
                    for i, e in enumerate(made)]
        charted += 1
        moment += timedelta(hours=CHARTING_HOURS, minutes=rng.randint(-40, 40))
    return entries


def _patients(conn, now: datetime) -> list[str]:
    """Adult residents (30 to 85, living) who could be in hospital, in id order."""
    found = _search(conn, "Patient", [("birthdate", f"le{now.year - 30}-01-01"), ("birthdate", f"ge{now.year - 85}-01-01"),
                                      ("_sort", "_id"), ("_count", "400")])
    return [f"Patient/{p['id']}" for p in found if not p.get("deceasedBoolean") and "deceasedDateTime" not in p]


def _department_staff(conn, hospital: str, key: str) -> tuple[list[str], list[str]]:
    roles = _search(conn, "PractitionerRole", [("service", f"HealthcareService/hcs-{hospital[4:]}-{key}"),
                                               ("_count", "100")])

    def of(kind: str) -> list[str]:
        return sorted(r["practitioner"]["reference"] for r in roles
                      if any(c.get("code") == kind for concept in r.get("code", []) for c in concept.get("coding", [])))
    return of("doctor"), of("nurse")


def ward_entries(conn, *, seed: int, now: datetime) -> list[list[dict[str, Any]]]:
    """The wards' rooms, beds and in-patients as transaction entry lists (one list per ward)."""
    rng = random.Random(f"smartcare-demo:{seed}:wards")
    candidates = _patients(conn, now)
    rng.shuffle(candidates)
    number = 0
    out = []
    for hospital in HOSPITALS:
        departments = _search(conn, "Organization", [("partof", f"Organization/{hospital}"), ("_count", "500")])
        managers = [f"Organization/{d['id']}" for d in departments]
        wards = [w for value in beds.joined(managers)
                 for w in _search(conn, "Location", [("organization", value), ("_count", "1000")])
                 if codes.coding_of(w.get("physicalType"), codes.PHYSICAL_TYPE) == codes.WARD]
        for ward in sorted(wards, key=lambda w: w["id"]):
            layout = ward_layout(ward)
            free = [r for r in layout if codes.coding_of(r["physicalType"], codes.PHYSICAL_TYPE) == codes.BED]
            entries: list[dict[str, Any]] = []
            reason = IN_PATIENT_WARDS.get(_department_key(ward, hospital))
            doctors, nurses = _department_staff(conn, hospital, _department_key(ward, hospital))
            if reason and doctors and candidates:
                for bed in rng.sample(free, k=min(PATIENTS_PER_WARD, len(free), len(candidates))):
                    number += 1
                    bed.update(operationalStatus={"system": codes.BED_STATUS, "code": codes.OCCUPIED,
                                                  "display": "Occupied"})
                    entries += _stay(rng, number, patient=candidates.pop(), hospital=hospital, bed=bed, reason=reason,
                                     attending=rng.choice(doctors), team=doctors + nurses, now=now)
            for bed in rng.sample([b for b in free if b["operationalStatus"]["code"] == codes.FREE], k=min(1, len(free))):
                bed.update(operationalStatus={"system": codes.BED_STATUS, "code": codes.HOUSEKEEPING,
                                              "display": "Housekeeping"})
            out.append([{"resource": r, "request": {"method": "PUT", "url": f"Location/{r['id']}"}} for r in layout]
                       + entries)
    return out


def load_wards(engine: Engine, *, seed: int, now: datetime | None = None) -> int:
    """Add the demo wards' rooms, beds and in-patients to a loaded region; returns how many resources."""
    anchor = (now or clock.now()).replace(minute=0, second=0, microsecond=0)
    with unit_of_work(engine) as conn:
        batches = ward_entries(conn, seed=seed, now=anchor)
    written = 0
    for entries in batches:
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, entries, "")
        written += len(entries)
    return written

