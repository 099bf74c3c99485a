"""Back up the embedded default (SQLite and the files under the data directory) into one checked archive, and restore it.

An archive is a .tar.gz of `database/<name>` (a consistent copy taken with SQLite's online backup API while the
server runs), `data/...` (every file the product keeps under the data directory: DICOM instances, keys, exports)
and `manifest.json`, which lists the size and SHA-256 of every other member and what the database held (resources
per type, audit entries and the last hash of the chain). Restore treats the archive as hostile: it accepts regular
files and directories under safe relative names only, checks every byte against the manifest, builds the new data
directory beside the target and puts it in place only once the database, the audit chain and each image file have
been verified. PostgreSQL is backed up with its own tools (deploy/backup.md).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartcare import __version__
from smartcare.platform.audit import service as audit
from smartcare.platform.db import make_engine, unit_of_work
from smartcare.platform.security.context import AccessContext

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_DIR = "database"
FILES_DIR = "data"
GUIDE = "deploy/backup.md"
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 64 << 20
MAX_NAME = 1024
# Left behind by writes in progress (the DICOM store's staging folder, temporary files): never part of a backup.
SKIPPED_DIRS = frozenset({".incoming"})
SKIPPED_SUFFIXES = (".tmp", ".partial")
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
BACKUP_AGENT = AccessContext(kind="system", name="backup", roles=frozenset({"system"}))

Progress = Callable[[int, int], None]  # (files done, files in all)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line a person can act on."""


class ArchivedFile(BaseModel):
    """One member of the archive as the manifest lists it."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(max_length=MAX_NAME)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AuditSummary(BaseModel):
    """How many entries the audit chain had and the hash of the last one (64 zeros for none)."""

    entries: int = Field(ge=0)
    last_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """What an archive holds; written last into it and checked first on restore."""

    format: Literal[1]
    smartcare_version: str = Field(max_length=64)
    schema_revision: str | None = Field(max_length=64)
    created: str = Field(max_length=40)
    database: str = Field(max_length=MAX_NAME)
    images: Literal["files", "object-store"]
    resources: dict[str, int]
    audit: AuditSummary
    files: list[ArchivedFile]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup wrote."""

    archive: Path
    files: int
    bytes: int
    manifest: Manifest


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What a restore put in place and verified."""

    data_dir: Path
    database: Path
    manifest: Manifest
    files: int
    bytes: int
    images_checked: int
    put_aside: Path | None = None
    notes: list[str] = field(default_factory=list)


def sqlite_file(database_url: str) -> Path:
    """The SQLite database file of database_url; BackupError for PostgreSQL or an in-memory database."""
    if not database_url.startswith("sqlite"):
        raise BackupError(
            "The database is PostgreSQL: `smartcare backup` covers the embedded SQLite default only; back it up "
            f"with pg_dump or point-in-time recovery as {GUIDE} describes."
        )
    path = database_url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError("The database is in memory: there is nothing on disk to back up.")
    return Path(path)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _database_summary(conn: sa.Connection) -> tuple[str | None, dict[str, int], AuditSummary]:
    """The schema revision, the current (not deleted) resources per type, and the audit chain's length and head."""
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    counts = conn.execute(sa.text(
        "SELECT res_type, COUNT(*) FROM fhir_resource WHERE NOT deleted GROUP BY res_type ORDER BY res_type"
    )).all()
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    entries = conn.execute(sa.text("SELECT COUNT(*) FROM audit_log")).scalar() or 0
    summary = AuditSummary(entries=entries, last_hash=head.hash if head else audit.GENESIS_HASH)
    return revision, {row[0]: row[1] for row in counts}, summary


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _snapshot(database: Path, copy: Path) -> tuple[str | None, dict[str, int], AuditSummary]:
    """A consistent copy of the live database (SQLite's online backup API), its journal chained, as one file;
    what it holds (see _database_summary)."""
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)  # one step: a single read transaction, so writers that commit meanwhile are not half in
    finally:
        target.close()
        source.close()
    engine = make_engine(f"sqlite:///{copy}")
    try:
        # Entries still waiting in the journal are numbered in the copy exactly as the server will number them.
        with engine.begin() as conn:
            audit.seal_all(conn)
            summary = _database_summary(conn)
    finally:
        engine.dispose()
    plain = sqlite3.connect(copy)
    try:
        plain.execute("PRAGMA journal_mode=DELETE")  # no -wal beside it: the one file is the whole database
    finally:
        plain.close()
    return summary


