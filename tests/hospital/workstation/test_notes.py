"""Encounter notes as a service: drafts, signing, amendments with history, locking and who may do what."""

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.workstation import notes, notes_form
from smartcare.hospital.workstation import notes_compose as compose
from smartcare.knowledge.diseases import icd10
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.workstation.notes_record import COMPLETE, content, make_staff, write_record

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


@pytest.fixture
def staff(engine):
    write_record()
    return {name: users.context_for(user) for name, user in make_staff(engine).items()}


def _draft(ctx, values=COMPLETE, diagnoses=(("I20.9", "provisional"),), encounter="enc-chen"):
    return notes.create_draft(ctx, patient_id="p-chen", encounter_id=encounter, department="cardiology",
                              content=content(values, list(diagnoses)))


def _version(resource) -> str:
    return resource["meta"]["versionId"]


def test_draft_sign_amend_keeps_three_versions_with_what_changed(staff):
    lin = staff["lin"]
    draft = _draft(lin)
    assert draft["status"] == "preliminary"
    signed = notes.sign(lin, note_id=draft["id"], version=_version(draft))
    assert signed["status"] == "final"
    assert signed["attester"][0]["mode"] == "legal" and signed["attester"][0]["party"]["reference"] == \
        "Practitioner/prac-lin"
    amended = notes.amend(lin, note_id=draft["id"], version=_version(signed), reason="Heart rate misread",
                          content=content({**COMPLETE, "heart_rate": "84"},
                                          [("I20.9", "confirmed"), ("I10", "confirmed")]))
    assert amended["id"] == draft["id"] and amended["status"] == "amended"
    note, versions = notes.history(lin, note_id=draft["id"], locale="en")
    assert [v.number for v in versions] == ["3", "2", "1"]
    assert [v.status for v in versions] == ["amended", "final", "preliminary"]
    newest = {c.what: (c.before, c.after) for c in versions[0].changes}
    assert newest["Heart rate"] == ("78 /min", "84 /min")
    assert newest["ICD-10 I20.9"] == ("provisional", "confirmed")
    assert newest["ICD-10 I10"] == ("", "confirmed")
    assert versions[0].reason == "Heart rate misread"
    assert {c.what: (c.before, c.after) for c in versions[1].changes} == {"status": ("preliminary", "final")}
    first = gateway.serve(lin, FhirRequest(method="GET", path=f"Composition/{draft['id']}/_history/1")).body
    assert first["status"] == "preliminary"
    assert compose.content_of(first).values["heart_rate"] == "78"


