"""Where DICOM instances are kept: an instance store interface and its filesystem implementation.

Files lie under <data dir>/dicom/<study UID>/<series UID>/<SOP instance UID>.dcm, exactly as received (no
transcoding). UIDs come from the network, so each is checked against the DICOM UID grammar (PS3.5 9.1: digits
and dots, no empty or zero-led components, at most 64 characters) before it becomes a path part: "../../etc"
or "1.2/../../x" never reaches the filesystem. A write is durable before it is acknowledged: the file and its
directory are fsynced. A crash can leave a partial file only where no index row points, so it is never read
and a resend replaces it.

The write happens in two steps so the archive can overlap it with indexing: stage(data, key) starts writing the
key's file in a background thread (write() and fsync() let other Python threads run): created exclusively and
fsynced with its directory when there is no file of that name yet, else as a temporary file under
<root>/.incoming. place(staged, key) waits for it (and renames a temporary file over the old one);
discard(staged) removes what was written when the instance is refused after all (a duplicate, a failed index).
A file of the key's own name was created by this write alone, so removing it never removes an instance stored
before. object_store.S3Store implements the same interface on an S3-compatible object store (production);
default_store() picks it when SMARTCARE_DICOM_STORE names a bucket.
"""

import os
import re
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

UID_PATTERN = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
MAX_UID_LENGTH = 64


class InvalidUid(ValueError):
    """A value that is not a DICOM UID (and so never becomes part of a storage key)."""


def is_uid(value: object) -> bool:
    """True when value is a well-formed DICOM UID."""
    return isinstance(value, str) and 0 < len(value) <= MAX_UID_LENGTH and UID_PATTERN.fullmatch(value) is not None


def checked_uid(value: object, name: str) -> str:
    """value when it is a well-formed DICOM UID; InvalidUid naming the attribute otherwise."""
    if not is_uid(value):
        shown = repr(value)[:80] if value else "empty"
        raise InvalidUid(f"{name} is not a valid DICOM UID ({shown})")
    return str(value)


def storage_key(study_uid: str, series_uid: str, instance_uid: str) -> str:
    """The key of an instance: study/series/instance.dcm, each part a checked UID."""
    return "/".join((checked_uid(study_uid, "Study Instance UID"), checked_uid(series_uid, "Series Instance UID"),
                     checked_uid(instance_uid, "SOP Instance UID") + ".dcm"))


def checked_key(key: str) -> str:
    """key when it is study/series/instance.dcm of valid UIDs (so it names no other place); InvalidUid otherwise."""
    parts = key.split("/")
    if len(parts) != 3 or not parts[2].endswith(".dcm"):
        raise InvalidUid(f"{key[:200]!r} is not an instance key")
    return storage_key(parts[0], parts[1], parts[2][:-4])


class InstanceStore(Protocol):
    """Somewhere instance files are written, read and removed by key."""

    def put(self, key: str, data: bytes) -> None:
        """Write data under key durably (replacing what was there); returns once it survives a crash."""

    def stage(self, data: bytes, key: str) -> Any:
        """Start writing data for key durably; a handle for place() or discard()."""

    def place(self, staged: Any, key: str) -> None:
        """Wait for the staged write and put it under key (replacing what was there), durably."""

    def discard(self, staged: Any) -> None:
        """Drop a staged write that will not be placed."""

    def get(self, key: str) -> bytes:
        """The bytes under key; FileNotFoundError when there are none."""

    def delete(self, key: str) -> None:
        """Remove what is under key (nothing happens when there is nothing)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> Path:
    try:
        with open(path, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True, slots=True)
class Staged:
    """A staged write: the file written, and whether it is the key's own file (direct) or a temporary one."""

    path: Path
    direct: bool


def _stage(target: Path, temporary: Path, data: bytes) -> Staged:
    made = [d for d in (target.parent.parent, target.parent) if not d.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    for directory in made:
        _fsync_dir(directory.parent)
    try:
        _write_durably(target, data)
    except FileExistsError:
        # Stored already (or a file a crash left before its index row): the caller decides after indexing.
        return Staged(_write_durably(temporary, data), direct=False)
    _fsync_dir(target.parent)  # the new name is durable too
    return Staged(target, direct=True)


# Shared by every FileStore of the process: a few writes at a time is what one disk wants.
_writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dicom-writer")


class FileStore:
    """Instances as files in a directory tree; keys are checked again here, so no key escapes the root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._incoming: Path | None = None

    def path(self, key: str) -> Path:
        """The file of key; InvalidUid when key is not study/series/instance.dcm of valid UIDs."""
        return self.root.joinpath(*checked_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        """Write data under key durably (see stage and place)."""
        self.place(self.stage(data, key), key)

    def stage(self, data: bytes, key: str) -> "Future[Staged]":
        """Start writing data for key in a background thread: straight to its file when there is none yet (created
        exclusively, fsynced with its directory), else to a temporary file that place() renames over it."""
        target = self.path(key)
        if self._incoming is None:
            incoming = self.root / ".incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            self._incoming = incoming
        return _writers.submit(_stage, target, self._incoming / f"{secrets.token_hex(8)}.tmp", data)

    def place(self, staged: "Future[Staged]", key: str) -> None:
        """Wait for the staged write; a temporary file is renamed to key's file and the directory fsynced."""
        written = staged.result()
        if written.direct:
            return
        target = self.path(key)
        try:
            os.replace(written.path, target)
        except BaseException:
            written.path.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def discard(self, staged: "Future[Staged]") -> None:
        """Remove what the staged write made, once it is over (whether it succeeded or not)."""
        try:
            written = staged.result()
        except OSError:
            return
        written.path.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        """The bytes of the file under key."""
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Remove the file under key, if any."""
        self.path(key).unlink(missing_ok=True)


def default_store() -> InstanceStore:
    """The configured store: the bucket SMARTCARE_DICOM_STORE names, else (the embedded default) files under the
    data directory's dicom folder."""
    from smartcare.platform.settings import get_settings

    settings = get_settings()
    if settings.dicom_store:
        return _object_store(settings.dicom_store, settings.s3_access_key_id, settings.s3_secret_access_key,
                             settings.s3_region)
    return FileStore(Path(settings.data_dir) / "dicom")


@lru_cache(maxsize=4)
def _object_store(url: str, access_key: str, secret_key: str, region: str) -> InstanceStore:
    """One S3Store (and its pool of connections) per configured bucket and credentials."""
    from smartcare.hospital.imaging.object_store import S3Store

    return S3Store.from_url(url, access_key=access_key, secret_key=secret_key, region=region)
