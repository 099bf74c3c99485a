"""Taking device frames: readings become the right Observations, exactly once, placed by device time, and bad
readings, devices and patients are refused with a reason."""

import orjson
import pytest

from smartcare.family.devices import registry, service
from smartcare.fhir import store
from smartcare.platform import events
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.family.devices.conftest import EXAMPLE, make_patient

LOINC = "http://loinc.org"


def _read(engine, ref: str) -> dict:
    res_type, res_id = ref.split("/")
    with unit_of_work(engine) as conn:
        return store.read(conn, SYSTEM, res_type=res_type, res_id=res_id).resource


def _codes(observation: dict) -> list[str]:
    return [c["code"] for c in observation["code"]["coding"]]


def _frame(seq: int, readings: list[dict], time: str = "2026-03-02T15:59:00+08:00", **extra) -> bytes:
    return orjson.dumps({"seq": seq, "time": time, "readings": readings, **extra})


def test_issue_example_becomes_blood_pressure_and_heart_rate_observations(engine, now, device, patient):
    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))

    assert result.status == "accepted" and result.accepted == 2
    bp, hr = (_read(engine, ref) for ref in result.observations)
    assert _codes(bp) == ["85354-9"]
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert parts["8480-6"] == {"value": 150, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                               "code": "mm[Hg]"}
    assert parts["8462-4"]["value"] == 95
    assert _codes(hr) == ["8867-4"] and hr["valueQuantity"]["value"] == 72 and hr["valueQuantity"]["code"] == "/min"
    for observation, index in ((bp, 0), (hr, 1)):
        assert observation["status"] == "final"
        assert observation["subject"] == {"reference": f"Patient/{patient}"}
        assert observation["device"] == {"reference": f"Device/{device.device.device_id}"}
        assert observation["effectiveDateTime"] == "2026-03-02T16:00:00+08:00"
        assert observation["issued"] == "2026-03-02T08:00:00.000Z"
        assert observation["identifier"] == [{"system": "https://smartcare.example/fhir/sid/device-reading",
                                               "value": f"{device.device.device_id}:42:{index}"}]
        assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
        assert observation["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]


def test_every_reading_type_is_coded_as_the_contract_says(engine, now, register):
    dev = register("bedside-monitor")
    result = service.ingest_frame(engine, device_id=dev.device.device_id, payload=_frame(1, [
        {"type": "spo2", "value": 97, "unit": "%"},
        {"type": "glucose", "value": 126, "unit": "mg/dL"},
        {"type": "body-weight", "value": 70.4, "unit": "kg"},
        {"type": "body-temperature", "value": 98.6, "unit": "[degF]"},
        {"type": "steps", "value": 5230},
        {"type": "fall", "value": True},
        {"type": "motion", "value": 12},
        {"type": "pillbox-open", "compartment": "mon-am"},
        {"type": "pillbox-open"},
    ]))
    assert result.status == "accepted", result.as_json()
    spo2, glucose, weight, temp, steps, fall, motion, pill, pill2 = (_read(engine, r) for r in result.observations)
    assert _codes(spo2) == ["59408-5", "2708-6"] and spo2["valueQuantity"]["value"] == 97
    assert _codes(glucose) == ["15074-8"]
    assert glucose["valueQuantity"]["value"] == 7.0 and glucose["valueQuantity"]["code"] == "mmol/L"
    assert _codes(weight) == ["29463-7"] and weight["valueQuantity"]["value"] == 70.4
    assert _codes(temp) == ["8310-5"] and temp["valueQuantity"] == {
        "value": 37.0, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}
    assert _codes(steps) == ["55423-8"] and steps["valueQuantity"]["value"] == 5230
    assert steps["category"][0]["coding"][0]["code"] == "activity"
    assert "profile" not in steps.get("meta", {}) and "profile" in weight["meta"]
    assert fall["code"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "1912002", "display": "Fall"}
    assert fall["valueBoolean"] is True
    assert motion["valueInteger"] == 12 and _codes(motion) == ["motion"]
    assert pill["valueString"] == "mon-am" and pill2["valueString"] == "opened"
    assert pill["code"]["coding"][0]["system"] == "https://smartcare.example/fhir/CodeSystem/device-event"


def test_a_repeated_sequence_number_is_taken_once(engine, now, device):
    first = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
    again = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))

    assert again.status == "duplicate" and again.observations == first.observations
    assert not again.has_errors
    with unit_of_work(engine) as conn:
        found = conn.exec_driver_sql("SELECT count(*) FROM fhir_resource WHERE res_type = 'Observation'").scalar()
    assert found == 2


def test_duplicates_inside_one_batch_are_taken_once(engine, now, device):
    frame = service.FrameIn(device.device.device_id, orjson.dumps(EXAMPLE))
    results = service.ingest_frames(engine, [frame, frame])
    assert [r.status for r in results] == ["accepted", "duplicate"]


