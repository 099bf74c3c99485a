"""Small DICOM datasets for the PACS tests: a CT slice with tiny pixel data, as bytes or as a file."""

from io import BytesIO
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROOT = "1.2.826.0.1.3680043.10.1338."


def uid() -> str:
    """A fresh UID under the tests' root."""
    return generate_uid(prefix=ROOT)


def ct_slice(*, patient_id: str = "P-1", patient_name: str = "Wang^Fang", study_uid: str | None = None,
             series_uid: str | None = None, sop_uid: str | None = None, number: int = 1, study_date: str = "20260302",
             accession: str = "", modality: str = "CT", sop_class: str = CTImageStorage,
             transfer_syntax: str = ExplicitVRLittleEndian, size: int = 16, **attributes) -> Dataset:
    """One CT image (size x size, 16 bit) of a patient, with the identifying attributes a modality sends."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or uid()
    ds.StudyInstanceUID = study_uid or uid()
    ds.SeriesInstanceUID = series_uid or uid()
    ds.PatientID, ds.PatientName = patient_id, patient_name
    ds.PatientBirthDate, ds.PatientSex = "19500304", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = study_date, "083000", accession
    ds.StudyDescription, ds.StudyID, ds.ReferringPhysicianName = "CT chest", "1", "Li^Wei"
    ds.Modality, ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = modality, 1, "Axial", number
    ds.BodyPartExamined = "CHEST"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes(range(256)) * (size * size * 2 // 256) + b"\0" * (size * size * 2 % 256)
    for name, value in attributes.items():
        setattr(ds, name, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def encoded(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file's bytes."""
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def write(ds: Dataset, path: Path) -> Path:
    """The dataset written as a Part 10 file at path."""
    path.write_bytes(encoded(ds))
    return path
