"""Taking in one DICOM instance: check it, write its file durably, index it, and say so with a DICOM status.

Success (0x0000) is answered only once the file is on disk (fsynced) and its rows in the study index are
committed, in one database transaction; if indexing fails the file is removed again. An instance sent again
unchanged is success too (modalities resend after a lost response). Everything else is a status with a reason
the sender's log shows, never an exception: missing or malformed UIDs, unsupported SOP classes, a dataset that
does not match its SOP class (no pixel data, pixel data shorter than the image), a study UID that is already
stored under another patient (patients are never mixed in one study). After the commit the study is due to be
written as a FHIR ImagingStudy (imaging_study.publish): at once when called alone, or once per study at the end
of a DICOM association, when a batch is given.

The instance is read by the header scanner (header.py), not decoded into a pydicom Dataset, and its file is
written and fsynced in the background while it is indexed; the file is renamed into place just before the
commit. A batch also remembers the study and series rows the association has already committed, so an instance
of a known series costs one INSERT and two counter UPDATEs.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import sqlalchemy as sa
from pydicom import dcmread
from pydicom import uid as dicom_uid
from pydicom.dataset import Dataset
from sqlalchemy.engine import Connection, Engine

from smartcare.hospital.imaging import header
from smartcare.hospital.imaging.header import Header, ScanError
from smartcare.hospital.imaging.models import imaging_instance, imaging_series, imaging_study
from smartcare.hospital.imaging.storage import (
    InstanceStore,
    InvalidUid,
    checked_uid,
    default_store,
    is_uid,
    storage_key,
)
from smartcare.platform import clock
from smartcare.platform.db import get_engine, unit_of_work

log = logging.getLogger(__name__)

SUCCESS = 0x0000
WARNING_KEPT_FIRST = 0xB000  # the same SOP instance UID with other content: the stored copy is kept
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
NOT_MATCHING_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000  # the dataset could not be decoded
BAD_UID = 0xC001  # a UID is missing or malformed
OTHER_PATIENT = 0xC002  # the study (or series) is already stored under another patient
MISPLACED = 0xC003  # the series or instance is already stored in another study or series

STORAGE_CLASSES: dict[str, str] = {
    getattr(dicom_uid, name): name for name in (
        "CTImageStorage", "EnhancedCTImageStorage", "LegacyConvertedEnhancedCTImageStorage",
        "MRImageStorage", "EnhancedMRImageStorage", "EnhancedMRColorImageStorage",
        "LegacyConvertedEnhancedMRImageStorage", "ComputedRadiographyImageStorage",
        "DigitalXRayImageStorageForPresentation", "DigitalXRayImageStorageForProcessing",
        "UltrasoundImageStorage", "UltrasoundMultiFrameImageStorage",
        "DigitalMammographyXRayImageStorageForPresentation", "DigitalMammographyXRayImageStorageForProcessing",
        "BreastTomosynthesisImageStorage", "NuclearMedicineImageStorage", "PositronEmissionTomographyImageStorage",
        "EnhancedPETImageStorage", "LegacyConvertedEnhancedPETImageStorage", "SecondaryCaptureImageStorage",
        "MultiFrameSingleBitSecondaryCaptureImageStorage", "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
        "MultiFrameGrayscaleWordSecondaryCaptureImageStorage", "MultiFrameTrueColorSecondaryCaptureImageStorage",
        "XRayAngiographicImageStorage", "XRayRadiofluoroscopicImageStorage", "EncapsulatedPDFStorage",
    )
}
# Stored as received; these are the encodings pydicom reads (for the index) whatever the pixel compression.
TRANSFER_SYNTAXES: tuple[str, ...] = (
    dicom_uid.ExplicitVRLittleEndian, dicom_uid.ImplicitVRLittleEndian, dicom_uid.DeflatedExplicitVRLittleEndian,
    dicom_uid.JPEGBaseline8Bit, dicom_uid.JPEGExtended12Bit, dicom_uid.JPEGLossless, dicom_uid.JPEGLosslessSV1,
    dicom_uid.JPEGLSLossless, dicom_uid.JPEGLSNearLossless, dicom_uid.JPEG2000Lossless, dicom_uid.JPEG2000,
    dicom_uid.RLELossless,
)
_DOCUMENT_CLASSES = {dicom_uid.EncapsulatedPDFStorage}
_SUBSAMPLED = {"YBR_FULL_422", "YBR_PARTIAL_422"}
_NATIVE = {dicom_uid.ExplicitVRLittleEndian, dicom_uid.ImplicitVRLittleEndian, dicom_uid.DeflatedExplicitVRLittleEndian}


@dataclass(slots=True)
class StoreOutcome:
    """What became of one instance: its DICOM status, why (for the sender's log), and which study it went to."""

    status: int
    reason: str = ""
    study_uid: str | None = None
    duplicate: bool = False

    @property
    def stored(self) -> bool:
        """True when the instance is in the archive (success or a warning)."""
        return self.status == SUCCESS or 0xB000 <= self.status <= 0xBFFF


@dataclass(frozen=True, slots=True)
class KnownSeries:
    """A committed series row and the patient of its study, remembered for the next instance of the series."""

    series_id: int
    study_id: int
    patient_id: str
    patient_name: str


@dataclass(slots=True)
class Batch:
    """The studies one association stored into (their ImagingStudy is written once, when it ends) and the
    series rows it has committed."""

    studies: set[str] = field(default_factory=set)
    series: dict[str, KnownSeries] = field(default_factory=dict)


class Refused(Exception):
    """An instance that cannot be stored, with the DICOM status and reason to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """The attributes of an instance the index keeps, read (and length-limited) from its header."""

    sop_class: str
    sop_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    study: dict[str, Any]
    series: dict[str, Any]
    instance_number: int | None


def _uid(head: Header, keyword: str, name: str) -> str:
    try:
        return checked_uid(head.uid(keyword), name)
    except InvalidUid as exc:
        raise Refused(BAD_UID, str(exc)) from exc


def _number(head: Header, keyword: str) -> int | None:
    value = head.number(keyword)
    return value if value is not None and -(2**31) < value < 2**31 else None


def scan(encoded: bytes) -> Header:
    """The header of a Part 10 file's bytes; Refused (0xC000) when they cannot be read."""
    try:
        return header.scan(encoded)
    except ScanError as exc:
        raise Refused(CANNOT_UNDERSTAND, f"the dataset cannot be decoded: {str(exc)[:160]}") from exc


def read_facts(head: Header) -> InstanceFacts:
    """The index attributes of an instance; Refused when a UID is missing or malformed or the SOP class is not
    taken."""
    sop_class = _uid(head, "SOPClassUID", "SOP Class UID")
    sop_uid = _uid(head, "SOPInstanceUID", "SOP Instance UID")
    study_uid = _uid(head, "StudyInstanceUID", "Study Instance UID")
    series_uid = _uid(head, "SeriesInstanceUID", "Series Instance UID")
    syntax = head.transfer_syntax
    if not is_uid(syntax):
        raise Refused(BAD_UID, f"the transfer syntax {syntax[:64]!r} is not a valid UID")
    if syntax not in TRANSFER_SYNTAXES:
        # DIMSE negotiation never lets another in; a STOW-RS upload could, and the viewer could not read it.
        raise Refused(CANNOT_UNDERSTAND, f"transfer syntax {syntax} is not one this archive stores")
    if sop_class not in STORAGE_CLASSES:
        raise Refused(SOP_CLASS_NOT_SUPPORTED, f"SOP class {sop_class} is not one this archive stores")
    text = head.text
    study = {"patient_id": text("PatientID", 64), "patient_name": text("PatientName", 324),
             "patient_birth_date": text("PatientBirthDate", 8), "patient_sex": text("PatientSex", 16),
             "study_date": text("StudyDate", 8), "study_time": text("StudyTime", 16),
             "accession_number": text("AccessionNumber", 16),
             "study_description": text("StudyDescription", 64),
             "referring_physician": text("ReferringPhysicianName", 324), "study_id": text("StudyID", 16)}
    series = {"modality": text("Modality", 16).upper(), "series_number": _number(head, "SeriesNumber"),
              "series_description": text("SeriesDescription", 64), "body_part": text("BodyPartExamined", 16)}
    return InstanceFacts(sop_class=sop_class, sop_uid=sop_uid, study_uid=study_uid, series_uid=series_uid,
                         transfer_syntax=syntax, study=study, series=series,
                         instance_number=_number(head, "InstanceNumber"))


def check_content(head: Header, facts: InstanceFacts) -> None:
    """Refused (0xA900) when the instance lacks what its SOP class carries: the document, or pixel data of full
    length (native) or in fragments (compressed)."""
    if facts.sop_class in _DOCUMENT_CLASSES:
        if not head.present("EncapsulatedDocument"):
            raise Refused(NOT_MATCHING_SOP_CLASS, "an encapsulated document instance without its document")
        return
    if not (head.present("PixelData") or head.present("FloatPixelData") or head.present("DoubleFloatPixelData")):
        raise Refused(NOT_MATCHING_SOP_CLASS, "an image instance without pixel data (missing or 0 bytes)")
    if facts.transfer_syntax not in _NATIVE:
        if not head.encapsulated:
            raise Refused(NOT_MATCHING_SOP_CLASS, "compressed pixel data that is not encapsulated in items")
        return
    if head.encapsulated:
        raise Refused(NOT_MATCHING_SOP_CLASS, "encapsulated pixel data under an uncompressed transfer syntax")
    if not head.present("PixelData"):
        return
    rows, columns, bits = head.number("Rows"), head.number("Columns"), head.number("BitsAllocated")
    if not (rows and columns and bits):
        raise Refused(NOT_MATCHING_SOP_CLASS, "image attributes (rows, columns, bits) are missing")
    samples = head.number("SamplesPerPixel") or 1
    if head.text("PhotometricInterpretation", 16).upper() in _SUBSAMPLED:
        samples = 2  # YBR_FULL_422 and YBR_PARTIAL_422 keep two samples of three per pixel (PS3.3 C.7.6.3.1.2)
    expected = (rows * columns * samples * bits * max(head.number("NumberOfFrames") or 1, 1) + 7) // 8
    if head.pixel_length < expected:
        raise Refused(NOT_MATCHING_SOP_CLASS, f"pixel data has {head.pixel_length} bytes where the image needs "
                      f"{expected} (truncated?)")


def decode(encoded: bytes) -> Dataset:
    """The dataset of a Part 10 file's bytes; Refused (0xC000) when they cannot be decoded."""
    try:
        return dcmread(BytesIO(encoded))
    except Exception as exc:  # pydicom raises many kinds on garbage; each means the same to the sender
        raise Refused(CANNOT_UNDERSTAND, f"the dataset cannot be decoded: {str(exc)[:120]}") from exc


def encode(ds: Dataset) -> bytes:
    """ds as a Part 10 file's bytes (for callers that hold a dataset rather than the received bytes)."""
    out = BytesIO()
    try:
        ds.save_as(out, enforce_file_format=True)
    except Exception as exc:  # a dataset pydicom cannot write is one we cannot understand either
        raise Refused(CANNOT_UNDERSTAND, f"the dataset cannot be encoded: {str(exc)[:120]}") from exc
    return out.getvalue()


def _same_patient(row: Any, study: dict[str, Any]) -> bool:
    if row.patient_id or study["patient_id"]:
        return row.patient_id == study["patient_id"]
    return row.patient_name == study["patient_name"]


def _lock_study(conn: Connection, study_uid: str) -> None:
    # SQLite has one writer at a time already; on PostgreSQL two associations storing into one new study must not
    # both create it.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"dicom-study:{study_uid}"})


def _existing(conn: Connection, facts: InstanceFacts, digest: str) -> StoreOutcome:
    """The answer for an instance whose SOP Instance UID is already stored (same or other content)."""
    row = conn.execute(sa.select(imaging_instance.c.digest, imaging_series.c.series_uid, imaging_study.c.study_uid)
                       .join(imaging_series, imaging_series.c.id == imaging_instance.c.series)
                       .join(imaging_study, imaging_study.c.id == imaging_series.c.study)
                       .where(imaging_instance.c.sop_instance_uid == facts.sop_uid)).one()
    if (row.study_uid, row.series_uid) != (facts.study_uid, facts.series_uid):
        raise Refused(MISPLACED, "this SOP Instance UID is already stored in another study or series")
    if row.digest == digest:
        return StoreOutcome(SUCCESS, "already stored", study_uid=facts.study_uid, duplicate=True)
    return StoreOutcome(WARNING_KEPT_FIRST, "an instance with this UID is already stored with other content; "
                        "the stored copy was kept", study_uid=facts.study_uid, duplicate=True)


def _study_row(conn: Connection, facts: InstanceFacts, now: str) -> tuple[int, str]:
    """The study's id and modalities, created when new; Refused when it belongs to another patient."""
    row = conn.execute(sa.select(imaging_study.c.id, imaging_study.c.patient_id, imaging_study.c.patient_name,
                                 imaging_study.c.modalities)
                       .where(imaging_study.c.study_uid == facts.study_uid)).first()
    if row is not None:
        if not _same_patient(row, facts.study):
            raise _other_patient(row.patient_id, facts.study_uid)
        return row.id, row.modalities
    new_id = conn.execute(imaging_study.insert().values(
        study_uid=facts.study_uid, **facts.study, modalities="", series_count=0, instance_count=0,
        fhir_instance_count=0, created=now, updated=now)).inserted_primary_key[0]
    return new_id, ""


def _other_patient(patient_id: str, study_uid: str) -> Refused:
    return Refused(OTHER_PATIENT, f"the study is already stored under another patient (PatientID "
                   f"{patient_id or 'empty'!r}); two patients are never mixed in study {study_uid}")


def _series_row(conn: Connection, facts: InstanceFacts, study_id: int) -> tuple[int, bool]:
    """The series' id (created when new) and whether it is new; Refused when it is in another study."""
    row = conn.execute(sa.select(imaging_series.c.id, imaging_series.c.study)
                       .where(imaging_series.c.series_uid == facts.series_uid)).first()
    if row is not None:
        if row.study != study_id:
            raise Refused(MISPLACED, f"the series is already stored in another study ({facts.series_uid})")
        return row.id, False
    new_id = conn.execute(imaging_series.insert().values(
        study=study_id, series_uid=facts.series_uid, **facts.series, instance_count=0)).inserted_primary_key[0]
    return new_id, True


def _insert_statement(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return (insert(imaging_instance).on_conflict_do_nothing(index_elements=["sop_instance_uid"])
            .returning(imaging_instance.c.id))


# Built once: an instance of a known series runs these three and nothing else.
_INSERT_INSTANCE = {dialect: _insert_statement(dialect) for dialect in ("postgresql", "sqlite")}
_COUNT_IN_SERIES = (imaging_series.update().where(imaging_series.c.id == sa.bindparam("row"))
                    .values(instance_count=imaging_series.c.instance_count + 1))
_COUNT_IN_STUDY = (imaging_study.update().where(imaging_study.c.id == sa.bindparam("row"))
                   .values(instance_count=imaging_study.c.instance_count + 1, updated=sa.bindparam("now")))


def _index(conn: Connection, facts: InstanceFacts, batch: Batch, *, key: str, size: int, digest: str,
           calling_ae: str, now: str) -> tuple[StoreOutcome | None, KnownSeries | None]:
    """Index the instance: (the answer when it is stored already, else None; the series to remember)."""
    known = batch.series.get(facts.series_uid)
    if known is not None:
        if not _same_patient(known, facts.study):
            raise _other_patient(known.patient_id, facts.study_uid)
        study_id, series_id, new_series, modalities = known.study_id, known.series_id, False, ""
    else:
        study_id, modalities = _study_row(conn, facts, now)
        series_id, new_series = _series_row(conn, facts, study_id)
    inserted = conn.execute(_INSERT_INSTANCE[conn.dialect.name], {
        "series": series_id, "sop_instance_uid": facts.sop_uid, "sop_class_uid": facts.sop_class,
        "instance_number": facts.instance_number, "transfer_syntax_uid": facts.transfer_syntax,
        "storage_key": key, "size": size, "digest": digest, "calling_ae": calling_ae[:16], "received": now})
    if inserted.first() is None:
        return _existing(conn, facts, digest), None
    conn.execute(_COUNT_IN_SERIES, {"row": series_id})
    if new_series:
        changes: dict[str, Any] = {"instance_count": imaging_study.c.instance_count + 1, "updated": now,
                                   "series_count": imaging_study.c.series_count + 1}
        modality = facts.series["modality"]
        if modality and modality not in modalities.split("\\"):
            changes["modalities"] = "\\".join(m for m in (*modalities.split("\\"), modality) if m)[:160]
        conn.execute(imaging_study.update().where(imaging_study.c.id == study_id).values(**changes))
    else:
        conn.execute(_COUNT_IN_STUDY, {"row": study_id, "now": now})
    return None, KnownSeries(series_id, study_id, facts.study["patient_id"], facts.study["patient_name"])


def _check_announced(facts: InstanceFacts, announced: tuple[str, str] | None) -> None:
    if announced is not None and (facts.sop_class, facts.sop_uid) != tuple(u.strip() for u in announced):
        raise Refused(NOT_MATCHING_SOP_CLASS, "the dataset's SOP Class or Instance UID differs from the C-STORE "
                      "request's")


def _store(encoded: bytes, *, calling_ae: str, store: InstanceStore, engine: Engine, batch: Batch,
           announced: tuple[str, str] | None) -> StoreOutcome:
    head = scan(encoded)
    facts = read_facts(head)
    _check_announced(facts, announced)
    check_content(head, facts)
    key = storage_key(facts.study_uid, facts.series_uid, facts.sop_uid)
    staged = store.stage(encoded, key)
    placed = False
    try:
        digest = hashlib.sha256(encoded).hexdigest()
        with unit_of_work(engine) as conn:
            if facts.series_uid not in batch.series:  # a remembered series' study exists: nothing to create
                _lock_study(conn, facts.study_uid)
            existing, learned = _index(conn, facts, batch, key=key, size=len(encoded), digest=digest,
                                       calling_ae=calling_ae, now=clock.now().isoformat())
            if existing is not None:
                return existing
            store.place(staged, key)
            placed = True
    except BaseException:
        # A remembered row may be what failed (removed meanwhile): read the rows again next time.
        batch.series.clear()
        if placed:
            store.delete(key)
        raise
    finally:
        if not placed:
            store.discard(staged)
    if learned is not None:
        batch.series[facts.series_uid] = learned
    return StoreOutcome(SUCCESS, study_uid=facts.study_uid)


def store_instance(dataset: Dataset, *, calling_ae: str, encoded: bytes | None = None,
                   store: InstanceStore | None = None, engine: Engine | None = None,
                   batch: Batch | None = None, announced: tuple[str, str] | None = None) -> StoreOutcome:
    """Store one instance (its received bytes when given, else the dataset encoded) and index it; the outcome.

    announced: the SOP Class and Instance UID the C-STORE request named, which the dataset must carry."""
    try:
        data = encoded if encoded is not None else encode(dataset)
    except Refused as refused:
        log.warning("DICOM instance from %s refused (0x%04X): %s", calling_ae, refused.status, refused.reason)
        return StoreOutcome(refused.status, refused.reason)
    return store_encoded(data, calling_ae=calling_ae, store=store, engine=engine, batch=batch, announced=announced)


def store_encoded(encoded: bytes, *, calling_ae: str, store: InstanceStore | None = None,
                  engine: Engine | None = None, batch: Batch | None = None,
                  announced: tuple[str, str] | None = None) -> StoreOutcome:
    """Store one instance given as Part 10 bytes, as received (its header read to check and index it)."""
    engine = engine or get_engine()
    try:
        outcome = _store(encoded, calling_ae=calling_ae, store=store or default_store(), engine=engine,
                         batch=batch if batch is not None else Batch(), announced=announced)
    except Refused as refused:
        log.warning("DICOM instance from %s refused (0x%04X): %s", calling_ae, refused.status, refused.reason)
        return StoreOutcome(refused.status, refused.reason)
    except OSError as exc:
        log.exception("DICOM instance from %s could not be written", calling_ae)
        return StoreOutcome(OUT_OF_RESOURCES, f"the archive could not write the instance: {exc.strerror or exc}")
    except sa.exc.SQLAlchemyError:
        log.exception("DICOM instance from %s could not be indexed", calling_ae)
        return StoreOutcome(OUT_OF_RESOURCES, "the archive could not index the instance now; send it again later")
    if outcome.study_uid and not outcome.duplicate:
        if batch is not None:
            batch.studies.add(outcome.study_uid)
        else:
            publish_now([outcome.study_uid], engine=engine)
    return outcome


def publish_now(study_uids: Iterable[str], *, engine: Engine | None = None) -> None:
    """Write the ImagingStudy of each study now; a failure is logged (the study stays due and is retried)."""
    from smartcare.hospital.imaging.imaging_study import publish

    for study_uid in study_uids:
        try:
            publish(study_uid, engine=engine)
        except Exception:  # the instances are stored; the FHIR side catches up on the next publish
            log.exception("the ImagingStudy of study %s could not be written", study_uid)


def read_instance(sop_instance_uid: str, *, engine: Engine | None = None,
                  store: InstanceStore | None = None) -> bytes | None:
    """The stored Part 10 bytes of an instance by its SOP Instance UID, or None when it is not in the archive."""
    with (engine or get_engine()).connect() as conn:
        key = conn.execute(sa.select(imaging_instance.c.storage_key)
                           .where(imaging_instance.c.sop_instance_uid == sop_instance_uid[:64])).scalar()
    if key is None:
        return None
    return (store or default_store()).get(key)
