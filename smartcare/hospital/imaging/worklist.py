"""The Modality Worklist: C-FIND on the scheduled imaging orders, so a modality picks the patient and order.

Each active imaging ServiceRequest is one scheduled procedure step, read through the gateway as the PACS's
system client (the access policy and audit apply). Matching follows PS3.4 K.6 and C.2.2.2 on plain data:
wildcards (* ?) on text, case-insensitive on person names (any component group: Latin or Chinese), and date and
time ranges on the scheduled start. The order's Study Instance UID and accession number (given at placement,
imaging/orders.py) go to the modality, which puts them into the images, so the study lands on the order.
Completed, revoked and draft orders are not listed. An order whose study already has images in the archive is
still listed (a second series, a second modality) with Scheduled Procedure Step Status STARTED instead of
SCHEDULED, so a modality that asks for SCHEDULED steps only no longer offers it.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from sqlalchemy.engine import Engine

from smartcare.fhir import gateway
from smartcare.hospital.imaging import orders, remote_aes
from smartcare.hospital.imaging.imaging_study import PACS_SCOPES, pacs_context
from smartcare.hospital.imaging.models import imaging_study
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.settings import get_settings

log = logging.getLogger(__name__)
PENDING, CANCELLED, FIND_FAILED = 0xFF00, 0xFE00, 0xC000
DICOM_MODALITY = "http://dicom.nema.org/resources/ontology/DCM"
ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_SYSTEM = "https://smartcare.example/fhir/sid/mrn"
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
SCHEMES = {"http://loinc.org": "LN", "http://snomed.info/sct": "SCT"}
LOCAL_SCHEME = "99SMARTCARE"
MAX_ORDERS = 1000
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PN_FORBIDDEN = re.compile(r"[=\\^\x00-\x1f]")
SPS = "ScheduledProcedureStepSequence"


@dataclass(frozen=True)
class ScheduledExam:
    """One scheduled procedure step as the worklist answers it (DICOM-ready strings)."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    accession: str
    study_uid: str
    requested_procedure_id: str
    description: str
    code: tuple[str, str, str]  # value, scheme designator, meaning
    referring: str
    priority: str
    modality: str
    station: str
    start_date: str
    start_time: str
    status: str = "SCHEDULED"


def _pn_part(text: str) -> str:
    return _PN_FORBIDDEN.sub(" ", text).strip()[:64]


def _pn_group(name: dict[str, Any]) -> str:
    family = _pn_part(name.get("family", ""))
    given = _pn_part(" ".join(name.get("given", [])))
    if not family and not given:
        return _pn_part(name.get("text", ""))
    return f"{family}^{given}" if given else family


def person_name(names: list[dict[str, Any]]) -> str:
    """A DICOM PN from FHIR names: the Latin (alphabetic) group, then the Chinese (ideographic) group if any."""
    alphabetic = ideographic = ""
    for name in names:
        group = _pn_group(name)
        if not group:
            continue
        if _CJK.search(group):
            ideographic = ideographic or group
        else:
            alphabetic = alphabetic or group
    return f"{alphabetic}={ideographic}" if ideographic else alphabetic


def patient_id(patient: dict[str, Any]) -> str:
    """The patient's hospital identifier (typed MR, else the hospital's MRN system), else the FHIR id."""
    for ident in patient.get("identifier", []):
        kinds = {c.get("code") for c in (ident.get("type") or {}).get("coding", []) if c.get("system") == ID_TYPE}
        if ("MR" in kinds or ident.get("system") == MRN_SYSTEM) and ident.get("value"):
            return str(ident["value"])[:64]
    return str(patient.get("id", ""))[:64]


def local_date_time(value: str | None) -> tuple[str, str]:
    """A FHIR date or dateTime as DICOM DA and TM in the region's time zone ("" where not known)."""
    if not value:
        return "", ""
    if len(value) <= 10:
        return value.replace("-", "")[:8], ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "", ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(get_settings().region_timezone))
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def _code(request: dict[str, Any]) -> tuple[str, str, str]:
    concept = request.get("code") or {}
    for coding in concept.get("coding", []):
        if coding.get("code"):
            scheme = SCHEMES.get(coding.get("system", ""), LOCAL_SCHEME)
            return str(coding["code"])[:16], scheme, str(coding.get("display") or concept.get("text", ""))[:64]
    return "", "", str(concept.get("text", ""))[:64]


