"""The platform pulls a member's new records from the member's own FHIR server, a second SmartCare run as a separate
process with its own database and signing key, through its /auth/token (client credentials, authenticated with an
assertion signed by the platform's pull key: SMART Backend Services) and FHIR search."""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.fhir import store
from smartcare.fhir import tables as ft
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.tables import job
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.exchange import members
from smartcare.regional.exchange.pull import PULL_ALL_JOB, PullFailed, pull_member
from tests.regional.exchange.conftest import heart_rate, patient, register


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(env: dict[str, str], scope: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-m", "smartcare", "client", "create", "--name", "Regional platform",
                           "--kind", "system", "--scope", scope], env=env, capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    return re.search(r"client_id: (\S+)", text).group(1), re.search(r"client_secret: (\S+)", text).group(1)


@pytest.fixture(scope="module")
def member_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The member hospital's own SmartCare: its database, its key, its clients (the platform's, and its own HIS)."""
    home = tmp_path_factory.mktemp("member-server")
    port = _free_port()
    env = {**os.environ, "SMARTCARE_DATABASE_URL": f"sqlite:///{home}/member.db", "SMARTCARE_DATA_DIR": str(home),
           "SMARTCARE_TOKEN_KEY": "9d" * 32, "SMARTCARE_QUEUE_URL": "", "COLUMNS": "300"}
    env.pop("SMARTCARE_EMBEDDED_WORKER", None)
    subprocess.run([sys.executable, "-m", "smartcare", "db", "upgrade"], env=env, capture_output=True, check=True)
    platform_id, platform_secret = _client(env, "system/*.rs")
    his_id, his_secret = _client(env, "system/*.cruds")
    server = subprocess.Popen([sys.executable, "-m", "smartcare", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("the member's SmartCare server did not start")
            time.sleep(0.3)
        yield {"base": base, "platform_id": platform_id, "platform_secret": platform_secret,
               "his_id": his_id, "his_secret": his_secret, "env": env, "home": str(home)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def his_writes(server: dict[str, str], *resources: dict) -> None:
    """The member's own systems record resources on its server."""
    token = httpx.post(f"{server['base']}/auth/token", data={"grant_type": "client_credentials"},
                       auth=(server["his_id"], server["his_secret"])).json()["access_token"]
    for resource in resources:
        answer = httpx.put(f"{server['base']}/fhir/{resource['resourceType']}/{resource['id']}", json=resource,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
        assert answer.status_code in (200, 201), answer.text


def stored_ids(engine, res_type: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(ft.resource.c.res_id).where(ft.resource.c.res_type == res_type)).scalars())


