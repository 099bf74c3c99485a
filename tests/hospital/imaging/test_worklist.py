"""The Modality Worklist: imaging orders placed at the workstation get accession numbers and study UIDs, and a
modality (dcmtk's findscu -W, pynetdicom for odd queries) finds them by patient, accession, modality and date."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind

from smartcare.fhir import gateway, store
from smartcare.hospital.imaging import orders, remote_aes
from smartcare.hospital.imaging.dicom import PacsService
from smartcare.hospital.workstation import ordering
from smartcare.hospital.workstation.ordering import OrderRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.cds.prescribing_record import write_record
from tests.hospital.imaging.pacs_peer import dcmtk, start_pacs
from tests.web_support import make_user

DEPARTMENT = "https://smartcare.example/fhir/CodeSystem/department"
MR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def _department(key: str) -> list[dict]:
    return [{"resourceType": "Organization", "id": f"dept-{key}", "name": key,
             "partOf": {"reference": "Organization/org-h"}},
            {"resourceType": "HealthcareService", "id": f"hcs-{key}", "name": key,
             "providedBy": {"reference": f"Organization/dept-{key}"},
             "type": [{"coding": [{"system": DEPARTMENT, "code": key}]}]}]


@pytest.fixture
def doctor(engine, now):
    """Dr Li of org-h with a radiology department; Mrs Lin (Chinese and pinyin names, MRN H-77) is a patient."""
    write_record()
    lin = {"resourceType": "Patient", "id": "p-lin", "gender": "female", "birthDate": "1962-05-09",
           "identifier": [{"type": MR_TYPE, "system": "https://smartcare.example/fhir/sid/hospital-mrn",
                           "value": "H-77"}],
           "name": [{"use": "official", "family": "林", "given": ["静"]},
                    {"use": "official", "family": "Lin", "given": ["Jing"]}],
           "managingOrganization": {"reference": "Organization/org-h"}}
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                         for r in [*_department("radiology"), lin]])
    user = make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li",
                     organization="Organization/org-h")
    return users.context_for(user)


@pytest.fixture
def pacs(engine, tmp_path) -> Iterator[PacsService]:
    running = start_pacs(engine, tmp_path / "archive", allow_any_caller=True)
    yield running
    running.stop()


def _place(ctx, patient: str, *keys: str) -> list[dict]:
    placed = ordering.place(ctx=ctx, patient_id=patient, orders=[OrderRequest(k) for k in keys])
    return [gateway.read(ctx, ref) for ref in placed]


def _worklist(pacs: PacsService, out: Path, *keys: str, query_file: Path | None = None) -> list[Dataset]:
    """findscu -W with -k keys (and a query file): the answers, read back from the extracted files."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("rsp*.dcm"):
        old.unlink()
    args = ["-W", "-X", "-od", str(out)]
    for key in keys:
        args += ["-k", key]
    done = dcmtk("findscu", pacs, *args, files=[str(query_file)] if query_file else [])
    assert done.returncode == 0, done.stderr
    return [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]


def _ask(pacs: PacsService, identifier: Dataset) -> list[tuple[int, Dataset | None]]:
    ae = AE(ae_title="ODDMOD")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(*pacs.address, ae_title="SMARTCARE")
    assert assoc.is_established
    try:
        return [(status.Status, ds) for status, ds in assoc.send_c_find(identifier, ModalityWorklistInformationFind)]
    finally:
        assoc.release()


STANDARD_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
                 "StudyInstanceUID", "RequestedProcedureDescription", "RequestedProcedureID",
                 "ReferringPhysicianName", "ScheduledProcedureStepSequence[0].Modality",
                 "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
                 "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
                 "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime")


