"""`smartcare backup` copies the embedded store and its files into one archive that `smartcare restore` checks,
puts in place and verifies; tampered archives and unsafe targets are refused with one clear line."""

import hashlib
import io
import json
import sqlite3
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.hospital.imaging.models import imaging_instance, imaging_series, imaging_study
from smartcare.platform import migrate
from smartcare.platform.audit import service as audit
from smartcare.platform.db import make_engine, unit_of_work, use_engine
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.settings import get_settings

runner = CliRunner()
FHIR_JSON = {"Content-Type": "application/fhir+json"}
STUDY, SERIES, INSTANCE = "1.2.826.0.1.3680043.9.7", "1.2.826.0.1.3680043.9.7.1", "1.2.826.0.1.3680043.9.7.1.1"
IMAGE_KEY = f"{STUDY}/{SERIES}/{INSTANCE}.dcm"
IMAGE_BYTES = b"\0" * 128 + b"DICM" + bytes(range(256)) * 4


@dataclass
class Site:
    """A data directory with its live SQLite database, and the archive `smartcare backup` made of it."""

    data_dir: Path
    archive: Path
    resources: dict[str, int]
    audit_entries: int
    backup_output: str


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _use_site(monkeypatch: pytest.MonkeyPatch, data_dir: Path, database_url: str | None = None) -> None:
    monkeypatch.setenv("SMARTCARE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SMARTCARE_DATABASE_URL", database_url or f"sqlite:///{data_dir / 'smartcare.db'}")
    get_settings.cache_clear()


def _dummy_row(table: sa.Table, **values: object) -> dict:
    row = {}
    for column in table.columns:
        if column.primary_key or column.nullable or column.name in values:
            continue
        row[column.name] = 0 if isinstance(column.type, sa.Integer) else ""
    return {**row, **values}


def _add_image(engine: sa.Engine, data_dir: Path) -> None:
    """One DICOM-like file in the instance store and the index rows that point at it."""
    path = data_dir / "dicom" / STUDY / SERIES / f"{INSTANCE}.dcm"
    path.parent.mkdir(parents=True)
    path.write_bytes(IMAGE_BYTES)
    with engine.begin() as conn:
        study = conn.execute(imaging_study.insert().values(_dummy_row(imaging_study, study_uid=STUDY))).inserted_primary_key[0]
        series = conn.execute(imaging_series.insert().values(
            _dummy_row(imaging_series, study=study, series_uid=SERIES))).inserted_primary_key[0]
        conn.execute(imaging_instance.insert().values(_dummy_row(
            imaging_instance, series=series, sop_instance_uid=INSTANCE, storage_key=IMAGE_KEY,
            size=len(IMAGE_BYTES), digest=hashlib.sha256(IMAGE_BYTES).hexdigest())))


def _populate(data_dir: Path) -> sa.Engine:
    """A migrated store with patients, observations and their audit entries (written through the FHIR gateway, as
    the REST API writes them), an indexed image file, a key file and a half-written upload."""
    from smartcare.fhir import gateway
    from smartcare.fhir.http import FhirRequest

    backend = AccessContext(kind="client", name="lab feed", roles=frozenset({"system"}),
                            scopes=parse_scopes("system/*.cruds"))

    engine = make_engine(f"sqlite:///{data_dir / 'smartcare.db'}")
    migrate.upgrade(engine)
    use_engine(engine)
    for family in ("Li", "Wang"):
        patient = gateway.serve(backend, FhirRequest("POST", "Patient", body={
            "resourceType": "Patient", "name": [{"family": family}]}))
        assert patient.status == 201
        for value in (72, 80, 91):
            observation = {
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{patient.body['id']}"},
                "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org",
                                  "code": "/min"},
            }
            assert gateway.serve(backend, FhirRequest("POST", "Observation", body=observation)).status == 201
    assert len(gateway.search(backend, "Observation")) == 6
    with unit_of_work(engine) as conn:
        audit.record(conn, ctx=SYSTEM, action="R", subtype="search", entities=["Observation?code=8867-4"])
    _add_image(engine, data_dir)
    (data_dir / "keys").mkdir()
    (data_dir / "keys" / "field-encryption.key").write_text("ab" * 32)
    (data_dir / "dicom" / ".incoming").mkdir()
    (data_dir / "dicom" / ".incoming" / "half-written.tmp").write_bytes(b"partial")
    return engine


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("site")
    engine = _populate(data_dir)
    archive = tmp_path_factory.mktemp("archives") / "site.tar.gz"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use_site(monkeypatch, data_dir)
        try:
            # The server's connection stays open, as it would while the server runs (the -wal is live).
            with engine.connect():
                result = runner.invoke(app, ["backup", "--to", str(archive)])
        finally:
            use_engine(None)
            get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(data_dir / "smartcare.db") as conn:
        resources = dict(conn.execute("SELECT res_type, COUNT(*) FROM fhir_resource GROUP BY res_type").fetchall())
        entries = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        waiting = conn.execute("SELECT COUNT(*) FROM audit_journal").fetchone()[0]
    engine.dispose()
    yield Site(data_dir, archive, resources, entries + waiting, result.output)