def _modality(request: dict[str, Any]) -> str:
    for detail in request.get("orderDetail", []):
        for coding in detail.get("coding", []):
            if coding.get("system") == DICOM_MODALITY and coding.get("code"):
                return str(coding["code"])[:16]
    return ""


def exam_of(request: dict[str, Any], patient: dict[str, Any], *, referring: dict[str, Any] | None,
            stations: dict[str, str]) -> ScheduledExam:
    """The scheduled procedure step of one imaging order for its patient (and the doctor who ordered it)."""
    start_date, start_time = local_date_time(request.get("occurrenceDateTime") or request.get("authoredOn"))
    code = _code(request)
    modality = _modality(request)
    accession = orders.identifier(request, orders.ACCESSION_SYSTEM) or ""
    return ScheduledExam(
        patient_name=person_name(patient.get("name", [])), patient_id=patient_id(patient),
        birth_date=str(patient.get("birthDate", "")).replace("-", "")[:8],
        sex={"male": "M", "female": "F", "other": "O"}.get(patient.get("gender", ""), ""),
        accession=accession[:16], study_uid=orders.study_uid_of(request) or "",
        requested_procedure_id=(accession or str(request.get("id", "")))[:16], description=code[2], code=code,
        referring=person_name((referring or {}).get("name", [])),
        priority={"stat": "STAT", "asap": "HIGH", "urgent": "HIGH"}.get(request.get("priority", ""), "ROUTINE"),
        modality=modality, station=stations.get(modality, ""), start_date=start_date, start_time=start_time)


def _pattern(value: str, *, fold: bool) -> re.Pattern[str]:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def text_matches(query: str, value: str, *, person: bool = False) -> bool:
    """Single-value or wildcard matching; a person name matches on its whole value or any component group."""
    query = query.strip()
    if not query or query == "*":
        return True
    pattern = _pattern(query, fold=person)
    candidates = [value, *value.split("=")] if person else [value]
    return any(pattern.fullmatch(c.strip()) for c in candidates)


def range_matches(query: str, value: str) -> bool:
    """Single value or range matching of DA/TM (20260101-20260131, -0830, 0800-); an unknown value never
    matches a non-empty query."""
    query = query.strip()
    if not query:
        return True
    if not value:
        return False
    if "-" not in query:
        return value.startswith(query)
    low, _, high = query.partition("-")
    return (not low or value >= low) and (not high or value <= high + "\uffff")


