"""`smartcare user`: create, list, lock, unlock user accounts and reset their passwords."""

import sys

import typer
from rich.markup import escape
from rich.table import Table

from smartcare.platform.console import make_console
from smartcare.platform.db import get_engine, unit_of_work
from smartcare.platform.security import passwords, users

user_app = typer.Typer(help="Manage user accounts: create, list, lock, unlock, reset passwords.", no_args_is_help=True)
console = make_console()
errors = make_console(stderr=True)

# What each password_problems() key means, in words an administrator can act on.
PASSWORD_RULES = {
    "too_short": f"it must have at least {passwords.MIN_LENGTH} characters",
    "too_long": f"it must have at most {passwords.MAX_LENGTH} characters",
    "same_as_username": "it must not be or contain the username",
    "contains_personal_word": "it must not contain the person's own name or details",
    "too_common": "it is one of the most common passwords",
    "too_few_kinds": (
        "it needs three of: lower-case letters, capitals, digits, symbols "
        f"(or a passphrase of {passwords.PASSPHRASE_LENGTH} characters or more)"
    ),
}


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]Error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise _fail("No password came on standard input.")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _weak(exc: users.WeakPassword) -> typer.Exit:
    reasons = "; ".join(PASSWORD_RULES.get(key, key) for key in exc.problems)
    return _fail(f"The password is too weak: {reasons}.")


def _user_named(conn, username: str) -> users.User:
    user = users.get_by_username(conn, username=username)
    if user is None:
        raise _fail(f"There is no user called {username[:64]!r}.", 1)
    return user


def _linked_ref(practitioner: str | None, patient: str | None, related_person: str | None, device: str | None) -> str | None:
    given = [
        f"{kind}/{value}"
        for kind, value in (
            ("Practitioner", practitioner),
            ("Patient", patient),
            ("RelatedPerson", related_person),
            ("Device", device),
        )
        if value
    ]
    if len(given) > 1:
        raise _fail("Give at most one of --practitioner, --patient, --related-person, --device.")
    return given[0] if given else None


@user_app.command("create")
def create(
    username: str = typer.Option(..., help="The login name: 3-64 letters, digits or . _ @ -"),
    role: users.Role = typer.Option(..., case_sensitive=False, help="What the user is in the region."),
    practitioner: str = typer.Option(None, help="The FHIR Practitioner id of a staff member."),
    patient: str = typer.Option(None, help="The FHIR Patient id of a patient."),
    related_person: str = typer.Option(None, help="The FHIR RelatedPerson id of a caregiver."),
    device: str = typer.Option(None, help="The FHIR Device id of a device."),
    organization: str = typer.Option(None, help="The Organization id the user works for."),
    locale: str = typer.Option("en", help="Language of pages and messages: en or zh-Hans."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Create a user account; asks for the password twice unless --password-stdin is given."""
    fhir_ref = _linked_ref(practitioner, patient, related_person, device)
    if organization and not organization.startswith("Organization/"):
        organization = f"Organization/{organization}"
    password = _read_password(password_stdin)
    try:
        with unit_of_work(get_engine()) as conn:
            user = users.create_user(
                conn,
                username=username,
                password=password,
                role=role,
                fhir_ref=fhir_ref,
                organization=organization,
                locale=locale,
            )
    except users.WeakPassword as exc:
        raise _weak(exc) from None
    except users.IdentityError as exc:
        raise _fail(str(exc)) from None
    console.print(f"Created [bold]{user.username}[/] ({user.role}), id {user.id}", highlight=False)


def _status(user: users.User) -> str:
    if user.locked:
        return "locked"
    if user.locked_until:
        return f"locked out until {user.locked_until}"
    return "active"


@user_app.command("list")
def list_(
    role: users.Role = typer.Option(None, case_sensitive=False, help="Only users of this role."),
) -> None:
    """List user accounts, by username."""
    with unit_of_work(get_engine()) as conn:
        found = users.list_users(conn, role=role)
    if not found:
        console.print("No users.")
        return
    table = Table("username", "role", "linked to", "organization", "status", "2FA", "last login")
    for user in found:
        table.add_row(
            user.username,
            user.role.value,
            user.fhir_ref or "",
            user.organization or "",
            _status(user),
            "TOTP" if user.totp_enabled else "",
            user.last_login or "never",
        )
    console.print(table)


@user_app.command("lock")
def lock(username: str = typer.Argument(..., help="The user to lock.")) -> None:
    """Lock an account: it cannot log in until unlocked."""
    with unit_of_work(get_engine()) as conn:
        user = users.lock_user(conn, user_id=_user_named(conn, username).id)
    console.print(f"Locked [bold]{user.username}[/].", highlight=False)


@user_app.command("unlock")
def unlock(username: str = typer.Argument(..., help="The user to unlock.")) -> None:
    """Unlock an account, lifting an administrator's lock and any lockout after failed logins."""
    with unit_of_work(get_engine()) as conn:
        user = users.unlock_user(conn, user_id=_user_named(conn, username).id)
    console.print(f"Unlocked [bold]{user.username}[/].", highlight=False)


@user_app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., help="The user whose password to replace."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from standard input."),
) -> None:
    """Give a user a new password; asks for it twice unless --password-stdin is given."""
    with unit_of_work(get_engine()) as conn:
        user = _user_named(conn, username)
    password = _read_password(password_stdin)
    try:
        with unit_of_work(get_engine()) as conn:
            users.reset_password(conn, user_id=user.id, new_password=password)
    except users.WeakPassword as exc:
        raise _weak(exc) from None
    console.print(f"The password of [bold]{user.username}[/] is changed.", highlight=False)
