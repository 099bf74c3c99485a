"""`smartcare audit`: prove the audit trail untouched and look up who did what."""

import re
from datetime import datetime

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from smartcare.platform.audit import service
from smartcare.platform.audit.tables import audit_log
from smartcare.platform.console import make_console

audit_app = typer.Typer(help="The audit trail: verify it is untouched, search who accessed what.", no_args_is_help=True)
console = make_console()
# Below this many entries verify finishes in about a second, so a progress bar would only flicker.
PROGRESS_FROM = 10_000
_ANCHOR = re.compile(r"(\d{1,18}):([0-9a-f]{64})")


def _engine() -> sa.Engine:
    from smartcare.platform.db import get_engine

    return get_engine()


def _parse_anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = _ANCHOR.fullmatch(value.strip().lower())
    if not match:
        raise typer.BadParameter("give the anchor as ENTRY:HASH, as printed by an earlier verify")
    return int(match[1]), match[2]


@audit_app.command("verify")
def verify_command(
    anchor: str = typer.Option(
        None,
        help="ENTRY:HASH printed by an earlier verify and kept outside the database; "
        "catches a trail whose newest entries were cut off.",
    ),
) -> None:
    """Check every entry of the audit trail is present, unaltered and in order; exit 1 if not."""
    expected = _parse_anchor(anchor)
    with _engine().connect() as conn:
        total = conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar() or 0
        if total > PROGRESS_FROM:
            columns = (TextColumn("Verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("verify", total=total)
                report = service.verify(conn, anchor=expected, on_progress=lambda n: progress.update(task, completed=n))
        else:
            report = service.verify(conn, anchor=expected)
    if not report.ok:
        console.print(f"[bold red]Audit trail broken:[/] {report.reason}")
        console.print(f"The first {report.checked} entries are intact.")
        raise typer.Exit(1)
    console.print(f"[bold green]Audit trail intact:[/] {report.checked} entries")
    console.print(f"Head {report.head_seq}:{report.head_hash} (keep it elsewhere; pass it as --anchor later)")


@audit_app.command("search")
def search_command(
    agent: str = typer.Option(None, help="Who acted, as kind/name (e.g. user/dr.li)."),
    patient: str = typer.Option(None, help="The patient concerned, e.g. Patient/123."),
    subtype: str = typer.Option(None, help="What was done: read, search, update, login-failed, break-the-glass ..."),
    since: datetime = typer.Option(None, help="Only entries recorded at or after this time (UTC unless given)."),
    until: datetime = typer.Option(None, help="Only entries recorded before this time (UTC unless given)."),
    outcome: str = typer.Option(None, help="0 success, 4 minor failure, 8 serious failure, 12 major failure."),
    limit: int = typer.Option(50, min=1, max=service.MAX_LIMIT, help="How many entries to show, newest first."),
    offset: int = typer.Option(0, min=0, help="How many of the newest matching entries to skip."),
) -> None:
    """List audit entries matching the filters, newest first."""
    with _engine().connect() as conn:
        try:
            entries = service.search(
                conn, agent=agent, patient=patient, subtype=subtype, since=since, until=until,
                outcome=outcome, limit=limit, offset=offset,
            )
        except service.AuditError as exc:
            raise typer.BadParameter(str(exc)) from None
    if not entries:
        console.print("No audit entries match.")
        return
    table = Table("Entry", "Recorded", "Agent", "Action", "Subtype", "Outcome", "Patient", "Entities")
    for entry in entries:
        # Text, not markup: agent names and queries come from users and may contain [brackets].
        cells = (
            str(entry["seq"]),
            entry["recorded"],
            entry["agent"],
            entry["action"],
            entry["subtype"],
            service.OUTCOMES[entry["outcome"]],
            entry["patient"] or "",
            ", ".join(_entity_labels(entry["event"])),
        )
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


def _entity_labels(event: dict) -> list[str]:
    labels = []
    for entity in event.get("entity", []):
        if entity.get("role", {}).get("code") == "1":
            continue
        labels.append(entity.get("what", {}).get("reference") or entity.get("description", ""))
    return labels