def test_the_note_is_a_composition_with_loinc_sections_conditions_and_vital_observations(staff):
    draft = _draft(staff["lin"])
    assert draft["type"]["coding"][0]["code"] == "34108-1"
    codes = [s["code"]["coding"][0]["code"] for s in draft["section"]]
    assert codes == ["61150-9", "61149-1", "51848-0", "18776-5"]
    subjective = draft["section"][0]["section"]
    assert subjective[0]["code"]["coding"][0]["code"] == "10154-3"
    condition = gateway.read(SYSTEM, draft["section"][2]["entry"][0]["reference"])
    assert condition["code"]["coding"][0] == {"system": compose.ICD10, "code": "I20.9",
                                              "display": icd10.find("I20.9").title_en}
    assert condition["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert condition["encounter"]["reference"] == "Encounter/enc-chen"
    assert condition["recorder"]["reference"] == "Practitioner/prac-lin"
    vitals = gateway.search(SYSTEM, "Observation", [("subject", "Patient/p-chen"), ("code", "http://loinc.org|8867-4")])
    assert [(o["status"], o["valueQuantity"]["value"]) for o in vitals] == [("preliminary", 78)]
    notes.sign(staff["lin"], note_id=draft["id"], version=_version(draft))
    vitals = gateway.search(SYSTEM, "Observation", [("subject", "Patient/p-chen"), ("code", "http://loinc.org|8867-4")])
    assert [o["status"] for o in vitals] == ["final"]


def test_a_note_in_hospital_is_a_progress_note_on_the_general_template(staff):
    lin = staff["lin"]
    ward = gateway.read(lin, "Encounter/enc-ward")
    assert notes.department_of_encounter(lin, ward) == "general"
    assert notes.department_of_encounter(lin, gateway.read(lin, "Encounter/enc-chen")) == "cardiology"
    draft = notes.create_draft(lin, patient_id="p-chen", encounter_id="enc-ward", department="general",
                               content=content({"chief_complaint": "Fever"}))
    assert draft["type"]["coding"][0]["code"] == "11506-3"


def test_required_fields_block_signing_field_by_field(staff):
    lin = staff["lin"]
    draft = _draft(lin, values={"chief_complaint": "Palpitations"}, diagnoses=())
    with pytest.raises(notes.NoteInvalid) as refused:
        notes.sign(lin, note_id=draft["id"], version=_version(draft))
    assert set(refused.value.problems) == {"history_present_illness", "allergies", "physical_examination",
                                           "heart_rhythm", "diagnoses", "treatment_plan"}
    assert gateway.read(lin, f"Composition/{draft['id']}")["status"] == "preliminary"


def test_a_save_on_a_stale_version_is_refused(staff):
    draft = _draft(staff["lin"])
    notes.update_draft(staff["gao"], note_id=draft["id"], version="1",
                       content=content({**COMPLETE, "treatment_plan": "Dr Gao's plan"}))
    with pytest.raises(notes.NoteRefused) as refused:
        notes.update_draft(staff["lin"], note_id=draft["id"], version="1",
                           content=content({**COMPLETE, "treatment_plan": "Dr Lin's plan"}))
    assert refused.value.status == 409 and "Someone else saved" in refused.value.message
    stored = gateway.read(SYSTEM, f"Composition/{draft['id']}")
    assert compose.content_of(stored).values["treatment_plan"] == "Dr Gao's plan"


def test_only_the_author_signs_and_only_doctors_write(staff):
    draft = _draft(staff["lin"])
    with pytest.raises(notes.NoteRefused) as refused:
        notes.sign(staff["gao"], note_id=draft["id"], version=_version(draft))
    assert refused.value.status == 403
    with pytest.raises(notes.NoteRefused):
        notes.update_draft(staff["nurse"], note_id=draft["id"], version="1", content=content(COMPLETE))
    assert notes.open_note(staff["nurse"], note_id=draft["id"]).status == "preliminary"
    with pytest.raises(notes.NoteRefused):
        notes.open_note(staff["pharmacist"], note_id=draft["id"])


def test_a_doctor_of_another_hospital_neither_reads_nor_writes_the_patients_notes(staff):
    draft = _draft(staff["lin"])
    with pytest.raises(notes.NoteRefused) as refused:
        notes.open_note(staff["far"], note_id=draft["id"])
    assert refused.value.status in (403, 404)
    with pytest.raises(notes.NoteRefused):
        _draft(staff["far"])


def test_a_signed_note_is_not_edited_in_place_and_an_amendment_needs_a_reason(staff):
    lin = staff["lin"]
    draft = _draft(lin)
    signed = notes.sign(lin, note_id=draft["id"], version=_version(draft))
    with pytest.raises(notes.NoteRefused):
        notes.update_draft(lin, note_id=draft["id"], version=_version(signed), content=content(COMPLETE))
    complete = content(COMPLETE, [("I20.9", "provisional")])
    with pytest.raises(notes.NoteInvalid) as refused:
        notes.amend(lin, note_id=draft["id"], version=_version(signed), content=complete, reason="  ")
    assert set(refused.value.problems) == {"reason"}
    with pytest.raises(notes.NoteRefused):
        notes.amend(staff["gao"], note_id=draft["id"], version=_version(signed), content=complete, reason="not mine")


def test_a_diagnosis_dropped_by_an_amendment_is_marked_entered_in_error(staff):
    lin = staff["lin"]
    draft = _draft(lin, diagnoses=[("I20.9", "provisional"), ("I10", "confirmed")])
    signed = notes.sign(lin, note_id=draft["id"], version=_version(draft))
    hypertension = draft["section"][2]["entry"][1]["reference"]
    notes.amend(lin, note_id=draft["id"], version=_version(signed), reason="I10 was not diagnosed today",
                content=content(COMPLETE, [("I20.9", "provisional")]))
    dropped = gateway.read(SYSTEM, hypertension)
    assert dropped["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in dropped


@pytest.mark.parametrize(("values", "field"), [
    ({"heart_rate": "400"}, "heart_rate"),
    ({"temperature": "warm"}, "temperature"),
    ({"systolic_bp": "nan"}, "systolic_bp"),
    ({"heart_rhythm": "'; DROP TABLE fhir_resource; --"}, "heart_rhythm"),
    ({"chief_complaint": "x" * 100_000}, "chief_complaint"),
])
def test_bad_values_are_problems_of_their_field(values, field):
    template = compose.template_for("cardiology")
    _, problems = notes_form.read_input(template, values, [])
    assert set(problems) == {field}


def test_unknown_icd10_codes_are_refused():
    template = compose.template_for("cardiology")
    _, problems = notes_form.read_input(template, {}, [("Z99.99.9", "confirmed"), ("<b>", "confirmed")])
    assert set(problems) == {"diagnoses"}


def test_hostile_text_is_escaped_in_the_narrative_and_kept_as_typed(staff):
    values = {key: HOSTILE for key in ("chief_complaint", "history_present_illness", "allergies",
                                       "physical_examination", "treatment_plan")}
    draft = _draft(staff["lin"], values=values)
    divs = [s["text"]["div"] for s in draft["section"]]
    assert all("<script" not in div and "<img" not in div for div in divs)
    assert "&lt;script&gt;" in divs[0] and "&amp;amp;" in divs[0]
    assert compose.content_of(draft).values["chief_complaint"] == HOSTILE


@pytest.mark.parametrize("query", ["E11", "e11", "diabetes", "糖尿病", "tangniaobing"])
def test_icd10_search_finds_type_2_diabetes_near_the_top(query):
    assert "E11" in [d.code for d in icd10.search(query, limit=10)]


def test_the_patients_notes_are_listed_newest_first(staff, now):
    from datetime import timedelta

    first = _draft(staff["lin"])
    now[0] += timedelta(hours=1)
    second = _draft(staff["gao"])
    assert [c["id"] for c in notes.notes_of(staff["nurse"], patient_id="p-chen")] == [second["id"], first["id"]]