def member_registers_our_key(server: dict[str, str]) -> None:
    """The platform prints its public pull key for the member, whose administrator gives it to the platform's client
    on the member's server."""
    path = os.path.join(server["home"], "platform.jwks.json")
    shown = CliRunner().invoke(app, ["exchange", "member", "pull-key", "org-pull", "--out", path],
                               env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    with open(path, "rb") as written:
        jwks = orjson.loads(written.read())
    assert jwks["keys"][0]["alg"] == "ES384" and "d" not in jwks["keys"][0]
    assert jwks["keys"][0]["kid"] in shown.output
    subprocess.run([sys.executable, "-m", "smartcare", "client", "keys", server["platform_id"], "--jwks", path],
                   env=server["env"], capture_output=True, text=True, check=True)


@pytest.fixture
def pulling_member(engine, member_server) -> members.Member:
    done = register(engine, "org-pull", "Eastbank Hospital", sends="Patient,Observation",
                    fhir_base=member_server["base"] + "/fhir")
    member_registers_our_key(member_server)
    with unit_of_work(engine) as conn:
        # No secret kept: the platform can only authenticate with its signed assertion.
        members.set_pull_credentials(conn, organization="Organization/org-pull",
                                     base_url=member_server["base"] + "/fhir",
                                     token_url=member_server["base"] + "/auth/token",
                                     client_id=member_server["platform_id"])
        assert members.pull_secret(conn, organization="Organization/org-pull") is None
    return done.member


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_platform_pulls_only_what_is_new_on_the_members_server(engine, member_server, pulling_member):
    his_writes(member_server, patient("eb-p1", identifier="EB-1"), heart_rate("eb-o1", "eb-p1"),
               heart_rate("eb-o2", "eb-p1", 90))
    first = pull_member(organization="Organization/org-pull")
    assert first["counts"]["accepted"] == 3 and first["counts"]["rejected"] == 0
    assert {"eb-p1"} <= stored_ids(engine, "Patient") and {"eb-o1", "eb-o2"} <= stored_ids(engine, "Observation")
    with unit_of_work(engine) as conn:
        pulled = store.read(conn, SYSTEM, res_type="Observation", res_id="eb-o1").resource
    assert pulled["meta"]["source"] == "Organization/org-pull" and pulled["valueQuantity"]["value"] == 72

    his_writes(member_server, heart_rate("eb-o3", "eb-p1", 101))
    # The scheduled job: the hourly sweep queues one pull per member, which runs against the member's server.
    with unit_of_work(engine) as conn:
        from smartcare.platform.jobs import enqueue
        enqueue(conn, kind=PULL_ALL_JOB, payload={}, key="test-sweep")
    run_due(engine)
    run_due(engine)
    with engine.connect() as conn:
        states = conn.execute(sa.select(job.c.kind, job.c.state).where(job.c.kind.like("exchange.%"))).all()
    assert ("exchange.pull-member", "done") in [tuple(s) for s in states]
    assert "eb-o3" in stored_ids(engine, "Observation")
    third = pull_member(organization="Organization/org-pull")
    assert third["counts"]["entries"] == 0  # nothing changed since: nothing fetched again


def _keep_credentials(engine, server: dict[str, str], secret: str | None) -> None:
    with unit_of_work(engine) as conn:
        members.set_pull_credentials(conn, organization="Organization/org-pull", base_url=server["base"] + "/fhir",
                                     token_url=server["base"] + "/auth/token", client_id=server["platform_id"],
                                     client_secret=secret)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_key_the_members_server_does_not_know_is_refused_and_the_secret_is_the_fallback(engine, member_server,
                                                                                          pulling_member):
    with unit_of_work(engine) as conn:
        members.new_pull_key(conn, organization="Organization/org-pull")  # not registered on the member's server
    with pytest.raises(PullFailed, match="answered 401.*invalid_client.*has kid"):
        pull_member(organization="Organization/org-pull")

    his_writes(member_server, patient("eb-p5", identifier="EB-5"))
    _keep_credentials(engine, member_server, member_server["platform_secret"])
    assert pull_member(organization="Organization/org-pull")["counts"]["accepted"] >= 1
    assert "eb-p5" in stored_ids(engine, "Patient")

    _keep_credentials(engine, member_server, "not-the-secret")
    with pytest.raises(PullFailed, match="token endpoint answered 401"):
        pull_member(organization="Organization/org-pull")


def _export(server: dict[str, str]) -> dict:
    """The member's server exports its patients and observations (Bulk Data, asynchronous); its manifest."""
    token = httpx.post(f"{server['base']}/auth/token", data={"grant_type": "client_credentials"},
                       auth=(server["his_id"], server["his_secret"])).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    kick = httpx.get(f"{server['base']}/fhir/$export", params={"_type": "Patient,Observation"},
                     headers={**auth, "Prefer": "respond-async", "Accept": "application/fhir+json"})
    assert kick.status_code == 202, kick.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(kick.headers["Content-Location"], headers=auth)
        if status.status_code == 200:
            return status.json()
        time.sleep(0.3)
    pytest.fail("the member's export did not finish")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_member_imports_its_bulk_export_and_a_resend_takes_nothing_twice(anonymous, engine, member_server,
                                                                           pulling_member):
    from tests.conftest import bearer

    his_writes(member_server, patient("eb-p9", identifier="EB-9"), heart_rate("eb-o9", "eb-p9", 77))
    manifest = _export(member_server)
    headers = bearer(members.MEMBER_SCOPES, subject=pulling_member.client_id,
                     organization=pulling_member.organization)
    answer = anonymous.post("/api/v1/exchange/imports", json=manifest, headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {f["kind"] for f in report["files"]} == {"ndjson"} and report["counts"]["rejected"] == 0
    assert report["counts"]["accepted"] >= 2
    assert "eb-p9" in stored_ids(engine, "Patient") and "eb-o9" in stored_ids(engine, "Observation")
    again = anonymous.post("/api/v1/exchange/imports", json=manifest, headers=headers).json()
    assert all(f["duplicate"] for f in again["files"]) and again["counts"] == report["counts"]
    elsewhere = {**manifest, "output": [{"type": "Patient", "url": "https://attacker.example/Patient.ndjson"}]}
    refused = anonymous.post("/api/v1/exchange/imports", json=elsewhere, headers=headers)
    assert refused.status_code == 400 and "registered server" in refused.json()["issue"][0]["diagnostics"]
