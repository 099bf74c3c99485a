"""The live chat over a real WebSocket: two parties, a dropped connection, reconnecting with since=, receipts."""

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.hospital.consultation.conftest import doctor_token, patient_token

BASE = "/api/v1/consultations"


def _until(socket, kind: str, seen: list | None = None) -> dict:
    """The next frame of kind, keeping the others in seen."""
    for _ in range(50):
        frame = socket.receive_json()
        if frame.get("type") == kind:
            return frame
        if seen is not None:
            seen.append(frame)
    raise AssertionError(f"no {kind} frame")


def _texts(frames: list[dict]) -> list[tuple[int, str]]:
    return [(f["message"]["seq"], f["message"]["text"]) for f in frames if f.get("type") == "message"]


@pytest.fixture
def consultation(hospital) -> str:
    opened = hospital.post(BASE, headers=patient_token("p1"), json={
        "patient": "p1", "kind": "advice", "question": "Chest tightness when climbing stairs",
        "practitioner": "doc-a"})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


def test_chat_survives_a_dropped_connection_without_loss_or_duplicates(hospital, consultation):
    url = f"{BASE}/{consultation}/ws"
    with hospital.websocket_connect(url, headers=patient_token("p1")) as patient:
        assert _until(patient, "hello")["side"] == "patient"
        assert _texts([_until(patient, "message")]) == [(1, "Chest tightness when climbing stairs")]
        with hospital.websocket_connect(url, headers=doctor_token("doc-a")) as doctor:
            _until(doctor, "hello")
            assert _texts([_until(doctor, "message")]) == [(1, "Chest tightness when climbing stairs")]
            patient.send_json({"type": "send", "client_id": "c-2", "text": "It lasts five minutes"})
            seen: list = []
            ack = _until(patient, "ack", seen)
            assert (ack["seq"], ack["duplicate"]) == (2, False)
            assert _texts([_until(doctor, "message")]) == [(2, "It lasts five minutes")]
            doctor.send_json({"type": "typing", "typing": True})
            assert _until(patient, "typing")["side"] == "doctor"
        # The doctor's connection is gone; the patient carries on, and retries one send whose ack it lost.
        patient.send_json({"type": "send", "client_id": "c-3", "text": "And I sweat"})
        assert _until(patient, "ack")["seq"] == 3
        patient.send_json({"type": "send", "client_id": "c-3", "text": "And I sweat"})
        retried = _until(patient, "ack")
        assert (retried["seq"], retried["duplicate"]) == (3, True)
        patient.send_json({"type": "send", "client_id": "c-4", "text": "No fever"})
        assert _until(patient, "ack")["seq"] == 4
        with hospital.websocket_connect(f"{url}?since=2", headers=doctor_token("doc-a")) as doctor:
            _until(doctor, "hello")
            missed = [_until(doctor, "message"), _until(doctor, "message")]
            assert _texts(missed) == [(3, "And I sweat"), (4, "No fever")]
            doctor.send_json({"type": "read", "up_to": 4})
            receipt = _until(patient, "receipt")
            assert (receipt["receipt"], receipt["up_to"], receipt["by"]) == ("read", 4, "doctor")
            doctor.send_json({"type": "send", "client_id": "d-1", "text": "Please come to the clinic today"})
            assert _until(doctor, "ack")["seq"] == 5
            assert _texts([_until(patient, "message")]) == [(5, "Please come to the clinic today")]
    history = hospital.get(f"{BASE}/{consultation}/messages", headers=patient_token("p1")).json()
    assert [m["seq"] for m in history] == [1, 2, 3, 4, 5]
    assert all(m["read"] for m in history if m["side"] == "patient")
    stored = hospital.get("/fhir/Communication", params={"encounter": f"Encounter/{consultation}",
                                                          "_count": "50"}).json()
    assert len(stored["entry"]) == 5  # typing was never stored, the retry not twice


def test_a_socket_without_credentials_or_for_someone_else_is_refused(hospital, consultation):
    url = f"{BASE}/{consultation}/ws"
    for headers in ({"Authorization": ""}, patient_token("p2"), doctor_token("doc-c")):
        with pytest.raises(WebSocketDisconnect) as refused, hospital.websocket_connect(url, headers=headers) as ws:
            ws.receive_json()
        assert refused.value.code == 1008


def test_bad_frames_get_an_error_and_the_socket_stays_open(hospital, consultation):
    with hospital.websocket_connect(f"{BASE}/{consultation}/ws?since=1", headers=patient_token("p1")) as ws:
        _until(ws, "hello")
        ws.send_json({"type": "shout"})
        assert _until(ws, "error")["error"] == "bad-type"
        ws.send_json({"type": "send", "client_id": "", "text": "x"})
        assert _until(ws, "error")["error"] == "bad-client-id"
        ws.send_json({"type": "send", "client_id": "ok", "text": "still here"})
        assert _until(ws, "ack")["seq"] == 2
