"""Synthetic DICOM studies: valid Part 10 files that pydicom and dcmtk read, deterministic, and never mistaken for
patient data."""

import shutil
import subprocess
from datetime import date, datetime

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut
from pydicom.uid import UID, ExplicitVRLittleEndian

from smartcare.hospital.imaging.synthetic import (
    CR_IMAGE_STORAGE,
    CT_IMAGE_STORAGE,
    DX_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    SMARTCARE_UID_ROOT,
    SYNTHETIC_NOTE,
    SyntheticPatient,
    SyntheticStudy,
    SyntheticStudyError,
    build_study,
    study_instance_uid,
    write_instances,
    write_study,
)
from tests.support import IN_CI

WANG = SyntheticPatient("P-0001", "Wang^Xiaoming", "王^小明", birth_date=date(1980, 5, 6), sex="M")
SMITH = SyntheticPatient("P-0002", "Smith^Anna", birth_date=date(1975, 11, 30), sex="F")
SOP_CLASSES = {"CT": CT_IMAGE_STORAGE, "CR": CR_IMAGE_STORAGE, "DX": DX_IMAGE_STORAGE, "MR": MR_IMAGE_STORAGE}


def small(modality: str, patient: SyntheticPatient = SMITH, **kwargs) -> SyntheticStudy:
    """A quick study of the modality: few slices, small images."""
    sizes = {"slices": 4} if modality in ("CT", "MR") else {}
    values = {"accession_number": "ACC1001", "description": "Synthetic exam", "size": 64, "seed": 7,
              "performed": datetime(2026, 3, 2, 14, 5, 9), "referring_physician": "Zhou^Lin"} | sizes | kwargs
    return SyntheticStudy(patient=patient, modality=modality, **values)


def dcmdump() -> str:
    """dcmtk's dcmdump, or skip (fail under CI) where dcmtk is not installed."""
    path = shutil.which("dcmdump")
    if path is None:
        message = "dcmdump is missing: install Debian's dcmtk package"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_ct_study_round_trips_through_pydicom_with_its_modules_and_hounsfield_pixels(tmp_path):
    paths = write_study(small("CT", WANG, slices=3, size=128), tmp_path)
    read = [dcmread(p) for p in paths]

    assert len(read) == 3
    first = read[0]
    assert first.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert first.SOPClassUID == CT_IMAGE_STORAGE
    assert (first.PatientID, first.PatientSex, first.PatientBirthDate, first.PatientAge) == (
        "P-0001", "M", "19800506", "045Y")
    assert (first.StudyDate, first.StudyTime, first.AccessionNumber) == ("20260302", "140509", "ACC1001")
    assert first.StudyDescription == "Synthetic exam"
    assert str(first.ReferringPhysicianName) == "Zhou^Lin"
    assert first.Modality == "CT" and first.SeriesNumber == 1
    assert len({ds.StudyInstanceUID for ds in read}) == len({ds.SeriesInstanceUID for ds in read}) == 1
    assert [float(v) for v in first.PixelSpacing] == pytest.approx([350 / 128] * 2, rel=1e-4)
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert (first.RescaleSlope, first.RescaleIntercept, first.RescaleType) == (1, -1024, "HU")
    assert list(first.WindowCenter) == [40, -600] and list(first.WindowWidth) == [400, 1500]

    pixels = first.pixel_array
    assert pixels.shape == (128, 128) and pixels.dtype == np.uint16
    assert pixels.max() < 4096
    hu = apply_modality_lut(read[1].pixel_array, read[1])
    assert hu[2, 2] == pytest.approx(-1000, abs=60)  # air outside the body
    assert hu[64, 64] == pytest.approx(45, abs=60)  # heart in the middle
    assert hu[64, 40] < -700  # the right lung
    assert hu[84:100, 56:72].max() > 600  # the cortex of a vertebral body behind


