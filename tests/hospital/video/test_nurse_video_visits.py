"""A nurse's video visit with a patient the policy lets her see, started from the patient's page: the patient is
told and joins, the nurse admits, writes a nurse note and ends it; nobody else comes in, and prescribing stays with
doctors (said where a nurse looks for it, and refused with a clear message)."""

import base64
import re

import pytest
from starlette.websockets import WebSocketDisconnect

from smartcare.hospital.video import service as video
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from tests.conftest import bearer
from tests.hospital.video.conftest import VIDEO, doctor_token, patient_token
from tests.web_support import browser, make_user, sign_in

NURSE_NOTE = "Home BP 172/104 this morning; headache, no chest pain. Asked to see Dr Chen online."


def nurse_token(pid: str, org: str = "Organization/org-a") -> dict[str, str]:
    return bearer("user/*.cruds", kind="user", name=f"nurse.{pid}", roles={"nurse"}, organization=org,
                  subject=f"u-{pid}", fhir_user=f"Practitioner/{pid}")


@pytest.fixture
def people(engine, hospital):
    """Nurse Lu of the hospital (org-a), a nurse of another hospital, Dr Chen, and the accounts of p1 and p2."""
    made = {
        "nurse": make_user(engine, "nurse", "lu.nurse", fhir_ref="Practitioner/nurse-lu",
                           organization="Organization/org-a"),
        "stranger": make_user(engine, "nurse", "far.nurse", fhir_ref="Practitioner/nurse-far",
                              organization="Organization/org-far"),
        "doctor": make_user(engine, "doctor", "chen.doctor", fhir_ref="Practitioner/doc-a",
                            organization="Organization/org-a"),
        "patient": make_user(engine, "patient", "p1.patient", fhir_ref="Patient/p1"),
        "other": make_user(engine, "patient", "p2.patient", fhir_ref="Patient/p2"),
    }
    return made


def _web(username: str):
    web = browser()
    sign_in(web, username)
    return web


def _token(page) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)


def _start(web, patient: str = "p1", page: str = "/workstation/monitoring/patients/p1"):
    shown = web.get(page)
    return web.post("/workstation/video", data={"csrf_token": _token(shown), "patient": patient},
                    follow_redirects=False)


def _nurse_visit(people) -> str:
    with unit_of_work() as conn:
        return video.open_as_nurse(conn, users.context_for(people["nurse"]), patient_id="p1")["id"]


@pytest.mark.parametrize("page", ["/workstation/monitoring/patients/p1", "/workstation/patients/p1"],
                         ids=["monitoring", "chart"])
def test_a_nurse_starts_a_video_visit_from_the_patients_page_and_the_patient_is_told(hospital, people, page):
    nurse = _web("lu.nurse")
    shown = nurse.get(page)
    assert shown.status_code == 200 and "Start a video visit" in shown.text
    assert "Prescribing stays with doctors" in shown.text
    started = _start(nurse, page=page)
    assert started.status_code == 303, started.text
    visit_id = started.headers["location"].rsplit("/", 1)[1]
    desk = nurse.get(started.headers["location"])
    assert desk.status_code == 200 and "Let the patient in" in desk.text
    assert "You lead this video visit as the nurse. Prescribing stays with doctors" in desk.text
    encounter = hospital.get(f"/fhir/Encounter/{visit_id}").json()
    assert encounter["class"]["code"] == "VR" and "partOf" not in encounter
    assert encounter["participant"] == [{"individual": {"reference": "Practitioner/nurse-lu"}}]
    with unit_of_work() as conn:
        told = notifications.inbox(conn, user_id=people["patient"].id)
    assert [(n["title"], n["link"]) for n in told] == [("Your nurse opened a video visit", f"/app/video/{visit_id}")]
    phone = _web("p1.patient")
    assert "Video visit with your nurse" in phone.get(f"/app/video/{visit_id}").text
    assert "与护士视频问诊" in phone.get(f"/app/video/{visit_id}?lang=zh-Hans").text


