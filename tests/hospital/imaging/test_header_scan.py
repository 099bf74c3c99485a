"""The one-pass header scanner: the same facts as pydicom on pydicom's own test files, and ScanError (never another
exception) on every kind of broken input a modality or an attacker could send."""

import random
import struct
import warnings
import zlib
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from smartcare.hospital.imaging import header, service
from smartcare.hospital.imaging.header import ScanError
from smartcare.hospital.imaging.store_scp import part10
from tests.hospital.imaging.dicom_samples import ct_slice, encoded, uid

# The files pydicom installs with itself. pydicom.data.get_testdata_files("*") would also try to download the
# larger ones kept online, which a test must not do; these folders are what is present offline.
PYDICOM_DATA = Path(pydicom.data.__file__).parent
OFFLINE_FILES = sorted(p for folder in ("test_files", "charset_files", "palettes")
                       for p in (PYDICOM_DATA / folder).rglob("*") if p.is_file())


def _part10_files() -> list[Path]:
    """The offline files pydicom reads as Part 10 (a preamble and 'DICM'), whatever their content."""
    found = []
    for path in OFFLINE_FILES:
        with path.open("rb") as f:
            start = f.read(132)
        if start[128:132] == b"DICM":
            found.append(path)
    return found


PART10_FILES = _part10_files()
# Files pydicom reads that the archive refuses on purpose, with the reason it gives.
REFUSED = {
    "MR_truncated.dcm": "claims 8192 bytes where 8130 remain",  # pixel data cut short
    "rtplan_truncated.dcm": "truncated",
    "meta_missing_tsyntax.dcm": "no Transfer Syntax UID",
    # Implicit VR data under an explicit VR (JPEG Baseline) claim; pydicom guesses, the archive does not.
    "SC_rgb_jpeg.dcm": "not explicit VR as the transfer syntax says",
}
NUMBERS = {"SeriesNumber", "InstanceNumber", "NumberOfFrames", "Rows", "Columns", "SamplesPerPixel",
           "BitsAllocated"}
UIDS = {"SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"}
BINARY = {"PixelData", "FloatPixelData", "DoubleFloatPixelData", "EncapsulatedDocument"}


def _read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # several test files are deliberately odd, and pydicom says so
        ds = pydicom.dcmread(path)
        for element in ds:  # decode every value now, under the same silence
            element.value  # noqa: B018
        return ds


def _pydicom_text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value)