def test_slices_step_down_the_body_by_their_thickness():
    ct = build_study(small("CT", slices=5))
    assert [ds.InstanceNumber for ds in ct] == [1, 2, 3, 4, 5]
    z = [float(ds.ImagePositionPatient[2]) for ds in ct]
    assert np.diff(z) == pytest.approx([-float(ct[0].SliceThickness)] * 4)
    assert [float(ds.SliceLocation) for ds in ct] == z

    long = build_study(small("CT", slices=120, size=16))
    assert float(long[0].SliceThickness) == 1.25
    assert float(long[1].ImagePositionPatient[2]) - float(long[0].ImagePositionPatient[2]) == -1.25


@pytest.mark.parametrize("modality", ["CT", "CR", "DX", "MR"])
def test_each_modality_has_its_sop_class_window_and_says_it_is_synthetic(tmp_path, modality):
    paths = write_study(small(modality, size=None, slices=None), tmp_path)
    ds = dcmread(paths[0])

    assert len(paths) == {"CT": 24, "MR": 8, "CR": 1, "DX": 1}[modality]
    assert ds.SOPClassUID == SOP_CLASSES[modality] and ds.Modality == modality
    assert ds.ImageComments == SYNTHETIC_NOTE
    assert ds.BurnedInAnnotation == "NO" and ds.Manufacturer == "SmartCare"
    assert (ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation) == (16, 12, 0)
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.pixel_array.shape == ((512, 512) if modality in ("CR", "DX") else (256, 256))
    assert ds.pixel_array.dtype == np.uint16
    assert ds.WindowWidth  # a viewer has a window to open it with


def test_chest_radiograph_shows_dark_lungs_beside_a_bright_mediastinum():
    pixels = build_study(small("CR", size=256))[0].pixel_array.astype(float)
    right_lung = pixels[110:140, 70:90].mean()
    mediastinum = pixels[110:140, 120:136].mean()
    assert mediastinum > right_lung + 500
    assert pixels.max() <= 4095


def test_mr_head_has_bright_fluid_in_the_ventricles():
    ds = build_study(small("MR", slices=3, size=128))[1]
    pixels = ds.pixel_array.astype(float)
    ventricle, white_matter = pixels[58:66, 67:73].mean(), pixels[80:86, 84:90].mean()
    assert ventricle > white_matter + 600
    assert (ds.ScanningSequence, ds.MRAcquisitionType, float(ds.EchoTime)) == ("SE", "2D", 100)


@pytest.mark.parametrize("modality", ["CT", "CR", "DX", "MR"])
def test_dcmtk_dcmdump_reads_the_written_file_without_errors_or_warnings(tmp_path, modality):
    path = write_study(small(modality, WANG, description="胸部CT平扫"), tmp_path)[0]
    done = subprocess.run([dcmdump(), "-ll", "warn", str(path)], capture_output=True, timeout=30)

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stderr == b""
    assert "Wang^Xiaoming=王^小明".encode() in done.stdout
    assert b"(7fe0,0010) OW" in done.stdout


def test_chinese_names_are_encoded_utf8_under_iso_ir_192(tmp_path):
    path = write_study(small("CR", WANG, referring_physician="Li^Hua=李^华"), tmp_path)[0]
    raw = path.read_bytes()
    ds = dcmread(path)

    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert "Wang^Xiaoming=王^小明".encode() in raw and "Li^Hua=李^华".encode() in raw
    assert ds.PatientName.family_name == "Wang" and ds.PatientName.ideographic == "王^小明"
    assert ds.ReferringPhysicianName.ideographic == "李^华"


def test_ascii_only_studies_keep_the_default_character_repertoire():
    ds = build_study(small("CR"))[0]
    assert "SpecificCharacterSet" not in ds


