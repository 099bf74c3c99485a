"""Imaging orders and studies for the demo, so the radiologist's worklist and the Modality Worklist have work.

The hospital doctor of the demo accounts (accounts.hospital_doctor) ordered a chest radiograph, CT head, CT chest
and MRI brain for some of the patients they saw, placed the way the workstation places them (ordering's
ServiceRequest, imaging/orders.py's accession numbers and Study Instance UIDs, as the doctor). Some have been
performed: small synthetic studies (imaging/synthetic.py, the order's patient, accession number and study UID)
stored through the PACS's own store_instance under the data directory and published as ImagingStudy, waiting
for a report; the rest are still scheduled, so a modality finds them in the worklist. Study UIDs are derived
from the order's place in the list, so every load makes the same studies and loading again adds nothing; times
are relative to the load.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from smartcare.demo.accounts import hospital_doctor
from smartcare.demo.lab_orders import doctor_patients
from smartcare.fhir import gateway
from smartcare.hospital.imaging import orders, worklist
from smartcare.hospital.imaging.service import Batch, publish_now, store_instance
from smartcare.hospital.imaging.synthetic import SyntheticPatient, SyntheticStudy, iter_study, synthetic_uid
from smartcare.hospital.workstation import ordering
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.users import scope_ceiling
from smartcare.platform.settings import get_settings

HOSPITAL = "Organization/org-hosp-1"
RADIOLOGY = "HealthcareService/hcs-hosp-1-radiology"
CALLING_AE = "DEMO_MODALITY"
# (catalogue key, priority, performed: (slices, size) of its synthetic study, or None while still scheduled).
ORDERS: tuple[tuple[str, str, tuple[int, int] | None], ...] = (
    ("ct-head", "stat", (20, 128)), ("xr-chest-2v", "routine", (1, 256)), ("ct-chest", "urgent", (20, 128)),
    ("mr-brain", "routine", (8, 128)), ("ct-chest", "routine", None), ("xr-chest-2v", "urgent", None),
    ("mr-brain", "routine", None),
)
_SEX = {"male": "M", "female": "F"}


def _doctor_context(doctor: str) -> AccessContext:
    """The demo's hospital doctor (doctor.demo) as the workstation's signed-in doctor."""
    return AccessContext(kind="user", name="doctor.demo", roles=frozenset({"doctor"}), organization=HOSPITAL,
                         fhir_user=doctor, scopes=scope_ceiling("doctor"))


def _entry(ctx: AccessContext, n: int, key: str, priority: str, patient: str, at: str) -> dict[str, Any]:
    """One order as the workstation writes it, with its demo study UID already chosen (kept at placement)."""
    request = ordering.service_request(ctx, catalogue.find_order(key), ordering.OrderRequest(key, priority=priority),
                                       patient_id=patient.split("/", 1)[1], encounter_id=None, now=at)
    request["identifier"] = [{"system": orders.DICOM_UID, "value": f"urn:oid:{synthetic_uid('demo-order', n)}"}]
    return {"fullUrl": f"urn:uuid:{uuid.UUID(int=n + 1)}", "request": {"method": "POST", "url": "ServiceRequest"},
            "resource": request}


def already_placed(ctx: AccessContext) -> bool:
    """True when an earlier load placed the demo's orders (loading again must not place them twice)."""
    first = f"{orders.DICOM_UID}|urn:oid:{synthetic_uid('demo-order', 0)}"
    return bool(gateway.search(ctx, "ServiceRequest", [("identifier", first), ("_count", "1")]))


def place_orders(ctx: AccessContext, patients: list[str]) -> list[dict[str, Any]]:
    """Place the demo's imaging orders in one transaction as the doctor; the orders as stored."""
    now = clock.now()
    entries = [_entry(ctx, n, key, priority, patients[n % len(patients)],
                      clock.format_instant(now - timedelta(minutes=180 - 15 * n)))
               for n, (key, priority, _) in enumerate(ORDERS)]
    response = orders.place_transaction(ctx, {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    refs = ["/".join((e.get("response") or {}).get("location", "").split("/_history")[0].split("/")[-2:])
            for e in response.get("entry", [])]
    return [gateway.read(ctx, ref) for ref in refs]


def synthetic_study(key: str, request: dict[str, Any], patient: dict[str, Any], *, slices: int, size: int,
                    performed: datetime) -> SyntheticStudy:
    """The synthetic study a modality would make for the order: its patient as the worklist gave them."""
    names = worklist.person_name(patient.get("name", [])).split("=")
    order = catalogue.find_order(key)
    birth = patient.get("birthDate")
    return SyntheticStudy(
        patient=SyntheticPatient(patient_id=worklist.patient_id(patient), name=names[0] or "Anonymous",
                                 ideographic_name=names[1] if len(names) > 1 else "",
                                 birth_date=datetime.fromisoformat(birth).date() if birth and len(birth) == 10 else None,
                                 sex=_SEX.get(patient.get("gender", ""), "O")),
        modality=order.modality if order.modality in ("CT", "MR", "CR", "DX") else "DX",
        accession_number=orders.identifier(request, orders.ACCESSION_SYSTEM) or "",
        description=order.name_en[:64], performed=performed, slices=slices, size=size)


def store_study(request: dict[str, Any], study: SyntheticStudy, *, engine: Engine, batch: Batch) -> int:
    """Send the study's instances into the archive under the order's Study Instance UID; how many were stored."""
    study_uid = orders.study_uid_of(request)
    stored = 0
    for ds in iter_study(study):
        ds.StudyInstanceUID = study_uid
        outcome = store_instance(ds, calling_ae=CALLING_AE, engine=engine, batch=batch)
        stored += outcome.stored
    return stored


def load_imaging(engine: Engine) -> int:
    """Place the demo's imaging orders and store the performed ones' studies; how many FHIR resources."""
    with unit_of_work(engine) as conn:
        doctor = hospital_doctor(conn)
        patients = doctor_patients(conn, doctor, len(ORDERS)) if doctor else []
    if doctor is None or not patients:
        return 0
    ctx = _doctor_context(doctor)
    if already_placed(ctx):
        return 0
    placed = place_orders(ctx, patients)
    local_now = clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).replace(tzinfo=None)
    batch = Batch()
    for n, (request, (key, _, performed)) in enumerate(zip(placed, ORDERS, strict=True)):
        if performed is None:
            continue
        patient = gateway.read(ctx, request["subject"]["reference"])
        study = synthetic_study(key, request, patient, slices=performed[0], size=performed[1],
                                performed=local_now - timedelta(minutes=100 - 15 * n))
        store_study(request, study, engine=engine, batch=batch)
    publish_now(sorted(batch.studies), engine=engine)
    return len(placed) + len(batch.studies)
