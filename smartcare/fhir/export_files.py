"""The NDJSON files of Bulk Data export jobs on disk: where they live, how they are written and found."""

import re
import shutil
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from smartcare.platform.settings import get_settings

# Job ids are server-made uuid4 hex strings; anything else is refused before it touches a path.
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_RES_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")


def exports_root() -> Path:
    """The folder that holds one sub-folder per export job."""
    return (get_settings().data_dir / "exports").resolve()


def is_job_id(value: str) -> bool:
    """True if value has the shape of a job id this server hands out."""
    return _JOB_ID.fullmatch(value) is not None


def job_dir(job_id: str) -> Path:
    """The folder of one job's files; ValueError unless job_id is shaped like one of ours."""
    if not is_job_id(job_id):
        raise ValueError(f"'{job_id[:40]}' is not an export job id")
    return exports_root() / job_id


def type_file(job_id: str, res_type: str) -> Path:
    """The NDJSON file of one resource type in a job; ValueError for anything but a plain type name."""
    if _RES_TYPE.fullmatch(res_type) is None:
        raise ValueError(f"'{res_type[:40]}' is not a resource type name")
    folder = job_dir(job_id)
    path = (folder / f"{res_type}.ndjson").resolve()
    # Both parts are checked above; this guards against a symlinked folder pointing elsewhere.
    if path.parent != folder.resolve() or not path.is_relative_to(exports_root()):
        raise ValueError(f"{res_type}.ndjson is not inside the job's folder")
    return path


def remove_job_files(job_id: str) -> None:
    """Delete a job's folder and everything in it (nothing happens if it is already gone)."""
    shutil.rmtree(job_dir(job_id), ignore_errors=True)


class NdjsonWriter:
    """Writes resources to one `<Type>.ndjson` file per type in a job's folder, opening files on first use."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.counts: dict[str, int] = {}
        self._files: dict[str, IO[bytes]] = {}
        job_dir(job_id).mkdir(parents=True, exist_ok=True)

    def write(self, res_type: str, resource: dict[str, Any]) -> None:
        """Append one resource as one line of its type's file."""
        out = self._files.get(res_type)
        if out is None:
            out = self._files[res_type] = type_file(self.job_id, res_type).open("wb")
            self.counts[res_type] = 0
        out.write(orjson.dumps(resource) + b"\n")
        self.counts[res_type] += 1

    def finish(self, res_type: str) -> None:
        """Flush and close the file of a type once all its resources are written."""
        out = self._files.pop(res_type, None)
        if out is not None:
            out.close()

    def close(self) -> None:
        """Close every file still open."""
        for res_type in list(self._files):
            self.finish(res_type)

    def __enter__(self) -> "NdjsonWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