def test_uids_are_valid_unique_and_under_the_smartcare_root():
    studies = [small("CT"), small("MR"), small("CT", accession_number="ACC1002"), small("DX", WANG)]
    datasets = [ds for study in studies for ds in build_study(study)]
    instance_uids = [ds.SOPInstanceUID for ds in datasets]
    all_uids = instance_uids + [ds.SeriesInstanceUID for ds in datasets] + [ds.StudyInstanceUID for ds in datasets]

    for uid in all_uids:
        assert UID(uid).is_valid and len(uid) <= 64 and uid.startswith(SMARTCARE_UID_ROOT)
    assert len(set(instance_uids)) == len(datasets)
    assert len({ds.StudyInstanceUID for ds in datasets}) == len(studies)
    assert len({ds.SeriesInstanceUID for ds in datasets}) == len(studies)
    assert not set(instance_uids) & {ds.StudyInstanceUID for ds in datasets}
    assert datasets[0].StudyInstanceUID == study_instance_uid(studies[0])


def test_the_same_seed_gives_the_same_files_byte_for_byte_and_another_seed_does_not(tmp_path):
    first = write_study(small("CT", WANG), tmp_path / "a")
    again = write_study(small("CT", WANG), tmp_path / "b")
    other = write_study(small("CT", WANG, seed=8), tmp_path / "c")

    assert [p.name for p in first] == [p.name for p in again]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert not {p.name for p in first} & {p.name for p in other}
    assert dcmread(first[0]).PixelData != dcmread(other[0]).PixelData


def test_write_instances_spreads_the_count_over_studies_of_different_patients(tmp_path):
    paths = write_instances(tmp_path, 25, slices_per_study=10, size=32, seed=3)
    read = [dcmread(p, stop_before_pixels=True) for p in paths]

    assert len(paths) == 25 == len(list(tmp_path.glob("*.dcm")))
    per_study = {}
    for ds in read:
        per_study.setdefault((ds.StudyInstanceUID, ds.PatientID, ds.AccessionNumber), []).append(ds)
    assert sorted(len(v) for v in per_study.values()) == [5, 10, 10]
    assert len({key[1] for key in per_study}) == 3 and len({key[2] for key in per_study}) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"modality": "XA"}, "modality must be one of"),
        ({"modality": "CT", "slices": 0}, "slices must be between"),
        ({"modality": "CT", "slices": 1_000_000}, "slices must be between"),
        ({"modality": "MR", "size": 8}, "size must be between"),
        ({"modality": "MR", "size": 100_000}, "size must be between"),
        ({"modality": "CR", "slices": 3}, "a radiograph"),
        ({"modality": "CT", "slices": 5000, "size": 2048}, "too large"),
        ({"accession_number": "A" * 17}, "accession_number must be at most 16"),
        ({"description": "x" * 65}, "description must be at most 64"),
        ({"description": "CT\\chest"}, "description must be at most 64"),
        ({"institution": "Hospital\x00"}, "institution must be"),
        ({"patient": SyntheticPatient("P\\1", "A^B")}, "patient_id must be"),
        ({"patient": SyntheticPatient("  ", "A^B")}, "patient_id is required"),
        ({"patient": SyntheticPatient("P1", "A^B", sex="X")}, "sex must be"),
        ({"patient": SyntheticPatient("P1", "A=B")}, "may not contain '='"),
        ({"patient": SyntheticPatient("P1", "A^B", "王\n小明")}, "control characters"),
        ({"patient": SyntheticPatient("P1", "A" * 65)}, "at most 64 characters"),
        ({"patient": SyntheticPatient("P1", "A^B^C^D^E^F")}, "at most five components"),
        ({"referring_physician": "Li^Hua=李^华=リ=extra"}, "at most three component groups"),
    ],
)
def test_values_dicom_cannot_carry_are_refused_with_a_clear_message(changes, message):
    values = dict(changes)
    study = small(values.pop("modality", "CT"), **values)
    with pytest.raises(SyntheticStudyError, match=message):
        build_study(study)


def test_a_bad_name_is_refused_before_any_instance_is_made(tmp_path):
    with pytest.raises(SyntheticStudyError, match="may not contain"):
        write_study(small("CT", SyntheticPatient("P1", "A^B=C")), tmp_path)
    assert not list(tmp_path.iterdir())
