"""The video room of a multi-disciplinary session: convening makes it, only the requesting doctor and the convened
specialists come in (others are refused and the refusal audited), it closes when the consultation is answered,
cancelled or the session ended, its duration is recorded, and it reaches no record beyond what was shared."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.websockets import WebSocketDisconnect

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.teleconsult import room
from smartcare.platform.audit.tables import audit_journal
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.tables import notification
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.teleconsult.conftest import SHARED, UNSHARED
from tests.web_support import form_token

API = "/api/v1/teleconsults"
NEW = {"patient": "Patient/pa1", "department": "HealthcareService/hcs-cardio", "urgency": "urgent",
       "question": "Breathless on exertion: heart failure?", "records": SHARED}
TEAM = ["Practitioner/prac-li", "Practitioner/prac-sun"]
OPINION = {"opinion": "Heart failure with reduced ejection fraction."}
# The room's records go through the same store calls as the consultation's (tested on both stores there); the
# duration test runs on both, the rest on one to keep the suite quick.
ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _convened(signed_in, now) -> str:
    """A consultation the gp asked and cardio2 convened (dr.li and dr.sun) two hours from now."""
    created = signed_in("gp").post(API, json=NEW)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    start = (now[0] + timedelta(hours=2)).isoformat()
    convened = signed_in("cardio2").post(f"{API}/{tid}/convene", json={"specialists": TEAM, "start": start})
    assert convened.status_code == 200, convened.text
    assert convened.json()["room"] == room.room_id(tid)
    return tid


def _encounter(region, tid: str) -> dict:
    with unit_of_work(region.engine) as conn:
        return store.read(conn, SYSTEM, res_type="Encounter", res_id=room.room_id(tid)).resource


def _ws(web, tid: str):
    return web.websocket_connect(f"/api/v1/video/rooms/{tid}/ws")


def _refused(web, tid: str) -> int:
    with pytest.raises(WebSocketDisconnect) as refused, _ws(web, tid) as ws:
        ws.receive_json()
    return refused.value.code


@ONE_STORE
def test_convening_makes_a_planned_virtual_encounter_for_the_requester_and_the_team(signed_in, region, now):
    tid = _convened(signed_in, now)
    encounter = _encounter(region, tid)
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "planned"
    assert encounter["subject"] == {"reference": "Patient/pa1"}
    assert encounter["basedOn"][0]["reference"].startswith("ServiceRequest/")
    assert [p["individual"]["reference"] for p in encounter["participant"]] == [
        "Practitioner/prac-gp", "PractitionerRole/role-prac-li", "PractitionerRole/role-prac-sun"]
    seen = signed_in("imaging").get(f"{API}/{tid}/room").json()
    assert (seen["status"], seen["joinable"], seen["planned_start"]) == ("planned", True, "2026-03-02T10:00:00.000Z")
    assert [p["reference"] for p in seen["participants"]] == ["Practitioner/prac-gp", *TEAM]
    assert seen["records"] == SHARED
    # The detail page links the room for the participants only.
    link = f"/workstation/video/rooms/{tid}"
    assert link in signed_in("gp").get(f"/workstation/teleconsults/{tid}").text
    assert link not in signed_in("cardio2").get(f"/workstation/teleconsults/{tid}").text


@ONE_STORE
def test_the_room_reaches_no_record_beyond_the_share(signed_in, region, now):
    tid = _convened(signed_in, now)
    with _ws(signed_in("imaging"), tid) as ws:
        assert ws.receive_json()["type"] == "hello"
    sun = region.ctx("imaging")
    for reference in UNSHARED:
        with pytest.raises(FhirError), unit_of_work(region.engine) as conn:
            gateway.serve_within(conn, sun, FhirRequest(method="GET", path=reference))


@ONE_STORE
def test_only_participants_join_and_refusals_are_audited(signed_in, region, now, anonymous):
    tid = _convened(signed_in, now)
    colleague, stranger = signed_in("cardio2"), signed_in("stranger")
    refused = colleague.get(f"{API}/{tid}/room")
    assert refused.status_code == 403 and refused.json()["resourceType"] == "OperationOutcome"
    hidden = stranger.get(f"{API}/{tid}/room")
    assert hidden.status_code == 404 and hidden.json()["issue"][0]["code"] == "not-found"
    assert anonymous.get(f"{API}/{tid}/room").status_code == 401
    assert _refused(colleague, tid) == 1008 and _refused(stranger, tid) == 1008
    page = colleague.get(f"/workstation/video/rooms/{tid}")
    assert page.status_code == 403 and "Only the requesting doctor and the convened specialists" in page.text
    assert stranger.get(f"/workstation/video/rooms/{tid}").status_code == 404
    with unit_of_work(region.engine) as conn:
        events = [json.loads(e) for e in conn.execute(sa.select(audit_journal.c.event)).scalars()]
    refusals = [e for e in events if e.get("outcome") == "4" and f"Encounter/{room.room_id(tid)}" in json.dumps(e)]
    assert {a["who"].get("display") for e in refusals for a in e["agent"] if a.get("requestor")} == {"user/dr.wang"}
    assert len(refusals) >= 3
    page = signed_in("gp").get(f"/workstation/video/rooms/{tid}?lang=zh-Hans")
    assert page.status_code == 200 and "展示给所有人" in page.text and "ImagingStudy/img-chest" in page.text


def test_joining_starts_the_session_and_answering_closes_it_with_its_duration(signed_in, region, now):
    tid = _convened(signed_in, now)
    gp, li = signed_in("gp"), signed_in("cardio")
    with _ws(gp, tid) as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["me"] == "Practitioner/prac-gp" and hello["ice_servers"] == []
    assert _encounter(region, tid)["status"] == "in-progress"
    now[0] += timedelta(minutes=25)
    li = signed_in("cardio", fresh=True)
    answered = li.post(f"{API}/{tid}/answer", json=OPINION)
    assert answered.status_code == 200, answered.text
    encounter = _encounter(region, tid)
    assert encounter["status"] == "finished" and encounter["length"]["value"] == 25
    assert encounter["period"]["end"] == "2026-03-02T08:25:00.000Z"
    gp = signed_in("gp", fresh=True)
    seen = gp.get(f"{API}/{tid}/room").json()
    assert (seen["joinable"], seen["minutes"], seen["state"]) == (False, 25, "answered")
    assert _refused(gp, tid) == 1008
    page = gp.get(f"/workstation/video/rooms/{tid}")
    assert "The consultation was answered; its session is closed." in page.text and "mdt-join" not in page.text


@ONE_STORE
def test_a_participant_ends_the_session_and_nobody_joins_again(signed_in, region, now):
    tid = _convened(signed_in, now)
    sun = signed_in("imaging")
    with _ws(sun, tid) as ws:
        ws.receive_json()
        now[0] += timedelta(minutes=40)
        sun = signed_in("imaging", fresh=True)
        ended = sun.post(f"{API}/{tid}/room/end")
        assert ended.status_code == 200 and ended.json()["minutes"] == 40
        assert ws.receive_json() == {"type": "ended"}
    assert sun.post(f"{API}/{tid}/room/end").status_code == 409
    assert _refused(sun, tid) == 1008
    assert _encounter(region, tid)["status"] == "finished"


@ONE_STORE
def test_cancelling_before_anyone_joined_cancels_the_room(signed_in, region, now):
    tid = _convened(signed_in, now)
    gp = signed_in("gp")
    page = gp.get(f"/workstation/teleconsults/{tid}")
    cancelled = gp.post(f"/workstation/teleconsults/{tid}", data={
        "csrf_token": form_token(page), "action": "cancel", "reason": "Admitted locally"})
    assert cancelled.status_code == 303
    assert _encounter(region, tid)["status"] == "cancelled"
    assert _refused(gp, tid) == 1008


@ONE_STORE
def test_notices_are_written_in_each_recipients_language(signed_in, region, now):
    with unit_of_work(region.engine) as conn:
        users.set_locale(conn, user_id=region.users["cardio"], locale="zh-Hans")
    _convened(signed_in, now)
    with unit_of_work(region.engine) as conn:
        titles = dict(conn.execute(sa.select(notification.c.user_id, notification.c.title).where(
            notification.c.kind == "teleconsult", notification.c.title.contains("scheduled") |
            notification.c.title.contains("安排"))).all())
    assert titles[region.users["cardio"]] == "远程会诊已安排多学科会诊：紧急"
    assert titles[region.users["imaging"]] == "Remote consultation scheduled: urgent"
    assert titles[region.users["gp"]] == "Remote consultation scheduled: urgent"  # the requester joins too
