"""A stored study lands on its order (by study UID, else accession number) and the order's patient; a study
that contradicts its order, or matches nothing, waits for reconciliation."""

import sqlalchemy as sa

from smartcare.fhir import gateway, store
from smartcare.fhir.tables import resource
from smartcare.hospital.imaging import orders, service
from smartcare.hospital.imaging.models import imaging_reconciliation
from smartcare.hospital.imaging.service import store_instance
from smartcare.hospital.imaging.storage import FileStore
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.dicom_samples import ct_slice, uid
from tests.hospital.imaging.radiology_record import order, write_radiology

MRN = "https://smartcare.example/fhir/sid/mrn"
IMAGING = {"coding": [{"system": orders.SNOMED, "code": orders.IMAGING_CATEGORY}]}
ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}


def _write(resources: list[dict]) -> None:
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def _order(order_id: str, patient: str, *, accession: str, study_uid: str) -> dict:
    """An imaging order as orders.py numbers it: accession number (ACSN) and Study Instance UID."""
    return {"resourceType": "ServiceRequest", "id": order_id, "status": "active", "intent": "order",
            "category": [IMAGING], "code": {"text": "CT chest"}, "subject": {"reference": f"Patient/{patient}"},
            "identifier": [{"system": orders.ACCESSION_SYSTEM, "type": ACSN, "value": accession},
                           {"system": orders.DICOM_UID, "value": f"urn:oid:{study_uid}"}]}


def _write_patients_and_orders() -> dict[str, str]:
    """Mrs Wang (MRN P-1) with a CT order, Mr Zhao (MRN P-2) with a CT order, Ms Sun (no MRN); study UIDs."""
    uids = {"wang": uid(), "zhao": uid()}
    _write([
        {"resourceType": "Patient", "id": "p-wang", "identifier": [{"system": MRN, "value": "P-1"}],
         "name": [{"family": "Wang", "given": ["Fang"]}], "gender": "female"},
        {"resourceType": "Patient", "id": "p-zhao", "identifier": [{"system": MRN, "value": "P-2"}],
         "name": [{"family": "Zhao", "given": ["Lei"]}], "gender": "male"},
        _order("sr-wang", "p-wang", accession="R26030200001", study_uid=uids["wang"]),
        _order("sr-zhao", "p-zhao", accession="R26030200002", study_uid=uids["zhao"]),
    ])
    return uids


def _store(tmp_path, **attributes) -> str:
    """Store one CT slice; the study UID it went to."""
    ds = ct_slice(**attributes)
    outcome = store_instance(ds, calling_ae="CT1", store=FileStore(tmp_path))
    assert outcome.status == service.SUCCESS, outcome.reason
    return ds.StudyInstanceUID


def _imaging_studies() -> list[dict]:
    with unit_of_work() as conn:
        return [r[0] for r in conn.execute(sa.select(resource.c.content).where(
            resource.c.res_type == "ImagingStudy", resource.c.deleted.is_(False)))]


def _queue() -> list:
    with unit_of_work() as conn:
        return conn.execute(sa.select(imaging_reconciliation)).all()


def _landed() -> tuple[str, str | None]:
    [study] = _imaging_studies()
    return study["subject"]["reference"], (study.get("basedOn") or [{}])[0].get("reference")


def test_study_with_the_order_study_uid_lands_on_that_order_without_an_accession_number(engine, tmp_path):
    uids = _write_patients_and_orders()
    _store(tmp_path, patient_id="P-1", study_uid=uids["wang"], accession="")
    assert _landed() == ("Patient/p-wang", "ServiceRequest/sr-wang")
    assert _queue() == []


def test_study_uid_wins_over_the_accession_number_of_another_order(engine, tmp_path):
    uids = _write_patients_and_orders()
    _store(tmp_path, patient_id="P-2", study_uid=uids["zhao"], accession="R26030200001")
    assert _landed() == ("Patient/p-zhao", "ServiceRequest/sr-zhao")


def test_study_with_a_new_uid_lands_on_its_order_by_accession_number(engine, tmp_path):
    _write_patients_and_orders()
    _store(tmp_path, patient_id="P-1", accession="R26030200001")
    assert _landed() == ("Patient/p-wang", "ServiceRequest/sr-wang")


def test_patient_id_left_empty_by_the_modality_takes_the_order_patient(engine, tmp_path):
    uids = _write_patients_and_orders()
    _store(tmp_path, patient_id="", study_uid=uids["zhao"])
    assert _landed() == ("Patient/p-zhao", "ServiceRequest/sr-zhao")


def test_study_whose_patient_id_contradicts_its_order_waits_in_reconciliation(engine, tmp_path):
    uids = _write_patients_and_orders()
    _store(tmp_path, patient_id="P-2", study_uid=uids["wang"], accession="R26030200001")
    assert _imaging_studies() == []
    [item] = _queue()
    assert item.status == "open"
    assert "'P-2'" in item.reason and "ServiceRequest/sr-wang" in item.reason


def test_study_of_an_unknown_patient_id_on_an_order_is_not_given_to_the_order_patient(engine, tmp_path):
    _write_patients_and_orders()
    _store(tmp_path, patient_id="SOMEONE-ELSE", accession="R26030200002")
    assert _imaging_studies() == []
    [item] = _queue()
    assert "SOMEONE-ELSE" in item.reason and "sr-zhao" in item.reason


def test_study_without_an_order_lands_on_the_patient_by_identifier(engine, tmp_path):
    _write_patients_and_orders()
    _store(tmp_path, patient_id="P-2", accession="UNKNOWN-ACC")
    assert _landed() == ("Patient/p-zhao", None)


def test_study_matching_neither_order_nor_patient_waits_in_reconciliation(engine, tmp_path):
    _write_patients_and_orders()
    _store(tmp_path, patient_id="NOBODY-7", accession="NO-SUCH-ACC")
    assert _imaging_studies() == []
    [item] = _queue()
    assert item.status == "open" and "NOBODY-7" in item.reason


def test_order_placed_at_the_workstation_gets_the_study_the_worklist_asked_for(engine, tmp_path):
    """Mrs Wang of the reporting hospital has no hospital number: the worklist sends her FHIR id."""
    rad = write_radiology(engine)
    placed = gateway.read(rad["doctor"], f"ServiceRequest/{order(rad['doctor'])}")
    study_uid = orders.study_uid_of(placed)
    accession = orders.identifier(placed, orders.ACCESSION_SYSTEM)
    assert study_uid and accession
    _store(tmp_path, patient_id="p-wang", study_uid=study_uid, accession=accession)
    assert _landed() == ("Patient/p-wang", f"ServiceRequest/{placed['id']}")
    assert _queue() == []