def _restore(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["restore", *args])
    return result.exit_code, result.output


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        return json.loads(tar.extractfile("manifest.json").read())


def test_backup_lists_every_kept_file_with_its_hash_and_what_the_database_held(site: Site) -> None:
    manifest = _manifest(site.archive)
    files = {f["path"]: f for f in manifest["files"]}
    assert manifest["format"] == 1 and manifest["schema_revision"]
    assert manifest["resources"] == {"Observation": 6, "Patient": 2}
    assert manifest["audit"]["entries"] == site.audit_entries >= 10  # the backup itself is audited too
    assert set(files) == {"database/smartcare.db", f"data/dicom/{IMAGE_KEY}", "data/keys/field-encryption.key"}
    assert files[f"data/dicom/{IMAGE_KEY}"]["sha256"] == hashlib.sha256(IMAGE_BYTES).hexdigest()
    assert "Backed up 3 files" in site.backup_output and "keep it as safe" in site.backup_output
    assert site.archive.stat().st_mode & 0o077 == 0


def test_restore_into_a_fresh_directory_gives_the_same_records_chain_and_files(site: Site, tmp_path: Path) -> None:
    target = tmp_path / "restored"
    code, output = _restore(str(site.archive), "--data-dir", str(target))
    assert code == 0, output
    assert "Restored 3 files" in output and "audit trail intact" in output and "image files checked: 1" in output
    assert (target / "dicom" / STUDY / SERIES / f"{INSTANCE}.dcm").read_bytes() == IMAGE_BYTES
    assert (target / "keys" / "field-encryption.key").read_text() == "ab" * 32
    assert not (target / "dicom" / ".incoming").exists()
    engine = make_engine(f"sqlite:///{target / 'smartcare.db'}")
    try:
        with engine.begin() as conn:
            counts = dict(conn.execute(sa.text("SELECT res_type, COUNT(*) FROM fhir_resource GROUP BY res_type")).all())
            report = audit.verify(conn)
    finally:
        engine.dispose()
    assert counts == site.resources
    assert report.ok and report.checked == site.audit_entries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restored"]  # no staging directory left behind


