"""Bedside monitors on the ward: registered as devices, following the bed's patient, their frames charted into the
stay, NEWS2 scored on complete sets with the nurse's ACVPU and oxygen, and escalated to the ward's team."""

from datetime import timedelta

import pytest

from smartcare.family.devices import registry, service
from smartcare.fhir import gateway
from smartcare.hospital.wards import admissions, beds, board, discharge, monitors, vitals
from smartcare.knowledge.scores import news2
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.wards.conftest import signed_in
from tests.web_support import form_token

HOSPITAL = "Organization/org-h"
CHARTED = {"systolic": "128", "diastolic": "76", "pulse": "78", "respiratory_rate": "16", "temperature": "36.8",
           "spo2": "97", "spo2_scale": "1", "oxygen": "air", "consciousness": "A"}
NORMAL = {"rr": 16, "spo2": 97, "sys": 128, "dia": 76, "hr": 78, "temp": 36.8}
MEDIUM = {"rr": 22, "spo2": 94, "sys": 105, "dia": 70, "hr": 95, "temp": 37.0}  # 2+1+1+1 = 5
HIGH = {"rr": 26, "spo2": 90, "sys": 95, "dia": 60, "hr": 125, "temp": 38.5}  # 3+3+2+2+1 = 11
RED = {**NORMAL, "rr": 7}  # a single 3


def _monitor(engine, serial="MX450-0001") -> str:
    with unit_of_work(engine) as conn:
        return registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", serial=serial, model="MX450",
                                        manufacturer="Philips", organization="org-h").device.device_id


def _connect(ctx, device_id, bed_id="bed-m1"):
    monitors.connect(ctx, hospital=HOSPITAL, device_id=device_id, bed_id=bed_id)


def _admit(ctx, patient="p-wang", bed="bed-m1"):
    return admissions.admit(ctx, hospital=HOSPITAL, ward_id="ward-med", bed_id=bed, patient_id=patient,
                            reason_code="J18.9", admit_source="emd", attending_id="prac-doc")


def _chart(ctx, encounter_id, **changes):
    vitals.record(ctx, hospital=HOSPITAL, encounter_id=encounter_id,
                  readings=vitals.parse_form({**CHARTED, **changes}), adult=True)


def _frame(engine, device_id, seq, when, values, only=None):
    readings = [
        {"type": "respiratory-rate", "value": values["rr"], "unit": "/min"},
        {"type": "spo2", "value": values["spo2"], "unit": "%"},
        {"type": "blood-pressure", "systolic": values["sys"], "diastolic": values["dia"], "unit": "mm[Hg]"},
        {"type": "heart-rate", "value": values["hr"], "unit": "/min"},
        {"type": "body-temperature", "value": values["temp"], "unit": "Cel"},
    ]
    if only:
        readings = [r for r in readings if r["type"] in only]
    result = service.ingest_frame(engine, device_id=device_id, payload={
        "seq": seq, "time": when.isoformat(timespec="seconds"), "readings": readings}, received_at=when)
    assert result.status == "accepted", result.as_json()
    return result


def _inbox(engine, username):
    with unit_of_work(engine) as conn:
        user = users.get_by_username(conn, username=username)
        return [n for n in notifications.inbox(conn, user_id=user.id) if n["kind"] == monitors.NOTICE_KIND]


def _board_row(ctx, bed_id="bed-m1"):
    ward = beds.ward(ctx, hospital=HOSPITAL, ward_id="ward-med")
    return next(r for r in board.rows(ctx, beds.rooms(ctx, ward)) if r.bed_id == bed_id)


def _owner(engine, device_id):
    with unit_of_work(engine) as conn:
        return registry.get_device(conn, device_id=device_id).patient_id


