"""An archive for the DICOMweb tests: Mrs Wang's and Mr Zhao's studies, one unmatched study, callers' tokens."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smartcare.hospital.imaging import service
from smartcare.platform.settings import get_settings
from tests.hospital.imaging.dicom_samples import ct_slice, uid
from tests.hospital.imaging.imaging_record import write_patients_and_order

BOUNDARY = "smartcare-test-boundary"
WANG = dict(scope="patient/*.rs", kind="user", name="wang.fang", roles={"patient"}, patient="Patient/p-wang",
            fhir_user="Patient/p-wang")
ZHAO = dict(scope="patient/*.rs", kind="user", name="zhao.lei", roles={"patient"}, patient="Patient/p-zhao",
            fhir_user="Patient/p-zhao")


@dataclass
class Archive:
    """The UIDs of what was stored."""

    wang_study: str
    wang_series: str
    wang_instances: list[str]
    zhao_study: str
    unmatched_study: str


@contextmanager
def data_dir(path: Path) -> Iterator[None]:
    """Instance files under path for the duration (the archive's default store follows the data directory)."""
    settings = get_settings()
    before = settings.data_dir
    settings.data_dir = path
    try:
        yield
    finally:
        settings.data_dir = before


def fill_archive() -> Archive:
    """Wang's CT study (two slices, order CT0001), Zhao's CT study, and one whose patient nobody matches."""
    write_patients_and_order()
    wang_study, wang_series, zhao_study, unmatched = uid(), uid(), uid(), uid()
    wang_instances = []
    for number in (1, 2):
        ds = ct_slice(patient_id="P-1", study_uid=wang_study, series_uid=wang_series, number=number,
                      accession="CT0001", WindowCenter=300, WindowWidth=200)
        wang_instances.append(ds.SOPInstanceUID)
        assert service.store_instance(ds, calling_ae="CT1").status == service.SUCCESS
    for patient_id, name, study, date in (("P-2", "Zhao^Lei", zhao_study, "20260115"),
                                          ("P-9", "Nobody^Known", unmatched, "20260301")):
        ds = ct_slice(patient_id=patient_id, patient_name=name, study_uid=study, study_date=date, modality="MR")
        assert service.store_instance(ds, calling_ae="MR1").status == service.SUCCESS
    return Archive(wang_study, wang_series, wang_instances, zhao_study, unmatched)


def multipart(parts: Iterable[bytes], content_type: str = "application/dicom") -> bytes:
    """A multipart/related body of the parts."""
    body = b"".join(f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\n\r\n".encode() + p + b"\r\n" for p in parts)
    return body + f"--{BOUNDARY}--\r\n".encode()


STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def split_multipart(content_type: str, body: bytes) -> list[bytes]:
    """The contents of the parts of a multipart response."""
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"')
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())[1:]
    return [c.partition(b"\r\n\r\n")[2] for c in chunks if not c.startswith(b"--")]