def _kept_files(data_dir: Path, skip: set[Path]) -> Iterator[Path]:
    """Every regular file under data_dir the product keeps, in a stable order (no links, temporary or live files)."""
    for folder, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and (Path(folder) / d).resolve() not in skip)
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith(SKIPPED_SUFFIXES) or path.is_symlink() or not path.is_file():
                continue
            if path.resolve() in skip:
                continue
            yield path


class _HashingReader:
    """Reads a file for tarfile while hashing exactly the bytes that went into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> ArchivedFile:
    with open(path, "rb") as handle:
        info = tarfile.TarInfo(name)
        stat = os.fstat(handle.fileno())
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    return ArchivedFile(path=name, size=info.size, sha256=reader.digest.hexdigest())


def _record_backup(database_url: str, archive: Path) -> None:
    """Note in the audit trail that the whole store was copied out (the copy then holds this entry too)."""
    engine = make_engine(database_url)
    try:
        with unit_of_work(engine) as conn:
            audit.record(conn, ctx=BACKUP_AGENT, action="R", subtype="export",
                         description=f"backup of the database and data directory to {archive.name}"[:audit.MAX_TEXT])
    finally:
        engine.dispose()


def create_backup(*, database_url: str, data_dir: Path, dicom_store: str, target: Path,
                  progress: Progress | None = None) -> BackupSummary:
    """Write a consistent archive of the SQLite database and the data directory's files to target."""
    database = sqlite_file(database_url)
    if not database.is_file():
        raise BackupError(f"There is no database at {database}: nothing to back up.")
    target = target.absolute()
    if target.exists():
        raise BackupError(f"{target} already exists: give another file with --to.")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory: give a file in an existing one with --to.")
    with tempfile.TemporaryDirectory(prefix=".smartcare-backup-", dir=target.parent) as work:
        copy = Path(work) / database.name
        try:
            _record_backup(database_url, target)
            revision, resources, chain = _snapshot(database, copy)
        except (sqlite3.Error, sa.exc.SQLAlchemyError) as exc:
            raise BackupError(f"The database at {database} could not be copied ({_first_line(exc)}); "
                              "is it a SmartCare database brought up to date with `smartcare db upgrade`?") from exc
        live = database.resolve()
        skip = {live, *(live.with_name(live.name + s) for s in SQLITE_SIDE_FILES), target.resolve(),
                Path(work).resolve()}
        files = list(_kept_files(data_dir, skip)) if data_dir.is_dir() else []
        packed = Path(work) / "archive.tar.gz"
        listed: list[ArchivedFile] = []
        with tarfile.open(packed, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            listed.append(_add_file(tar, copy, f"{DATABASE_DIR}/{database.name}"))
            for done, path in enumerate(files, 1):
                listed.append(_add_file(tar, path, f"{FILES_DIR}/{path.relative_to(data_dir).as_posix()}"))
                if progress:
                    progress(done, len(files))
            manifest = Manifest(
                format=FORMAT_VERSION, smartcare_version=__version__, schema_revision=revision,
                created=datetime.now(UTC).isoformat(timespec="seconds"), database=listed[0].path,
                images="object-store" if dicom_store else "files", resources=resources, audit=chain, files=listed,
            )
            body = manifest.model_dump_json(indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
            tar.addfile(info, _BytesReader(body))
        os.chmod(packed, 0o600)  # the archive holds every record and the platform's keys
        os.replace(packed, target)
    return BackupSummary(target, len(listed), sum(f.size for f in listed), manifest)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk, self.offset = self.data[self.offset:end], min(end, len(self.data))
        return chunk


# Restore ---------------------------------------------------------------------------------------------------------


def _checked_name(member: tarfile.TarInfo) -> str:
    """The member's name when it is a safe relative path of a regular file or directory; BackupError otherwise."""
    name = member.name
    shown = name[:120].encode("unicode_escape").decode()
    if not (member.isreg() or member.isdir()):
        kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk()
                else "a device" if member.isdev() else "not a regular file")
        raise BackupError(f"The archive is refused: member {shown!r} is {kind}.")
    parts = PurePosixPath(name).parts
    if (not name or len(name) > MAX_NAME or name.startswith("/") or "\\" in name or "\x00" in name
            or any(p in ("..", ".") for p in parts) or "/".join(parts) != name.rstrip("/")):
        raise BackupError(f"The archive is refused: member {shown!r} is not a safe relative path.")
    if name != MANIFEST and (parts[0] not in (DATABASE_DIR, FILES_DIR) or (member.isreg() and len(parts) < 2)):
        raise BackupError(f"The archive is refused: member {shown!r} is not part of a SmartCare backup.")
    return name.rstrip("/")


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo | None) -> Manifest:
    if member is None:
        raise BackupError(f"The archive has no {MANIFEST}: it is not a SmartCare backup.")
    if not member.isreg() or member.size > MAX_MANIFEST_BYTES:
        raise BackupError(f"The archive's {MANIFEST} is not a regular file of a sensible size.")
    handle = tar.extractfile(member)
    try:
        raw = json.loads(handle.read() if handle else b"")
    except ValueError as exc:
        raise BackupError(f"The archive's {MANIFEST} is not valid JSON.") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise BackupError(f"The archive's format {found!r} is not one this SmartCare {__version__} reads "
                          f"(format {FORMAT_VERSION}).")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise BackupError(f"The archive's {MANIFEST} is invalid at {where}: {error['msg']}.") from exc