def test_a_monitor_follows_the_patient_of_its_bed_through_admission_transfer_and_discharge(engine, hospital, now):
    nurse, doctor = hospital["nurse"], hospital["doctor"]
    first, second = _monitor(engine), _monitor(engine, serial="MX450-0002")
    _connect(nurse, first, "bed-m1")
    _connect(nurse, second, "bed-m2")
    assert _owner(engine, first) is None
    encounter_id = _admit(nurse)
    assert _owner(engine, first) == "p-wang" and _owner(engine, second) is None
    device = gateway.read(SYSTEM, f"Device/{first}")
    assert device["location"] == {"reference": "Location/bed-m1"}
    assert device["patient"] == {"reference": "Patient/p-wang"}

    admissions.transfer(nurse, hospital=HOSPITAL, encounter_id=encounter_id, to_bed_id="bed-m2")
    assert _owner(engine, first) is None and _owner(engine, second) == "p-wang"
    refused = service.ingest_frame(engine, device_id=first, payload={
        "seq": 1, "time": now[0].isoformat(), "readings": [{"type": "heart-rate", "value": 80, "unit": "/min"}]})
    assert refused.status == "rejected" and "not paired" in refused.reasons[0]

    discharge.save_draft(doctor, hospital=HOSPITAL, encounter_id=encounter_id, fields={
        "reason": "Fever", "course": "Treated with antibiotics.", "diagnoses": "J18.9", "medications": "",
        "follow_up": ""})
    discharge.sign(doctor, hospital=HOSPITAL, encounter_id=encounter_id, disposition="home")
    assert _owner(engine, second) is None
    assert "patient" not in gateway.read(SYSTEM, f"Device/{second}")


def test_monitor_readings_appear_in_the_stays_trend_and_a_complete_set_is_scored(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse)
    _chart(nurse, encounter_id)
    now[0] += timedelta(minutes=30)
    _frame(engine, device_id, 1, now[0], NORMAL, only={"heart-rate", "spo2"})
    trend = vitals.trend(nurse, encounter_id)
    assert [p[1] for p in trend["pulse"]] == [78, 78]
    assert len(trend["news2"]) == 1  # the nurse's set only: the frame alone is no complete set

    now[0] += timedelta(minutes=1)
    _frame(engine, device_id, 2, now[0], {**NORMAL, "hr": 84})
    trend = vitals.trend(nurse, encounter_id)
    assert trend["pulse"][-1][1] == 84
    assert trend["respiratory_rate"][-1][1] == 16 and trend["bp"][-1][1:] == [128, 76]
    assert [p[1] for p in trend["news2"]] == [0, 0]
    row = _board_row(nurse)
    assert row.news2 == 0 and row.scored == now[0].isoformat(timespec="seconds") and not row.overdue

    news = [o for o in gateway.search(SYSTEM, "Observation", [("encounter", f"Encounter/{encounter_id}"),
                                                             ("_sort", "-date")])
            if o.get("identifier", [{}])[0].get("system") == monitors.SCORE_SID]
    derived = {d["reference"] for d in news[0]["derivedFrom"]}
    monitor_readings = {f"Observation/{o['id']}" for o in gateway.search(SYSTEM, "Observation", [
        ("device", f"Device/{device_id}"), ("date", f"eq{now[0].isoformat(timespec='seconds')}")])}
    assert monitor_readings <= derived and len(derived) == 7  # five readings, ACVPU and air/oxygen
    assert news[0]["valueInteger"] == 0 and news[0]["encounter"]["reference"] == f"Encounter/{encounter_id}"


