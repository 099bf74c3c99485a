"""Encounter-note pages: the SOAP form with and without JavaScript, signing, amending, history, the ICD-10
lookup, hostile input, stale saves and who may open what."""

import re

import pytest

from smartcare.fhir import gateway
from smartcare.platform.security.context import SYSTEM
from tests.hospital.workstation.notes_record import COMPLETE, make_staff, write_record
from tests.web_support import browser, form_token, make_user, sign_in

HOSTILE = "<script>alert('owned')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"


@pytest.fixture
def ward(engine):
    write_record()
    make_staff(engine)
    web = browser()
    sign_in(web, "dr.lin")
    return web


def _as(username: str):
    web = browser()
    sign_in(web, username)
    return web


def _form(values: dict[str, str], **extra: str) -> dict[str, str]:
    return {**{f"f_{key}": value for key, value in values.items()}, **extra}


def _new(web, values=COMPLETE, diagnoses=("I20.9",), **extra):
    page = web.get("/workstation/patients/p-chen/notes/new?encounter=enc-chen")
    data = _form(values, csrf_token=form_token(page), encounter="enc-chen", department="cardiology",
                 action="save", **extra)
    data["dx_code"] = list(diagnoses)
    data["dx_status"] = ["confirmed"] * len(diagnoses)
    return web.post("/workstation/patients/p-chen/notes", data=data)


def _note_id(response) -> str:
    assert response.status_code == 303, response.text[:2000]
    return response.headers["location"].rsplit("/", 1)[1]


def _version(page) -> str:
    return re.search(r'name="version" value="(\d+)"', page.text).group(1)


def test_the_form_follows_the_encounters_department_in_english_and_chinese(ward):
    page = ward.get("/workstation/patients/p-chen/notes/new?encounter=enc-chen")
    assert page.status_code == 200
    assert "Heart rhythm" in page.text and 'name="department" value="cardiology"' in page.text
    chinese = ward.get("/workstation/patients/p-chen/notes/new?encounter=enc-chen&lang=zh-Hans")
    assert "主诉" in chinese.text and "心律" in chinese.text and "心血管内科" in chinese.text
    general = ward.get("/workstation/patients/p-chen/notes/new")
    assert "Heart rhythm" not in general.text and 'value="general"' in general.text


def test_saving_then_signing_then_amending_through_the_pages(ward):
    note_id = _note_id(_new(ward))
    view = ward.get(f"/workstation/notes/{note_id}")
    assert view.status_code == 200 and "Draft" in view.text and "Chest tightness on exertion" in view.text
    signed = ward.post(f"/workstation/notes/{note_id}/sign",
                       data={"csrf_token": form_token(view), "version": _version(view)})
    assert signed.status_code == 303
    view = ward.get(f"/workstation/notes/{note_id}")
    assert "Signed by Lin Hua" in view.text and "Sign the note" not in view.text
    form = ward.get(f"/workstation/notes/{note_id}/edit")
    assert "Reason for the amendment" in form.text
    data = _form({**COMPLETE, "heart_rate": "90"}, csrf_token=form_token(form), version=_version(form), action="save",
                 reason="")
    data |= {"dx_code": ["I20.9"], "dx_status": ["confirmed"]}
    refused = ward.post(f"/workstation/notes/{note_id}", data=data)
    assert refused.status_code == 400 and "Say why the signed note is amended." in refused.text
    assert 'value="90"' in refused.text
    amended = ward.post(f"/workstation/notes/{note_id}", data={**data, "reason": "Pulse recounted"})
    assert amended.status_code == 303
    history = ward.get(f"/workstation/notes/{note_id}/history")
    assert history.status_code == 200
    assert all(f"Version {n}" in history.text for n in (1, 2, 3))
    assert "Pulse recounted" in history.text and "78 /min" in history.text and "90 /min" in history.text
    listing = ward.get("/workstation/patients/p-chen/notes")
    assert f"/workstation/notes/{note_id}" in listing.text and "Amended" in listing.text