def _checked_members(tar: tarfile.TarFile) -> tuple[Manifest, list[tarfile.TarInfo]]:
    """The manifest and the regular file members, once every member is safe and matches the manifest's list."""
    seen: set[str] = set()
    manifest_member, regular = None, []
    for member in tar.getmembers():
        name = _checked_name(member)
        if name in seen:
            raise BackupError(f"The archive is refused: member {name[:120]!r} appears twice.")
        seen.add(name)
        if name == MANIFEST:
            manifest_member = member
        elif member.isreg():
            regular.append(member)
    manifest = _read_manifest(tar, manifest_member)
    listed = {f.path: f for f in manifest.files}
    if len(listed) != len(manifest.files):
        raise BackupError("The archive's manifest lists a file twice.")
    for member in regular:
        entry = listed.get(member.name)
        if entry is None:
            raise BackupError(f"The archive holds {member.name[:120]!r}, which its manifest does not list.")
        if entry.size != member.size:
            raise BackupError(f"{member.name[:120]!r} is {member.size} bytes in the archive; "
                              f"its manifest says {entry.size}.")
    missing = sorted(set(listed) - {m.name for m in regular})
    if missing:
        raise BackupError(f"The archive lacks {missing[0][:120]!r}, which its manifest lists.")
    database = PurePosixPath(manifest.database)
    if manifest.database not in listed or database.parent.as_posix() != DATABASE_DIR:
        raise BackupError("The archive's manifest names no database file of the archive.")
    strays = [m.name for m in regular if m.name.startswith(f"{DATABASE_DIR}/") and m.name != manifest.database]
    if strays:
        raise BackupError(f"The archive holds {strays[0][:120]!r} beside its database.")
    if f"{FILES_DIR}/{database.name}" in listed:
        raise BackupError(f"The archive holds both a database and a data file named {database.name!r}.")
    return manifest, regular


def _restored_path(root: Path, name: str, manifest: Manifest) -> Path:
    if name == manifest.database:
        return root / PurePosixPath(name).name
    return root.joinpath(*PurePosixPath(name).parts[1:])


def _extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], manifest: Manifest, root: Path,
             progress: Progress | None) -> None:
    """Write each member under root (new files only, never through a link), checking its SHA-256 on the way."""
    expected = {f.path: f.sha256 for f in manifest.files}
    for done, member in enumerate(members, 1):
        path = _restored_path(root, member.name, manifest)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        digest = hashlib.sha256()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "wb") as out:
            while source and (chunk := source.read(CHUNK)):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected[member.name]:
            raise BackupError(f"{member.name[:120]!r} does not match its SHA-256 in the manifest: "
                              "the archive was changed or damaged.")
        if progress:
            progress(done, len(members))


def _check_images(conn: sa.Connection, root: Path) -> int:
    """Each indexed DICOM instance has its file, of the recorded size and SHA-256; how many were checked."""
    if not sa.inspect(conn).has_table("imaging_instance"):
        return 0
    store = (root / "dicom").resolve()
    rows = conn.execute(sa.text("SELECT storage_key, size, digest FROM imaging_instance ORDER BY id")).all()
    for key, size, digest in rows:
        path = (store / key).resolve()
        if not path.is_relative_to(store) or not path.is_file():
            raise BackupError(f"The image file {key[:120]!r} the database indexes is not in the archive.")
        if path.stat().st_size != size or _sha256_file(path) != digest:
            raise BackupError(f"The image file {key[:120]!r} does not match its size and SHA-256 in the database.")
    return len(rows)