def test_without_recent_acvpu_and_oxygen_there_is_no_score_and_the_board_says_so(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse)
    _frame(engine, device_id, 1, now[0], HIGH)
    assert vitals.trend(nurse, encounter_id)["respiratory_rate"][-1][1] == 26
    assert vitals.latest_scores(nurse, [encounter_id]) == {}
    assert monitors.needs_charting(nurse, [encounter_id]) == {encounter_id}
    assert _inbox(engine, "zhou.nurse") == []
    board_page = hospital["web"].get("/workstation/wards/ward-med")
    bed = board_page.text.split("needs consciousness and oxygen charted")
    assert len(bed) == 2 and "/workstation/wards/ward-med/monitors" in board_page.text

    _chart(nurse, encounter_id)  # charted now: later frames are scored
    now[0] += timedelta(hours=11)
    _frame(engine, device_id, 2, now[0], NORMAL)
    assert vitals.latest_scores(nurse, [encounter_id])[encounter_id]["valueInteger"] == 0
    assert monitors.needs_charting(nurse, [encounter_id]) == set()
    now[0] += timedelta(hours=2)  # 13 hours after the charting: too old to score with
    _frame(engine, device_id, 3, now[0], HIGH)
    assert vitals.latest_scores(nurse, [encounter_id])[encounter_id]["valueInteger"] == 0
    assert monitors.needs_charting(nurse, [encounter_id]) == {encounter_id}


def test_an_emergency_score_notifies_the_wards_nurses_and_the_attending_doctor_once(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse)
    _chart(nurse, encounter_id)
    _frame(engine, device_id, 1, now[0], HIGH)
    notices = _inbox(engine, "zhou.nurse")
    assert len(notices) == 1
    notice = notices[0]
    assert notice["title"] == "EMERGENCY response: NEWS2 11 for Xiu Wang, Bed 1"
    for words in ("NEWS2 11 (High risk)", "bedside monitor MX450 MX450-0001", "Respiratory rate 3", "SpO2 3",
                  "Systolic blood pressure 2", "Heart rate 2", "Temperature 1"):
        assert words in notice["body"]
    assert "Consciousness" not in notice["body"]  # only the parameters that scored
    assert notice["link"] == "/workstation/wards/ward-med/beds/bed-m1"
    assert [n["title"] for n in _inbox(engine, "li.doctor")] == [notice["title"]]
    assert _inbox(engine, "xu.nurse") == [] and _inbox(engine, "chen.surgeon") == []

    for minute in range(1, 30):  # streaming every minute: no notice until the band's 30-minute interval is up
        _frame(engine, device_id, 1 + minute, now[0] + timedelta(minutes=minute), HIGH)
    now[0] += timedelta(minutes=29)
    assert len(_inbox(engine, "zhou.nurse")) == 1
    now[0] += timedelta(minutes=1)
    _frame(engine, device_id, 40, now[0], HIGH)
    assert len(_inbox(engine, "zhou.nurse")) == 2
    escalations = gateway.search(SYSTEM, "Communication", [("encounter", f"Encounter/{encounter_id}")])
    assert len(escalations) == 2 and escalations[0]["priority"] == "stat"


def test_a_rising_band_is_escalated_again_with_the_emergency_wording(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse)
    _chart(nurse, encounter_id)
    _frame(engine, device_id, 1, now[0], RED)
    titles = [n["title"] for n in _inbox(engine, "zhou.nurse")]
    assert titles == ["Urgent response: NEWS2 3 for Xiu Wang, Bed 1"]
    now[0] += timedelta(minutes=2)
    _frame(engine, device_id, 2, now[0], MEDIUM)
    now[0] += timedelta(minutes=2)
    _frame(engine, device_id, 3, now[0], MEDIUM)  # the same band two minutes later: no second notice
    now[0] += timedelta(minutes=2)
    _frame(engine, device_id, 4, now[0], NORMAL)
    now[0] += timedelta(minutes=2)
    _frame(engine, device_id, 5, now[0], HIGH)
    titles = [n["title"] for n in _inbox(engine, "zhou.nurse")]
    assert titles == ["EMERGENCY response: NEWS2 11 for Xiu Wang, Bed 1",
                      "Urgent response: NEWS2 5 for Xiu Wang, Bed 1",
                      "Urgent response: NEWS2 3 for Xiu Wang, Bed 1"]
    assert vitals.latest_scores(nurse, [encounter_id])[encounter_id]["valueInteger"] == 11
    assert _board_row(nurse).band == "high"


