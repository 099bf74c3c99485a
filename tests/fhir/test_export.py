"""Bulk Data $export as a client sees it: kick-off, polling, NDJSON files and cancel, on SQLite and PostgreSQL."""

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from smartcare.fhir.operations import export
from smartcare.platform import clock
from smartcare.platform.settings import get_settings

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Export files go to a fresh folder per test."""
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    return tmp_path


@pytest.fixture
def fixed_clock():
    """Set the clock to a given UTC instant; the real clock is back after the test."""

    def at(text: str) -> None:
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
        clock.set_clock(lambda: moment)

    yield at
    clock.set_clock(None)


def create(client, resource: dict) -> dict:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert r.status_code == 201, r.text
    return r.json()


def patient(family: str) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family}]}


def observation(patient_id: str, value: float = 7.2) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": value, "unit": "%"},
    }


def kick_off(client, path: str = "$export", **params) -> str:
    r = client.get(f"/fhir/{path}", params=params, headers=ASYNC)
    assert r.status_code == 202, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    return r.headers["Content-Location"]


def job_id_of(status_url: str) -> str:
    return parse_qs(urlsplit(status_url).query)["_jobId"][0]


def wait_for(client, status_url: str) -> tuple[int, dict]:
    """Poll until the job is no longer running (at most 10 s); the final status and body."""
    deadline = time.monotonic() + 10
    while True:
        r = client.get(status_url)
        if r.status_code != 202:
            return r.status_code, r.json()
        assert r.headers["X-Progress"]
        if time.monotonic() > deadline:
            pytest.fail(f"the export was still running after 10 s: {r.headers['X-Progress']}")
        time.sleep(0.05)


def export_files(client, path: str = "$export", **params) -> tuple[dict, dict[str, list[dict]]]:
    """Run an export to the end; the manifest and each type's resources as downloaded."""
    status, manifest = wait_for(client, kick_off(client, path, **params))
    assert status == 200, manifest
    files: dict[str, list[dict]] = {}
    for item in manifest["output"]:
        r = client.get(item["url"], headers={"Accept": "application/fhir+ndjson"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in r.content.splitlines()]
        assert len(lines) == item["count"]
        files[item["type"]] = lines
    return manifest, files


def ids(resources: list[dict]) -> set[str]:
    return {r["id"] for r in resources}


def test_system_export_files_hold_each_resource_exactly_as_read_returns_it(client):
    people = [create(client, patient(name)) for name in ("Li", "Wang")]
    obs = create(client, observation(people[0]["id"]))
    org = create(client, {"resourceType": "Organization", "name": "Xiehe Hospital"})
    gone = create(client, patient("Deleted"))
    assert client.delete(f"/fhir/Patient/{gone['id']}").status_code == 200

    manifest, files = export_files(client)

    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/$export")
    assert manifest["transactionTime"].endswith("Z")
    assert manifest["error"] == []
    assert set(files) == {"Patient", "Observation", "Organization"}
    assert ids(files["Patient"]) == {p["id"] for p in people}
    for res_type, resources in files.items():
        for resource in resources:
            assert resource == client.get(f"/fhir/{res_type}/{resource['id']}").json()
    assert files["Observation"][0]["id"] == obs["id"]
    assert files["Organization"][0]["id"] == org["id"]


def test_export_reads_every_page(client, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 2)
    people = [create(client, patient(f"P{n}")) for n in range(5)]
    _, files = export_files(client)
    assert ids(files["Patient"]) == {p["id"] for p in people}
    assert len(files["Patient"]) == 5


def test__type_limits_the_export_to_the_named_types(client):
    someone = create(client, patient("Li"))
    create(client, observation(someone["id"]))
    create(client, {"resourceType": "Organization", "name": "Xiehe Hospital"})
    manifest, files = export_files(client, _type="Patient,Observation")
    assert set(files) == {"Patient", "Observation"}
    assert manifest["request"].endswith("_type=Patient%2CObservation")


def test__since_leaves_out_resources_last_updated_before_it(client, fixed_clock):
    fixed_clock("2020-03-01T08:00:00")
    old = create(client, patient("Old"))
    fixed_clock("2024-06-01T08:00:00")
    new = create(client, patient("New"))
    clock.set_clock(None)
    _, files = export_files(client, _since="2024-01-01T00:00:00Z")
    assert ids(files["Patient"]) == {new["id"]}
    assert old["id"] not in ids(files["Patient"])


def test_resource_changed_after_the_kick_off_is_exported_as_it_was_then(client, fixed_clock):
    fixed_clock("2018-01-01T00:00:00")
    person = create(client, patient("Before"))
    fixed_clock("2020-01-01T00:00:00")
    changed = client.put(
        f"/fhir/Patient/{person['id']}", json={**person, "name": [{"family": "After"}]}, headers=FHIR_JSON
    )
    assert changed.status_code == 200
    create(client, patient("Born later"))
    fixed_clock("2019-01-01T00:00:00")
    manifest, files = export_files(client)
    assert manifest["transactionTime"] == "2019-01-01T00:00:00.000Z"
    assert [p["name"][0]["family"] for p in files["Patient"]] == ["Before"]
    assert files["Patient"][0] == client.get(f"/fhir/Patient/{person['id']}/_history/1").json()


def test_patient_export_holds_patients_and_their_observations_but_not_other_types(client):
    someone = create(client, patient("Li"))
    obs = create(client, observation(someone["id"]))
    create(client, {"resourceType": "Organization", "name": "Xiehe Hospital"})
    _, files = export_files(client, "Patient/$export")
    assert ids(files["Patient"]) == {someone["id"]}
    assert ids(files["Observation"]) == {obs["id"]}
    assert "Organization" not in files


def test_group_export_leaves_out_the_data_of_non_members(client):
    member = create(client, patient("Member"))
    outsider = create(client, patient("Outsider"))
    member_obs = create(client, observation(member["id"]))
    create(client, observation(outsider["id"], 9.9))
    group = create(
        client,
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{member['id']}"}}],
        },
    )
    _, files = export_files(client, f"Group/{group['id']}/$export", _type="Patient,Observation")
    assert ids(files["Patient"]) == {member["id"]}
    assert ids(files["Observation"]) == {member_obs["id"]}