def test_imaging_orders_get_unique_accession_numbers_of_the_day_and_a_study_uid(doctor):
    ct, xr = _place(doctor, "p-wang", "ct-chest", "xr-chest-pa")
    again, = _place(doctor, "p-lin", "mr-brain")
    numbers = [orders.identifier(r, orders.ACCESSION_SYSTEM) for r in (ct, xr, again)]
    # 08:00 UTC on 2 March 2026 is the 2nd in China.
    assert numbers == ["R26030200001", "R26030200002", "R26030200003"]
    uids = {orders.study_uid_of(r) for r in (ct, xr, again)}
    assert len(uids) == 3 and all(re.fullmatch(r"2\.25\.\d{1,39}", u) for u in uids)
    lab, = _place(doctor, "p-wang", "4548-4")
    assert orders.identifier(lab, orders.ACCESSION_SYSTEM) is None


def test_a_number_taken_meanwhile_is_not_shared(doctor, monkeypatch):
    first, = _place(doctor, "p-wang", "ct-head")
    # A second doctor read the same highest number before the first order was written.
    real, stale = orders.highest_today, [0]
    monkeypatch.setattr(orders, "highest_today", lambda day: stale.pop() if stale else real(day))
    second, = _place(doctor, "p-lin", "ct-chest")
    assert orders.identifier(first, orders.ACCESSION_SYSTEM) == "R26030200001"
    assert orders.identifier(second, orders.ACCESSION_SYSTEM) == "R26030200002"
    assert second["subject"]["reference"] == "Patient/p-lin" and second["id"] != first["id"]


def test_findscu_worklist_lists_active_orders_with_patient_and_order_details(doctor, pacs, tmp_path):
    ct, = _place(doctor, "p-lin", "ct-chest")
    _place(doctor, "p-wang", "xr-chest-pa")
    with unit_of_work() as conn:
        remote_aes.save(conn, remote_aes.checked(ae_title="CT_ROOM1", host="10.0.0.5", port=104, modality="CT",
                                                 description="CT room 1"), allowed=True)
    answers = _worklist(pacs, tmp_path / "rsp", *STANDARD_KEYS)
    assert len(answers) == 2
    lin = next(a for a in answers if a.PatientID == "H-77")
    assert str(lin.PatientName) == "Lin^Jing=林^静"
    assert lin.SpecificCharacterSet == "ISO_IR 192"
    assert (lin.PatientBirthDate, lin.PatientSex) == ("19620509", "F")
    assert lin.AccessionNumber == orders.identifier(ct, orders.ACCESSION_SYSTEM)
    assert lin.StudyInstanceUID == orders.study_uid_of(ct)
    assert lin.RequestedProcedureDescription == "CT Chest without contrast"
    step = lin.ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", "CT_ROOM1")
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime) == ("20260302", "160000")
    wang = next(a for a in answers if a.PatientID == "p-wang")
    assert str(wang.PatientName) == "Wang Fang" and wang.ScheduledProcedureStepSequence[0].Modality == "DX"


def test_findscu_worklist_matches_wildcards_modality_station_and_date_ranges(doctor, pacs, tmp_path):
    _place(doctor, "p-lin", "ct-chest")
    _place(doctor, "p-wang", "xr-chest-pa")
    out = tmp_path / "rsp"
    assert [a.PatientID for a in _worklist(pacs, out, *STANDARD_KEYS[:2], "PatientName=lin*")] == ["H-77"]
    assert [a.PatientID for a in _worklist(pacs, out, "SpecificCharacterSet=ISO_IR 192", "PatientID",
                                                      "PatientName=林*")] == ["H-77"]
    assert [a.PatientID for a in _worklist(pacs, out, "PatientID=p-w?ng")] == ["p-wang"]
    dx = _worklist(pacs, out, "PatientID", "ScheduledProcedureStepSequence[0].Modality=DX")
    assert [a.PatientID for a in dx] == ["p-wang"]
    in_range = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260301-20260303"
    assert len(_worklist(pacs, out, "PatientID", in_range)) == 2
    before = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=-20260301"
    assert _worklist(pacs, out, "PatientID", before) == []
    afternoon = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime=1500-1700"
    assert len(_worklist(pacs, out, "PatientID", afternoon)) == 2
    station = "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT_ROOM1"
    assert _worklist(pacs, out, "PatientID", station) == []


