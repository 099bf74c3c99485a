"""`smartcare devices`: register home and ward devices, revoke them, list the register."""

import json

import typer
from rich.table import Table

from smartcare.family.devices import registry
from smartcare.platform.console import make_console
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

devices_app = typer.Typer(help="Home and ward devices: register them, revoke them, take their readings.",
                          no_args_is_help=True)
console = make_console()
errors = make_console(stderr=True)
# The command line acts as the platform itself, recorded in the audit trail under this name.
OPERATOR = AccessContext(kind="system", name="smartcare-cli", roles=frozenset({"system"}))


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]{message}[/]")
    return typer.Exit(2)


@devices_app.command("add")
def add(
    patient: str = typer.Option(None, help="The owner's Patient id (leave out for a device paired later by QR code)."),
    kind: str = typer.Option(..., help=f"One of: {', '.join(registry.device_kinds()['kinds'])}."),
    serial: str = typer.Option(None, help="The serial number on the device's label."),
    model: str = typer.Option(None, help="The model, e.g. 'HEM-7361T'."),
    manufacturer: str = typer.Option(None, help="The maker, e.g. 'Omron'."),
    organization: str = typer.Option(None, help="The Organization id that issued it (ward equipment)."),
) -> None:
    """Register a device and print its id, topics and credentials as JSON (the secrets are shown this once)."""
    try:
        with unit_of_work() as conn:
            made = registry.register_device(conn, ctx=OPERATOR, kind=kind, patient_id=patient, serial=serial,
                                            model=model, manufacturer=manufacturer, organization=organization)
    except registry.DeviceError as exc:
        raise _fail(f"Cannot register the device: {exc}") from exc
    typer.echo(json.dumps(made.as_json(), indent=2))


@devices_app.command("revoke")
def revoke(device_id: str = typer.Argument(..., help="The device to revoke.")) -> None:
    """Revoke a device: its MQTT login and HTTPS client stop working and its later readings are refused."""
    try:
        with unit_of_work() as conn:
            registry.revoke_device(conn, ctx=OPERATOR, device_id=device_id)
    except registry.DeviceError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{device_id} is revoked.")


@devices_app.command("pairing-code")
def pairing_code(device_id: str = typer.Argument(..., help="An unowned device.")) -> None:
    """Print a short-lived code (and its QR code) the patient enters in the app to pair the device."""
    try:
        with unit_of_work() as conn:
            code = registry.pairing_code(conn, ctx=OPERATOR, device_id=device_id)
    except registry.DeviceError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"Pairing code [bold]{code.shown}[/] (valid until {code.expires})")


@devices_app.command("list")
def list_all(patient: str = typer.Option(None, help="Only this patient's devices.")) -> None:
    """List the registered devices, newest first."""
    table = Table("id", "kind", "serial", "patient", "status", "last seen")
    with unit_of_work() as conn:
        for d in registry.list_devices(conn, patient_id=patient):
            table.add_row(d.device_id, d.kind, d.serial or "", d.patient_id or "-", d.status, d.last_seen or "never")
    console.print(table)
