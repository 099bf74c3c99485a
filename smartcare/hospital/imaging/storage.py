"""Where DICOM instances are kept: an instance store interface and its filesystem implementation.

Files lie under <data dir>/dicom/<study UID>/<series UID>/<SOP instance UID>.dcm, exactly as received (no
transcoding). UIDs come from the network, so each is checked against the DICOM UID grammar (PS3.5 9.1: digits
and dots, no empty or zero-led components, at most 64 characters) before it becomes a path part: "../../etc"
or "1.2/../../x" never reaches the filesystem. A write is atomic and durable: a temporary file is written and
fsynced, renamed over the name, and the directory fsynced, so a crash leaves either the whole file or none.

The write happens in two steps so the archive can overlap it with indexing: stage(data) starts writing and
fsyncing a temporary file under <root>/.incoming in a background thread (write() and fsync() let other Python
threads run), and place(staged, key) waits for it and renames it to its key; discard(staged) drops it when the
instance is refused after all. An S3-compatible object store implements the same interface in production.
"""

import os
import re
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
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


class InstanceStore(Protocol):
    """Somewhere instance files are written, read and removed by key."""

    def put(self, key: str, data: bytes) -> None:
        """Write data under key durably (replacing what was there); returns once it survives a crash."""

    def stage(self, data: bytes) -> Any:
        """Start writing data durably somewhere temporary; a handle for place() or discard()."""

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
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


# Shared by every FileStore of the process: a few writes at a time is what one disk wants.
_writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dicom-writer")


class FileStore:
    """Instances as files in a directory tree; keys are checked again here, so no key escapes the root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._incoming: Path | None = None

    def path(self, key: str) -> Path:
        """The file of key; InvalidUid when key is not study/series/instance.dcm of valid UIDs."""
        parts = key.split("/")
        if len(parts) != 3 or not parts[2].endswith(".dcm"):
            raise InvalidUid(f"{key[:200]!r} is not an instance key")
        return self.root.joinpath(*storage_key(parts[0], parts[1], parts[2][:-4]).split("/"))

    def put(self, key: str, data: bytes) -> None:
        """Write data under key: temporary file, fsync, rename, fsync of the directories created or changed."""
        self.place(self.stage(data), key)

    def stage(self, data: bytes) -> "Future[Path]":
        """Start writing data to a new temporary file and fsyncing it, in a background thread."""
        if self._incoming is None:
            incoming = self.root / ".incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            self._incoming = incoming
        return _writers.submit(_write_durably, self._incoming / f"{secrets.token_hex(8)}.tmp", data)

    def place(self, staged: "Future[Path]", key: str) -> None:
        """Wait for the staged file, rename it to key's name, fsync the directories created or changed."""
        target = self.path(key)
        temporary = staged.result()
        try:
            made = [d for d in (target.parent.parent, target.parent) if not d.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        for directory in made:
            _fsync_dir(directory.parent)

    def discard(self, staged: "Future[Path]") -> None:
        """Remove the staged file once its write is over (whether it succeeded or not)."""
        try:
            temporary = staged.result()
        except OSError:
            return
        temporary.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        """The bytes of the file under key."""
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Remove the file under key, if any."""
        self.path(key).unlink(missing_ok=True)


def default_store() -> FileStore:
    """The embedded default: files under the configured data directory's dicom folder."""
    from smartcare.platform.settings import get_settings

    return FileStore(Path(get_settings().data_dir) / "dicom")