def test_signing_an_incomplete_draft_names_each_missing_field(ward):
    note_id = _note_id(_new(ward, values={"chief_complaint": "Dizziness"}, diagnoses=()))
    view = ward.get(f"/workstation/notes/{note_id}")
    refused = ward.post(f"/workstation/notes/{note_id}/sign",
                        data={"csrf_token": form_token(view), "version": _version(view)})
    assert refused.status_code == 400
    for label in ("History of present illness", "Allergies", "Physical examination", "Heart rhythm",
                  "Diagnoses (ICD-10)", "Treatment plan"):
        assert f"<li>{label}: Required before the note is signed.</li>" in refused.text
    chinese = ward.post(f"/workstation/notes/{note_id}/sign?lang=zh-Hans",
                        data={"csrf_token": form_token(view), "version": _version(view)})
    assert chinese.status_code == 400 and "现病史" in chinese.text


def test_script_in_every_field_is_shown_escaped(ward):
    values = {key: HOSTILE for key in ("chief_complaint", "history_present_illness", "past_history",
                                       "allergies", "physical_examination", "heart_murmur", "treatment_plan")}
    note_id = _note_id(_new(ward, values=values))
    for path in (f"/workstation/notes/{note_id}", f"/workstation/notes/{note_id}/edit",
                 f"/workstation/notes/{note_id}/history"):
        page = ward.get(path)
        assert page.status_code == 200 and HOSTILE not in page.text
    assert ward.get(f"/workstation/notes/{note_id}").text.count(ESCAPED) == len(values)


def test_a_field_of_100k_characters_is_refused_and_the_rest_is_kept(ward):
    refused = _new(ward, values={**COMPLETE, "history_present_illness": "y" * 100_000})
    assert refused.status_code == 400
    assert "This is 100000 characters long; at most 4000 are allowed." in refused.text
    assert "Chest tightness on exertion for 2 weeks" in refused.text and "y" * 5000 not in refused.text
    assert gateway.search(SYSTEM, "Composition", [("subject", "Patient/p-chen")]) == []


def test_an_out_of_range_vital_is_refused_in_the_readers_language(ward):
    refused = _new(ward, values={**COMPLETE, "heart_rate": "400"})
    assert refused.status_code == 400 and "Enter a value from 20 to 250 /min." in refused.text
    assert 'aria-invalid="true"' in refused.text and 'value="400"' in refused.text


def test_searching_and_adding_a_diagnosis_without_javascript_keeps_what_was_typed(ward):
    page = ward.get("/workstation/patients/p-chen/notes/new?encounter=enc-chen")
    base = _form({"chief_complaint": "Thirst and polyuria"}, csrf_token=form_token(page), encounter="enc-chen",
                 department="cardiology")
    found = ward.post("/workstation/patients/p-chen/notes", data={**base, "icd_q": "tangniaobing", "action": "search"})
    assert found.status_code == 200 and 'name="add_dx" value="E11"' in found.text
    assert 'value="Thirst and polyuria"' in found.text
    added = ward.post("/workstation/patients/p-chen/notes", data={**base, "icd_q": "tangniaobing", "add_dx": "E11.9"})
    assert 'name="dx_code" value="E11.9"' in added.text and 'value="Thirst and polyuria"' in added.text
    removed = ward.post("/workstation/patients/p-chen/notes",
                        data={**base, "dx_code": ["E11.9"], "dx_status": ["provisional"], "remove_dx": "E11.9"})
    assert 'name="dx_code"' not in removed.text
    assert gateway.search(SYSTEM, "Composition", [("subject", "Patient/p-chen")]) == []


