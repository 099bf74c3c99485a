"""`smartcare check` says, one line a check, what is wrong with a deployment and how to fix it; exit 1 if anything is."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.platform import live_fanout, migrate
from smartcare.platform.db import make_engine, use_engine
from smartcare.platform.jobs import backends
from smartcare.platform.settings import get_settings


def _forget_settings() -> None:
    for cached in (get_settings, backends.job_settings, live_fanout.live_settings):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """Each check reads only the environment the test gives it (not a .env file, not the suite's database)."""
    for name in list(os.environ):
        if name.startswith("SMARTCARE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    use_engine(None)
    _forget_settings()
    yield
    _forget_settings()


def _check(tmp_path: Path, **env: str):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        _forget_settings()
        result = CliRunner().invoke(app, ["check"], terminal_width=250)
        _forget_settings()
    return result


def _line(output: str, name: str) -> str:
    found = [line for line in output.splitlines() if f"  {name}:" in line]
    assert found, output
    return found[0]


@pytest.fixture
def deployment(tmp_path) -> dict[str, str]:
    """A good embedded deployment: a migrated SQLite database and a data directory."""
    url = f"sqlite:///{tmp_path}/db/smartcare.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return {"SMARTCARE_DATABASE_URL": url, "SMARTCARE_DATA_DIR": str(tmp_path / "data")}


def test_a_good_sqlite_deployment_passes_every_check(tmp_path, deployment):
    result = _check(tmp_path, **deployment)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert _line(result.output, "schema").startswith("OK")
    assert "All" in result.output and "checks passed" in result.output
    assert not any(name.startswith(".smartcare-check") for name in os.listdir(tmp_path / "data"))


def test_an_unmigrated_database_fails_with_its_revision_and_the_command_to_run(tmp_path, deployment):
    result = _check(tmp_path, **{**deployment, "SMARTCARE_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"})
    assert result.exit_code == 1
    line = _line(result.output, "schema")
    assert line.startswith("FAIL") and "at revision none" in line and "smartcare db upgrade" in line
    assert _line(result.output, "database").startswith("OK")


def test_an_unreachable_broker_fails_and_its_password_is_not_shown(tmp_path, deployment):
    result = _check(tmp_path, **deployment, SMARTCARE_QUEUE_URL="redis://:hunter2secret@127.0.0.1:1/0")
    assert result.exit_code == 1
    assert "hunter2secret" not in result.output
    assert _line(result.output, "job broker").startswith("FAIL")
    assert "SMARTCARE_QUEUE_URL" in _line(result.output, "job broker")
    # A redis:// queue URL also carries live events between processes: that Redis is checked as well.
    assert _line(result.output, "live fan-out").startswith("FAIL")


def test_an_unreachable_database_is_named_without_its_password(tmp_path, deployment):
    url = "postgresql://smartcare:hunter2secret@127.0.0.1:1/smartcare"
    result = _check(tmp_path, **{**deployment, "SMARTCARE_DATABASE_URL": url})
    assert result.exit_code == 1
    line = _line(result.output, "database")
    assert line.startswith("FAIL") and "127.0.0.1:1/smartcare" in line and "SMARTCARE_DATABASE_URL" in line
    assert "hunter2secret" not in result.output


def test_an_unwritable_data_directory_fails_with_the_fix(tmp_path, deployment):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _check(tmp_path, **{**deployment, "SMARTCARE_DATA_DIR": str(blocker / "data")})
    assert result.exit_code == 1
    line = _line(result.output, "data directory")
    assert line.startswith("FAIL") and "not writable" in line and "SMARTCARE_DATA_DIR" in line
    assert _line(result.output, "DICOM store").startswith("FAIL")


def test_a_malformed_key_fails(tmp_path, deployment):
    result = _check(tmp_path, **deployment, SMARTCARE_TOKEN_KEY="not-hex")
    assert result.exit_code == 1
    line = _line(result.output, "key SMARTCARE_TOKEN_KEY")
    assert line.startswith("FAIL") and "64 hex digits" in line
