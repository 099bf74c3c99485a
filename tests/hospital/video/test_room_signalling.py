"""Signalling of a multi-disciplinary session's room: joins and leaves are announced, a signal reaches only the
socket it is addressed to, shared viewing passes only the consultation's records, and the room has a cap."""

from datetime import timedelta

import pytest

from smartcare.hospital.video import relay, rooms
from tests.hospital.teleconsult.conftest import SHARED, region, signed_in  # noqa: F401

API = "/api/v1/teleconsults"
OFFER = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}


# The rules as plain data


def test_an_addressed_event_is_for_its_addressee_only():
    event = {"type": "signal", "from": "a", "to": "b", "signal": OFFER}
    assert relay.addressed_to(event, "b")
    assert not relay.addressed_to(event, "a") and not relay.addressed_to(event, "c")
    assert not relay.addressed_to({**event, "to": "a"}, "a")  # never back to its sender


@pytest.mark.parametrize(("event", "seen"), [
    ({"type": "join", "from": "p2", "participant": "Practitioner/b", "reply": False}, "joined"),
    ({"type": "join", "from": "p2", "participant": "Practitioner/b", "reply": True, "to": "p1"}, "here"),
    ({"type": "join", "from": "p2", "participant": "Practitioner/b", "reply": True, "to": "p3"}, None),
    ({"type": "join", "from": "p2", "participant": "Practitioner/a", "reply": False}, "replaced"),
    ({"type": "join", "from": "p2", "participant": "Practitioner/a", "reply": True, "to": "p1"}, None),
    ({"type": "join", "from": "p1", "participant": "Practitioner/a", "reply": False}, None),
    ({"type": "leave", "from": "p2", "participant": "Practitioner/b"}, "left"),
])
def test_what_a_socket_makes_of_joins_and_leaves(event, seen):
    assert relay.announcement(event, "p1", "Practitioner/a") == seen


def test_the_roster_caps_a_room_and_counts_a_rejoining_person_once():
    roster = relay.Roster(2)
    roster.enter("r", "p1", "a")
    roster.enter("r", "p2", "b")
    with pytest.raises(relay.RoomFull):
        roster.enter("r", "p3", "c")
    roster.enter("r", "p4", "a")  # a's new window replaces the old one, it does not need a place of its own
    roster.leave("r", "p1")
    assert roster.present("r") == {"p2": "b", "p4": "a"}
    roster.enter("other", "p5", "c")  # another room has its own places
    roster.leave("r", "p2")
    roster.enter("r", "p6", "c")
    assert set(roster.present("r")) == {"p4", "p6"}


# Over the real WebSocket (the relay stores nothing, so one store is enough)

ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def convened(signed_in, now) -> str:  # noqa: F811
    """A consultation the gp asked, convened with dr.li and dr.sun."""
    created = signed_in("gp").post(API, json={"patient": "Patient/pa1", "department": "HealthcareService/hcs-cardio",
                                              "question": "Heart failure?", "records": SHARED})
    tid = created.json()["id"]
    start = (now[0] + timedelta(hours=1)).isoformat()
    done = signed_in("cardio2").post(f"{API}/{tid}/convene", json={
        "specialists": ["Practitioner/prac-li", "Practitioner/prac-sun"], "start": start})
    assert done.status_code == 200, done.text
    return tid


def _next(socket, kind: str) -> dict:
    """The next frame of kind (frames of other kinds before it are skipped)."""
    for _ in range(30):
        frame = socket.receive_json()
        if frame.get("type") == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


@ONE_STORE
def test_three_sockets_hear_joins_and_leaves_and_signals_reach_only_their_addressee(signed_in, convened):  # noqa: F811
    url = f"/api/v1/video/rooms/{convened}/ws"
    with signed_in("gp").websocket_connect(url) as gp:
        me = _next(gp, "hello")
        assert me["me"] == "Practitioner/prac-gp" and me["records"] == SHARED
        assert [p["reference"] for p in me["participants"]] == [
            "Practitioner/prac-gp", "Practitioner/prac-li", "Practitioner/prac-sun"]
        with signed_in("cardio").websocket_connect(url) as li:
            li_peer = _next(li, "hello")["peer"]
            joined = _next(gp, "join")
            assert (joined["peer"], joined["participant"], joined["reply"]) == (li_peer, "Practitioner/prac-li", False)
            assert _next(li, "join") == {"type": "join", "peer": me["peer"], "participant": "Practitioner/prac-gp",
                                         "reply": True}
            with signed_in("imaging").websocket_connect(url) as sun:
                sun_peer = _next(sun, "hello")["peer"]
                assert _next(gp, "join")["peer"] == sun_peer and _next(li, "join")["peer"] == sun_peer
                # The newcomer learns who is already here from their replies.
                assert {_next(sun, "join")["peer"], _next(sun, "join")["peer"]} == {me["peer"], li_peer}

                gp.send_json({"type": "signal", "to": sun_peer, "call": "c1", "signal": OFFER})
                gp.send_json({"type": "media", "state": {"audio": False, "video": True}})
                got = _next(sun, "signal")
                assert got == {"type": "signal", "from": me["peer"], "call": "c1", "signal": OFFER}
                # dr.li hears the media state but never the signal meant for dr.sun (sent before it), nor the
                # others' replies to dr.sun's join.
                media = li.receive_json()
                assert media == {"type": "media", "from": me["peer"], "state": {"audio": False, "video": True,
                                                                                  "screen": False}}

                sun.send_json({"type": "show", "item": "ImagingStudy/img-chest"})
                assert _next(gp, "show")["item"] == "ImagingStudy/img-chest"
                assert _next(li, "show") == {"type": "show", "from": sun_peer, "item": "ImagingStudy/img-chest"}
                sun.send_json({"type": "show", "item": "ImagingStudy/img-other"})  # not shared on the consultation
                assert _next(sun, "error")["error"] == "bad-item"
                sun.send_json({"type": "signal", "to": "", "signal": OFFER})
                assert _next(sun, "error")["error"] == "bad-signal"
            left = _next(gp, "leave")
            assert (left["peer"], left["participant"]) == (sun_peer, "Practitioner/prac-sun")
            assert _next(li, "leave")["peer"] == sun_peer


@ONE_STORE
def test_the_same_doctor_joining_again_replaces_the_old_window(signed_in, convened):  # noqa: F811
    url = f"/api/v1/video/rooms/{convened}/ws"
    with signed_in("gp").websocket_connect(url) as gp, signed_in("cardio").websocket_connect(url) as first:
        _next(first, "hello")
        old = _next(gp, "join")["peer"]
        with signed_in("cardio").websocket_connect(url) as again:
            new = _next(again, "hello")["peer"]
            assert _next(first, "replaced") == {"type": "replaced"}
            seen = {}
            for _ in range(2):
                frame = gp.receive_json()
                seen[frame["type"]] = frame["peer"]
            assert seen == {"join": new, "leave": old}


@ONE_STORE
def test_a_full_room_turns_the_next_person_away(signed_in, convened, monkeypatch):  # noqa: F811
    monkeypatch.setattr(rooms, "roster", relay.Roster(1))
    url = f"/api/v1/video/rooms/{convened}/ws"
    with signed_in("gp").websocket_connect(url) as gp:
        _next(gp, "hello")
        with signed_in("cardio").websocket_connect(url) as li:
            refused = li.receive_json()
            assert (refused["type"], refused["error"]) == ("error", "full")
