"""Admission, vitals with NEWS2, transfer and discharge through the ward services, as the signed-in clinicians."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.wards import admissions, beds, board, codes, discharge, vitals
from smartcare.hospital.wards.errors import WardRefused
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

HOSPITAL = "Organization/org-h"
NORMAL = {"systolic": "128", "diastolic": "76", "pulse": "78", "respiratory_rate": "16", "temperature": "36.8",
          "spo2": "97", "spo2_scale": "1", "oxygen": "air", "consciousness": "A"}


def _admit(ctx, patient="p-wang", bed="bed-m1", reason="J18.9", ward="ward-med"):
    return admissions.admit(ctx, hospital=HOSPITAL, ward_id=ward, bed_id=bed, patient_id=patient,
                            reason_code=reason, admit_source="emd", attending_id="prac-doc")


def _bed_status(bed_id: str) -> str:
    return beds.status_of(gateway.read(SYSTEM, f"Location/{bed_id}"))


def test_admission_writes_an_inpatient_encounter_and_occupies_the_bed(hospital):
    encounter_id = _admit(hospital["nurse"])
    encounter = gateway.read(SYSTEM, f"Encounter/{encounter_id}")
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP" and encounter["class"]["system"].endswith("v3-ActCode")
    assert encounter["serviceProvider"]["reference"] == HOSPITAL
    assert encounter["reasonCode"][0]["coding"][0] == {"system": codes.ICD10, "code": "J18.9",
                                                       "display": "Pneumonia, unspecified"}
    assert encounter["hospitalization"]["admitSource"]["coding"][0]["code"] == "emd"
    assert encounter["location"][0]["status"] == "active"
    assert encounter["location"][0]["location"]["reference"] == "Location/bed-m1"
    kinds = {p["type"][0]["coding"][0]["code"]: p["individual"]["reference"] for p in encounter["participant"]}
    assert kinds == {"ATND": "Practitioner/prac-doc", "ADM": "Practitioner/prac-nurse"}
    assert _bed_status("bed-m1") == "O"
    team = admissions.care_team(SYSTEM, encounter_id)
    members = {p["member"]["reference"] for p in team["participant"]}
    assert {"Practitioner/prac-doc", "Practitioner/prac-nurse"} <= members


def test_the_admission_is_audited_as_the_nurse(hospital):
    _admit(hospital["nurse"])
    with unit_of_work() as conn:
        entries = audit.search(conn, patient="Patient/p-wang", limit=50)
    assert any("zhou.nurse" in str(e["agent"]) or "prac-nurse" in str(e["agent"]) for e in entries)


@pytest.mark.parametrize(("patient", "bed", "reason", "message"), [
    ("p-dead", "bed-m1", "J18.9", "deceased"),
    ("p-wang", "bed-m1", "", "ICD-10"),
    ("p-wang", "bed-m1", "XYZ", "ICD-10"),
    ("nobody", "bed-m1", "J18.9", "No such"),
    ("p-wang", "room-m1", "J18.9", "No such"),
    ("p-wang", "bed-s1", "J18.9", "No such"),
])
def test_admission_is_refused_for_bad_requests_and_writes_nothing(hospital, patient, bed, reason, message):
    with pytest.raises(WardRefused) as refused:
        _admit(hospital["nurse"], patient=patient, bed=bed, reason=reason)
    assert message in refused.value.message
    assert gateway.search(SYSTEM, "Encounter", []) == []
    assert _bed_status("bed-m1") == "U"


def test_a_taken_bed_and_an_admitted_patient_are_refused(hospital):
    _admit(hospital["nurse"])
    with pytest.raises(WardRefused, match="not free"):
        _admit(hospital["nurse"], patient="p-li", bed="bed-m1")
    with pytest.raises(WardRefused, match="already admitted"):
        _admit(hospital["nurse"], patient="p-wang", bed="bed-m2")


def test_a_doctor_of_another_hospital_cannot_admit_here(hospital):
    from smartcare.platform.security import users

    with unit_of_work() as conn:
        other = users.context_for(users.get_by_username(conn, username="ma.elsewhere"))
    with pytest.raises(WardRefused):
        admissions.admit(other, hospital="Organization/org-x", ward_id="ward-med", bed_id="bed-m1",
                         patient_id="p-wang", reason_code="J18.9", admit_source="emd", attending_id="prac-other")
    assert _bed_status("bed-m1") == "U"


def test_vitals_are_charted_with_loinc_codes_and_a_news2_score(hospital):
    encounter_id = _admit(hospital["nurse"])
    score = vitals.record(hospital["nurse"], hospital=HOSPITAL, encounter_id=encounter_id,
                          readings=vitals.parse_form(NORMAL), adult=True)
    assert score.total == 0 and score.band == "zero"
    found = gateway.search(SYSTEM, "Observation", [("encounter", f"Encounter/{encounter_id}"), ("_count", "50")])
    loinc = {c["code"] for o in found for c in o["code"]["coding"] if c["system"] == codes.LOINC}
    assert {"85354-9", "8867-4", "9279-1", "8310-5", "59408-5", "2708-6"} <= loinc
    bp = next(o for o in found if o["code"]["coding"][0]["code"] == "85354-9")
    assert {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in bp["component"]} == {
        "8480-6": 128, "8462-4": 76}
    assert all(o["performer"] == [{"reference": "Practitioner/prac-nurse"}] for o in found)
    news = next(o for o in found if codes.coding_of(o["code"], codes.WARD_OBSERVATION) == "news2-total")
    assert news["valueInteger"] == 0 and len(news["derivedFrom"]) == 7


def test_the_board_shows_band_and_overdue_when_the_interval_has_passed(hospital, now):
    encounter_id = _admit(hospital["nurse"])
    sick = {**NORMAL, "respiratory_rate": "26", "pulse": "115", "spo2": "93", "oxygen": "oxygen"}
    vitals.record(hospital["nurse"], hospital=HOSPITAL, encounter_id=encounter_id,
                  readings=vitals.parse_form(sick), adult=True)
    layout = beds.rooms(hospital["nurse"], beds.ward(hospital["nurse"], hospital=HOSPITAL, ward_id="ward-med"))
    row = next(r for r in board.rows(hospital["nurse"], layout) if r.bed_id == "bed-m1")
    assert (row.news2, row.band, row.overdue, row.patient) == (9, "high", False, "Xiu Wang")
    now[0] += timedelta(minutes=31)
    row = next(r for r in board.rows(hospital["nurse"], layout) if r.bed_id == "bed-m1")
    assert row.overdue


def test_transfer_moves_the_stay_and_sends_the_old_bed_to_housekeeping(hospital, now):
    encounter_id = _admit(hospital["nurse"])
    now[0] += timedelta(hours=5)
    admissions.transfer(hospital["nurse"], hospital=HOSPITAL, encounter_id=encounter_id, to_bed_id="bed-s1")
    encounter = gateway.read(SYSTEM, f"Encounter/{encounter_id}")
    old, new = encounter["location"]
    assert old["status"] == "completed" and old["period"]["end"].startswith("2026-03-02T13:00")
    assert new["status"] == "active" and new["location"]["reference"] == "Location/bed-s1"
    assert (_bed_status("bed-m1"), _bed_status("bed-s1")) == ("H", "O")
    members = {p["member"]["reference"] for p in admissions.care_team(SYSTEM, encounter_id)["participant"]}
    assert "Practitioner/prac-nurse-s" in members


def test_transfer_to_a_taken_bed_changes_nothing(hospital):
    first = _admit(hospital["nurse"])
    _admit(hospital["nurse"], patient="p-li", bed="bed-m2")
    with pytest.raises(WardRefused, match="not free"):
        admissions.transfer(hospital["nurse"], hospital=HOSPITAL, encounter_id=first, to_bed_id="bed-m2")
    assert len(gateway.read(SYSTEM, f"Encounter/{first}")["location"]) == 1


def _summary(**changes):
    return {"reason": "Fever and cough for three days", "course": "Treated with antibiotics; afebrile by day 3.",
            "diagnoses": "J18.9, I10", "medications": "Amoxicillin 500 mg three times a day for 5 days",
            "follow_up": "Clinic in one week", **changes}


def test_discharge_summary_is_drafted_then_signed_by_the_attending_doctor(hospital, now):
    encounter_id = _admit(hospital["nurse"])
    summary_id = discharge.save_draft(hospital["doctor"], hospital=HOSPITAL, encounter_id=encounter_id,
                                      fields=_summary())
    draft = gateway.read(SYSTEM, f"Composition/{summary_id}")
    assert draft["status"] == "preliminary" and draft["type"]["coding"][0]["code"] == "18842-5"
    sections = [s["code"]["coding"][0]["code"] for s in draft["section"]]
    assert sections == ["46241-6", "8648-8", "11535-2", "10183-2", "8653-8"]
    assert [c["code"]["coding"][0]["code"] for c in draft["contained"]] == ["J18.9", "I10"]
    assert discharge.summary_fields(draft)["course"] == "Treated with antibiotics; afebrile by day 3."
    now[0] += timedelta(days=4)
    discharge.sign(hospital["doctor"], hospital=HOSPITAL, encounter_id=encounter_id, disposition="home")
    signed = gateway.read(SYSTEM, f"Composition/{summary_id}")
    assert signed["status"] == "final"
    assert signed["attester"][0]["mode"] == "legal" and signed["attester"][0]["party"]["reference"] == (
        "Practitioner/prac-doc")
    encounter = gateway.read(SYSTEM, f"Encounter/{encounter_id}")
    assert encounter["status"] == "finished" and encounter["period"]["end"].startswith("2026-03-06")
    assert encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    assert encounter["location"][0]["status"] == "completed"
    assert _bed_status("bed-m1") == "H"
    assert admissions.care_team(SYSTEM, encounter_id) is None


def test_only_the_attending_doctor_signs_and_nurses_do_not_write_summaries(hospital):
    encounter_id = _admit(hospital["nurse"])
    with pytest.raises(WardRefused, match="Only doctors"):
        discharge.save_draft(hospital["nurse"], hospital=HOSPITAL, encounter_id=encounter_id, fields=_summary())
    discharge.save_draft(hospital["doctor"], hospital=HOSPITAL, encounter_id=encounter_id, fields=_summary())
    from smartcare.platform.security import users

    with unit_of_work() as conn:
        surgeon = users.context_for(users.get_by_username(conn, username="chen.surgeon"))
    with pytest.raises(WardRefused, match="attending"):
        discharge.sign(surgeon, hospital=HOSPITAL, encounter_id=encounter_id, disposition="home")
    assert gateway.read(SYSTEM, f"Encounter/{encounter_id}")["status"] == "in-progress"


@pytest.mark.parametrize(("changes", "message"), [
    ({"diagnoses": "NOT-A-CODE"}, "not an ICD-10 code"),
    ({"diagnoses": ""}, "at least one"),
    ({"course": " "}, "hospital course"),
    ({"course": "x" * 4001}, "4000"),
])
def test_bad_summaries_are_refused(hospital, changes, message):
    encounter_id = _admit(hospital["nurse"])
    with pytest.raises(WardRefused) as refused:
        discharge.save_draft(hospital["doctor"], hospital=HOSPITAL, encounter_id=encounter_id,
                             fields=_summary(**changes))
    assert message in refused.value.message
    assert gateway.search(SYSTEM, "Composition", []) == []
