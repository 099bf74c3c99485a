"""The regional record read through the FHIR gateway: one resident's records from three institutions as one record
with their sources, duplicates folded, nothing of anybody else, and every Patient's read audited."""

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.records import service
from tests.regional.records.conftest import ORG_A, ORG_B, ORG_C, REGIONAL_CLIENT

NAMES = {f"Organization/{ORG_A}": "Riverside First Hospital", f"Organization/{ORG_B}": "Hillside District Hospital",
         f"Organization/{ORG_C}": "Eastbank Community Health Centre"}


def test_one_residents_records_from_three_institutions_are_one_timeline_with_their_sources(resident):
    record = service.regional_record(ctx=REGIONAL_CLIENT, patient_id=resident["a"], locale="en")
    assert record["institutions"] == sorted(NAMES.values())
    assert sorted(p["id"] for p in record["linked"]) == ["rr-a", "rr-b", "rr-c"]
    visits = [(e["date"], e["institutions"][0]["name"]) for e in record["encounters"]]
    assert visits == [("2026-01-15", NAMES[f"Organization/{ORG_C}"]), ("2025-09-01", NAMES[f"Organization/{ORG_B}"]),
                      ("2025-03-10", NAMES[f"Organization/{ORG_A}"])]
    timeline = [(p["date"], p["kind"], p["institution"]) for p in record["timeline"]]
    assert timeline[0] == ("2025-03-10", "encounters", NAMES[f"Organization/{ORG_A}"])
    assert ("2025-09-01", "imaging", NAMES[f"Organization/{ORG_B}"]) in timeline
    assert ("2026-01-15", "immunisations", NAMES[f"Organization/{ORG_C}"]) in timeline
    assert [c["title"] for c in record["care_plans"]] == ["Hypertension follow-up"]
    assert [r["title"] for r in record["results"]] == ["CT Chest", "Fasting glucose"]


def test_the_same_record_whichever_institutions_patient_is_asked_for(resident):
    asked = [service.regional_record(ctx=REGIONAL_CLIENT, patient_id=resident[k], locale="en") for k in "abc"]
    assert len({tuple(r["institutions"]) for r in asked}) == 1
    assert {len(r["encounters"]) for r in asked} == {3}
    assert asked[1]["name"] == "Fang Wang" and asked[0]["name"] == "王芳"


def test_a_medicine_sent_by_two_hospitals_shows_once_with_both_sources(resident):
    record = service.regional_record(ctx=REGIONAL_CLIENT, patient_id=resident["c"], locale="zh-Hans")
    amlodipine = sorted((m["dose"], sorted(i["name"] for i in m["institutions"])) for m in record["medications"])
    assert amlodipine == [("10 mg", [NAMES[f"Organization/{ORG_C}"]]),
                          ("5 mg", [NAMES[f"Organization/{ORG_B}"], NAMES[f"Organization/{ORG_A}"]])]
    assert {m["name"] for m in record["medications"]} == {"氨氯地平片"}
    [penicillin] = record["allergies"]
    assert penicillin["substance"] == "青霉素类" and len(penicillin["sources"]) == 2


def test_nobody_elses_records_appear(resident):
    record = service.regional_record(ctx=REGIONAL_CLIENT, patient_id=resident["a"], locale="en")
    assert [p["title"] for p in record["problems"]] == ["Essential (primary) hypertension"]
    assert "rr-x" not in {p["id"] for p in record["linked"]}


def test_a_patient_the_index_does_not_know_has_a_record_of_their_own(resident):
    with unit_of_work() as conn:
        store.update(conn, SYSTEM, {"resourceType": "Patient", "id": "rr-new", "name": [{"family": "Li"}],
                                    "meta": {"source": f"Organization/{ORG_B}"}}, res_type="Patient", res_id="rr-new")
    record = service.regional_record(ctx=REGIONAL_CLIENT, patient_id="rr-new", locale="en")
    assert [p["id"] for p in record["linked"]] == ["rr-new"] and record["encounters"] == []


def test_every_linked_patients_read_is_audited(resident):
    service.regional_record(ctx=REGIONAL_CLIENT, patient_id=resident["b"], locale="en")
    with unit_of_work() as conn:
        for key in "abc":
            reads = [e for e in audit.events_for_patient(conn, f"Patient/{resident[key]}")
                     if e["agent"] == "client/regional-viewer"]
            assert reads, f"no audit entry for the read of Patient/{resident[key]}"


def test_an_unknown_or_hostile_id_is_no_such_resident(resident):
    for asked in ("nobody", "../etc", "x" * 65, "a'b"):
        try:
            service.regional_record(ctx=REGIONAL_CLIENT, patient_id=asked, locale="en")
        except service.NoSuchResident:
            continue
        raise AssertionError(f"{asked!r} gave a record")
