"""`smartcare exchange member add/list`: a member registered from the command line can get a token and submit."""

import re

from typer.testing import CliRunner

from smartcare.cli import app
from tests.regional.exchange.conftest import bundle, patient

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["exchange", *args], env={"COLUMNS": "200"})


def test_a_member_added_on_the_command_line_gets_a_token_and_submits(anonymous, engine):
    added = _run("member", "add", "org-cli", "--name", "Southport Hospital", "--sends", "Patient,Observation",
                 "--fhir-base", "https://his.southport.example/fhir", "--hl7-facility", "SOUTHPORT")
    assert added.exit_code == 0, added.output
    assert "Endpoint/exchange-org-cli-fhir" in added.output
    client_id = re.search(r"client_id: (\S+)", added.output).group(1)
    secret = re.search(r"client_secret: (\S+)", added.output).group(1)
    token = anonymous.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert token.status_code == 200 and token.json()["scope"] == "system/*.cu"
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    sent = anonymous.post("/api/v1/exchange/bundles", json=bundle("batch", patient("cli-p1")), headers=headers)
    assert sent.status_code == 200 and sent.json()["counts"]["accepted"] == 1
    # Its token writes but cannot read the region's records.
    assert anonymous.get("/fhir/Patient/cli-p1", headers=headers).status_code in (403, 404)
    listed = _run("member", "list")
    assert listed.exit_code == 0 and "Southport Hospital" in listed.output and "org-cli" in listed.output


def test_bad_input_on_the_command_line_is_refused_plainly(engine):
    unknown = _run("member", "add", "org-x2", "--sends", "Patient,Nonsense")
    assert unknown.exit_code == 2 and "Not registered" in unknown.output
    missing = _run("member", "add", "org-nowhere")
    assert missing.exit_code == 2 and "give its name" in missing.output
    assert _run("member", "add", "bad id!", "--name", "X").exit_code == 2
