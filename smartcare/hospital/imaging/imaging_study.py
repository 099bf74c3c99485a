"""Studies of the index as FHIR ImagingStudy, linked to their Patient and to the order they answer.

The PACS acts as a system client through the gateway (the access policy and audit apply, as for the HL7
interface). A study lands on its order first: the imaging ServiceRequest whose Study Instance UID (identifier
urn:dicom:uid, given at placement and handed to the modality by the worklist) is the study's, else the one whose
accession number is the study's AccessionNumber; the order's subject is then the patient. The DICOM PatientID
must agree with it (one of that patient's identifier values, or the patient's FHIR id, which the worklist sends
for a patient without a hospital number; an empty PatientID agrees): a study that contradicts its order waits
in imaging_reconciliation, since patients are never guessed. Without an order the Patient is the one whose
identifier value equals the PatientID; a study matching neither waits in the queue too (an ImagingStudy needs
its subject). A study is written when its instance count differs from the count it was last written with: once
per study at the end of an association, and again by publish_pending after a crash cut that short.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.imaging.models import (
    imaging_instance,
    imaging_reconciliation,
    imaging_series,
    imaging_study,
)
from smartcare.hospital.imaging.orders import is_imaging_request
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.settings import get_settings

PACS_SCOPES = "system/Patient.rs system/ServiceRequest.rs system/ImagingStudy.cruds"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
DICOM_UID = "urn:dicom:uid"
ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}
OPEN, RESOLVED = "open", "resolved"


def pacs_context(name: str = "dicom-pacs") -> AccessContext:
    """The system client the PACS acts as: it reads patients and orders and writes ImagingStudy."""
    return AccessContext(kind="client", name=name, roles=frozenset({"system"}), subject=name,
                         scopes=parse_scopes(PACS_SCOPES))


def _search(conn: Connection, ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


# Why a study waits in the reconciliation queue: kept as the message (marked for the catalogue) and its values,
# so the console shows it in the administrator's language.
NO_PATIENT_ID = _("No order has this study's UID or accession number, and the study has no PatientID.")
UNKNOWN_PATIENT_ID = _("No order has this study's UID or accession number, and no patient has the identifier "
                       "%(patient_id)s.")
AMBIGUOUS_PATIENT_ID = _("No order has this study's UID or accession number, and more than one patient has the "
                         "identifier %(patient_id)s.")
UNREADABLE_PATIENT = _("The patient of %(order)s could not be read.")
OTHER_PATIENT = _("The study's PatientID %(patient_id)s is not the patient of its order %(order)s (%(patient)s).")


@dataclass(frozen=True)
class Reason:
    """Why a study could not be matched: a catalogue message and the values it names."""

    message: str
    values: dict[str, str]

    def stored(self) -> str:
        """The reason as the queue keeps it (JSON)."""
        return json.dumps({"message": self.message, "values": self.values}, ensure_ascii=False)

    def english(self) -> str:
        """The reason in English (for the log)."""
        return self.message % self.values


def reason_text(stored: str, gettext: Callable[[str], str]) -> str:
    """A queued reason in the reader's language; a reason kept as plain text (older rows) as it is."""
    try:
        reason = json.loads(stored)
        template, values = reason["message"], reason["values"]
        return gettext(template) % {k: str(v) for k, v in values.items()}
    except (ValueError, KeyError, TypeError):
        return stored


def match_patient(conn: Connection, ctx: AccessContext, patient_id: str) -> tuple[str | None, Reason | None]:
    """The Patient reference whose identifier is patient_id, or None and why it could not be matched."""
    if not patient_id:
        return None, Reason(NO_PATIENT_ID, {})
    found = _search(conn, ctx, "Patient", [("identifier", patient_id), ("_count", "2")])
    if len(found) == 1:
        return f"Patient/{found[0]['id']}", None
    if not found:
        return None, Reason(UNKNOWN_PATIENT_ID, {"patient_id": repr(patient_id)})
    return None, Reason(AMBIGUOUS_PATIENT_ID, {"patient_id": repr(patient_id)})


def match_request(conn: Connection, ctx: AccessContext, accession: str, patient_ref: str) -> str | None:
    """The patient's ServiceRequest whose accession or placer identifier is accession, if there is one."""
    if not accession:
        return None
    found = _search(conn, ctx, "ServiceRequest", [("identifier", accession), ("subject", patient_ref),
                                                  ("_count", "2")])
    return f"ServiceRequest/{found[0]['id']}" if len(found) == 1 else None


def _one_order(found: list[dict]) -> dict | None:
    """The one order found (an imaging order preferred when numbers of other departments coincide)."""
    if len(found) > 1:
        found = [r for r in found if is_imaging_request(r)]
    return found[0] if len(found) == 1 else None


