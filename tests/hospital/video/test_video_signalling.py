"""Signalling over the real WebSocket: the waiting room, admitting, relaying between admitted parties only,
and a party that drops and rejoins."""

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.hospital.video.conftest import VIDEO, doctor_token, patient_token

OFFER = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}
ANSWER = {"description": {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n"}}
CANDIDATE = {"candidate": {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                           "sdpMid": "0", "sdpMLineIndex": 0}}


def _next(socket, kind: str) -> dict:
    """The next frame of kind (frames of other kinds before it are skipped)."""
    for _ in range(30):
        frame = socket.receive_json()
        if frame.get("type") == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def test_only_admitted_parties_exchange_signals_and_a_dropped_patient_rejoins(hospital, visit):
    url = f"{VIDEO}/{visit}/ws"
    with hospital.websocket_connect(url, headers=patient_token("p1")) as patient:
        hello = _next(patient, "hello")
        assert (hello["side"], hello["visit"]["admitted"], hello["ice_servers"]) == ("patient", False, [])
        patient.send_json({"type": "signal", "call": "c1", "signal": OFFER})
        assert _next(patient, "error")["error"] == "waiting"
        with hospital.websocket_connect(url, headers=doctor_token("doc-a")) as doctor:
            assert _next(doctor, "hello")["side"] == "doctor"
            waiting = _next(doctor, "presence")
            assert (waiting["side"], waiting["present"], waiting["admitted"]) == ("patient", True, False)
            # Before admission the doctor's signals do not reach the waiting patient.
            doctor.send_json({"type": "signal", "call": "c1", "signal": OFFER})
            doctor.send_json({"type": "admit"})
            first = patient.receive_json()
            while first["type"] == "presence":
                first = patient.receive_json()
            assert first == {"type": "admitted"}
            assert _next(doctor, "admitted") == {"type": "admitted"}
            doctor.send_json({"type": "signal", "call": "c2", "signal": OFFER})
            offered = _next(patient, "signal")
            assert (offered["call"], offered["side"], offered["signal"]) == ("c2", "doctor", OFFER)
            patient.send_json({"type": "signal", "call": "c2", "signal": ANSWER})
            patient.send_json({"type": "signal", "call": "c2", "signal": CANDIDATE})
            assert _next(doctor, "signal")["signal"] == ANSWER
            assert _next(doctor, "signal")["signal"] == CANDIDATE
            patient.send_json({"type": "media", "state": {"audio": False, "video": True}})
            assert _next(doctor, "media")["state"] == {"audio": False, "video": True, "screen": False}

            patient.close()
            gone = _next(doctor, "presence")
            assert (gone["side"], gone["present"]) == ("patient", False)
            with hospital.websocket_connect(url, headers=patient_token("p1")) as again:
                assert _next(again, "hello")["visit"]["admitted"] is True
                back = _next(doctor, "presence")
                assert (back["present"], back["admitted"], back["reply"]) == (True, True, False)
                doctor.send_json({"type": "signal", "call": "c3", "signal": {"renegotiate": True}})
                assert _next(again, "signal")["signal"] == {"renegotiate": True}
                again.send_json({"type": "signal", "call": "c3", "signal": {"renegotiate": True}})
                assert _next(doctor, "signal")["call"] == "c3"


def test_a_socket_without_credentials_or_for_someone_else_is_refused(hospital, visit):
    url = f"{VIDEO}/{visit}/ws"
    for headers in ({"Authorization": ""}, patient_token("p2"), doctor_token("doc-b"), doctor_token("doc-c")):
        with pytest.raises(WebSocketDisconnect) as refused, hospital.websocket_connect(url, headers=headers) as ws:
            ws.receive_json()
        assert refused.value.code == 1008


def test_a_cross_site_page_cannot_use_the_browser_session(hospital, visit):
    with pytest.raises(WebSocketDisconnect), hospital.websocket_connect(
            f"{VIDEO}/{visit}/ws", headers={"Origin": "https://evil.example", "Authorization": ""}) as ws:
        ws.receive_json()


def test_bad_frames_are_answered_with_errors_and_the_patient_cannot_admit(hospital, visit):
    url = f"{VIDEO}/{visit}/ws"
    with hospital.websocket_connect(url, headers=doctor_token("doc-a")) as doctor:
        _next(doctor, "hello")
        doctor.send_json({"type": "signal", "call": "c", "signal": {**OFFER, **CANDIDATE}})
        assert _next(doctor, "error")["error"] == "bad-signal"
        doctor.send_json({"type": "signal", "signal": {"description": {"type": "offer", "sdp": "x" * 100_001}}})
        assert _next(doctor, "error")["error"] == "bad-signal"
        doctor.send_text("[1, 2]")
        assert _next(doctor, "error")["error"] == "bad-type"
        doctor.send_text("x" * 200_000)
        assert _next(doctor, "error")["error"] == "bad-type"
        doctor.send_json({"type": "media", "state": {"audio": "loud"}})
        assert _next(doctor, "error")["error"] == "bad-media"
    with hospital.websocket_connect(url, headers=patient_token("p1")) as patient:
        _next(patient, "hello")
        patient.send_json({"type": "admit"})
        assert _next(patient, "error")["error"] == "forbidden"
    assert hospital.get(f"{VIDEO}/{visit}", headers=doctor_token("doc-a")).json()["admitted"] is False


def test_ending_the_visit_hangs_up_both_sides_and_nobody_rejoins(hospital, visit):
    url = f"{VIDEO}/{visit}/ws"
    with hospital.websocket_connect(url, headers=patient_token("p1")) as patient:
        _next(patient, "hello")
        assert hospital.post(f"{VIDEO}/{visit}/admit", headers=doctor_token("doc-a")).status_code == 200
        assert _next(patient, "admitted") == {"type": "admitted"}
        assert hospital.post(f"{VIDEO}/{visit}/end", headers=doctor_token("doc-a")).json()["status"] == "finished"
        assert _next(patient, "ended") == {"type": "ended"}
    with pytest.raises(WebSocketDisconnect), hospital.websocket_connect(url, headers=patient_token("p1")) as ws:
        ws.receive_json()
