"""The demo's residents registered again at hospitals: realistic slips, records there, and the MPI's work on them."""

import random

import sqlalchemy as sa

from smartcare.demo.duplicates import HOSPITALS, plan_registrations, registered_again
from smartcare.demo.loader import load_region
from smartcare.fhir import store
from smartcare.fhir import tables as t
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.mpi import service
from smartcare.regional.mpi.patients import person_of


def _resident(res_id: str, birth: str = "1971-03-09") -> dict:
    return {
        "resourceType": "Patient", "id": res_id, "gender": "female", "birthDate": birth,
        "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id", "value": "11010519491231002X"}],
        "name": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                                 "valueCode": "IDE"}], "use": "official", "text": "王秀英", "family": "王",
                  "given": ["秀英"]},
                 {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                                 "valueCode": "ABC"}], "use": "official", "text": "Wang Xiuying", "family": "Wang",
                  "given": ["Xiuying"]}],
        "telecom": [{"system": "phone", "value": "13800138000", "use": "mobile"}],
    }


def test_the_plan_is_the_same_for_the_same_seed_and_registers_one_resident_at_both_hospitals() -> None:
    residents = [_resident(f"pat-{n:05d}") for n in range(1, 61)]
    first = plan_registrations(residents, "pat-00003", random.Random("s"))
    assert first == plan_registrations(residents, "pat-00003", random.Random("s"))
    assert {r.hospital for r in first["pat-00003"]} == set(HOSPITALS)
    assert 4 <= len(first) <= 8
    assert any(r.phone == "missing" and r.identity == "none" for plans in first.values() for r in plans)


def test_a_registration_again_keeps_the_person_recognisable_but_typed_differently() -> None:
    residents = [_resident("pat-00001")]
    plans = plan_registrations(residents, "pat-00001", random.Random(1))["pat-00001"]
    rng = random.Random(2)
    western = registered_again(residents[0], plans[0], 1, rng)
    homophone = registered_again(residents[0], plans[1], 2, rng)
    assert western["name"][0]["text"] == "Xiuying Wang" and western["managingOrganization"]["reference"] == \
        "Organization/org-hosp-1"
    assert homophone["name"][0]["text"] == "王绣英"  # 秀 and 绣 are both xiu: the same name to the index
    assert homophone["birthDate"] == "1971-09-03"  # day and month swapped
    assert not any(i["system"].endswith("cn-resident-id") for i in homophone["identifier"])
    assert person_of(homophone).given == person_of(residents[0]).given


def test_the_loaded_demo_has_duplicates_the_mpi_links_or_queues(engine) -> None:
    load_region(engine=engine, residents=60, seed=5)
    with unit_of_work(engine) as conn:
        resident = "Patient/pat-00004"  # the first adult of the first health centre after patient.demo (pat-00060)
        members = service.sources_of(conn, service.identity_of(conn, resident))
        assert members == [resident, f"{resident}-dup-1", f"{resident}-dup-2"]
        managers = {store.read(conn, SYSTEM, res_type="Patient", res_id=m.removeprefix("Patient/"))
                    .resource["managingOrganization"]["reference"] for m in members}
        assert managers == {"Organization/org-chc-1", "Organization/org-hosp-1", "Organization/org-hosp-2"}
        visit = store.read(conn, SYSTEM, res_type="Encounter", res_id="enc-pat-00004-dup-2-1").resource
        assert visit["subject"]["reference"] == f"{resident}-dup-2"
        assert visit["meta"]["source"] == "Organization/org-hosp-2"
        queued = service.open_reviews(conn)
        assert queued and all(r["source"].split("-dup-")[0] == r["candidate"] for r in queued)
        # Every registration again is either in its resident's identity or waits in the queue beside them.
        duplicates = [row.content["id"] for row in conn.execute(
            sa.select(t.resource.c.content).where(t.resource.c.res_type == "Patient",
                                                  t.resource.c.res_id.like("%-dup-%")))]
        waiting = {r["source"] for r in queued}
        for dup in duplicates:
            resident = "Patient/" + dup.split("-dup-")[0]
            linked = service.identity_of(conn, f"Patient/{dup}") == service.identity_of(conn, resident)
            assert linked or f"Patient/{dup}" in waiting, dup