def match_order(conn: Connection, ctx: AccessContext, study_uid: str, accession: str) -> dict | None:
    """The order a study answers: by its Study Instance UID first, else by its accession number; or None."""
    by_uid = _search(conn, ctx, "ServiceRequest", [
        ("identifier", f"{DICOM_UID}|urn:oid:{study_uid},{DICOM_UID}|{study_uid}"), ("_count", "2")])
    order = _one_order(by_uid)
    if order is None and accession:
        order = _one_order(_search(conn, ctx, "ServiceRequest", [("identifier", accession), ("_count", "3")]))
    subject = ((order or {}).get("subject") or {}).get("reference", "")
    return order if subject.startswith("Patient/") else None


def is_patient(patient: dict, patient_id: str) -> bool:
    """True when a DICOM PatientID names this patient: one of its identifier values, or its FHIR id."""
    values = {str(i.get("value", "")).strip() for i in patient.get("identifier", [])}
    return patient_id in values or patient_id == patient.get("id")


def match_study(conn: Connection, ctx: AccessContext,
                study: Any) -> tuple[str | None, str | None, Reason | None]:
    """The study's Patient and ServiceRequest references, or no patient and why (for the reconciliation queue)."""
    order = match_order(conn, ctx, study.study_uid, study.accession_number)
    if order is None:
        patient_ref, reason = match_patient(conn, ctx, study.patient_id)
        if patient_ref is None:
            return None, None, reason
        return patient_ref, match_request(conn, ctx, study.accession_number, patient_ref), None
    patient_ref, order_ref = order["subject"]["reference"], f"ServiceRequest/{order['id']}"
    found = _search(conn, ctx, "Patient", [("_id", patient_ref.split("/", 1)[1]), ("_count", "1")])
    if not found:
        return None, None, Reason(UNREADABLE_PATIENT, {"order": order_ref})
    if study.patient_id and not is_patient(found[0], study.patient_id):
        return None, None, Reason(OTHER_PATIENT, {"patient_id": repr(study.patient_id), "order": order_ref,
                                                  "patient": patient_ref})
    return patient_ref, order_ref, None


