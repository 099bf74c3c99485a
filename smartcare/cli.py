"""The `smartcare` command: run the servers, manage the database, load the demo region."""

import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import typer

from smartcare import __version__
from smartcare.family.devices.mqtt_cli import devices_app  # registers listen, simulate and mosquitto-files
from smartcare.platform.audit.cli import audit_app
from smartcare.platform.backup_cli import backup_command, restore_command
from smartcare.platform.console import make_console
from smartcare.platform.jobs.cli import worker_app
from smartcare.platform.security.cli import user_app
from smartcare.platform.security.client_cli import client_app
from smartcare.regional.exchange.cli import exchange_app
from smartcare.regional.mpi.cli import mpi_app
from smartcare.regional.public_health.cli import surveillance_app
from smartcare.regional.risk.cli import risk_app, score

app = typer.Typer(
    help="SmartCare: the open smart medical care platform for a region.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The generated demo region: load it and run everything on it.")
knowledge_app = typer.Typer(help="Clinical knowledge: add licensed drug and interaction sets.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(audit_app, name="audit", help="The tamper-evident audit trail: verify it, search it.")
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(client_app, name="client")
app.add_typer(user_app, name="user")
app.add_typer(worker_app, name="worker")
app.add_typer(devices_app, name="devices")
app.add_typer(mpi_app, name="mpi")
app.add_typer(exchange_app, name="exchange")
lis_app = typer.Typer(help="The laboratory's HL7 v2 interface: the MLLP listener and a sender for testing.")
app.add_typer(lis_app, name="lis")
app.command("score")(score)
app.add_typer(risk_app, name="risk")
app.add_typer(surveillance_app, name="surveillance")
console = make_console()


@app.callback()
def _logging() -> None:
    """Log in the format SMARTCARE_LOG_FORMAT names (text, or json), whatever the command."""
    from smartcare.platform.ops.logs import configure_logging

    configure_logging()


def _engine():
    from smartcare.platform.db import get_engine

    return get_engine()


@app.command()
def version() -> None:
    """Print the SmartCare version."""
    console.print(f"SmartCare {__version__}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Schema revision to move to.")) -> None:
    """Create or update the database schema to the newest (or the given) revision."""
    from smartcare.platform import migrate
    from smartcare.platform.settings import get_settings

    migrate.upgrade(_engine(), revision)
    console.print(f"Database schema is at [bold]{revision}[/] ({get_settings().database_url})")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default SMARTCARE_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to listen on (default SMARTCARE_PORT, 8000)."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Run the web server: FHIR REST API, app APIs and pages."""
    import uvicorn
    from sqlalchemy.exc import DBAPIError

    from smartcare.fhir.operations.export import fail_interrupted_exports
    from smartcare.platform.settings import get_settings

    settings = get_settings()
    try:
        # Exports a previous run left unfinished can never finish: tell their clients so.
        fail_interrupted_exports(_engine())
    except DBAPIError as exc:
        console.print(f"[red]The database is not ready[/] ({settings.database_url}): run `smartcare db upgrade` first.")
        raise typer.Exit(1) from exc
    from smartcare.platform.jobs.worker import enable_embedded_worker

    enable_embedded_worker()
    from smartcare.platform.web.heap import enable_heap_freeze

    enable_heap_freeze()
    from smartcare.platform.ops.logs import uvicorn_log_config

    uvicorn.run(
        "smartcare.platform.web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=uvicorn_log_config(),
        access_log=False,  # the app writes its own access line: the route template, never the query string
    )


@app.command()
def check() -> None:
    """Check this deployment as its environment describes it: database, schema, job broker, live fan-out Redis,
    data directory, DICOM store and keys. One line each, with the fix for what fails; exit 1 if anything does."""
    from rich.markup import escape

    from smartcare.platform.ops.check import deployment_checks
    from smartcare.platform.settings import get_settings

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its migration-context chatter is not a finding
    found = deployment_checks(get_settings(), _engine())
    for finding in found:
        colour = "green" if finding.ok else "red"
        console.print(f"[{colour}]{escape(finding.line())}[/]", highlight=False, soft_wrap=True)
    failed = sum(not finding.ok for finding in found)
    if failed:
        console.print(f"{failed} of {len(found)} checks failed.")
        raise typer.Exit(1)
    console.print(f"All {len(found)} checks passed.")


def _load(residents: int, seed: int, *, only_if_empty: bool) -> None:
    from smartcare.demo.loader import load_region, region_loaded
    from smartcare.platform import migrate

    engine = _engine()
    migrate.upgrade(engine)
    if only_if_empty and region_loaded(engine):
        from smartcare.demo.emergency import load_emergency_arrivals

        console.print("The database already holds data; the demo region is not loaded again.")
        # The emergency departments' recent arrivals age out of the published wait; play the last hours again
        # where a department has none (it skips those that have).
        load_emergency_arrivals(engine, seed=seed)
        return
    stats = load_region(engine=engine, residents=residents, seed=seed, progress=True)
    console.print(
        f"Loaded the demo region: {stats.resources:,} resources for {residents:,} residents "
        f"in {stats.seconds:.1f} s ({stats.rate:,.0f} resources/s)."
    )