def test_out_of_order_frames_are_placed_by_device_time(engine, now, device):
    dev = device.device.device_id
    later = service.ingest_frame(engine, device_id=dev, payload=_frame(
        8, [{"type": "heart-rate", "value": 80, "unit": "/min"}], time="2026-03-02T15:50:00+08:00"))
    earlier = service.ingest_frame(engine, device_id=dev, payload=_frame(
        7, [{"type": "heart-rate", "value": 70, "unit": "/min"}], time="2026-03-02T15:40:00+08:00"))
    assert later.status == earlier.status == "accepted"
    assert _read(engine, earlier.observations[0])["effectiveDateTime"] == "2026-03-02T15:40:00+08:00"
    assert _read(engine, later.observations[0])["effectiveDateTime"] == "2026-03-02T15:50:00+08:00"


@pytest.mark.parametrize(("device_time", "skew"), [("2026-03-02T17:00:00+08:00", 3600),
                                                    ("2026-02-20T16:00:00+08:00", -864000)])
def test_a_wrong_device_clock_is_corrected_to_arrival_and_flagged(engine, now, device, device_time, skew):
    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=_frame(
        1, [{"type": "heart-rate", "value": 70, "unit": "/min"}], time=device_time))

    assert result.status == "accepted" and result.clock_corrected_by == skew
    observation = _read(engine, result.observations[0])
    assert observation["effectiveDateTime"] == "2026-03-02T16:00:00+08:00"
    assert observation["note"] == [{"text": f"device clock corrected by {skew} s"}]
    assert observation["meta"]["tag"][0]["code"] == "device-clock-corrected"


def test_a_clock_a_little_ahead_is_trusted(engine, now, device):
    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=_frame(
        1, [{"type": "heart-rate", "value": 70, "unit": "/min"}], time="2026-03-02T16:04:00+08:00"))
    assert result.clock_corrected_by is None
    assert _read(engine, result.observations[0])["effectiveDateTime"] == "2026-03-02T16:04:00+08:00"


def test_a_gateways_backlog_keeps_its_old_device_time(engine, now, device):
    result = service.ingest_frame(engine, device_id=device.device.device_id, live=False, payload=_frame(
        1, [{"type": "heart-rate", "value": 70, "unit": "/min"}], time="2026-02-20T16:00:00+08:00"))
    assert result.clock_corrected_by is None


@pytest.mark.parametrize(("bad", "reason"), [
    ({"type": "blood-pressure", "systolic": 400, "diastolic": 20, "unit": "mm[Hg]"},
     "blood-pressure systolic 400 mm[Hg] is outside the plausible 40-300"),
    ({"type": "spo2", "value": 130, "unit": "%"}, "spo2 130 % is outside the plausible 50-100"),
    ({"type": "blood-pressure", "systolic": 90, "diastolic": 120, "unit": "mm[Hg]"}, "must be below systolic"),
    ({"type": "ecg", "value": 1}, "unknown reading type 'ecg'"),
    ({"type": "heart-rate", "value": 72, "unit": "Hz"}, "unit 'Hz' is not accepted"),
    ({"type": "glucose", "unit": "mmol/L"}, "glucose: 'value' is missing"),
])
def test_a_bad_reading_is_refused_with_its_reason_and_the_good_one_stored(engine, now, device, bad, reason):
    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=_frame(
        5, [bad, {"type": "heart-rate", "value": 72, "unit": "/min"}]))

    assert result.status == "partial"
    assert [r.index for r in result.refused] == [0]
    assert reason in result.refused[0].reason
    assert result.as_json()["refused"][0]["reason"] == result.refused[0].reason
    assert _codes(_read(engine, result.observations[0])) == ["8867-4"]
    assert len(result.observations) == 1


def test_a_frame_of_only_implausible_readings_is_rejected_and_remembered(engine, now, device):
    bad = _frame(6, [{"type": "spo2", "value": 130, "unit": "%"}])
    first = service.ingest_frame(engine, device_id=device.device.device_id, payload=bad)
    assert first.status == "rejected" and first.observations == [] and first.has_errors
    assert service.ingest_frame(engine, device_id=device.device.device_id, payload=bad).status == "duplicate"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not json", "not JSON"),
    (b'{"seq": 1, "time": "2026-03-02T08:00:00", "readings": [{"type": "fall"}]}', "UTC offset"),
    (orjson.dumps({"seq": 1, "time": "2026-03-02T08:00:00Z", "readings": [{"type": "fall"}] * 101}),
     "1 to 100 readings"),
    (b'{"time": "2026-03-02T08:00:00Z", "readings": [{"type": "fall"}]}', "'seq' is missing"),
    (b"{" + b'"x": "' + b"a" * 70000 + b'"}', "over 65536 bytes"),
])
def test_a_malformed_frame_is_refused_as_a_whole(engine, now, device, payload, reason):
    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=payload)
    assert result.status == "rejected" and any(reason in r for r in result.reasons), result.reasons


