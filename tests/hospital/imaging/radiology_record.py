"""A hospital with radiology for the reporting tests: the lab tests' hospital plus a radiology department, a
radiologist, CT chest orders for Mrs Wang placed by Dr Li, and their studies as FHIR ImagingStudy.

Studies are written straight into the store as the platform (the PACS tests cover how they get there).
"""

from smartcare.fhir import store
from smartcare.hospital.workstation import ordering
from smartcare.hospital.workstation.ordering import OrderRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from tests.hospital.lab.lab_workflow_record import DEPARTMENT, write_hospital
from tests.web_support import make_user

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _write(resources: list[dict]) -> None:
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def write_radiology(engine) -> dict:
    """The lab hospital, its radiology department and the radiologist Dr Gao (rad.gao); contexts by name."""
    people = write_hospital(engine)
    _write([{"resourceType": "Organization", "id": "dept-radiology", "name": "radiology",
             "partOf": {"reference": "Organization/org-h"}},
            {"resourceType": "HealthcareService", "id": "hcs-radiology", "name": "radiology",
             "providedBy": {"reference": "Organization/dept-radiology"},
             "type": [{"coding": [{"system": DEPARTMENT, "code": "radiology"}]}]},
            {"resourceType": "Practitioner", "id": "prac-gao", "name": [{"text": "Gao Yan"}]}])
    account = make_user(engine, "radiologist", username="rad.gao", fhir_ref="Practitioner/prac-gao",
                        organization="Organization/org-h")
    return {**people, "radiologist": users.context_for(account), "radiologist_id": account.id}


def order(ctx: AccessContext, key: str = "ct-chest", *, priority: str = "routine", note: str = "") -> str:
    """Place one imaging order for Mrs Wang; the ServiceRequest id."""
    placed = ordering.place(ctx=ctx, patient_id="p-wang", orders=[OrderRequest(key, priority=priority, note=note)])
    return placed[0].split("/")[1]


def study(study_id: str, request_id: str | None, *, started: str = "2026-03-02T08:30:00+08:00",
          modality: str = "CT", patient: str = "p-wang", description: str = "CT CHEST") -> str:
    """An ImagingStudy of two series for the order; its id."""
    resource = {"resourceType": "ImagingStudy", "id": study_id, "status": "available",
                "subject": {"reference": f"Patient/{patient}"}, "started": started, "description": description,
                "modality": [{"system": DCM, "code": modality}], "numberOfSeries": 2, "numberOfInstances": 30,
                "series": [{"uid": f"1.2.3.{n}", "number": n, "modality": {"system": DCM, "code": modality},
                            "description": f"Series {n}", "numberOfInstances": 15} for n in (1, 2)]}
    if request_id:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{request_id}"}]
    _write([resource])
    return study_id