def _open_demo_schedules(days: int = 14) -> None:
    """Clinic sessions and bookable slots for the demo's doctors from today for `days` days (re-runnable)."""
    from smartcare.hospital.scheduling.schedules import generate_demo_schedules
    from smartcare.platform.db import unit_of_work

    with console.status(f"Opening the demo doctors' schedules for the next {days} days"), \
            unit_of_work(_engine()) as conn:
        made = generate_demo_schedules(conn, days=days)
    console.print(f"Schedules for the next {days} days: {made.created:,} new slots ({made.existing:,} already open).")


def _print_demo_accounts() -> None:
    from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
    from smartcare.platform.settings import get_settings

    accounts, app_id = ensure_demo_accounts(_engine())
    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\nDemo accounts (password [bold]{DEMO_PASSWORD}[/]):")
    for a in accounts:
        console.print(f"  [bold]{a.username}[/]  {a.description}" + (f"  ({a.fhir_ref})" if a.fhir_ref else ""))
    if accounts:
        console.print(
            f"Get a token for the FHIR API:\n  curl -d grant_type=password -d client_id={app_id} "
            f"-d username={accounts[0].username} -d password={DEMO_PASSWORD} -d scope='user/*.rs' {base}/auth/token"
        )


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    residents: int = typer.Option(500, min=1, max=200_000, help="How many residents to generate."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same region."),
) -> None:
    """Load the demo region if the database is empty, then run everything on it."""
    if ctx.invoked_subcommand is not None:
        return
    from smartcare.platform.settings import get_settings

    _load(residents, seed, only_if_empty=True)
    _open_demo_schedules()
    _print_demo_accounts()
    settings = get_settings()
    with children((*LISTENERS, *_device_processes())):
        console.print(f"SmartCare is running: open [bold]http://{settings.host}:{settings.port}/[/]  "
                      "(Ctrl+C stops it)")
        serve(host=None, port=None, workers=1)


# The LIS (HL7 v2 over MLLP, port 2575) and the PACS (DICOM, port 11112), run beside the demo's web server.
LISTENERS = ((("lis",), "HL7 v2 (MLLP) listener"), (("pacs",), "DICOM service (PACS)"))
# The demo's embedded MQTT broker: not 1883, which a machine's own Mosquitto usually holds.
DEMO_MQTT_PORT = 1884


def _device_processes() -> tuple[tuple[tuple[str, ...], str], ...]:
    """The device listener (SMARTCARE_MQTT_URL's broker, or an embedded one on DEMO_MQTT_PORT) and the home device
    simulator publishing for the demo's monitored residents, so the care team's dashboard moves while you look."""
    from smartcare.family.devices.mqtt import configured_url

    if configured_url():
        listen, broker = ("devices", "listen"), ()
    else:
        listen = ("devices", "listen", "--port", str(DEMO_MQTT_PORT))
        broker = ("--broker", f"mqtt://127.0.0.1:{DEMO_MQTT_PORT}")
    simulate = ("devices", "simulate", "--demo-region", "--rate", "0.5", "--quiet", *broker)
    return (listen, "MQTT device listener"), (simulate, "home device simulator")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def children(commands: Sequence[tuple[Sequence[str], str]], *, program: Sequence[str] | None = None) -> Iterator[None]:
    """Run `smartcare <command>` (or program + command) for each command as child processes on the same settings
    while the block runs; they are stopped when it ends, also when this process is told to stop (SIGTERM: uvicorn
    re-raises it after its own shutdown, and the default action would end us without stopping them). One that
    cannot start says so and the rest runs on."""
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = []
    try:
        for command, what in commands:
            try:
                started.append(subprocess.Popen([*(program or (sys.executable, "-m", "smartcare")), *command]))
            except OSError as exc:
                console.print(f"[yellow]The {what} did not start:[/] {exc}")
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        signal.signal(signal.SIGTERM, previous)