def test_the_notice_is_in_the_readers_language(engine, hospital, now):
    with unit_of_work(engine) as conn:
        users.set_locale(conn, user_id=users.get_by_username(conn, username="li.doctor").id, locale="zh-Hans")
    device_id = _monitor(engine)
    _connect(hospital["nurse"], device_id)
    encounter_id = _admit(hospital["nurse"])
    _chart(hospital["nurse"], encounter_id)
    _frame(engine, device_id, 1, now[0], HIGH)
    notice = _inbox(engine, "li.doctor")[0]
    assert "NEWS2 11" in notice["title"] and "紧急" in notice["title"]
    assert "呼吸频率 3" in notice["body"]


def test_a_child_gets_the_readings_but_no_news2(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse, patient="p-child")
    vitals.record(nurse, hospital=HOSPITAL, encounter_id=encounter_id, readings=vitals.parse_form(CHARTED),
                  adult=False)
    _frame(engine, device_id, 1, now[0], HIGH)
    assert vitals.trend(nurse, encounter_id)["pulse"][-1][1] == 125
    assert vitals.latest_scores(nurse, [encounter_id]) == {}
    assert _inbox(engine, "zhou.nurse") == []


def test_a_home_device_and_a_monitor_without_a_bed_are_left_alone(engine, hospital, now):
    with unit_of_work(engine) as conn:
        home = registry.register_device(conn, ctx=SYSTEM, kind="pulse-oximeter", patient_id="p-li").device.device_id
        loose = registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", patient_id="p-li",
                                         organization="org-h").device.device_id
    for device_id in (home, loose):
        result = _frame(engine, device_id, 1, now[0], NORMAL, only={"spo2", "heart-rate"})
        assert monitors.chart_frame(device=f"Device/{device_id}", patient="Patient/p-li",
                                    observations=result.observations).status == "not-a-ward-monitor"
        stored = gateway.read(SYSTEM, result.observations[0])
        assert "encounter" not in stored and stored["meta"]["versionId"] == "1"


def test_charting_a_frame_twice_scores_and_notifies_once(engine, hospital, now):
    nurse = hospital["nurse"]
    device_id = _monitor(engine)
    _connect(nurse, device_id)
    encounter_id = _admit(nurse)
    _chart(nurse, encounter_id)
    result = _frame(engine, device_id, 1, now[0], HIGH)
    again = monitors.chart_frame(device=f"Device/{device_id}", patient="Patient/p-wang",
                                 observations=result.observations)
    assert again.status == "already-scored"
    assert len(vitals.trend(nurse, encounter_id)["news2"]) == 2 and len(_inbox(engine, "zhou.nurse")) == 1


def test_respiratory_rate_is_a_reading_type_with_its_code_and_limits(engine, hospital, now):
    device_id = _monitor(engine)
    _connect(hospital["nurse"], device_id)
    _admit(hospital["nurse"])
    result = service.ingest_frame(engine, device_id=device_id, payload={
        "seq": 1, "time": now[0].isoformat(), "readings": [
            {"type": "respiratory-rate", "value": 0, "unit": "/min"},
            {"type": "respiratory-rate", "value": 81, "unit": "/min"}]})
    assert result.status == "partial" and "outside the plausible 0-80" in result.refused[0].reason
    stored = gateway.read(SYSTEM, result.observations[0])
    assert stored["code"]["coding"][0]["code"] == "9279-1" and stored["valueQuantity"]["code"] == "/min"
    assert stored["encounter"]["reference"].startswith("Encounter/")


def test_the_monitor_settings_cite_their_source_and_match_the_news2_bands():
    data = monitors.settings()
    assert "Royal College of Physicians" in data["source"]
    bands = [b["key"] for b in news2.chart()["bands"]]
    assert set(data["band_order"]) == set(bands)
    assert set(data["escalation"]) == {b["key"] for b in news2.chart()["bands"]
                                       if b["response"] in ("urgent-ward", "urgent", "emergency")}
    assert {r["response"] for r in data["escalation"].values()} == {"urgent", "emergency"}
    assert set(data["set_readings"]) <= set(vitals.definitions()["vitals"])


