"""`smartcare backup` and `smartcare restore`: one checked archive of the embedded database and data directory."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from smartcare.platform import backup
from smartcare.platform.console import make_console

console = make_console()
ERROR_EXIT = 2


def _fail(what: str, exc: Exception) -> typer.Exit:
    message = " ".join(str(exc).split())  # one line, whatever the cause put in it
    console.print(f"[bold red]{what}:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(ERROR_EXIT)


@contextmanager
def _file_progress(verb: str) -> Iterator[Callable[[int, int], None] | None]:
    if not console.is_terminal:  # piped or captured output gets the report alone
        yield None
        return
    columns = (TextColumn(verb), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(verb, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def backup_command(
    to: Path = typer.Option(
        None, "--to", dir_okay=False,
        help="The archive to write (default smartcare-backup-<UTC time>.tar.gz here); it must not exist yet.",
    ),
) -> None:
    """Copy the SQLite database (consistently, while the server runs) and the data directory's files into one
    .tar.gz with a manifest of sizes, SHA-256s, resource counts and the audit chain's head."""
    from smartcare.platform.settings import get_settings

    settings = get_settings()
    target = to or Path(f"smartcare-backup-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar.gz")
    try:
        with _file_progress("Backing up files") as progress:
            summary = backup.create_backup(database_url=settings.database_url, data_dir=Path(settings.data_dir),
                                           dicom_store=settings.dicom_store, target=target, progress=progress)
    except (backup.BackupError, OSError) as exc:
        raise _fail("Backup failed", exc) from None
    manifest = summary.manifest
    console.print(f"Backed up {summary.files:,} files ({summary.bytes:,} bytes) to [bold]{escape(str(summary.archive))}[/]",
                  highlight=False)
    console.print(f"  {sum(manifest.resources.values()):,} resources, {manifest.audit.entries:,} audit entries "
                  f"(head {manifest.audit.entries}:{manifest.audit.last_hash}), schema {manifest.schema_revision}",
                  highlight=False)
    if manifest.images == "object-store":
        console.print(f"[yellow]Image files are in the object store and not in this archive[/]: see {backup.GUIDE}.")
    console.print("The archive holds every record and the platform's keys: keep it as safe as the server.")


def restore_command(
    archive: Path = typer.Argument(..., dir_okay=False, help="An archive made by `smartcare backup`."),
    data_dir: Path = typer.Option(
        None, "--data-dir", file_okay=False,
        help="Where to restore (default SMARTCARE_DATA_DIR); a new or empty directory unless --force.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Restore into a directory that is not empty; what it holds is moved aside, not deleted.",
    ),
) -> None:
    """Check an archive (manifest, safe names, sizes, SHA-256s), restore it into a data directory and verify the
    resource counts, the audit chain and every image file; stop the server first."""
    from smartcare.platform.settings import get_settings

    logging.getLogger("alembic").setLevel(logging.WARNING)  # reading the schema revision is not news
    target = data_dir or Path(get_settings().data_dir)
    try:
        with _file_progress("Restoring files") as progress:
            report = backup.restore_backup(archive=archive, data_dir=target, force=force, progress=progress)
    except (backup.BackupError, OSError) as exc:
        raise _fail("Restore failed", exc) from None
    manifest = report.manifest
    console.print(f"Restored {report.files:,} files ({report.bytes:,} bytes) into [bold]{escape(str(report.data_dir))}[/]",
                  highlight=False)
    console.print(f"  resources: {sum(manifest.resources.values()):,} "
                  f"({', '.join(f'{k} {v:,}' for k, v in manifest.resources.items()) or 'none'}), as in the manifest",
                  highlight=False)
    console.print(f"  audit trail intact: {manifest.audit.entries:,} entries, head "
                  f"{manifest.audit.entries}:{manifest.audit.last_hash}", highlight=False)
    console.print(f"  image files checked: {report.images_checked:,}", highlight=False)
    for note in report.notes:
        console.print(f"  [yellow]{escape(note)}[/]")
    if report.put_aside:
        console.print(f"What {escape(str(report.data_dir))} held before is in {escape(str(report.put_aside))}.",
                      highlight=False)
    console.print(f"Run with SMARTCARE_DATA_DIR={report.data_dir} "
                  f"SMARTCARE_DATABASE_URL=sqlite:///{report.database}", highlight=False, soft_wrap=True)