@demo_app.command("load")
def demo_load(
    residents: int = typer.Option(500, min=1, max=200_000, help="How many residents to generate."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same region."),
) -> None:
    """Load the demo region into the configured database, with a progress bar, and exit."""
    _load(residents, seed, only_if_empty=False)
    _open_demo_schedules()
    _print_demo_accounts()


@knowledge_app.command("import")
def knowledge_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV file to import."),
    kind: str = typer.Option(..., "--kind", help="What the file holds: drugs or interactions."),
    directory: Path = typer.Option(
        None, "--dir", file_okay=False,
        help="Where imported sets are kept (default $SMARTCARE_KNOWLEDGE_DIR, else var/knowledge).",
    ),
) -> None:
    """Check every row of a drugs or interactions CSV and, only if all are valid, add the set to the formulary."""
    from rich.markup import escape

    from smartcare.knowledge.drugs.formulary import knowledge_dir
    from smartcare.knowledge.drugs.importer import import_csv
    from smartcare.knowledge.drugs.records import KnowledgeDataError

    try:
        result = import_csv(path=file, kind=kind, directory=directory or knowledge_dir(), progress=True)
    except KnowledgeDataError as exc:
        console.print(f"[red]Nothing imported:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"Imported {result.records:,} {result.kind} into {result.stored}")


@lis_app.callback(invoke_without_command=True)
def lis(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(2575, min=0, max=65535, help="Port to listen on (0: any free port)."),
) -> None:
    """Run the HL7 v2 MLLP listener: results (ORU^R01) and demographics (ADT^A01/A04/A08), ACKed after commit."""
    if ctx.invoked_subcommand is not None:
        return
    from smartcare.hospital.lab.mllp import ListenerSettings, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run(ListenerSettings(host=host, port=port), ready=lambda where: console.print(f"Listening for HL7 on {where}"))
    except KeyboardInterrupt:
        console.print("Stopped.")


@lis_app.command("send")
def lis_send(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="A file of HL7 v2 messages."),
    host: str = typer.Option("127.0.0.1", help="The listener's address."),
    port: int = typer.Option(2575, min=1, max=65535, help="The listener's port."),
) -> None:
    """Send each message in a file over MLLP, one at a time, and print the ACK each one got."""
    import asyncio

    from rich.markup import escape

    from smartcare.hospital.lab.mllp import decode, send_all, split_messages

    messages = split_messages(decode(file.read_bytes()))
    if not messages:
        console.print("[red]The file holds no HL7 message[/] (none starts with MSH).")
        raise typer.Exit(1)
    try:
        acks = asyncio.run(send_all(host, port, messages))
    except OSError as exc:
        console.print(f"[red]Could not reach the listener at {host}:{port}:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    for ack in acks:
        console.print(escape(ack.replace("\r", "\n").strip()), highlight=False)
        console.print()


@lis_app.command("simulate")
def lis_simulate(
    host: str = typer.Option("127.0.0.1", help="The listener's address."),
    port: int = typer.Option(2575, min=1, max=65535, help="The listener's port."),
    count: int = typer.Option(10, min=1, max=500, help="At most this many orders to result."),
    seed: int = typer.Option(None, help="Random seed, for the same values each time."),
    critical: float = typer.Option(0.02, min=0.0, max=1.0,
                                   help="Share of results beyond a critical limit (1: every one that has a limit)."),
) -> None:
    """Act as an analyzer: send ORU^R01 results for accessioned lab orders without a report, and show the ACKs."""
    import asyncio

    from rich.markup import escape

    from smartcare.hospital.lab.mllp import send_all
    from smartcare.hospital.lab.simulator import pending_messages

    messages = pending_messages(limit=count, seed=seed, critical=critical)
    if not messages:
        console.print("No accessioned laboratory orders are waiting for results.")
        return
    try:
        acks = asyncio.run(send_all(host, port, messages))
    except OSError as exc:
        console.print(f"[red]Could not reach the listener at {host}:{port}:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    accepted = sum("MSA|AA|" in ack for ack in acks)
    console.print(f"Sent {len(messages)} result messages; {accepted} accepted.")
    for ack in acks:
        if "MSA|AA|" not in ack:
            console.print(escape(ack.replace("\r", "\n").strip()), highlight=False)


@app.command()
def pacs(
    host: str = typer.Option(None, help="Address to listen on (default SMARTCARE_PACS_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, min=0, max=65535,
                             help="Port to listen on (default SMARTCARE_PACS_PORT, 11112; 0: any free port)."),
    ae_title: str = typer.Option(None, "--ae-title", help="Our AE title (default SMARTCARE_PACS_AE_TITLE, SMARTCARE)."),
) -> None:
    """Run the DICOM service (PACS): C-ECHO, C-STORE, C-FIND (studies and the modality worklist), C-MOVE, C-GET and
    Storage Commitment."""
    from smartcare.hospital.imaging.dicom import PacsSettings, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    defaults = PacsSettings()
    title = (ae_title or defaults.ae_title).strip()
    if not title or len(title) > 16 or "\\" in title:
        console.print("[red]An AE title is 1 to 16 characters, without a backslash.[/]")
        raise typer.Exit(2)
    settings = defaults.model_copy(update={"host": host or defaults.host,
                                           "port": defaults.port if port is None else port, "ae_title": title})
    try:
        run(settings, ready=lambda where, bound: console.print(
            f"Listening for DICOM on {where}:{bound} as {title}", highlight=False))
    except OSError as exc:
        console.print(f"[red]Could not listen on {settings.host}:{settings.port}:[/] {exc.strerror or exc}",
                      highlight=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("Stopped.")


def main() -> None:
    """Entry point for `python -m smartcare`."""
    from smartcare.platform.ops.logs import configure_logging

    configure_logging()
    app()