def _value(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _step_keys(identifier: Dataset) -> Dataset:
    steps = identifier.get(SPS)
    return steps[0] if steps else Dataset()


def matches(identifier: Dataset, exam: ScheduledExam) -> bool:
    """True when the exam matches the query keys of a worklist C-FIND identifier."""
    step = _step_keys(identifier)
    texts = [(_value(identifier, "PatientID"), exam.patient_id), (_value(identifier, "AccessionNumber"),
                                                                  exam.accession),
             (_value(identifier, "RequestedProcedureID"), exam.requested_procedure_id),
             (_value(step, "Modality"), exam.modality), (_value(step, "ScheduledStationAETitle"), exam.station),
             (_value(step, "ScheduledProcedureStepStatus"), exam.status)]
    uids = _value(identifier, "StudyInstanceUID")
    return (all(text_matches(q, v) for q, v in texts)
            and text_matches(_value(identifier, "PatientName"), exam.patient_name, person=True)
            and (not uids or exam.study_uid in uids.split("\\"))
            and range_matches(_value(step, "ScheduledProcedureStepStartDate"), exam.start_date)
            and range_matches(_value(step, "ScheduledProcedureStepStartTime"), exam.start_time))


def _code_item(code: tuple[str, str, str]) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def _step(exam: ScheduledExam) -> Dataset:
    step = Dataset()
    step.Modality = exam.modality
    step.ScheduledStationAETitle = exam.station
    step.ScheduledProcedureStepStartDate = exam.start_date
    step.ScheduledProcedureStepStartTime = exam.start_time
    step.ScheduledPerformingPhysicianName = ""
    step.ScheduledProcedureStepDescription = exam.description
    step.ScheduledProcedureStepID = exam.requested_procedure_id
    step.ScheduledProcedureStepStatus = exam.status
    if exam.code[0]:
        step.ScheduledProtocolCodeSequence = Sequence([_code_item(exam.code)])
    return step


def full_item(exam: ScheduledExam) -> Dataset:
    """Every attribute the worklist knows of an exam."""
    ds = Dataset()
    ds.PatientName, ds.PatientID = exam.patient_name, exam.patient_id
    ds.PatientBirthDate, ds.PatientSex = exam.birth_date, exam.sex
    ds.AccessionNumber, ds.StudyInstanceUID = exam.accession, exam.study_uid
    ds.RequestedProcedureID, ds.RequestedProcedureDescription = exam.requested_procedure_id, exam.description
    ds.RequestedProcedurePriority = exam.priority
    if exam.code[0]:
        ds.RequestedProcedureCodeSequence = Sequence([_code_item(exam.code)])
    ds.ReferringPhysicianName = exam.referring
    ds.ScheduledProcedureStepSequence = Sequence([_step(exam)])
    return ds


def _requested(asked: Dataset, known: Dataset) -> Dataset:
    """The keys asked for, with the known values (an empty sequence item asks for all of the sequence)."""
    if len(asked) == 0:
        return known
    out = Dataset()
    for element in asked:
        if not element.keyword or element.keyword == "SpecificCharacterSet":
            continue
        if element.keyword not in known:
            out.add_new(element.tag, element.VR, None)
        elif element.VR == "SQ":
            template = element.value[0] if element.value else Dataset()
            setattr(out, element.keyword, Sequence([_requested(template, item) for item in known[element.tag].value]))
        else:
            out[element.tag] = known[element.tag]
    return out


def answer(identifier: Dataset, exam: ScheduledExam) -> Dataset:
    """The C-FIND answer for an exam: the keys asked for, UTF-8 declared when a value is not ASCII."""
    out = _requested(identifier, full_item(exam))
    texts = (exam.patient_name, exam.referring, exam.description)
    if any(not t.isascii() for t in texts):
        out.SpecificCharacterSet = "ISO_IR 192"
    return out


def worklist_context() -> AccessContext:
    """The PACS's system client, also reading the ordering doctors' names (ReferringPhysicianName)."""
    return replace(pacs_context("dicom-worklist"), scopes=parse_scopes(PACS_SCOPES + " system/Practitioner.rs"))


def scheduled_exams(ctx: AccessContext, stations: dict[str, str]) -> list[ScheduledExam]:
    """Every active imaging order the context may see, as scheduled exams (oldest first)."""
    found = gateway.search(ctx, "ServiceRequest", [
        ("category", f"http://snomed.info/sct|{orders.IMAGING_CATEGORY}"), ("status", "active"),
        ("_include", "ServiceRequest:subject"), ("_include", "ServiceRequest:requester"),
        ("_sort", "authored"), ("_count", str(MAX_ORDERS))])
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in found if r["resourceType"] != "ServiceRequest"}
    exams = []
    for request in (r for r in found if r["resourceType"] == "ServiceRequest"):
        patient = by_ref.get((request.get("subject") or {}).get("reference", ""))
        if patient is None or patient.get("resourceType") != "Patient":
            continue
        referring = by_ref.get((request.get("requester") or {}).get("reference", ""))
        exams.append(exam_of(request, patient, referring=referring, stations=stations))
    return exams


def _with_images(engine: Engine, exams: list[ScheduledExam]) -> set[str]:
    """The study UIDs of exams that have images in the archive already."""
    uids = [exam.study_uid for exam in exams if exam.study_uid]
    found: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(uids), 500):
            found.update(conn.execute(sa.select(imaging_study.c.study_uid).where(
                imaging_study.c.study_uid.in_(uids[start:start + 500]), imaging_study.c.instance_count > 0))
                .scalars())
    return found


def find(identifier: Dataset, *, engine: Engine) -> list[Dataset]:
    """The answers to a worklist C-FIND identifier."""
    with engine.connect() as conn:
        stations = remote_aes.station_titles(conn)
    exams = scheduled_exams(worklist_context(), stations)
    started = _with_images(engine, exams)
    exams = [replace(exam, status="STARTED") if exam.study_uid in started else exam for exam in exams]
    return [answer(identifier, exam) for exam in exams if matches(identifier, exam)]


def on_find(event: Any, *, engine: Engine) -> Iterator[tuple[Any, Dataset | None]]:
    """The C-FIND handler of the Modality Worklist information model: pending answers, then success."""
    try:
        answers = find(event.identifier, engine=engine)
    except Exception:  # a query that fails must end with a status, never drop the association
        log.exception("a worklist C-FIND from %s failed", event.assoc.requestor.ae_title)
        status = Dataset()
        status.Status, status.ErrorComment = FIND_FAILED, "the worklist could not be read"
        yield status, None
        return
    for item in answers:
        if event.is_cancelled:
            yield CANCELLED, None
            return
        yield PENDING, item
