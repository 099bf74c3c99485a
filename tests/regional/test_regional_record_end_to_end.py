"""Issue 11's end: the demo's institutions feed the platform, one resident's records from three institutions appear
as one regional record to a clinician, and the resident's consent change hides what it should on every path."""

import sqlalchemy as sa

from smartcare.demo.loader import load_region
from smartcare.fhir import gateway
from smartcare.fhir import tables as t
from smartcare.fhir.http import FhirRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.regional.consent import service as consent
from smartcare.regional.records import service as records

CLINICAL = ("Encounter", "Observation", "Condition", "MedicationRequest")


def _resident_at_three(engine) -> list[str]:
    """The source Patients (CHC first) of a resident the MPI joined across three institutions."""
    with unit_of_work(engine) as conn:
        persons = conn.execute(sa.select(t.resource.c.content).where(t.resource.c.res_type == "Person")).scalars()
        for person in persons:
            linked = sorted(link["target"]["reference"].removeprefix("Patient/") for link in person.get("link", []))
            if len(linked) >= 3:
                return linked
    raise AssertionError("the demo has no resident registered at three institutions")


def _sources(found: dict[str, list[dict]]) -> set[str]:
    return {r.get("meta", {}).get("source") for res_type in CLINICAL for r in found.get(res_type, [])} - {None}


def test_three_institutions_one_regional_record_and_a_consent_change_hides_it_everywhere(engine):
    load_region(engine=engine, residents=60, seed=5)
    own, *others = _resident_at_three(engine)
    with unit_of_work(engine) as conn:
        hospital_copy = next(pid for pid in others if conn.execute(sa.select(t.resource.c.content).where(
            t.resource.c.res_type == "Patient", t.resource.c.res_id == pid)).scalar_one()
            ["managingOrganization"]["reference"] == "Organization/org-hosp-1")
    doctor = AccessContext(kind="user", name="dr.demo", roles=frozenset({"doctor"}), subject="user-dr",
                           organization="Organization/org-hosp-1", fhir_user="Practitioner/prac-x",
                           scopes=parse_scopes("user/*.cruds"))
    resident = AccessContext(kind="user", name="resident", roles=frozenset({"patient"}), subject="user-res",
                             patient=f"Patient/{own}", fhir_user=f"Patient/{own}", scopes=parse_scopes("patient/*.cruds"))
    # The doctor at the first hospital opens the hospital's registration: the regional record has all three.
    whole = records.gather(ctx=doctor, patient_id=hospital_copy)
    assert {"Organization/org-hosp-1", "Organization/org-hosp-2", "Organization/org-chc-1"} <= _sources(whole)
    # The resident keeps the health centre's records from the first hospital, in the app's terms.
    chosen = consent.current(resident, own)
    chosen.blocked = {"org-hosp-1": ["org-chc-1"]}
    consent.save(resident, own, chosen)
    narrowed = records.gather(ctx=doctor, patient_id=hospital_copy)
    assert "Organization/org-chc-1" not in _sources(narrowed)
    assert "Organization/org-hosp-2" in _sources(narrowed)
    # The same on the FHIR API's paths: search, $everything.
    for res_type in ("Encounter", "Observation"):
        found = gateway.search(doctor, res_type, [("subject", f"Patient/{own}"), ("_count", "200")])
        assert all(r["meta"].get("source") != "Organization/org-chc-1" for r in found)
    everything = gateway.serve(doctor, FhirRequest(method="GET", path=f"Patient/{own}/$everything",
                                                   query=[("_count", "500")])).body
    assert all(e["resource"].get("meta", {}).get("source") != "Organization/org-chc-1"
               for e in everything.get("entry", []) if e["resource"]["resourceType"] != "Patient")
    # The resident still sees all of it.
    assert "Organization/org-chc-1" in _sources(records.gather(ctx=resident, patient_id=own))
