"""HTTPS batch ingestion for gateways with a real device token, pairing from the app, and the command line."""

import json

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smartcare.family.devices import credentials
from smartcare.family.devices.cli import devices_app
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients
from tests.conftest import bearer
from tests.family.devices.conftest import EXAMPLE

URL = "/api/v1/devices/readings"


@pytest.fixture
def web(engine):
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def _token(web: TestClient, client_id: str, secret: str) -> dict[str, str]:
    answer = web.post("/auth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_gateway_posts_a_batch_with_its_device_token_and_gets_an_answer_per_frame(engine, web, device):
    headers = _token(web, device.client_id, device.client_secret)
    dev = device.device.device_id
    frames = [{"device": dev, **EXAMPLE},
              {"device": dev, **EXAMPLE},
              {"device": dev, "seq": 43, "time": "2026-03-02T15:00:00+08:00",
               "readings": [{"type": "spo2", "value": 130, "unit": "%"}, {"type": "spo2", "value": 96, "unit": "%"}]},
              {"device": dev, "seq": 44, "time": "yesterday", "readings": [{"type": "fall"}]}]
    answer = web.post(URL, content=orjson.dumps({"frames": frames}), headers=headers)

    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "duplicate", "partial", "rejected"]
    assert results[0]["accepted"] == 2 and results[1]["observations"] == results[0]["observations"]
    assert "spo2 130 % is outside the plausible 50-100" in results[2]["refused"][0]["reason"]
    assert "UTC offset" in results[3]["reasons"][0]
    observation = web.get(f"/fhir/{results[2]['observations'][0]}", headers=bearer()).json()
    assert observation["valueQuantity"]["value"] == 96
    assert observation["device"] == {"reference": f"Device/{dev}"}


def test_a_device_token_may_not_post_another_devices_frames(engine, web, device, register):
    other = register("glucometer")
    headers = _token(web, device.client_id, device.client_secret)
    answer = web.post(URL, json={"frames": [{"device": device.device.device_id, **EXAMPLE},
                                            {"device": other.device.device_id, **EXAMPLE}]}, headers=headers)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert other.device.device_id in answer.json()["detail"]
    with unit_of_work(engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM device_frame").scalar() == 0


def test_a_revoked_devices_token_gets_its_frames_rejected_and_no_new_token(engine, web, device):
    headers = _token(web, device.client_id, device.client_secret)
    runner = CliRunner()
    assert runner.invoke(devices_app, ["revoke", device.device.device_id]).exit_code == 0
    answer = web.post(URL, json={"frames": [{"device": device.device.device_id, **EXAMPLE}]}, headers=headers)
    assert answer.json()["results"][0]["status"] == "rejected"
    assert "revoked" in answer.json()["results"][0]["reasons"][0]
    assert web.post("/auth/token", data={"grant_type": "client_credentials", "client_id": device.client_id,
                                         "client_secret": device.client_secret}).status_code == 401


@pytest.mark.parametrize(("body", "detail"), [
    (b"nope", "not JSON"),
    (b"[]", '{"frames": [...]}'),
    (b'{"frames": []}', "1 to 500 frames"),
    (orjson.dumps({"frames": [EXAMPLE] * 501}), "1 to 500 frames"),
    (orjson.dumps({"frames": [EXAMPLE]}), 'naming its "device"'),
    (orjson.dumps({"frames": [{"device": "x" * 65, **EXAMPLE}]}), 'naming its "device"'),
])
def test_a_malformed_batch_gets_problem_json(engine, web, device, body, detail):
    headers = _token(web, device.client_id, device.client_secret)
    answer = web.post(URL, content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert detail in answer.json()["detail"]


def test_strangers_and_people_cannot_post_readings(engine, web):
    assert web.post(URL, json={"frames": []}).status_code == 401
    assert web.post(URL, json={"frames": []}, headers={"Authorization": "Bearer forged"}).status_code == 401
    nurse = bearer("user/*.cruds", kind="user", roles={"nurse"}, name="nurse")
    assert web.post(URL, json={"frames": []}, headers=nurse).status_code == 403
    reader = bearer("system/Observation.rs")
    assert web.post(URL, json={"frames": []}, headers=reader).status_code == 403


def test_the_command_line_adds_a_device_whose_printed_credentials_work(engine, web, patient):
    result = CliRunner().invoke(devices_app, ["add", "--patient", patient, "--kind", "pulse-oximeter",
                                              "--serial", "PO-77"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert set(made) >= {"id", "topic", "error_topic", "mqtt_username", "mqtt_password", "client_id",
                         "client_secret"}
    assert made["topic"] == f"smartcare/v1/devices/{made['id']}/readings"
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, made["mqtt_username"], made["mqtt_password"]) == made["id"]
        assert clients.authenticate_client(conn, client_id=made["client_id"], secret=made["client_secret"])
    headers = _token(web, made["client_id"], made["client_secret"])
    frame = {"device": made["id"], "seq": 1, "time": "2026-03-02T15:59:00+08:00",
             "readings": [{"type": "spo2", "value": 95, "unit": "%"}]}
    assert web.post(URL, json={"frames": [frame]}, headers=headers).json()["results"][0]["status"] == "accepted"
    listing = CliRunner().invoke(devices_app, ["list"])
    assert made["id"][:12] in listing.output


def test_the_command_line_refuses_a_bad_kind_or_an_unknown_patient(engine):
    assert CliRunner().invoke(devices_app, ["add", "--kind", "toaster"]).exit_code == 2
    assert CliRunner().invoke(devices_app, ["add", "--kind", "scale", "--patient", "nobody"]).exit_code == 2
    assert CliRunner().invoke(devices_app, ["revoke", "dev-nobody"]).exit_code == 2


def test_a_patient_pairs_a_device_from_the_app(engine, web, register, patient):
    from smartcare.family.devices import registry
    from smartcare.platform.security.context import SYSTEM

    unowned = register("thermometer", patient_id=None)
    with unit_of_work(engine) as conn:
        code = registry.pairing_code(conn, ctx=SYSTEM, device_id=unowned.device.device_id)
    me = bearer("patient/*.cruds", kind="user", roles={"patient"}, name="wang", fhir_user=f"Patient/{patient}",
                patient=f"Patient/{patient}")
    wrong = web.post("/api/v1/devices/pair", json={"code": "AAAA-AAAA"}, headers=me)
    assert wrong.status_code == 400 and "wrong or has expired" in wrong.json()["detail"]
    answer = web.post("/api/v1/devices/pair", json={"code": code.shown}, headers=me)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"device": unowned.device.device_id, "kind": "thermometer",
                             "patient": f"Patient/{patient}"}
    assert web.post("/api/v1/devices/pair", json={"code": code.shown}).status_code == 401


def test_guessing_pairing_codes_is_throttled(engine, web, patient):
    me = bearer("patient/*.cruds", kind="user", roles={"patient"}, name="wang", subject="user-wang",
                fhir_user=f"Patient/{patient}", patient=f"Patient/{patient}")
    answers = [web.post("/api/v1/devices/pair", json={"code": f"AAAA-AA{i:02d}"}, headers=me).status_code
               for i in range(11)]
    assert answers == [400] * 10 + [429]
