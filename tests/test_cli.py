"""The smartcare command line reads well and its database commands work."""

import pytest
from typer.testing import CliRunner

from smartcare.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "demo", "db"):
        assert command in result.output


def test_demo_help_explains_load():
    result = runner.invoke(app, ["demo", "--help"])
    assert result.exit_code == 0
    assert "load" in result.output and "--residents" in result.output


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch):
    import sqlalchemy as sa

    from smartcare.platform.settings import get_settings

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setattr(get_settings(), "database_url", url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    names = sa.inspect(sa.create_engine(url)).get_table_names()
    assert "fhir_resource" in names and "fhir_idx_token" in names


def test_serve_on_an_unmigrated_database_says_what_to_do(tmp_path, monkeypatch):
    from smartcare.platform.settings import get_settings

    monkeypatch.setattr(get_settings(), "database_url", f"sqlite:///{tmp_path}/empty.db")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "smartcare db upgrade" in result.output


def test_the_demos_listeners_stop_when_the_demo_is_told_to_stop(tmp_path):
    """SIGTERM (what a service manager or `kill` sends) ends the demo's child processes with it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n")
    script = (
        "import sys, time\n"
        "from smartcare.cli import children\n"
        f"with children([([{str(sleeper)!r}], 'sleeper')], program=[sys.executable]):\n"
        "    time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=20) == 128 + signal.SIGTERM
    try:
        os.kill(child, 0)
    except ProcessLookupError:
        return
    pytest.fail(f"the child process {child} is still running after its parent stopped")
