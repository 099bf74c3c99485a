"""`smartcare client`: register the systems, devices and apps that may ask for tokens."""

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from smartcare.platform.console import make_console
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients
from smartcare.platform.security.scopes import InvalidScope

client_app = typer.Typer(help="Register OAuth2 clients: backend systems, devices and first-party apps.",
                         no_args_is_help=True)
console = make_console()


@client_app.command("create")
def create(
    name: str = typer.Option(..., help="A name people recognise, e.g. 'Ward 3 monitor gateway'."),
    kind: str = typer.Option(..., help="system, device or app."),
    scope: str = typer.Option(..., help="The most its tokens may carry, e.g. 'system/Observation.c'."),
    device: str = typer.Option(None, help="The FHIR Device id this client is (for kind device)."),
    organization: str = typer.Option(None, help="The Organization id it belongs to."),
    public: bool = typer.Option(False, help="An app with no secret (it signs users in with their password)."),
    jwks: Path = typer.Option(None, exists=True, dir_okay=False, readable=True,
                              help="A JSON file with the public keys (JWKS) a system or device signs its token "
                                   "requests with (SMART Backend Services, private_key_jwt)."),
    secret: bool = typer.Option(None, "--secret/--no-secret",
                                help="Issue a secret too (by default only clients without --jwks get one)."),
) -> None:
    """Register a client and print its id and secret (the secret is shown this once only)."""
    without_secret = public or (jwks is not None and not secret)
    try:
        with unit_of_work() as conn:
            client, secret_text = clients.register_client(
                conn, name=name, kind=kind, scopes=scope, public=without_secret,
                jwks=jwks.read_text(encoding="utf-8", errors="replace") if jwks else None,
                fhir_ref=f"Device/{device}" if device else None,
                organization=f"Organization/{organization}" if organization else None,
            )
    except (clients.ClientError, InvalidScope) as exc:
        console.print(f"[red]Cannot register the client:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(f"client_id: [bold]{client.client_id}[/]")
    if secret_text:
        console.print(f"client_secret: [bold]{secret_text}[/]  (store it now: it cannot be shown again)")
    if jwks:
        console.print("It may authenticate with assertions signed by the keys in the set (private_key_jwt).")
    console.print(f"scopes: {client.scopes}")


@client_app.command("keys")
def keys(
    client_id: str = typer.Argument(..., help="The client to give keys to."),
    jwks: Path = typer.Option(None, exists=True, dir_okay=False, readable=True,
                              help="A JSON file with its public keys (JWKS); they replace any it had."),
    remove: bool = typer.Option(False, help="Take its keys away (it keeps its secret)."),
) -> None:
    """Give a backend client the public keys it signs token requests with, or take them away."""
    if (jwks is None) == (not remove):
        console.print("[red]Give either --jwks FILE or --remove.[/]")
        raise typer.Exit(2)
    try:
        with unit_of_work() as conn:
            clients.set_key_set(conn, client_id=client_id,
                                jwks=jwks.read_text(encoding="utf-8", errors="replace") if jwks else None)
    except clients.ClientError as exc:
        console.print(f"[red]Keys not changed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(f"{escape(client_id)} now authenticates with its secret only." if remove else
                  f"{escape(client_id)} may authenticate with assertions signed by those keys.", highlight=False)


@client_app.command("list")
def list_all() -> None:
    """List registered clients."""
    table = Table("client_id", "name", "kind", "scopes", "status")
    with unit_of_work() as conn:
        for c in clients.list_clients(conn):
            table.add_row(c.client_id, c.name, c.kind, str(c.scopes), "disabled" if c.disabled else "active")
    console.print(table)


@client_app.command("disable")
def disable(client_id: str = typer.Argument(..., help="The client to disable.")) -> None:
    """Disable a client: it gets no new tokens (tokens already issued expire within minutes)."""
    try:
        with unit_of_work() as conn:
            clients.set_disabled(conn, client_id=client_id, disabled=True)
    except clients.ClientError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"{client_id} is disabled.")