@pytest.mark.parametrize("query", ["E11", "diabetes", "糖尿病", "tangniaobing"])
def test_the_icd10_lookup_answers_json_and_htmx_fragments(ward, query):
    answer = ward.get("/workstation/icd10", params={"q": query})
    assert answer.status_code == 200
    assert "E11" in [r["code"] for r in answer.json()["results"]][:10]
    fragment = ward.get("/workstation/icd10", params={"icd_q": query}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'name="add_dx" value="E11"' in fragment.text
    assert "<html" not in fragment.text


@pytest.mark.parametrize("query", ["' OR 1=1; DROP TABLE fhir_resource; --", "<script>x</script>", "x" * 5000, "|"])
def test_hostile_icd10_queries_never_crash(ward, query):
    answer = ward.get("/workstation/icd10", params={"q": query})
    assert answer.status_code == 200 and isinstance(answer.json()["results"], list)
    fragment = ward.get("/workstation/icd10", params={"q": query}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<script>x" not in fragment.text


def test_a_save_over_a_newer_version_is_refused_with_a_clear_message(ward):
    note_id = _note_id(_new(ward))
    gao = _as("dr.gao")
    lin_form = ward.get(f"/workstation/notes/{note_id}/edit")
    gao_form = gao.get(f"/workstation/notes/{note_id}/edit")
    data = _form(COMPLETE, action="save", dx_code="I20.9", dx_status="provisional")
    first = gao.post(f"/workstation/notes/{note_id}",
                     data={**data, "csrf_token": form_token(gao_form), "version": _version(gao_form),
                           "f_treatment_plan": "Gao's plan"})
    assert first.status_code == 303
    stale = ward.post(f"/workstation/notes/{note_id}",
                      data={**data, "csrf_token": form_token(lin_form), "version": _version(lin_form),
                            "f_treatment_plan": "Lin's plan"})
    assert stale.status_code == 409 and "Someone else saved this note after you opened it." in stale.text
    assert "Lin&#39;s plan" in stale.text
    assert "Gao&#39;s plan" in ward.get(f"/workstation/notes/{note_id}").text


def test_only_the_author_may_sign(ward):
    note_id = _note_id(_new(ward))
    gao = _as("dr.gao")
    view = gao.get(f"/workstation/notes/{note_id}")
    assert "Sign the note" not in view.text
    token = form_token(gao.get(f"/workstation/notes/{note_id}/edit"))
    refused = gao.post(f"/workstation/notes/{note_id}/sign", data={"csrf_token": token, "version": "1"})
    assert refused.status_code == 403 and "Only the note&#39;s author may sign it." in refused.text


def test_nurses_read_notes_but_do_not_write_them(ward):
    note_id = _note_id(_new(ward))
    nurse = _as("nurse.he")
    assert nurse.get(f"/workstation/notes/{note_id}").status_code == 200
    assert nurse.get("/workstation/patients/p-chen/notes").status_code == 200
    assert nurse.get("/workstation/patients/p-chen/notes/new").status_code == 403
    assert nurse.get(f"/workstation/notes/{note_id}/edit").status_code == 403


def test_others_are_kept_out(ward, engine):
    note_id = _note_id(_new(ward))
    assert _as("ph.wu").get(f"/workstation/notes/{note_id}").status_code == 403
    make_user(engine, "patient", username="chen.patient", fhir_ref="Patient/p-chen")
    assert _as("chen.patient").get(f"/workstation/notes/{note_id}").status_code == 403
    far = _as("dr.far")
    assert far.get(f"/workstation/notes/{note_id}").status_code in (403, 404)
    assert far.get("/workstation/patients/p-chen/notes").status_code in (403, 404)
    assert browser().get(f"/workstation/notes/{note_id}").status_code == 303


def test_forged_csrf_tokens_and_hostile_ids_are_refused(ward):
    note_id = _note_id(_new(ward))
    assert ward.post(f"/workstation/notes/{note_id}/sign", data={"csrf_token": "forged", "version": "1"}
                     ).status_code == 403
    for bad in ("..%2F..%2Fetc", "x" * 70, "' OR 1=1 --"):
        assert ward.get(f"/workstation/notes/{bad}").status_code == 404
        assert ward.get(f"/workstation/patients/{bad}/notes").status_code == 404
