"""`smartcare user` creates, lists, locks, unlocks accounts and resets passwords, with plain-worded errors."""

import pytest
from typer.testing import CliRunner

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.cli import user_app
from smartcare.platform.security.users import AccountLocked, LoginFailed

PASSWORD = "Harbour-Lantern-42"
runner = CliRunner()


def _run(*args: str, stdin: str | None = None):
    return runner.invoke(user_app, list(args), input=stdin, env={"COLUMNS": "200"})


def _create_doctor():
    result = _run(
        "create", "--username", "dr.wang", "--role", "doctor", "--practitioner", "prac-0001",
        "--organization", "org-hosp-1", "--password-stdin", stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    return result


def _login(password: str = PASSWORD) -> users.User:
    return users.login(username="dr.wang", password=password, remote_addr="10.0.0.1")


def test_create_with_password_on_stdin_makes_a_working_account(identity_engine):
    assert "Created dr.wang (doctor)" in _create_doctor().output
    user = _login()
    assert user.fhir_ref == "Practitioner/prac-0001" and user.organization == "Organization/org-hosp-1"


def test_create_prompts_twice_when_no_stdin_flag(identity_engine):
    result = _run("create", "--username", "pat.li", "--role", "patient", "--patient", "pat-00001",
                  stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with unit_of_work(identity_engine) as conn:
        assert users.get_by_username(conn, username="pat.li").fhir_ref == "Patient/pat-00001"


def test_create_refuses_a_weak_password_in_plain_words(identity_engine):
    result = _run("create", "--username", "dr.wang", "--role", "doctor", "--password-stdin", stdin="woaini1314\n")
    assert result.exit_code == 2
    assert "one of the most common passwords" in result.output
    assert "three of: lower-case letters, capitals, digits, symbols" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--username", "dr.wang", "--role", "surgeon"), "Invalid value"),
        (("--username", "a'; DROP TABLE user_account; --", "--role", "doctor"), "The username must be 3-64"),
        (("--username", "\u738b" * 300, "--role", "doctor"), "The username must be 3-64"),
        (("--username", "pat.x", "--role", "patient", "--practitioner", "p1"), "cannot be linked to Practitioner"),
        (("--username", "dr.x", "--role", "doctor", "--practitioner", "p1", "--patient", "x"), "at most one of"),
        (("--username", "dr.x", "--role", "doctor", "--organization", "[red]x"), "Organization/<id>"),
    ],
)
def test_create_explains_bad_input(identity_engine, args, message):
    result = _run("create", *args, "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 2
    assert message in result.output


def test_create_refuses_a_taken_username(identity_engine):
    _create_doctor()
    result = _run("create", "--username", "DR.WANG", "--role", "nurse", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 2
    assert "already in use" in result.output


def test_create_refuses_an_empty_stdin(identity_engine):
    result = _run("create", "--username", "dr.wang", "--role", "doctor", "--password-stdin", stdin="")
    assert result.exit_code == 2
    assert "No password came on standard input" in result.output


def test_list_shows_users_and_filters_by_role(identity_engine):
    _create_doctor()
    _run("create", "--username", "nurse.chen", "--role", "nurse", "--password-stdin", stdin=PASSWORD + "\n")
    result = _run("list")
    assert result.exit_code == 0
    assert "dr.wang" in result.output and "nurse.chen" in result.output
    assert "Practitioner/prac-0001" in result.output and "never" in result.output
    only_nurses = _run("list", "--role", "nurse")
    assert "nurse.chen" in only_nurses.output and "dr.wang" not in only_nurses.output


def test_list_says_when_there_are_no_users(identity_engine):
    result = _run("list")
    assert result.exit_code == 0 and "No users." in result.output


def test_lock_and_unlock_control_logging_in(identity_engine):
    _create_doctor()
    result = _run("lock", "DR.wang")
    assert result.exit_code == 0 and "Locked dr.wang." in result.output
    assert "locked" in _run("list").output
    with pytest.raises(AccountLocked):
        _login()
    result = _run("unlock", "dr.wang")
    assert result.exit_code == 0 and "Unlocked dr.wang." in result.output
    assert _login().username == "dr.wang"


@pytest.mark.parametrize("command", ["lock", "unlock", "reset-password"])
@pytest.mark.parametrize("name", ["nobody", "x' OR '1'='1", "\u738b\u533b\u751f", "n" * 5000])
def test_commands_on_unknown_users_fail_clearly(identity_engine, command, name):
    result = _run(command, name, "--password-stdin", stdin=PASSWORD + "\n") if command == "reset-password" else _run(
        command, name
    )
    assert result.exit_code == 1
    assert "There is no user called" in result.output


def test_reset_password_from_stdin_replaces_the_password(identity_engine):
    _create_doctor()
    result = _run("reset-password", "dr.wang", "--password-stdin", stdin="Quiet-River-Stone-7\n")
    assert result.exit_code == 0, result.output
    with pytest.raises(LoginFailed):
        _login()
    assert _login("Quiet-River-Stone-7").username == "dr.wang"


def test_reset_password_prompts_twice_and_refuses_a_mismatch(identity_engine):
    _create_doctor()
    result = _run("reset-password", "dr.wang", stdin="Quiet-River-Stone-7\nSomething-Else-8\n")
    assert result.exit_code != 0
    assert _login().username == "dr.wang"


def test_reset_password_refuses_a_weak_one(identity_engine):
    _create_doctor()
    result = _run("reset-password", "dr.wang", "--password-stdin", stdin="dr.wang-1234\n")
    assert result.exit_code == 2
    assert "must not be or contain the username" in result.output
    assert _login().username == "dr.wang"


def test_help_reads_like_a_person_wrote_it():
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("create", "list", "lock", "unlock", "reset-password"):
        assert command in result.output
