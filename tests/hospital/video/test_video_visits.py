"""Video visits through the API: who may open, read, admit, write notes and end one, and what the record keeps."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from smartcare.hospital.video.settings import VideoSettings, ice_servers_for
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from tests.hospital.video.conftest import VIDEO, doctor_token, patient_token


def test_the_consultations_doctor_opens_a_virtual_encounter_part_of_the_consultation(hospital, consultation):
    opened = hospital.post(VIDEO, headers=doctor_token("doc-a"), json={"consultation": consultation})
    assert opened.status_code == 201, opened.text
    shown = opened.json()
    assert (shown["status"], shown["mode"], shown["patient"], shown["practitioner"]) == (
        "planned", "escalated", "p1", "doc-a")
    encounter = hospital.get(f"/fhir/Encounter/{shown['id']}").json()
    assert encounter["class"]["code"] == "VR"
    assert encounter["partOf"] == {"reference": f"Encounter/{consultation}"}
    listed = hospital.get(VIDEO, params={"consultation": consultation}, headers=patient_token("p1"))
    assert [v["id"] for v in listed.json()] == [shown["id"]]


def test_a_scheduled_visit_keeps_its_planned_time(hospital, consultation):
    opened = hospital.post(VIDEO, headers=doctor_token("doc-a"), json={
        "consultation": consultation, "mode": "scheduled", "scheduled_for": "2026-03-03T09:30:00+08:00"})
    assert opened.status_code == 201, opened.text
    assert opened.json()["scheduled_for"] == "2026-03-03T01:30:00.000Z"
    missing = hospital.post(VIDEO, headers=doctor_token("doc-a"), json={"consultation": consultation,
                                                                        "mode": "scheduled"})
    assert missing.status_code == 400 and missing.json()["error"] == "bad-time"


# Tokens are made in the test, not at collection: they expire in real time, and a long suite reaches a test late.
CALLERS = {"p1": patient_token, "p2": patient_token, "doc-b": doctor_token, "doc-c": doctor_token}


@pytest.mark.parametrize("caller", ["p1", "doc-b", "doc-c", "p2"],
                         ids=["the-patient", "a-colleague", "other-dept", "a-stranger"])
def test_only_the_consultations_doctor_opens_a_video_visit(hospital, consultation, caller):
    headers = CALLERS[caller](caller)
    refused = hospital.post(VIDEO, headers=headers, json={"consultation": consultation})
    assert refused.status_code in (403, 404)


@pytest.mark.parametrize("caller", ["doc-b", "doc-c", "p2"], ids=["colleague", "other-dept", "other-patient"])
def test_a_stranger_cannot_read_admit_write_notes_or_end(hospital, visit, caller):
    headers = CALLERS[caller](caller)
    assert hospital.get(f"{VIDEO}/{visit}", headers=headers).status_code == 404
    assert hospital.post(f"{VIDEO}/{visit}/admit", headers=headers).status_code == 404
    assert hospital.post(f"{VIDEO}/{visit}/notes", headers=headers, json={"text": "x"}).status_code == 404
    assert hospital.post(f"{VIDEO}/{visit}/end", headers=headers).status_code == 404
    assert hospital.get(f"{VIDEO}/{visit}", headers=doctor_token("doc-a")).json()["status"] == "planned"


def test_the_patient_reads_the_visit_but_neither_admits_nor_ends_it(hospital, visit):
    shown = hospital.get(f"{VIDEO}/{visit}", headers=patient_token("p1"))
    assert shown.status_code == 200 and shown.json()["side"] == "patient" and "notes" not in shown.json()
    assert hospital.post(f"{VIDEO}/{visit}/admit", headers=patient_token("p1")).status_code == 403
    assert hospital.post(f"{VIDEO}/{visit}/end", headers=patient_token("p1")).status_code == 403
    assert hospital.post(f"{VIDEO}/{visit}/notes", headers=patient_token("p1"), json={"text": "hi"}).status_code == 403


def test_nobody_signed_in_is_refused(anonymous, hospital, visit):
    assert anonymous.get(f"{VIDEO}/{visit}").status_code == 401
    assert anonymous.post(VIDEO, json={"consultation": "x"}).status_code == 401


def test_the_encounter_records_start_end_duration_and_final_notes(hospital, visit, frozen):
    with hospital.websocket_connect(f"{VIDEO}/{visit}/ws", headers=patient_token("p1")) as patient:
        assert patient.receive_json()["type"] == "hello"
    assert hospital.get(f"{VIDEO}/{visit}", headers=doctor_token("doc-a")).json()["status"] == "arrived"
    admitted = hospital.post(f"{VIDEO}/{visit}/admit", headers=doctor_token("doc-a")).json()
    start = clock.format_instant(frozen[0])
    assert (admitted["status"], admitted["start"]) == ("in-progress", start)
    saved = hospital.post(f"{VIDEO}/{visit}/notes", headers=doctor_token("doc-a"),
                          json={"text": "Rash: urticaria pattern, no angioedema. 皮疹"})
    assert saved.status_code == 200 and saved.json()["final"] is False
    frozen[0] += timedelta(minutes=6, seconds=30)
    hospital.post(f"{VIDEO}/{visit}/admit", headers=doctor_token("doc-a"))  # admitting again keeps the start
    ended = hospital.post(f"{VIDEO}/{visit}/end", headers=doctor_token("doc-a"))
    assert ended.status_code == 200, ended.text
    encounter = hospital.get(f"/fhir/Encounter/{visit}").json()
    assert encounter["status"] == "finished"
    assert encounter["period"] == {"start": start, "end": clock.format_instant(frozen[0])}
    assert encounter["length"]["value"] == 6.5 and encounter["length"]["code"] == "min"
    notes = hospital.get("/fhir/DocumentReference", params={"encounter": f"Encounter/{visit}"}).json()["entry"]
    document = notes[0]["resource"]
    assert document["docStatus"] == "final" and document["type"]["coding"][0]["code"] == "11488-4"
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert text == "Rash: urticaria pattern, no angioedema. 皮疹"
    assert hospital.post(f"{VIDEO}/{visit}/notes", headers=doctor_token("doc-a"),
                         json={"text": "late"}).json()["error"] == "ended"
    with unit_of_work() as conn:
        by_doctor = audit.search(conn, agent="user/dr.doc-a", patient="Patient/p1", limit=200)
    entities = json.dumps([entry["event"] for entry in by_doctor])
    assert f"Encounter/{visit}" in entities and f"DocumentReference/vnotes-{visit}" in entities


def test_a_visit_ended_before_anyone_was_admitted_is_cancelled_and_cannot_be_joined(hospital, visit):
    assert hospital.post(f"{VIDEO}/{visit}/end", headers=doctor_token("doc-a")).json()["status"] == "cancelled"
    assert hospital.post(f"{VIDEO}/{visit}/admit", headers=doctor_token("doc-a")).json()["error"] == "ended"


def test_hostile_input_is_refused_with_a_clear_answer(hospital, visit):
    too_long = hospital.post(f"{VIDEO}/{visit}/notes", headers=doctor_token("doc-a"), json={"text": "x" * 20_001})
    assert too_long.status_code == 422
    assert hospital.get(f"{VIDEO}/{'x' * 500}", headers=doctor_token("doc-a")).status_code == 404
    assert hospital.get(f"{VIDEO}/../../fhir", headers=doctor_token("doc-a")).status_code == 404
    bad = hospital.post(VIDEO, headers=doctor_token("doc-a"), json={"consultation": "<script>", "mode": "x"})
    assert bad.status_code == 422


def test_ice_servers_default_to_none_and_turn_credentials_follow_the_turn_rest_scheme(monkeypatch):
    assert ice_servers_for("u-1", 1_000, VideoSettings()) == []
    monkeypatch.setenv("SMARTCARE_VIDEO_ICE_SERVERS", '[{"urls": "stun:stun.example.org:3478"}, '
                                                      '{"urls": ["turn:turn.example.org:3478"]}]')
    monkeypatch.setenv("SMARTCARE_VIDEO_TURN_SECRET", "north-wind")
    settings = VideoSettings()
    servers = ice_servers_for("u-1", 1_000, settings)
    assert servers[0] == {"urls": ["stun:stun.example.org:3478"]}
    assert servers[1]["username"] == f"{1_000 + settings.turn_ttl_seconds}:u-1"
    # The credential is base64(HMAC-SHA1(secret, username)), what coturn's use-auth-secret mode checks.
    expected = hmac.new(b"north-wind", servers[1]["username"].encode(), hashlib.sha1).digest()
    assert servers[1]["credential"] == base64.b64encode(expected).decode()
    monkeypatch.setenv("SMARTCARE_VIDEO_ICE_SERVERS", '[{"urls": "http://evil.example"}]')
    with pytest.raises(ValueError):
        VideoSettings()