def test_the_nurse_admits_the_patient_writes_a_nurse_note_and_ends_the_visit(hospital, people):
    visit_id = _nurse_visit(people)
    with hospital.websocket_connect(f"{VIDEO}/{visit_id}/ws", headers=patient_token("p1")) as patient:
        hello = patient.receive_json()
        assert (hello["type"], hello["side"]) == ("hello", "patient")
    nurse = nurse_token("nurse-lu")
    with hospital.websocket_connect(f"{VIDEO}/{visit_id}/ws", headers=nurse) as host:
        assert host.receive_json()["side"] == "doctor"  # the side that admits and offers
    assert hospital.post(f"{VIDEO}/{visit_id}/admit", headers=nurse).json()["status"] == "in-progress"
    saved = hospital.post(f"{VIDEO}/{visit_id}/notes", headers=nurse, json={"text": NURSE_NOTE})
    assert saved.status_code == 200, saved.text
    ended = hospital.post(f"{VIDEO}/{visit_id}/end", headers=nurse)
    assert ended.json()["status"] == "finished"
    document = hospital.get("/fhir/DocumentReference", params={"encounter": f"Encounter/{visit_id}"}).json()
    note = document["entry"][0]["resource"]
    assert note["type"]["coding"][0]["code"] == "34746-8" and note["docStatus"] == "final"
    assert note["author"] == [{"reference": "Practitioner/nurse-lu"}]
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == NURSE_NOTE


@pytest.mark.parametrize("caller", ["p2", "nurse-far", "nurse-other", "doc-a"],
                         ids=["another-patient", "other-hospitals-nurse", "a-colleague", "a-doctor"])
def test_nobody_else_reads_joins_admits_or_ends_a_nurses_visit(hospital, people, caller):
    visit_id = _nurse_visit(people)
    headers = {"p2": lambda: patient_token("p2"), "nurse-far": lambda: nurse_token("nurse-far", "Organization/x"),
               "nurse-other": lambda: nurse_token("nurse-other"), "doc-a": lambda: doctor_token("doc-a")}[caller]()
    assert hospital.get(f"{VIDEO}/{visit_id}", headers=headers).status_code == 404
    assert hospital.post(f"{VIDEO}/{visit_id}/admit", headers=headers).status_code == 404
    assert hospital.post(f"{VIDEO}/{visit_id}/end", headers=headers).status_code == 404
    with pytest.raises(WebSocketDisconnect) as refused, \
            hospital.websocket_connect(f"{VIDEO}/{visit_id}/ws", headers=headers) as ws:
        ws.receive_json()
    assert refused.value.code == 1008
    assert hospital.get(f"{VIDEO}/{visit_id}", headers=patient_token("p1")).json()["status"] == "planned"


def test_a_nurse_cannot_open_a_visit_with_a_patient_the_policy_keeps_from_her(hospital, people):
    refused = _start(_web("far.nurse"), page="/workstation")
    assert refused.status_code == 404
    with unit_of_work() as conn:
        assert notifications.inbox(conn, user_id=people["patient"].id) == []
    with pytest.raises(video.VideoError) as caught, unit_of_work() as conn:
        video.open_as_nurse(conn, users.context_for(people["stranger"]), patient_id="p1")
    assert caught.value.status == 404


@pytest.mark.parametrize("patient", ["", "../p1", "p1' OR 1=1", "x" * 80])
def test_hostile_patient_ids_open_nothing(hospital, people, patient):
    assert _start(_web("lu.nurse"), patient=patient).status_code == 404


def test_only_nurses_start_a_visit_outside_a_consultation(hospital, people):
    by_doctor = _start(_web("chen.doctor"), page="/workstation")
    assert by_doctor.status_code == 403
    assert "doctors start theirs from the patient's online consultation" in by_doctor.text
    phone = _web("p1.patient")
    assert phone.post("/workstation/video", data={"csrf_token": _token(phone.get("/app")), "patient": "p1"},
                      follow_redirects=False).status_code == 403
    forged = _web("lu.nurse").post("/workstation/video", data={"csrf_token": "forged", "patient": "p1"})
    assert forged.status_code == 403


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "Only doctors prescribe. Ask the patient's doctor for a new or changed medicine"),
    ("zh-Hans", "只有医生可以开具处方。如需新开或调整药物，请联系患者的医生"),
])
def test_prescribing_is_refused_to_a_nurse_with_a_clear_message(hospital, people, lang, words):
    nurse = _web("lu.nurse")
    refused = nurse.get(f"/workstation/patients/p1/prescribe?lang={lang}")
    assert refused.status_code == 403 and words in refused.text
    posted = nurse.post("/workstation/patients/p1/prescribe", data={"csrf_token": _token(refused)})
    assert posted.status_code == 403 and words in posted.text
