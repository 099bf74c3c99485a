"""A community health centre's monitored patient for the monitoring tests, and readings as the devices store them.

Mr Chen (p-chen) is registered with the Jiefang Road health centre (org-c); his general practitioner is Dr Gao
(gp-gao), and nurse Xu (nurse-xu) is on his active care team. His son (rp-son) is his designated caregiver with a
proxy Consent. Dr Ma (doc-ma) works at another organisation (org-x) and has nothing to do with him.
"""

from datetime import datetime
from itertools import count

from smartcare.fhir import store
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import policy, users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import make_user

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
VITAL = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}
ACTIVITY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "activity"}]}
_seq = count(1)


def _consent() -> dict:
    role = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "CHILD"}]}
    return {"resourceType": "Consent", "id": "consent-son", "status": "active",
            "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
            "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
            "patient": {"reference": "Patient/p-chen"},
            "provision": {"type": "permit", "actor": [{"role": role, "reference": {"reference": "RelatedPerson/rp-son"}}]}}


def write_record(engine) -> dict:
    """Write the centre, its staff, Mr Chen, his care team and son; make the accounts; contexts and user ids."""
    resources = [
        {"resourceType": "Organization", "id": "org-c", "name": "Jiefang Road Community Health Centre"},
        {"resourceType": "Organization", "id": "org-x", "name": "Another hospital"},
        {"resourceType": "Practitioner", "id": "gp-gao", "name": [{"text": "Gao Lin"}]},
        {"resourceType": "Practitioner", "id": "nurse-xu", "name": [{"text": "Xu Hui"}]},
        {"resourceType": "Practitioner", "id": "doc-ma", "name": [{"text": "Ma Jun"}]},
        {"resourceType": "Patient", "id": "p-chen", "name": [{"text": "Chen Guoqiang"}], "gender": "male",
         "birthDate": "1948-05-02", "managingOrganization": {"reference": "Organization/org-c"},
         "generalPractitioner": [{"reference": "Practitioner/gp-gao"}]},
        {"resourceType": "CareTeam", "id": "team-chen", "status": "active", "subject": {"reference": "Patient/p-chen"},
         "participant": [{"member": {"reference": "Practitioner/gp-gao"}},
                         {"member": {"reference": "Practitioner/nurse-xu"}}]},
        {"resourceType": "RelatedPerson", "id": "rp-son", "active": True, "patient": {"reference": "Patient/p-chen"},
         "name": [{"text": "Chen Ming"}]},
        _consent(),
    ]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    accounts = {
        "gp": make_user(engine, "doctor", username="gao.gp", fhir_ref="Practitioner/gp-gao",
                        organization="Organization/org-c"),
        "nurse": make_user(engine, "nurse", username="xu.nurse", fhir_ref="Practitioner/nurse-xu",
                           organization="Organization/org-c"),
        "son": make_user(engine, "caregiver", username="chen.son", fhir_ref="RelatedPerson/rp-son"),
        "stranger": make_user(engine, "doctor", username="ma.doctor", fhir_ref="Practitioner/doc-ma",
                              organization="Organization/org-x"),
        "dispatcher": make_user(engine, "nurse", username="emergency.line", fhir_ref="Practitioner/disp-1",
                                organization="Organization/org-x"),
    }
    return {name: users.context_for(user) for name, user in accounts.items()} | {
        f"{name}_id": user.id for name, user in accounts.items()}


def _observation(kind_code: dict, *, at: datetime | None, category: dict, **values) -> dict:
    seq = next(_seq)
    when = clock.format_instant(at or clock.now())
    return {"resourceType": "Observation", "status": "final", "category": [category], "code": kind_code,
            "subject": {"reference": "Patient/p-chen"}, "device": {"reference": "Device/dev-1"},
            "effectiveDateTime": when, "issued": when,
            "identifier": [{"system": "https://smartcare.example/fhir/sid/device-reading", "value": f"dev-1:{seq}:0"}],
            **values}


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def blood_pressure(systolic: float, diastolic: float, at: datetime | None = None) -> dict:
    """A blood-pressure reading as the devices module stores it."""
    return _observation({"coding": [{"system": LOINC, "code": "85354-9"}]}, at=at, category=VITAL, component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": _quantity(systolic, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": _quantity(diastolic, "mm[Hg]")},
    ])


def single(code: str, value: float, unit: str, at: datetime | None = None) -> dict:
    """A one-value vital-sign reading (glucose 15074-8 mmol/L, weight 29463-7 kg, SpO2 59408-5 % ...)."""
    return _observation({"coding": [{"system": LOINC, "code": code}]}, at=at, category=VITAL,
                        valueQuantity=_quantity(value, unit))


def fall(at: datetime | None = None) -> dict:
    """A fall reported by a wearable fall detector."""
    return _observation({"coding": [{"system": "http://snomed.info/sct", "code": "1912002"}]}, at=at,
                        category=ACTIVITY, valueBoolean=True)


def stored(engine, *observations: dict) -> list[str]:
    """Store readings as the devices module does; their references."""
    with unit_of_work(engine) as conn:
        done = store.write_batch(conn, SYSTEM, [store.Write("POST", "Observation", store.new_id(), o)
                                                for o in observations])
    return [s.reference for s in done]