def started(study_date: str, study_time: str) -> str | None:
    """StudyDate and StudyTime (local time of the region) as a FHIR dateTime, or None when not a valid date."""
    digits = "".join(ch for ch in study_time.split(".")[0] if ch.isdigit())[:6]
    try:
        moment = datetime.strptime(study_date + digits.ljust(6, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if not digits:
        return moment.date().isoformat()
    return moment.replace(tzinfo=ZoneInfo(get_settings().region_timezone)).isoformat()


def _series(conn: Connection, study_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(imaging_series).where(imaging_series.c.study == study_id)
                        .order_by(imaging_series.c.series_number, imaging_series.c.id)).all()
    instances: dict[int, list[Any]] = {}
    for inst in conn.execute(sa.select(imaging_instance.c.series, imaging_instance.c.sop_instance_uid,
                                       imaging_instance.c.sop_class_uid, imaging_instance.c.instance_number)
                             .join(imaging_series, imaging_series.c.id == imaging_instance.c.series)
                             .where(imaging_series.c.study == study_id)
                             .order_by(imaging_instance.c.instance_number, imaging_instance.c.id)):
        instances.setdefault(inst.series, []).append(inst)
    out = []
    for row in rows:
        series: dict[str, Any] = {"uid": row.series_uid, "modality": {"system": DCM, "code": row.modality or "OT"},
                                  "numberOfInstances": row.instance_count}
        if row.series_number is not None and row.series_number >= 0:
            series["number"] = row.series_number
        if row.series_description:
            series["description"] = row.series_description
        series["instance"] = [{"uid": i.sop_instance_uid, "sopClass": {"system": "urn:ietf:rfc:3986",
                                                                       "code": f"urn:oid:{i.sop_class_uid}"},
                               **({"number": i.instance_number} if i.instance_number is not None
                                  and i.instance_number >= 0 else {})} for i in instances.get(row.id, [])]
        out.append(series)
    return out


def imaging_study_resource(conn: Connection, study: Any, *, patient_ref: str, request_ref: str | None) -> dict:
    """The ImagingStudy of an index row: identifiers, subject, order, modalities, counts, series and instances."""
    identifiers: list[dict[str, Any]] = [{"system": DICOM_UID, "value": f"urn:oid:{study.study_uid}"}]
    if study.accession_number:
        identifiers.append({"type": ACSN, "value": study.accession_number})
    resource: dict[str, Any] = {
        "resourceType": "ImagingStudy", "status": "available", "identifier": identifiers,
        "subject": {"reference": patient_ref}, "numberOfSeries": study.series_count,
        "numberOfInstances": study.instance_count,
        "modality": [{"system": DCM, "code": m} for m in study.modalities.split("\\") if m],
        "series": _series(conn, study.id),
    }
    when = started(study.study_date, study.study_time)
    if when:
        resource["started"] = when
    if request_ref:
        resource["basedOn"] = [{"reference": request_ref}]
    if study.study_description:
        resource["description"] = study.study_description
    return resource


def _queue(conn: Connection, study_id: int, why: Reason | None) -> None:
    reason = (why or Reason(_("The study could not be matched to a patient."), {})).stored()
    if len(reason) > 500:
        reason = (why.english() if why else reason)[:500]
    open_item = conn.execute(sa.select(imaging_reconciliation.c.id, imaging_reconciliation.c.status)
                             .where(imaging_reconciliation.c.study == study_id)).first()
    if open_item is None:
        conn.execute(imaging_reconciliation.insert().values(study=study_id, reason=reason[:500], status=OPEN,
                                                            created=clock.now().isoformat()))
    else:
        conn.execute(imaging_reconciliation.update().where(imaging_reconciliation.c.id == open_item.id)
                     .values(reason=reason[:500], status=OPEN, resolved_at=None, resolved_by=None))


def _write(conn: Connection, ctx: AccessContext, study: Any, resource: dict) -> str:
    if study.fhir_ref:
        resource["id"] = study.fhir_ref.split("/", 1)[1]
        gateway.serve_within(conn, ctx, FhirRequest(method="PUT", path=study.fhir_ref, body=resource))
        return study.fhir_ref
    created = gateway.serve_within(conn, ctx, FhirRequest(method="POST", path="ImagingStudy", body=resource))
    return f"ImagingStudy/{created.body['id']}"


def publish_within(conn: Connection, ctx: AccessContext, study_uid: str) -> str | None:
    """Write (or rewrite) the ImagingStudy of a study in conn's transaction; its reference, or None when the
    patient could not be matched and the study waits in the reconciliation queue."""
    study = conn.execute(sa.select(imaging_study).where(imaging_study.c.study_uid == study_uid)).first()
    if study is None:
        return None
    patient_ref, request_ref = study.patient_ref, study.request_ref
    if patient_ref is None:
        patient_ref, request_ref, reason = match_study(conn, ctx, study)
        if patient_ref is None:
            _queue(conn, study.id, reason)
            return None
    elif request_ref is None:  # the patient was chosen in the reconciliation console: their order, if any
        request_ref = match_request(conn, ctx, study.accession_number, patient_ref)
    fhir_ref = _write(conn, ctx, study, imaging_study_resource(conn, study, patient_ref=patient_ref,
                                                               request_ref=request_ref))
    conn.execute(imaging_study.update().where(imaging_study.c.id == study.id).values(
        patient_ref=patient_ref, request_ref=request_ref, fhir_ref=fhir_ref,
        fhir_instance_count=study.instance_count))
    conn.execute(imaging_reconciliation.update().where(imaging_reconciliation.c.study == study.id,
                                                       imaging_reconciliation.c.status == OPEN)
                 .values(status=RESOLVED, resolved_at=clock.now().isoformat(), resolved_by=ctx.author[:200]))
    return fhir_ref


def publish_for_patient(conn: Connection, ctx: AccessContext, study_uid: str, patient_ref: str) -> str | None:
    """Publish a queued study for the Patient someone picked in the console (its index row keeps the patient,
    so later instances follow it); the ImagingStudy reference, or None when there is no such study."""
    conn.execute(imaging_study.update().where(imaging_study.c.study_uid == study_uid)
                 .values(patient_ref=patient_ref, request_ref=None))
    return publish_within(conn, ctx, study_uid)


def publish(study_uid: str, *, engine: Engine | None = None, ctx: AccessContext | None = None) -> str | None:
    """Write the ImagingStudy of one study in its own transaction (see publish_within)."""
    with unit_of_work(engine) as conn:
        return publish_within(conn, ctx or pacs_context(), study_uid)


def publish_pending(*, engine: Engine | None = None, limit: int = 1000) -> int:
    """Write every study whose ImagingStudy is behind its index (e.g. after a crash); how many were due."""
    with unit_of_work(engine) as conn:
        due = conn.execute(sa.select(imaging_study.c.study_uid).where(
            imaging_study.c.instance_count != imaging_study.c.fhir_instance_count).limit(limit)).scalars().all()
    for study_uid in due:
        publish(study_uid, engine=engine)
    return len(due)