def _pydicom_number(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if isinstance(value, MultiValue):
        value = value[0] if value else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _label(path: Path) -> str:
    return str(path.relative_to(PYDICOM_DATA))


@pytest.mark.parametrize("path", PART10_FILES, ids=_label)
def test_scanner_reads_what_pydicom_reads_or_refuses_for_a_stated_reason(path):
    data = path.read_bytes()
    ds = _read(path)
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if syntax == ExplicitVRBigEndian:
        with pytest.raises(ScanError, match="Big Endian"):
            header.scan(data)
        return
    if path.name in REFUSED:
        with pytest.raises(ScanError, match=REFUSED[path.name]):
            header.scan(data)
        return
    head = header.scan(data)
    assert head.transfer_syntax == syntax
    for keyword, _vr in header.WANTED.values():
        if keyword in BINARY:
            continue
        if keyword in NUMBERS:
            assert head.number(keyword) == _pydicom_number(ds, keyword), keyword
        elif keyword in UIDS:
            assert head.uid(keyword) == _pydicom_text(ds, keyword), keyword
        else:
            assert head.text(keyword, 100_000) == _pydicom_text(ds, keyword), keyword
    if "PixelData" in ds:
        compressed = ds.file_meta.TransferSyntaxUID.is_compressed
        assert head.encapsulated == compressed
        if not compressed:
            assert head.pixel_length == len(ds.PixelData)
    else:
        assert not head.present("PixelData")


def _expected_facts(ds: Dataset) -> tuple[dict, dict]:
    text = _pydicom_text
    study = {"patient_id": text(ds, "PatientID")[:64], "patient_name": text(ds, "PatientName")[:324],
             "patient_birth_date": text(ds, "PatientBirthDate")[:8], "patient_sex": text(ds, "PatientSex")[:16],
             "study_date": text(ds, "StudyDate")[:8], "study_time": text(ds, "StudyTime")[:16],
             "accession_number": text(ds, "AccessionNumber")[:16],
             "study_description": text(ds, "StudyDescription")[:64],
             "referring_physician": text(ds, "ReferringPhysicianName")[:324], "study_id": text(ds, "StudyID")[:16]}
    series = {"modality": text(ds, "Modality")[:16].upper(), "series_number": _pydicom_number(ds, "SeriesNumber"),
              "series_description": text(ds, "SeriesDescription")[:64],
              "body_part": text(ds, "BodyPartExamined")[:16]}
    return study, series


STORED_KINDS = [p for p in PART10_FILES if p.name not in REFUSED
                and str(_read(p).file_meta.get("TransferSyntaxUID", "")) != ExplicitVRBigEndian
                and str(_read(p).get("SOPClassUID", "")) in service.STORAGE_CLASSES]


@pytest.mark.parametrize("path", STORED_KINDS, ids=_label)
def test_index_facts_of_a_storable_file_equal_pydicoms_and_its_content_passes(path):
    ds = _read(path)
    head = header.scan(path.read_bytes())
    if not all(ds.get(keyword) for keyword in UIDS):  # some of pydicom's codec samples have no study UID
        with pytest.raises(service.Refused, match="is not a valid DICOM UID") as refused:
            service.read_facts(head)
        assert refused.value.status == service.BAD_UID
        return
    facts = service.read_facts(head)
    study, series = _expected_facts(ds)
    assert (facts.sop_class, facts.sop_uid, facts.study_uid, facts.series_uid) == (
        ds.SOPClassUID, ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert facts.study == study
    assert facts.series == series
    assert facts.instance_number == _pydicom_number(ds, "InstanceNumber")
    if "PixelData" in ds:
        service.check_content(head, facts)  # real images carry the pixel data their attributes promise
    else:
        with pytest.raises(service.Refused, match="without pixel data"):  # the character set samples
            service.check_content(head, facts)


def test_cross_check_covers_every_encoding_the_archive_takes():
    syntaxes = {str(_read(p).file_meta.TransferSyntaxUID) for p in PART10_FILES if p.name not in REFUSED}
    assert {ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit,
            JPEG2000, JPEG2000Lossless, JPEGLSLossless, RLELossless} <= syntaxes
    names = {p.name for p in PART10_FILES}
    # UN of undefined length, implicit VR private sequences of undefined length, character sets, multi-frame
    assert {"UN_sequence.dcm", "nested_priv_SQ.dcm", "priv_SQ.dcm", "chrH31.dcm", "chrX1.dcm",
            "chrSQEncoding.dcm", "SC_rgb_rle_2frame.dcm", "image_dfl.dcm"} <= names
    assert any((_pydicom_number(_read(p), "NumberOfFrames") or 0) > 1 for p in STORED_KINDS)


@pytest.mark.parametrize(("name", "patient_name"), [
    ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"),  # ISO 2022 JIS: escape sequences in 7-bit bytes
    ("chrJapMulti.dcm", "やまだ^たろう"),
    ("chrX1.dcm", "Wang^XiaoDong=王^小東"),  # UTF-8, an empty phonetic group at the end
    ("chrX2.dcm", "Wang^XiaoDong=王^小东"),  # GB18030
    ("chrKoreanMulti.dcm", "김희중"),  # ISO 2022 IR 149
    ("chrRuss.dcm", "Люкceмбypг"),
    ("chrGreek.dcm", "Διονυσιος"),
])
def test_patient_names_in_other_character_sets_read_as_pydicom_reads_them(name, patient_name):
    path = PYDICOM_DATA / "charset_files" / name
    assert str(_read(path).PatientName) == patient_name
    assert header.scan(path.read_bytes()).text("PatientName", 324) == patient_name


def _file(dataset: bytes, syntax: str, sop_class: str = "1.2.840.10008.5.1.4.1.1.2") -> bytes:
    return part10(dataset, sop_class, uid(), syntax, "CT1", ("1.2.826.0.1.3680043.10.1338.1", "TEST"))


def _dataset_bytes(ds: Dataset, *, implicit: bool = False) -> bytes:
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, implicit
    write_dataset(out, ds)
    return out.getvalue()


@pytest.mark.parametrize("charset", ["GB18030", "ISO_IR 192", "ISO 2022 IR 58"])
def test_chinese_names_and_descriptions_written_by_pydicom_read_back_the_same(charset):
    ds = ct_slice(patient_name="Wang^XiaoDong=王^小东", StudyDescription="胸部 CT 平扫",
                  SpecificCharacterSet=charset)
    data = encoded(ds)
    head = header.scan(data)
    back = pydicom.dcmread(BytesIO(data))
    assert head.text("PatientName", 324) == str(back.PatientName) == "Wang^XiaoDong=王^小东"
    assert head.text("StudyDescription", 64) == back.StudyDescription == "胸部 CT 平扫"


def _nested_sequences(*, implicit: bool) -> Dataset:
    """A CT slice whose Request Attributes Sequence (undefined length) holds an item with a defined-length
    sequence and an undefined-length one; the sequence sits before the patient's name."""
    ds = ct_slice(patient_name="Li^Na", size=4)
    inner_defined, inner_undefined, item = Dataset(), Dataset(), Dataset()
    inner_defined.CodeValue, inner_defined.CodeMeaning = "T-D3000", "Chest"
    inner_undefined.CodeValue = "121"
    inner_undefined.is_undefined_length_sequence_item = True
    item.RequestedProcedureID = "RP1"
    item.ScheduledProtocolCodeSequence = Sequence([inner_defined])
    item.ReasonForRequestedProcedureCodeSequence = Sequence([inner_undefined])
    item["ReasonForRequestedProcedureCodeSequence"].is_undefined_length = True
    item.is_undefined_length_sequence_item = True
    ds.RequestAttributesSequence = Sequence([item, Dataset()])
    ds["RequestAttributesSequence"].is_undefined_length = True
    ds.ReferencedStudySequence = Sequence([inner_defined])  # (0008,1110): before the patient module
    return ds


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_sequences_of_defined_and_undefined_length_are_stepped_over(implicit):
    ds = _nested_sequences(implicit=implicit)
    data = _file(_dataset_bytes(ds, implicit=implicit), ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian)
    head = header.scan(data)
    assert b"\xff\xff\xff\xff" in data  # the undefined lengths are really there
    assert head.text("PatientName", 324) == "Li^Na"
    assert head.pixel_length == 4 * 4 * 2
    assert str(pydicom.dcmread(BytesIO(data)).RequestAttributesSequence[0].RequestedProcedureID) == "RP1"


def test_un_of_undefined_length_is_stepped_over_as_an_implicit_vr_sequence():
    ds = ct_slice(patient_name="Zhao^Lei", size=4)
    body = _dataset_bytes(ds)
    item = struct.pack("<HHI", 0x0008, 0x0100, 4) + b"1234" + struct.pack("<HHI", 0x0008, 0x0104, 6) + b"Chest "
    un = (struct.pack("<HH2s2xI", 0x0009, 0x1010, b"UN", 0xFFFFFFFF)
          + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
          + struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
    at = body.index(struct.pack("<HH", 0x0010, 0x0010))  # before the patient's name: it must still be read
    data = _file(body[:at] + un + body[at:], ExplicitVRLittleEndian)
    head = header.scan(data)
    assert head.text("PatientName", 324) == "Zhao^Lei" == str(pydicom.dcmread(BytesIO(data)).PatientName)
    assert head.pixel_length == 32


# Bad input ------------------------------------------------------------------------------------------------------


def _refused_by_service(data: bytes) -> bool:
    """True when the archive's checks refuse the bytes (scan, UIDs, SOP class, content)."""
    try:
        head = service.scan(data)
        service.check_content(head, service.read_facts(head))
    except service.Refused:
        return True
    return False


def _element_ends(data: bytes, start: int, *, implicit: bool) -> set[int]:
    """The byte positions where a top-level element of the dataset ends (as pydicom walks it)."""
    fp = BytesIO(data)
    fp.seek(start)
    ends = {start}
    for _element in data_element_generator(fp, implicit, True, defer_size=None):
        ends.add(fp.tell())
    assert max(ends) == len(data)
    return ends


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_a_file_cut_anywhere_is_a_scan_error_or_refused_never_another_exception(implicit):
    dataset = _dataset_bytes(_nested_sequences(implicit=implicit), implicit=implicit)
    data = _file(dataset, ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian)
    start = len(data) - len(dataset)
    ends = _element_ends(data, start, implicit=implicit)
    scan_errors = 0
    for cut in range(len(data)):
        truncated = data[:cut]
        if cut > start and cut not in ends:
            with pytest.raises(ScanError):  # inside an element, a sequence or an item
                header.scan(truncated)
            scan_errors += 1
        # At an element boundary the shorter file is well formed, but it lacks the pixel data (the last element).
        assert _refused_by_service(truncated), cut
    assert scan_errors > len(dataset) * 0.9
    assert not _refused_by_service(data)


def test_a_deflated_file_cut_anywhere_is_a_scan_error():
    data = (PYDICOM_DATA / "test_files" / "image_dfl.dcm").read_bytes()
    header.scan(data)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflater.decompress(data[144 + struct.unpack_from("<I", data, 140)[0]:])  # after the meta group
    stream_end = len(data) - len(inflater.unused_data)  # this file has 8 bytes after the stream, as pydicom too
    assert inflater.eof and stream_end > len(data) - 10
    for cut in range(0, stream_end):
        with pytest.raises(ScanError):
            header.scan(data[:cut])


def test_garbage_and_random_bytes_are_scan_errors():
    rng = random.Random(20260302)
    for _ in range(500):
        noise = rng.randbytes(rng.randint(0, 600))
        for data in (noise, b"\0" * 128 + b"DICM" + noise):
            with pytest.raises(ScanError):
                header.scan(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on damaged character set names
@pytest.mark.parametrize("name", ["test_files/MR_small_implicit.dcm", "test_files/CT_small.dcm",
                                  "test_files/JPEG2000.dcm", "test_files/nested_priv_SQ.dcm",
                                  "test_files/UN_sequence.dcm", "charset_files/chrSQEncoding.dcm",
                                  "charset_files/chrH31.dcm", "test_files/image_dfl.dcm"])
def test_randomly_damaged_files_never_raise_anything_but_scan_error_or_refusal(name):
    original = (PYDICOM_DATA / name).read_bytes()
    rng = random.Random(name)
    for _ in range(400):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(132, len(damaged))] = rng.randrange(256)
        try:
            head = service.scan(bytes(damaged))
            facts = service.read_facts(head)
            service.check_content(head, facts)
            for keyword in ("PatientName", "PatientID", "StudyDescription", "ReferringPhysicianName"):
                head.text(keyword, 324)
        except service.Refused:
            continue


def _with_element(element: bytes, *, before: tuple[int, int] = (0x0010, 0x0010)) -> bytes:
    body = _dataset_bytes(ct_slice(size=4))
    at = body.index(struct.pack("<HH", *before))
    return _file(body[:at] + element + body[at:], ExplicitVRLittleEndian)


@pytest.mark.parametrize("length", [0x7FFFFFFF, 0xFFFFFFF0])
def test_an_element_claiming_two_gigabytes_is_a_scan_error(length):
    with pytest.raises(ScanError, match=f"claims {length} bytes"):
        header.scan(_with_element(struct.pack("<HH2s2xI", 0x0009, 0x1010, b"OB", length) + b"\0" * 64))
    implicit_body = _dataset_bytes(ct_slice(size=4), implicit=True)
    bad = struct.pack("<HHI", 0x0009, 0x1010, length) + b"\0" * 64
    with pytest.raises(ScanError, match=f"claims {length} bytes"):
        header.scan(_file(bad + implicit_body, ImplicitVRLittleEndian))
    item = struct.pack("<HH2s2xI", 0x0009, 0x1010, b"SQ", 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, length)
    with pytest.raises(ScanError, match=f"item claims {length} bytes"):
        header.scan(_with_element(item))


def test_a_pixel_data_fragment_claiming_two_gigabytes_is_a_scan_error():
    body = _dataset_bytes(ct_slice(size=4)).split(struct.pack("<HH", 0x7FE0, 0x0010))[0]
    pixels = (struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OB", 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0)
              + struct.pack("<HHI", 0xFFFE, 0xE000, 0x7FFFFFFF) + b"\xff\xd8")
    with pytest.raises(ScanError, match="encapsulated pixel data is broken"):
        header.scan(_file(body + pixels, JPEGBaseline8Bit))


def test_a_wrong_transfer_syntax_claim_is_a_scan_error_both_ways():
    ds = ct_slice(size=4)
    with pytest.raises(ScanError, match="not explicit VR"):
        header.scan(_file(_dataset_bytes(ds, implicit=True), ExplicitVRLittleEndian))
    with pytest.raises(ScanError, match="claims"):
        header.scan(_file(_dataset_bytes(ds, implicit=False), ImplicitVRLittleEndian))


def test_zero_byte_pixel_data_scans_but_the_archive_refuses_the_image():
    head = header.scan(encoded(ct_slice(size=4, PixelData=b"")))
    assert not head.present("PixelData")
    with pytest.raises(service.Refused, match="without pixel data") as refused:
        service.check_content(head, service.read_facts(head))
    assert refused.value.status == service.NOT_MATCHING_SOP_CLASS


def test_pixel_data_shorter_than_the_image_is_refused():
    head = header.scan(encoded(ct_slice(size=4, PixelData=b"\0" * 30)))
    with pytest.raises(service.Refused, match="pixel data has 30 bytes where the image needs 32"):
        service.check_content(head, service.read_facts(head))


SEQUENCE = struct.pack("<HH2s2xI", 0x0009, 0x1010, b"SQ", 0xFFFFFFFF)
ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def test_an_unterminated_sequence_or_item_is_a_scan_error():
    body = _dataset_bytes(ct_slice(size=4))
    with pytest.raises(ScanError, match="ends inside a sequence"):
        header.scan(_file(body + SEQUENCE + ITEM + ITEM_END, ExplicitVRLittleEndian))
    with pytest.raises(ScanError, match="ends inside a sequence item"):
        header.scan(_file(body + SEQUENCE + ITEM + struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 2) + b"AB",
                          ExplicitVRLittleEndian))
    with pytest.raises(ScanError, match="where an item belongs"):
        header.scan(_with_element(SEQUENCE + struct.pack("<HH2sH", 0x0008, 0x0100, b"SH", 2) + b"AB"))


def test_an_item_delimiter_outside_an_item_is_a_scan_error():
    with pytest.raises(ScanError, match="item delimiter outside any item"):
        header.scan(_with_element(ITEM_END))


def test_an_undefined_length_on_a_plain_value_or_a_made_up_vr_is_a_scan_error():
    with pytest.raises(ScanError, match="undefined length its VR does not allow"):
        header.scan(_with_element(struct.pack("<HH2s2xI", 0x0009, 0x1010, b"UT", 0xFFFFFFFF)))
    with pytest.raises(ScanError, match="no valid VR"):
        header.scan(_with_element(struct.pack("<HH2sH", 0x0009, 0x1010, b"ZZ", 2) + b"AB"))


def test_hostile_nesting_is_a_scan_error_not_a_stack_overflow():
    assert header.scan(_with_element((SEQUENCE + ITEM) * 20 + (ITEM_END + SEQUENCE_END) * 20))
    with pytest.raises(ScanError, match="nested more than"):
        header.scan(_with_element((SEQUENCE + ITEM) * 5000 + (ITEM_END + SEQUENCE_END) * 5000))


def test_a_deflate_bomb_is_a_scan_error_not_gigabytes_in_memory(monkeypatch):
    monkeypatch.setattr(header, "MAX_INFLATED", 1 << 20)
    big = _dataset_bytes(ct_slice(size=4)) + struct.pack("<HH2s2xI", 0x0009, 0x1010, b"OB", 4 << 20) + bytes(4 << 20)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    squeezed = deflater.compress(big) + deflater.flush()
    assert len(squeezed) < 10_000
    with pytest.raises(ScanError, match="inflates to more than"):
        header.scan(_file(squeezed, DeflatedExplicitVRLittleEndian))


@pytest.mark.parametrize("charset", [b"undefined ", b"hex       ", b"ISO_IR\x00100"])
def test_a_specific_character_set_that_decodes_no_text_is_a_scan_error(charset):
    ds = ct_slice(patient_name="M\xfcller^Hans", SpecificCharacterSet="ISO_IR 100")
    data = encoded(ds).replace(b"ISO_IR 100", charset, 1)
    with pytest.raises(ScanError, match="Specific Character Set"):
        header.scan(data)


def test_a_misspelt_specific_character_set_is_read_as_pydicom_reads_it():
    data = encoded(ct_slice(patient_name="M\xfcller^Hans", SpecificCharacterSet="ISO_IR 100")).replace(
        b"ISO_IR 100", b"ISO-IR 100", 1)
    with pytest.warns(UserWarning, match="ISO-IR 100"):
        expected = str(pydicom.dcmread(BytesIO(data)).PatientName)
    with pytest.warns(UserWarning, match="ISO-IR 100"):
        assert header.scan(data).text("PatientName", 324) == expected == "M\xfcller^Hans"