def test_a_monitor_of_another_hospital_cannot_be_connected_here(engine, hospital, now):
    with unit_of_work(engine) as conn:
        other = registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", organization="org-x")
    with pytest.raises(registry.DeviceNotFound):
        _connect(hospital["nurse"], other.device.device_id)
    assert "location" not in gateway.read(SYSTEM, f"Device/{other.device.device_id}")


def test_a_nurse_connects_and_disconnects_a_monitor_from_the_ward_page(engine, hospital, now):
    web = hospital["web"]
    device_id = _monitor(engine)
    _admit(hospital["nurse"])
    page = web.get("/workstation/wards/ward-med/monitors")
    assert page.status_code == 200 and f'<option value="{device_id}">MX450 · MX450-0001</option>' in page.text
    done = web.post("/workstation/wards/ward-med/monitors", data={
        "csrf_token": form_token(page), "device": device_id, "bed": "bed-m1"}, follow_redirects=False)
    assert done.status_code == 303
    assert _owner(engine, device_id) == "p-wang"
    page = web.get("/workstation/wards/ward-med/monitors?lang=zh_Hans")
    row = page.text.split('id="bed-bed-m1"')[1].split("</tr>")[0]
    assert "MX450-0001" in row and "Xiu Wang" in row and "断开" in row and "床旁监护仪" in page.text
    _frame(engine, device_id, 1, now[0], NORMAL, only={"heart-rate"})
    encounter_id = admissions.current_stays(SYSTEM, ["Location/bed-m1"])["Location/bed-m1"]["id"]
    assert vitals.trend(hospital["nurse"], encounter_id)["pulse"][-1][1] == 78

    web.post("/workstation/wards/ward-med/monitors", data={"csrf_token": form_token(page), "device": device_id,
                                                           "bed": ""})
    assert _owner(engine, device_id) is None
    assert "location" not in gateway.read(SYSTEM, f"Device/{device_id}")


def test_the_ward_page_refuses_another_hospitals_monitor_and_another_wards_bed(engine, hospital, now):
    web = hospital["web"]
    own = _monitor(engine)
    with unit_of_work(engine) as conn:
        other = registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", serial="FAR-1",
                                         organization="org-x").device.device_id
    page = web.get("/workstation/wards/ward-med/monitors")
    assert "FAR-1" not in page.text
    refused = web.post("/workstation/wards/ward-med/monitors", data={
        "csrf_token": form_token(page), "device": other, "bed": "bed-m1"})
    assert refused.status_code == 404 and "bedside monitors" in refused.text
    refused = web.post("/workstation/wards/ward-med/monitors", data={
        "csrf_token": form_token(page), "device": own, "bed": "bed-s1"})
    assert refused.status_code == 400 and "Choose a bed of this ward." in refused.text
    with unit_of_work(engine) as conn:
        oximeter = registry.register_device(conn, ctx=SYSTEM, kind="pulse-oximeter", serial="OX-2",
                                            organization="org-h").device.device_id
    refused = web.post("/workstation/wards/ward-med/monitors", data={
        "csrf_token": form_token(page), "device": oximeter, "bed": "bed-m1"})
    assert refused.status_code == 404
    for device_id in (own, other, oximeter):
        assert "location" not in gateway.read(SYSTEM, f"Device/{device_id}")
    assert web.post("/workstation/wards/ward-med/monitors", data={"csrf_token": "forged", "device": own,
                                                                  "bed": "bed-m1"}).status_code == 403
    pharmacist = signed_in("qian.pharmacist")
    assert pharmacist.get("/workstation/wards/ward-med/monitors").status_code == 403