def _rewrite(source: Path, target: Path, *, drop: set[str] = frozenset(), replace: dict[str, bytes] | None = None,
             extra: list[tarfile.TarInfo] = ()) -> Path:
    """A copy of the archive with members dropped, their bytes replaced (same manifest) or hostile members added."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            if member.name in drop:
                continue
            data = (replace or {}).get(member.name, old.extractfile(member).read())
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
        for member in extra:
            new.addfile(member, io.BytesIO(b"x" * member.size) if member.isreg() else None)
    return target


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, 1 if kind == tarfile.REGTYPE else 0
    return info


TAMPERED = {
    "changed file": ({"replace": {f"data/dicom/{IMAGE_KEY}": IMAGE_BYTES[:-1] + b"!"}}, "does not match its SHA-256"),
    "path traversal": ({"extra": [_member("../x")]}, "is not a safe relative path"),
    "absolute path": ({"extra": [_member("/tmp/x")]}, "is not a safe relative path"),
    "symlink": ({"extra": [_member("data/link", tarfile.SYMTYPE, "/etc/passwd")]}, "is a symbolic link"),
    "hard link": ({"extra": [_member("data/hard", tarfile.LNKTYPE, "manifest.json")]}, "is a hard link"),
    "device": ({"extra": [_member("data/dev", tarfile.CHRTYPE)]}, "is a device"),
    "file named like a folder": ({"extra": [_member("data")]}, "is not part of a SmartCare backup"),
    "missing manifest": ({"drop": {"manifest.json"}}, "has no manifest.json"),
    "file not in manifest": ({"extra": [_member("data/extra.bin")]}, "which its manifest does not list"),
    "file missing": ({"drop": {"data/keys/field-encryption.key"}}, "which its manifest lists"),
}


@pytest.mark.parametrize("tampering", TAMPERED, ids=list(TAMPERED))
def test_a_tampered_archive_is_refused_with_one_line_and_nothing_written(site: Site, tmp_path: Path,
                                                                          tampering: str) -> None:
    changes, message = TAMPERED[tampering]
    work = tmp_path / "work"
    work.mkdir()
    archive = _rewrite(site.archive, tmp_path / "tampered.tar.gz", **changes)
    code, output = _restore(str(archive), "--data-dir", str(work / "restored"))
    assert code == 2
    assert output.strip().startswith("Restore failed:") and message in output
    assert len(output.strip().splitlines()) == 1
    assert list(work.iterdir()) == []  # neither the target, nor a staging directory, nor ../x
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tampered.tar.gz", "work"]


def test_an_archive_of_an_unknown_format_or_not_an_archive_is_refused(site: Site, tmp_path: Path) -> None:
    manifest = _manifest(site.archive)
    future = _rewrite(site.archive, tmp_path / "future.tar.gz",
                      replace={"manifest.json": json.dumps({**manifest, "format": 9}).encode()})
    code, output = _restore(str(future), "--data-dir", str(tmp_path / "a"))
    assert code == 2 and "format 9 is not one this SmartCare" in output
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    code, output = _restore(str(junk), "--data-dir", str(tmp_path / "b"))
    assert code == 2 and "is not a readable .tar.gz archive" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["future.tar.gz", "junk.tar.gz"]


def test_a_rewritten_audit_trail_is_caught_even_with_a_matching_manifest(site: Site, tmp_path: Path) -> None:
    with tarfile.open(site.archive, "r:gz") as tar:
        database = tmp_path / "copy.db"
        database.write_bytes(tar.extractfile("database/smartcare.db").read())
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET agent = 'user/nobody' WHERE seq = 2")
    conn.close()
    code, output = _restore(str(_forged(site, tmp_path, database.read_bytes())),
                            "--data-dir", str(tmp_path / "restored"))
    assert code == 2 and "The restored audit trail is broken: entry 2 was altered" in output
    assert not (tmp_path / "restored").exists()


def _forged(site: Site, tmp_path: Path, database: bytes) -> Path:
    """The archive with its database replaced and the manifest's size and hash made to match."""
    manifest = _manifest(site.archive)
    for entry in manifest["files"]:
        if entry["path"] == "database/smartcare.db":
            entry.update(size=len(database), sha256=hashlib.sha256(database).hexdigest())
    return _rewrite(site.archive, tmp_path / "forged.tar.gz", replace={
        "database/smartcare.db": database, "manifest.json": json.dumps(manifest).encode()})


def test_a_database_that_is_not_one_is_refused_even_with_a_matching_manifest(site: Site, tmp_path: Path) -> None:
    code, output = _restore(str(_forged(site, tmp_path, b"SQLite format 3\0" + b"\xff" * 4000)),
                            "--data-dir", str(tmp_path / "restored"))
    assert code == 2 and output.strip().startswith("Restore failed: The restored database")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forged.tar.gz"]


def test_restore_into_a_non_empty_directory_needs_force_and_moves_the_old_contents_aside(site: Site,
                                                                                        tmp_path: Path) -> None:
    target = tmp_path / "var"
    target.mkdir()
    (target / "notes.txt").write_text("kept")
    code, output = _restore(str(site.archive), "--data-dir", str(target))
    assert code == 2 and "is not empty" in output and "--force" in output
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    code, output = _restore(str(site.archive), "--data-dir", str(target), "--force")
    assert code == 0, output
    assert (target / "smartcare.db").is_file() and not (target / "notes.txt").exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("var.before-restore-")]
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "kept"


def test_restore_into_an_empty_directory_needs_no_force(site: Site, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = _restore(str(site.archive), "--data-dir", str(tmp_path / "empty"))
    assert code == 0, output
    assert (tmp_path / "empty" / "smartcare.db").is_file()


def test_backup_on_postgresql_points_to_the_guide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _use_site(monkeypatch, tmp_path, "postgresql://postgres@127.0.0.1:5432/test")
    result = runner.invoke(app, ["backup", "--to", str(tmp_path / "b.tar.gz")])
    assert result.exit_code == 2
    assert "pg_dump" in result.output and "deploy/backup.md" in result.output
    assert not (tmp_path / "b.tar.gz").exists()


def test_backup_refuses_to_overwrite_an_existing_archive(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_site(monkeypatch, site.data_dir)
    result = runner.invoke(app, ["backup", "--to", str(site.archive)])
    assert result.exit_code == 2 and "already exists" in result.output