def _schema_notes(revision: str | None) -> list[str]:
    """What to do before starting on a database at revision: upgrade it, or upgrade SmartCare."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from smartcare.platform.migrate import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        return [f"The database is at schema {revision!r}, which this SmartCare {__version__} does not know: "
                "start it with the SmartCare version that made the backup, or a newer one."]
    if revision != script.get_current_head():
        return ["The database was made by an older SmartCare: run `smartcare db upgrade` before starting."]
    return []


def _verify_restored(database: Path, root: Path, manifest: Manifest) -> tuple[int, list[str]]:
    """Check the restored database against the manifest: integrity, revision, counts, audit chain, image files."""
    notes = _schema_notes(manifest.schema_revision)
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            if conn.exec_driver_sql("PRAGMA quick_check").scalar() != "ok":
                raise BackupError("The restored database fails SQLite's integrity check.")
            revision, resources, chain = _database_summary(conn)
            if revision != manifest.schema_revision:
                raise BackupError(f"The restored database is at schema {revision!r}; "
                                  f"the manifest says {manifest.schema_revision!r}.")
            differing = sorted(k for k in {*resources, *manifest.resources}
                               if resources.get(k, 0) != manifest.resources.get(k, 0))
            if differing:
                kind = differing[0]
                raise BackupError(f"The restored database holds {resources.get(kind, 0)} {kind} resources; "
                                  f"the manifest says {manifest.resources.get(kind, 0)}.")
            anchor = (manifest.audit.entries, manifest.audit.last_hash) if manifest.audit.entries else None
            report = audit.verify(conn, anchor=anchor)
            if not report.ok:
                raise BackupError(f"The restored audit trail is broken: {report.reason}.")
            if (report.head_seq, report.head_hash) != (chain.entries, chain.last_hash) or \
                    chain.entries != manifest.audit.entries:
                raise BackupError(f"The restored audit trail has {chain.entries} entries; "
                                  f"the manifest says {manifest.audit.entries}.")
            if manifest.images == "files":
                images = _check_images(conn, root)
            else:
                images = 0
                notes.append("Image files are kept in the object store, not in this archive: back the bucket up "
                             f"as {GUIDE} describes.")
    finally:
        engine.dispose()
    return images, notes


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _prepare_target(target: Path, force: bool) -> bool:
    """Whether target holds something to put aside; BackupError when restoring there is not allowed."""
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} exists and is not a directory.")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist: create it first, or restore elsewhere.")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not force:
        raise BackupError(f"{target} is not empty: restore into a new directory, or pass --force to move what it "
                          "holds aside.")
    return occupied


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A fresh directory beside target to build the restore in; removed with all it holds unless moved into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=target.parent))
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _move_into_place(staging: Path, target: Path, occupied: bool) -> Path | None:
    """Rename staging to target; what target held goes aside (its new name is returned) and comes back on failure."""
    put_aside = None
    if occupied:
        put_aside = target.with_name(f"{target.name}.before-restore-{_stamp()}")
        os.rename(target, put_aside)
    elif target.exists():
        target.rmdir()  # empty: make way for the restored directory
    try:
        os.rename(staging, target)
    except OSError:
        if put_aside is not None:
            os.rename(put_aside, target)
        raise
    return put_aside


def _open_archive(archive: Path) -> tarfile.TarFile:
    if not archive.is_file():
        raise BackupError(f"There is no archive at {archive}.")
    try:
        return tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{archive} is not a readable .tar.gz archive ({exc}).") from exc


def restore_backup(*, archive: Path, data_dir: Path, force: bool = False,
                   progress: Progress | None = None) -> RestoreReport:
    """Check archive, restore it into data_dir (a new or empty directory unless force) and verify what was restored.

    Nothing is written to data_dir until every check passed; with force, what data_dir held is moved aside to
    <data_dir>.before-restore-<time>, never deleted.
    """
    target = data_dir.absolute()
    occupied = _prepare_target(target, force)
    with _staging(target) as staging, _open_archive(archive) as tar:
        try:
            manifest, members = _checked_members(tar)
            needed = sum(m.size for m in members)
            if needed > shutil.disk_usage(staging).free:
                raise BackupError(f"The restore needs {needed:,} bytes; {target.parent} has less free.")
            _extract(tar, members, manifest, staging, progress)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BackupError(f"{archive} is damaged: {exc}.") from exc
        database = _restored_path(staging, manifest.database, manifest)
        try:
            images, notes = _verify_restored(database, staging, manifest)
        except (sqlite3.Error, sa.exc.SQLAlchemyError) as exc:
            raise BackupError(f"The restored database cannot be read ({_first_line(exc)}).") from exc
        put_aside = _move_into_place(staging, target, occupied)
    return RestoreReport(target, target / database.name, manifest, len(members), needed, images, put_aside, notes)
