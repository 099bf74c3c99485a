"""`smartcare exchange`: register member institutions, list them, and pull from their FHIR servers."""

from pathlib import Path

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from smartcare.platform.console import make_console
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.clients import ClientError
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.exchange import hl7, members  # noqa: F401  (hl7: `smartcare lis` routes members' feeds)

exchange_app = typer.Typer(
    help="Regional data exchange: the institutions that send data to the platform (members), and pulls from them.",
    no_args_is_help=True,
)
member_app = typer.Typer(help="Register and list member institutions.", no_args_is_help=True)
exchange_app.add_typer(member_app, name="member")
console = make_console()


@member_app.command("add")
def add(
    organization: str = typer.Argument(..., help="The Organization id, e.g. org-hosp-1."),
    name: str = typer.Option(None, help="Its name (needed only when the Organization is not in the directory)."),
    sends: str = typer.Option(",".join(members.DEFAULT_SENDS),
                              help="What it sends: FHIR resource types and feeds (hl7v2:ADT, hl7v2:ORU), comma-separated."),
    fhir_base: str = typer.Option(None, help="Its FHIR server's base URL (an Endpoint; also where pulls go)."),
    mllp: str = typer.Option(None, help="Its HL7 v2 MLLP feed address, e.g. mllp://10.1.2.3:2575 (an Endpoint)."),
    hl7_facility: str = typer.Option(None, help="The MSH-4 sending facility its HL7 v2 messages carry."),
) -> None:
    """Register an institution as a member and print its exchange client's id and secret (shown this once)."""
    try:
        with unit_of_work() as conn:
            done = members.register_member(conn, SYSTEM, org_id=organization, name=name, sends=sends,
                                           fhir_base=fhir_base, mllp_address=mllp, hl7_facility=hl7_facility)
    except (members.MemberError, ClientError) as exc:
        console.print(f"[red]Not registered:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(f"member: [bold]{escape(done.member.organization)}[/] ({escape(done.member.name)})", highlight=False)
    console.print(f"sends: {', '.join(done.member.sends)}", highlight=False)
    for endpoint in done.endpoints:
        console.print(f"endpoint: {endpoint}", highlight=False)
    console.print(f"client_id: [bold]{done.member.client_id}[/]", highlight=False)
    console.print(f"client_secret: [bold]{done.client_secret}[/]  (store it now: it cannot be shown again)",
                  highlight=False)
    console.print("Submit with a token from /auth/token (grant_type=client_credentials) to "
                  "POST /api/v1/exchange/bundles, /api/v1/exchange/ndjson/<type> or /api/v1/exchange/hl7.")
    console.print("For pulls, the member registers the platform's public key set on its server (private_key_jwt), "
                  "then gives the client id to `smartcare exchange member pull-from`:", highlight=False)
    console.print(orjson.dumps(done.pull_jwks).decode(), markup=False, highlight=False, soft_wrap=True)


@member_app.command("pull-key")
def pull_key(
    organization: str = typer.Argument(..., help="The member's Organization id."),
    new: bool = typer.Option(False, "--new", help="Make a new key, replacing the old one (the member must then "
                                                  "register the new public key set)."),
    rsa: bool = typer.Option(False, "--rsa", help="With --new: an RS384 (RSA) key instead of ES384."),
    out: Path = typer.Option(None, dir_okay=False, help="Also write the public key set to this file."),
) -> None:
    """Print the public key set (JWKS) of the platform's key for pulling from a member, for its server's client."""
    organization_ref = f"Organization/{organization}"
    try:
        with unit_of_work() as conn:
            members.get_member(conn, organization=organization_ref)
            jwks = members.pull_key_set(conn, organization=organization_ref)
            if new or jwks is None:
                jwks = members.new_pull_key(conn, organization=organization_ref,
                                            algorithm="RS384" if rsa else "ES384")
    except members.MemberError as exc:
        console.print(f"[red]No key:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    text = orjson.dumps(jwks).decode()
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@member_app.command("list")
def list_() -> None:
    """List the member institutions with what they send and when they last submitted."""
    from smartcare.regional.exchange import stats as summary

    with unit_of_work() as conn:
        rows = summary.member_summaries(conn)
    table = Table("Organization", "Name", "Sends", "Submissions", "Rejected", "Last submission")
    for row in rows:
        m = row["member"]
        table.add_row(m.organization, escape(m.name), ", ".join(m.sends), str(row["submissions"]),
                      f"{row['rejection_rate']:.1%}" if row["rejection_rate"] is not None else "-",
                      row["last"] or "-")
    console.print(table)


@member_app.command("pull-from")
def pull_from(
    organization: str = typer.Argument(..., help="The member's Organization id."),
    base_url: str = typer.Option(..., help="The member's FHIR base URL."),
    token_url: str = typer.Option(..., help="Its OAuth2 token endpoint (client credentials)."),
    client_id: str = typer.Option(..., help="The client id the member's server gave the platform."),
    client_secret: str = typer.Option(None, prompt="Client secret", prompt_required=False, hide_input=True,
                                      help="That client's secret, if it gave one (asked for, kept sealed). "
                                           "Without it the platform signs assertions with its pull key."),
) -> None:
    """Keep the credentials the platform pulls from a member's FHIR server with (scheduled every hour)."""
    try:
        with unit_of_work() as conn:
            members.set_pull_credentials(conn, organization=f"Organization/{organization}", base_url=base_url,
                                         token_url=token_url, client_id=client_id, client_secret=client_secret)
    except members.MemberError as exc:
        console.print(f"[red]Not kept:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(f"Pulls from {escape(base_url)} are on for Organization/{escape(organization)}.", highlight=False)


@exchange_app.command("pull")
def pull_now(organization: str = typer.Argument(..., help="The member's Organization id.")) -> None:
    """Pull what is new on a member's FHIR server now, and print the report."""
    from smartcare.regional.exchange.pull import PullFailed, pull_member

    try:
        report = pull_member(organization=f"Organization/{organization}")
    except (PullFailed, members.MemberError) as exc:
        console.print(f"[red]Pull failed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    counts = report["counts"]
    console.print(f"{counts['accepted']} accepted, {counts['rejected']} rejected, {counts['warnings']} warnings "
                  f"(submission {report.get('submission') or '-'})", highlight=False)
