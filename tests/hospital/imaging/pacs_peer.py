"""The PACS under test on a free port in this process, and dcmtk's command-line tools as the outside client."""

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from smartcare.hospital.imaging.dicom import PacsService, PacsSettings
from smartcare.hospital.imaging.storage import FileStore
from tests.support import IN_CI


def need_dcmtk(tool: str) -> str:
    """The path of a dcmtk tool, or skip (fail under CI) when Debian's dcmtk is not installed."""
    path = shutil.which(tool)
    if path is None:
        message = f"dcmtk's {tool} is missing: apt-get install dcmtk"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def start_pacs(engine, root: Path | None, *, store=None, **settings) -> PacsService:
    """A running DICOM service on a free port storing under root (or in the store given); its address in .address.
    Stop it after."""
    service = PacsService(PacsSettings(port=0, **settings), engine=engine, store=store or FileStore(root))
    service.address = service.start()
    return service


def dcmtk(tool: str, pacs: PacsService, *args: str, files: Iterable[str] = (),
          calling: str = "MODALITY") -> subprocess.CompletedProcess:
    """Run a dcmtk tool (options, then files to send) against the PACS; its completed process."""
    host, port = pacs.address
    return subprocess.run([need_dcmtk(tool), "-aet", calling, "-aec", "SMARTCARE", *args, host, str(port), *files],
                          capture_output=True, text=True, timeout=60, check=False)


def findscu(pacs: PacsService, out: Path, *keys: str, model: str = "-S") -> list[Dataset]:
    """The answers of a C-FIND by findscu with the given -k keys, read back from its extracted files."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("rsp*.dcm"):
        old.unlink()
    args = [model, "-X", "-od", str(out)]
    for key in keys:
        args += ["-k", key]
    done = dcmtk("findscu", pacs, *args)
    assert done.returncode == 0, done.stderr
    return [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]
