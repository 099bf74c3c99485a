"""Taking in one DICOM instance: check it, write its file durably, index it, and say so with a DICOM status.

Success (0x0000) is answered only once the file is on disk (fsynced) and its rows in the study index are
committed, in one database transaction; if indexing fails the file is removed again. An instance sent again
unchanged is success too (modalities resend after a lost response). Everything else is a status with a reason
the sender's log shows, never an exception: missing or malformed UIDs, unsupported SOP classes, a dataset that
does not match its SOP class (no pixel data, pixel data shorter than the image), a study UID that is already
stored under another patient (patients are never mixed in one study). After the commit the study is due to be
written as a FHIR ImagingStudy (imaging_study.publish): at once when called alone, or once per study at the end
of a DICOM association, when a batch is given.
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


@dataclass(slots=True)
class Batch:
    """The studies one association stored into: their ImagingStudy is written once, when it ends."""

    studies: set[str] = field(default_factory=set)


class Refused(Exception):
    """An instance that cannot be stored, with the DICOM status and reason to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()[:limit]


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        value = int(ds.get(keyword))
    except (TypeError, ValueError):
        return None
    return value if -(2**31) < value < 2**31 else None


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """The attributes of an instance the index keeps, read (and length-limited) from its dataset."""

    sop_class: str
    sop_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    study: dict[str, Any]
    series: dict[str, Any]
    instance_number: int | None


def _uid(ds: Dataset, keyword: str, name: str) -> str:
    try:
        return checked_uid(str(ds.get(keyword) or "").strip(), name)
    except InvalidUid as exc:
        raise Refused(BAD_UID, str(exc)) from exc


def read_facts(ds: Dataset) -> InstanceFacts:
    """The index attributes of ds; Refused when a UID is missing or malformed or the SOP class is not taken."""
    sop_class = _uid(ds, "SOPClassUID", "SOP Class UID")
    sop_uid = _uid(ds, "SOPInstanceUID", "SOP Instance UID")
    study_uid = _uid(ds, "StudyInstanceUID", "Study Instance UID")
    series_uid = _uid(ds, "SeriesInstanceUID", "Series Instance UID")
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") if meta is not None else "") or dicom_uid.ImplicitVRLittleEndian
    if not is_uid(syntax):
        raise Refused(BAD_UID, f"the transfer syntax {syntax[:64]!r} is not a valid UID")
    if sop_class not in STORAGE_CLASSES:
        raise Refused(SOP_CLASS_NOT_SUPPORTED, f"SOP class {sop_class} is not one this archive stores")
    study = {"patient_id": _text(ds, "PatientID", 64), "patient_name": _text(ds, "PatientName", 324),
             "patient_birth_date": _text(ds, "PatientBirthDate", 8), "patient_sex": _text(ds, "PatientSex", 16),
             "study_date": _text(ds, "StudyDate", 8), "study_time": _text(ds, "StudyTime", 16),
             "accession_number": _text(ds, "AccessionNumber", 16),
             "study_description": _text(ds, "StudyDescription", 64),
             "referring_physician": _text(ds, "ReferringPhysicianName", 324), "study_id": _text(ds, "StudyID", 16)}
    series = {"modality": _text(ds, "Modality", 16).upper(), "series_number": _number(ds, "SeriesNumber"),
              "series_description": _text(ds, "SeriesDescription", 64),
              "body_part": _text(ds, "BodyPartExamined", 16)}
    return InstanceFacts(sop_class=sop_class, sop_uid=sop_uid, study_uid=study_uid, series_uid=series_uid,
                         transfer_syntax=syntax,
                         study=study, series=series, instance_number=_number(ds, "InstanceNumber"))


def check_content(ds: Dataset, facts: InstanceFacts) -> None:
    """Refused (0xA900) when ds lacks what its SOP class carries: the document, or pixel data of full length."""
    if facts.sop_class in _DOCUMENT_CLASSES:
        if not ds.get("EncapsulatedDocument"):
            raise Refused(NOT_MATCHING_SOP_CLASS, "an encapsulated document instance without its document")
        return
    pixels = ds.get("PixelData") or ds.get("FloatPixelData") or ds.get("DoubleFloatPixelData")
    if not pixels:
        raise Refused(NOT_MATCHING_SOP_CLASS, "an image instance without pixel data (missing or 0 bytes)")
    if facts.transfer_syntax not in _NATIVE:
        if bytes(pixels[:4]) != b"\xfe\xff\x00\xe0":
            raise Refused(NOT_MATCHING_SOP_CLASS, "compressed pixel data that is not encapsulated in items")
        return
    try:
        expected = (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated)
                    * max(int(ds.get("NumberOfFrames", 1) or 1), 1) + 7) // 8
    except (AttributeError, TypeError, ValueError) as exc:
        raise Refused(NOT_MATCHING_SOP_CLASS, "image attributes (rows, columns, bits) are missing") from exc
    if len(pixels) < expected:
        raise Refused(NOT_MATCHING_SOP_CLASS, f"pixel data has {len(pixels)} bytes where the image needs {expected}"
                      " (truncated?)")


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