def test_kick_off_without_prefer_respond_async_is_400(client):
    r = client.get("/fhir/$export", headers={"Accept": "application/fhir+json"})
    assert r.status_code == 400
    assert "respond-async" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("$export", {"_type": "Patient,Pokemon"}),
        ("$export", {"_type": ","}),
        ("$export", {"_type": "../../etc/passwd"}),
        ("Patient/$export", {"_type": "Organization"}),
        ("$export", {"_outputFormat": "text/csv"}),
        ("$export", {"_since": "yesterday"}),
        ("$export", {"_since": "2024-01-01T00:00:00"}),
        ("$export", {"_typeFilter": "Observation?code=4548-4"}),
        ("Observation/$export", {}),
    ],
)
def test_bad_kick_off_parameters_are_400_with_operation_outcome(client, path, params):
    r = client.get(f"/fhir/{path}", params=params, headers=ASYNC)
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"


def test_group_export_of_an_unknown_group_is_404(client):
    r = client.get("/fhir/Group/nobody/$export", headers=ASYNC)
    assert r.status_code == 404


def test_caller_the_policy_refuses_gets_403(client):
    from tests.conftest import bearer

    researcher = bearer("user/*.rs", kind="user", name="dr.researcher", roles={"researcher"})
    r = client.get("/fhir/$export", headers={**ASYNC, **researcher})
    assert r.status_code == 403
    assert r.json()["issue"][0]["code"] == "forbidden"


@pytest.mark.parametrize("job_id", ["0" * 32, "../../etc/passwd", "x" * 5000])
def test_unknown_job_is_404(client, job_id):
    r = client.get("/fhir/$export-poll-status", params={"_jobId": job_id})
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"


def test_hostile_file_names_are_404(client, data_dir):
    create(client, patient("Li"))
    status_url = kick_off(client)
    assert wait_for(client, status_url)[0] == 200
    job_id = job_id_of(status_url)
    (data_dir / "secret.ndjson").write_text("{}\n")
    hostile = [
        {"_jobId": job_id, "_type": "../../etc/passwd"},
        {"_jobId": job_id, "_type": "Patient.ndjson/../x"},
        {"_jobId": job_id, "_type": "/etc/passwd"},
        {"_jobId": job_id, "_type": "../secret"},
        {"_jobId": job_id, "_type": "Patient.ndjson"},
        {"_jobId": job_id, "_type": "Observation"},
        {"_jobId": f"../{job_id}", "_type": "Patient"},
        {"_jobId": "/etc", "_type": "passwd"},
        {"_type": "Patient"},
    ]
    for params in hostile:
        r = client.get("/fhir/$export-file", params=params)
        assert r.status_code in (400, 404), params
        assert r.json()["resourceType"] == "OperationOutcome"
    for path in (
        f"$export-file/{job_id}/..%2F..%2Fetc%2Fpasswd",
        f"$export-file/{job_id}/Patient.ndjson/../x",
    ):
        assert client.get(f"/fhir/{path}").status_code == 404
    assert client.get("/fhir/$export-file", params={"_jobId": job_id, "_type": "Patient"}).status_code == 200


def test_delete_removes_the_job_and_its_files(client, data_dir):
    create(client, patient("Li"))
    status_url = kick_off(client)
    status, manifest = wait_for(client, status_url)
    assert status == 200
    folder = data_dir / "exports" / job_id_of(status_url)
    assert (folder / "Patient.ndjson").is_file()

    r = client.delete(status_url)

    assert r.status_code == 202
    assert not folder.exists()
    assert client.get(status_url).status_code == 404
    assert client.get(manifest["output"][0]["url"]).status_code == 404


def test_export_that_cannot_write_its_files_reports_the_failure(client, data_dir, monkeypatch):
    create(client, patient("Li"))
    blocker = data_dir / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(get_settings(), "data_dir", blocker)
    status, outcome = wait_for(client, kick_off(client))
    assert status == 500
    assert outcome["resourceType"] == "OperationOutcome"
    assert "could not be written" in outcome["issue"][0]["diagnostics"]


def test_an_export_cut_short_by_a_restart_is_reported_failed(client, engine):
    from smartcare.fhir import tables
    from smartcare.fhir.operations.export import fail_interrupted_exports

    with engine.begin() as conn:
        conn.execute(tables.export_job.insert().values(
            id="a" * 32, status="in-progress", request_url="http://testserver/fhir/$export", params={},
            requested_by="client/test suite", created="2026-11-26T00:00:00.000Z",
            transaction_time="2026-11-26T00:00:00.000Z", output=[]))
    assert fail_interrupted_exports(engine) == 1
    r = client.get("/fhir/$export-poll-status", params={"_jobId": "a" * 32})
    assert r.status_code == 500
    assert "stopped before the export finished" in r.json()["issue"][0]["diagnostics"]
