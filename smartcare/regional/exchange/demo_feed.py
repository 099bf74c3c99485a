"""The demo's institutions feed the platform: each is registered as a member and sends a week of nightly bundles.

Every hospital and community health centre of the demo region becomes a member (Endpoint, exchange client). Each
then submits, for each of the last seven nights, a batch Bundle of a few new outpatient encounters with their vital
signs for residents it looks after, through the same submission service members use; a few records come with gaps
(an Observation without its unit) or a bad value, as real feeds do, so the console has volumes, rejections and
quality scores to show. The first hospital also sends one HL7 v2 ADT^A04 through its feed. Run twice, it adds nothing.
"""

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcare.fhir import tables as ft
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.exchange import hl7, members, submissions

NIGHTS = 7
NIGHTLY_AT = time(18, 0)  # 02:00 in the region (UTC+8)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = (("8867-4", "Heart rate", "/min", (58, 96)), ("8480-6", "Systolic blood pressure", "mm[Hg]", (105, 165)),
          ("8462-4", "Diastolic blood pressure", "mm[Hg]", (62, 98)), ("8310-5", "Body temperature", "Cel", (36.1, 37.6)))


def _organizations(engine: Engine) -> list[tuple[str, str]]:
    r = ft.resource.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.res_id, r.content).where(
            r.res_type == "Organization", r.deleted.is_(False), sa.or_(r.res_id.like("org-hosp-%"),
                                                                        r.res_id.like("org-chc-%")))).all()
    found = []
    for row in rows:
        content = row.content if isinstance(row.content, dict) else {}
        if row.res_id.count("-") == 2 and row.res_id.rsplit("-", 1)[1].isdigit():  # the institutions, not departments
            found.append((row.res_id, str(content.get("name") or row.res_id)))
    return sorted(found)


def _residents(engine: Engine) -> dict[str, list[str]]:
    """Patient ids by the community health centre managing them (hospitals see residents of every centre)."""
    ref = ft.idx_reference.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ref.res_pk, ref.target_id, ft.resource.c.res_id)
                            .join(ft.resource, ft.resource.c.pk == ref.res_pk)
                            .where(ref.res_type == "Patient", ref.param == "organization",
                                   ref.target_type == "Organization")).all()
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row.target_id, []).append(row.res_id)
    return {k: sorted(v) for k, v in out.items()}


def _encounter(enc_id: str, org_id: str, patient: str, start: datetime) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": enc_id, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
                      "display": "ambulatory"},
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()},
            "serviceProvider": {"reference": f"Organization/{org_id}"}}


def _vital(obs_id: str, enc_id: str, patient: str, when: datetime, vital: tuple, value: float,
           *, unit: bool = True) -> dict[str, Any]:
    code, display, ucum, _range = vital
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity |= {"unit": ucum, "system": UCUM, "code": ucum}
    return {"resourceType": "Observation", "id": obs_id, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": {"reference": f"Patient/{patient}"}, "encounter": {"reference": f"Encounter/{enc_id}"},
            "effectiveDateTime": when.isoformat(), "valueQuantity": quantity}


def nightly_bundle(rng: random.Random, org_id: str, patients: list[str], night: datetime, n: int) -> dict[str, Any]:
    """One night's batch from an institution: a few visits of the day with their vital signs."""
    entries: list[dict[str, Any]] = []
    for visit in range(rng.randint(2, 5)):
        patient = rng.choice(patients)
        start = night - timedelta(hours=rng.randint(6, 14), minutes=rng.randint(0, 59))
        enc_id = f"xf-{org_id}-{n}-{visit}"[:64]
        entries.append({"resource": _encounter(enc_id, org_id, patient, start),
                        "request": {"method": "PUT", "url": f"Encounter/{enc_id}"}})
        for k, vital in enumerate(rng.sample(VITALS, rng.randint(1, 3))):
            low, high = vital[3]
            value = round(rng.uniform(low, high), 1) if isinstance(low, float) else rng.randint(low, high)
            obs = _vital(f"{enc_id}-v{k}"[:64], enc_id, patient, start + timedelta(minutes=5), vital, value,
                         unit=rng.random() > 0.08)
            if rng.random() < 0.04:
                obs["valueQuantity"]["value"] = "not measured"  # a bad value the platform rejects
            entries.append({"resource": obs, "request": {"method": "PUT", "url": f"Observation/{obs['id']}"}})
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def _adt(facility: str, control_id: str, mrn: str) -> str:
    return (f"MSH|^~\\&|HIS|{facility}|SMARTCARE|REGION|20260301080000||ADT^A04^ADT_A01|{control_id}|P|2.5\r"
            "EVN|A04|20260301080000\r"
            f"PID|1||{mrn}^^^{facility}^MR||Zhou^Min||19820614|F|||8 Binhe Road^^Riverside^^339100^CN||13900002222\r")


def feed_members(engine: Engine, *, seed: int = 7, nights: int = NIGHTS) -> int:
    """Register the demo's institutions as members and play their nightly submissions; returns resources accepted."""
    with unit_of_work(engine) as conn:
        if members.list_members(conn):
            return 0
    institutions = _organizations(engine)
    residents = _residents(engine)
    everyone = sorted({p for ids in residents.values() for p in ids})
    if not institutions or not everyone:
        return 0
    registered = []
    with unit_of_work(engine) as conn:
        for org_id, _name in institutions:
            done = members.register_member(
                conn, SYSTEM, org_id=org_id, sends="Patient,Encounter,Observation,Condition,hl7v2:ADT",
                hl7_facility=org_id.upper(), mllp_address="mllp://127.0.0.1:2575")
            registered.append(done.member)
    rng = random.Random(seed)
    now = clock.now()
    last = datetime.combine(now.date(), NIGHTLY_AT, tzinfo=UTC)
    if last > now:
        last -= timedelta(days=1)
    accepted = 0
    try:
        for back in range(nights, 0, -1):
            night = last - timedelta(days=back - 1)
            clock.set_clock(lambda night=night: night)
            for n, member in enumerate(registered):
                patients = residents.get(member.org_id) or everyone
                sent = nightly_bundle(rng, member.org_id, patients, night, back * 100 + n)
                with unit_of_work(engine) as conn:
                    accepted += submissions.submit_bundle(conn, member=member, bundle=sent)["counts"]["accepted"]
    finally:
        clock.set_clock(None)
    first = next((m for m in registered if m.org_id.startswith("org-hosp-")), registered[0])
    report = hl7.submit_message(member=first, raw=_adt(first.hl7_facility or "", "XF-ADT-1", "XF-0001"), engine=engine)
    return accepted + report["counts"]["accepted"]