def _existing(conn: Connection, facts: InstanceFacts, digest: str) -> StoreOutcome | None:
    """The answer for an instance already stored (same or other content), or None for a new one."""
    row = conn.execute(sa.select(imaging_instance.c.digest, imaging_series.c.series_uid, imaging_study.c.study_uid)
                       .join(imaging_series, imaging_series.c.id == imaging_instance.c.series)
                       .join(imaging_study, imaging_study.c.id == imaging_series.c.study)
                       .where(imaging_instance.c.sop_instance_uid == facts.sop_uid)).first()
    if row is None:
        return None
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
            raise Refused(OTHER_PATIENT, f"the study is already stored under another patient (PatientID "
                          f"{row.patient_id or 'empty'!r}); two patients are never mixed in study {facts.study_uid}")
        return row.id, row.modalities
    new_id = conn.execute(imaging_study.insert().values(
        study_uid=facts.study_uid, **facts.study, modalities="", series_count=0, instance_count=0,
        fhir_instance_count=0, created=now, updated=now)).inserted_primary_key[0]
    return new_id, ""


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


def _index(conn: Connection, facts: InstanceFacts, *, key: str, size: int, digest: str, calling_ae: str,
           now: str) -> None:
    study_id, modalities = _study_row(conn, facts, now)
    series_id, new_series = _series_row(conn, facts, study_id)
    conn.execute(imaging_instance.insert().values(
        series=series_id, sop_instance_uid=facts.sop_uid, sop_class_uid=facts.sop_class,
        instance_number=facts.instance_number, transfer_syntax_uid=facts.transfer_syntax, storage_key=key,
        size=size, digest=digest, calling_ae=calling_ae[:16], received=now))
    conn.execute(imaging_series.update().where(imaging_series.c.id == series_id)
                 .values(instance_count=imaging_series.c.instance_count + 1))
    changes: dict[str, Any] = {"instance_count": imaging_study.c.instance_count + 1, "updated": now}
    if new_series:
        changes["series_count"] = imaging_study.c.series_count + 1
        modality = facts.series["modality"]
        if modality and modality not in modalities.split("\\"):
            changes["modalities"] = "\\".join(m for m in (*modalities.split("\\"), modality) if m)[:160]
    conn.execute(imaging_study.update().where(imaging_study.c.id == study_id).values(**changes))


def _check_announced(facts: InstanceFacts, announced: tuple[str, str] | None) -> None:
    if announced is not None and (facts.sop_class, facts.sop_uid) != tuple(u.strip() for u in announced):
        raise Refused(NOT_MATCHING_SOP_CLASS, "the dataset's SOP Class or Instance UID differs from the C-STORE "
                      "request's")


def _store(ds: Dataset, encoded: bytes, *, calling_ae: str, store: InstanceStore, engine: Engine,
           announced: tuple[str, str] | None) -> StoreOutcome:
    facts = read_facts(ds)
    _check_announced(facts, announced)
    check_content(ds, facts)
    key = storage_key(facts.study_uid, facts.series_uid, facts.sop_uid)
    digest = hashlib.sha256(encoded).hexdigest()
    written = False
    try:
        with unit_of_work(engine) as conn:
            _lock_study(conn, facts.study_uid)
            existing = _existing(conn, facts, digest)
            if existing is not None:
                return existing
            now = clock.now().isoformat()
            store.put(key, encoded)
            written = True
            _index(conn, facts, key=key, size=len(encoded), digest=digest, calling_ae=calling_ae, now=now)
    except BaseException:
        if written:
            store.delete(key)
        raise
    return StoreOutcome(SUCCESS, study_uid=facts.study_uid)


def store_instance(dataset: Dataset, *, calling_ae: str, encoded: bytes | None = None,
                   store: InstanceStore | None = None, engine: Engine | None = None,
                   batch: Batch | None = None, announced: tuple[str, str] | None = None) -> StoreOutcome:
    """Store one instance (its received bytes when given, else ds encoded) and index it; the DICOM outcome.

    announced: the SOP Class and Instance UID the C-STORE request named, which the dataset must carry."""
    engine = engine or get_engine()
    try:
        outcome = _store(dataset, encoded if encoded is not None else encode(dataset), calling_ae=calling_ae,
                         store=store or default_store(), engine=engine, announced=announced)
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


def store_encoded(encoded: bytes, *, calling_ae: str, store: InstanceStore | None = None,
                  engine: Engine | None = None, batch: Batch | None = None,
                  announced: tuple[str, str] | None = None) -> StoreOutcome:
    """Store one instance given as Part 10 bytes, as received (decoded only to check and index it)."""
    try:
        ds = decode(encoded)
    except Refused as refused:
        log.warning("DICOM instance from %s refused (0x%04X): %s", calling_ae, refused.status, refused.reason)
        return StoreOutcome(refused.status, refused.reason)
    return store_instance(ds, calling_ae=calling_ae, encoded=encoded, store=store, engine=engine, batch=batch,
                          announced=announced)


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