def test_unknown_revoked_and_unpaired_devices_and_other_patients_are_refused(engine, now, device, register):
    assert service.ingest_frame(engine, device_id="dev-nobody", payload=orjson.dumps(EXAMPLE)).reasons == [
        "unknown device"]

    other = make_patient(engine, "Li")
    named = service.ingest_frame(engine, device_id=device.device.device_id,
                                 payload=orjson.dumps({**EXAMPLE, "patient": f"Patient/{other}"}))
    assert named.status == "rejected" and "another patient" in named.reasons[0]

    unowned = register("scale", patient_id=None)
    assert "not paired" in service.ingest_frame(engine, device_id=unowned.device.device_id,
                                                payload=orjson.dumps(EXAMPLE)).reasons[0]

    with unit_of_work(engine) as conn:
        registry.revoke_device(conn, ctx=SYSTEM, device_id=device.device.device_id)
    revoked = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
    assert revoked.status == "rejected" and "revoked" in revoked.reasons[0]
    with unit_of_work(engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM fhir_resource WHERE res_type = 'Observation'").scalar() == 0


def test_readings_stored_is_published_after_commit_with_the_contracts_payload(engine, now, device, patient):
    seen: list[events.DomainEvent] = []
    events.subscribe(service.READINGS_STORED, seen.append)
    try:
        result = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
        service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
    finally:
        events.unsubscribe(service.READINGS_STORED, seen.append)
    assert [{k: v for k, v in e.payload.items() if k != "resources"} for e in seen] == [{
        "patient": f"Patient/{patient}", "device": f"Device/{device.device.device_id}", "deviceKind": "bp-monitor",
        "observations": result.observations, "kinds": ["blood-pressure", "heart-rate"],
        "received": format_instant(now[0])}]  # when the frame arrived: alert latency counts from it
    # The stored Observations ride along in-process, so whoever judges them need not read them back.
    handed = seen[0].payload["resources"]
    assert [f"Observation/{r['id']}" for r in handed] == result.observations
    with unit_of_work(engine) as conn:
        stored = store.read(conn, SYSTEM, res_type="Observation", res_id=handed[0]["id"]).resource
    assert handed[0]["component"] == stored["component"] and handed[0]["subject"] == stored["subject"]


def test_stored_readings_are_audited_as_the_devices(engine, now, device, patient):
    from smartcare.platform import audit

    result = service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
    with unit_of_work(engine) as conn:
        trail = audit.search(conn, agent=f"device/{device.device.device_id}", patient=f"Patient/{patient}")
    assert [(e["action"], e["subtype"]) for e in trail] == [("C", "create")]
    entities = [e["what"]["reference"] for e in trail[0]["event"]["entity"] if "reference" in e.get("what", {})]
    assert set(result.observations) <= set(entities)


def test_a_batch_of_several_devices_frames_is_taken_frame_by_frame(engine, now, device, register):
    scale = register("scale")
    weight = {"type": "body-weight", "value": 81.2, "unit": "kg"}
    results = service.ingest_frames(engine, [
        service.FrameIn(device.device.device_id, orjson.dumps(EXAMPLE)),
        service.FrameIn(scale.device.device_id, _frame(1, [weight])),
        service.FrameIn("dev-unknown", _frame(1, [weight])),
        service.FrameIn(scale.device.device_id, _frame(2, [weight], time="2026-03-02T15:00:00+08:00")),
        service.FrameIn(scale.device.device_id, b"{}"),
    ])
    assert [r.status for r in results] == ["accepted", "accepted", "rejected", "accepted", "rejected"]
    assert _read(engine, results[3].observations[0])["device"] == {"reference": f"Device/{scale.device.device_id}"}
    with unit_of_work(engine) as conn:
        assert registry.get_device(conn, device_id=scale.device.device_id).last_seen == "2026-03-02T08:00:00.000Z"
        assert conn.exec_driver_sql("SELECT count(*) FROM fhir_resource WHERE res_type = 'Observation'").scalar() == 4


def test_readings_of_several_devices_taken_together_are_each_recorded_as_their_own_devices(engine, now, device,
                                                                                           register):
    scale = register("scale")
    weight = {"type": "body-weight", "value": 81.2, "unit": "kg"}
    bp, kg = service.ingest_frames(engine, [service.FrameIn(device.device.device_id, orjson.dumps(EXAMPLE)),
                                            service.FrameIn(scale.device.device_id, _frame(7, [weight]))])
    with unit_of_work(engine) as conn:
        authors = dict(conn.exec_driver_sql(
            "SELECT res_id, author FROM fhir_resource_history WHERE res_type = 'Observation'").all())
    def by(result):
        return {authors[ref.removeprefix("Observation/")] for ref in result.observations}

    assert by(bp) == {f"device/{device.device.device_id}"}
    assert by(kg) == {f"device/{scale.device.device_id}"}