def test_findscu_worklist_with_a_query_file_and_accession_number(doctor, pacs, tmp_path):
    ct, = _place(doctor, "p-lin", "ct-chest")
    _place(doctor, "p-lin", "mr-brain")
    query = Dataset()
    query.AccessionNumber = orders.identifier(ct, orders.ACCESSION_SYSTEM)
    query.PatientName = ""
    query.ScheduledProcedureStepSequence = Sequence([Dataset()])
    path = tmp_path / "query.dcm"
    query.save_as(path, implicit_vr=False, little_endian=True)
    [found] = _worklist(pacs, tmp_path / "rsp", query_file=path)
    assert found.AccessionNumber == query.AccessionNumber
    assert found.ScheduledProcedureStepSequence[0].Modality == "CT"  # an empty item asks for the whole step


def test_completed_and_revoked_orders_are_not_listed(doctor, pacs, tmp_path):
    done, revoked = _place(doctor, "p-wang", "ct-head", "xr-knee")
    _place(doctor, "p-lin", "mr-knee")
    for request, status in ((done, "completed"), (revoked, "revoked")):
        with unit_of_work() as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", "ServiceRequest", request["id"],
                                                         {**request, "status": status})])
    assert [a.PatientID for a in _worklist(pacs, tmp_path / "rsp", "PatientID")] == ["H-77"]


def test_odd_worklist_queries_are_answered_not_dropped(doctor, pacs):
    _place(doctor, "p-lin", "ct-chest")
    nothing = Dataset()
    nothing.PatientName = "*\\*"
    nothing.AccessionNumber = "';DROP TABLE --"
    assert [status for status, _ in _ask(pacs, nothing)] == [0x0000]
    whole_step = Dataset()  # an empty sequence item: the whole scheduled step
    whole_step.PatientID = ""
    whole_step.ScheduledProcedureStepSequence = Sequence([Dataset()])
    answers = _ask(pacs, whole_step)
    assert [s for s, _ in answers] == [0xFF00, 0x0000]
    assert answers[0][1].PatientID == "H-77" and answers[0][1].ScheduledProcedureStepSequence[0].Modality == "CT"
    unknown_key = Dataset()
    unknown_key.PatientID = "H-77"
    unknown_key.add_new(0x00091010, "LO", "private")
    assert [s for s, _ in _ask(pacs, unknown_key)] == [0xFF00, 0x0000]


def test_an_order_with_images_arrived_is_started_not_scheduled(doctor, pacs, tmp_path):
    from smartcare.hospital.imaging.service import store_instance
    from tests.hospital.imaging.dicom_samples import ct_slice

    ct, = _place(doctor, "p-lin", "ct-chest")
    _place(doctor, "p-lin", "mr-brain")
    image = ct_slice(patient_id="H-77", study_uid=orders.study_uid_of(ct),
                     accession=orders.identifier(ct, orders.ACCESSION_SYSTEM))
    assert store_instance(image, calling_ae="CT1", store=pacs.store).stored
    out = tmp_path / "rsp"
    status = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus"
    steps = {a.ScheduledProcedureStepSequence[0].Modality: a.ScheduledProcedureStepSequence[0]
             .ScheduledProcedureStepStatus for a in _worklist(pacs, out, "PatientID", status,
                                                               "ScheduledProcedureStepSequence[0].Modality")}
    assert steps == {"CT": "STARTED", "MR": "SCHEDULED"}
    only_scheduled = _worklist(pacs, out, "PatientID", f"{status}=SCHEDULED",
                               "ScheduledProcedureStepSequence[0].Modality")
    assert [a.ScheduledProcedureStepSequence[0].Modality for a in only_scheduled] == ["MR"]
