"""Demo residents' choices about regional sharing, so clinicians see what other institutions sent about most of them.

The region is opt-in (settings.regional_sharing): without a choice, a clinician sees only what their own
institution recorded. Most residents agreed when they signed up at their health centre (SHARE_PERCENT), some of
them keeping mental health and HIV records with the institution that made them (WITHHOLD_PERCENT of those); the
rest have not chosen. The demo patient (accounts.patient.demo) and the residents the MPI found registered at three
institutions share everything, so the regional record shows their records from all three; residents change their
choices on /app/sharing.

Every choice is stored as regional/consent/service.py stores it (the same Consents, the same ids), in one
transaction per batch, as the platform; everything follows from the seed and the stored Patients in id order.
"""

import random

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcare.demo.accounts import CLINIC, first_resource
from smartcare.fhir import bundles
from smartcare.fhir import tables as t
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import sensitivity
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.consent.service import consent_resource

SHARE_PERCENT = 85
WITHHOLD_PERCENT = 15
WITHHELD = ("mental_health", "hiv")
BATCH = 200


def _entry(resource: dict) -> dict:
    return {"resource": resource, "request": {"method": "PUT", "url": f"Consent/{resource['id']}"}}


def choices_for(patient_id: str, rng: random.Random, *, demo_patient: bool) -> list[dict]:
    """The Consents of one resident's choice (none when they have not chosen)."""
    if not demo_patient and rng.randrange(100) >= SHARE_PERCENT:
        return []
    made = [consent_resource(f"rs-{patient_id}", patient_id, {"type": "permit"})]
    if not demo_patient and rng.randrange(100) < WITHHOLD_PERCENT:
        labels = sensitivity.labels_of(WITHHELD)
        made.append(consent_resource(f"rs-{patient_id}-labels", patient_id, {
            "type": "deny", "securityLabel": [{"system": sensitivity.label_system(), "code": c} for c in labels]}))
    return made


def load_consents(engine: Engine, *, seed: int) -> int:
    """Store the residents' sharing choices; the number of Consents written."""
    rng = random.Random(f"consents-{seed}")
    with unit_of_work(engine) as conn:
        ids = [row[0] for row in conn.execute(
            sa.select(t.resource.c.res_id).where(t.resource.c.res_type == "Patient", t.resource.c.deleted.is_(False))
            .order_by(t.resource.c.res_id))]
        demo = first_resource(conn, "Patient", [("organization", CLINIC)])
        # Residents the MPI found registered at three or more institutions (demo/duplicates.py registers one so):
        # they share, so their regional record shows what every institution recorded.
        persons = conn.execute(sa.select(t.resource.c.content).where(
            t.resource.c.res_type == "Person", t.resource.c.deleted.is_(False))).scalars().all()
    everywhere = {link["target"]["reference"].removeprefix("Patient/") for person in persons
                  if len(person.get("link") or ()) >= 3 for link in person["link"]}
    sharing = everywhere | ({demo["id"]} if demo else set())
    entries = [_entry(c) for pid in ids for c in choices_for(pid, rng, demo_patient=pid in sharing)]
    for start in range(0, len(entries), BATCH):
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, entries[start:start + BATCH], "")
    return len(entries)
