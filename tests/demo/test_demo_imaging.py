"""The demo region has imaging: rad.demo reads and signs the demo's studies, doctor.demo sees the ones they
ordered, and the Modality Worklist lists the orders still scheduled."""

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
from smartcare.demo.imaging import ORDERS, load_imaging
from smartcare.demo.loader import load_region
from smartcare.fhir import gateway
from smartcare.hospital.imaging import orders, reporting, worklist
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.hospital.imaging.dicomweb_record import data_dir
from tests.web_support import browser, sign_in

# scripts/run plays the demo on SQLite; test_demo_accounts shows the loader works on PostgreSQL too.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

PERFORMED = [key for key, _, performed in ORDERS if performed]
SCHEDULED = [key for key, _, performed in ORDERS if not performed]


@pytest.fixture
def demo(engine, tmp_path):
    """A small demo region (its DICOM files under a temporary data directory) with its accounts."""
    with data_dir(tmp_path):
        load_region(engine=engine, residents=60, seed=5)
        ensure_demo_accounts(engine)
        yield tmp_path


def _context(username: str):
    with unit_of_work() as conn:
        return users.context_for(users.get_by_username(conn, username=username))


def test_rad_demo_is_a_radiologist_of_the_first_hospital_with_unread_studies(demo):
    radiologist = _context("rad.demo")
    assert radiologist.roles == {"radiologist"} and radiologist.organization == "Organization/org-hosp-1"
    assert radiologist.fhir_user.startswith("Practitioner/")
    rows = reporting.worklist(radiologist, locale="en")
    assert len(rows) == len(PERFORMED)
    assert {row["modality"] for row in rows} == {"CT", "DX", "MR"}
    assert rows[0]["priority"] == "stat" and rows[0]["exam"] == "CT Head without contrast"
    assert not any(row["patient"].startswith("Patient/") or row["draft"] for row in rows)
    assert sorted(row["instances"] for row in rows) == [1, 8, 20, 20]
    assert len(list(demo.rglob("*.dcm"))) == 49


def test_doctor_demo_sees_the_studies_they_ordered_and_rad_demo_may_sign(demo):
    radiologist, doctor = _context("rad.demo"), _context("doctor.demo")
    assert len(reporting.worklist(doctor, locale="en")) == len(PERFORMED)
    first = reporting.worklist(radiologist, locale="zh-Hans")[0]
    facts = reporting.open_study(radiologist, first["id"])
    assert facts.order["requester"]["reference"] == doctor.fhir_user
    signed = reporting.sign(radiologist, study_id=first["id"], form=reporting.normal_form(facts.template, "en"),
                            locale="en")
    assert signed["status"] == "final"
    assert gateway.read(radiologist, f"ServiceRequest/{facts.order['id']}")["status"] == "completed"
    assert first["id"] not in {row["id"] for row in reporting.worklist(doctor, locale="en")}


def test_modality_worklist_lists_the_scheduled_demo_orders_with_their_numbers(demo, engine):
    query = Dataset()
    query.PatientID = ""
    query.AccessionNumber = ""
    query.StudyInstanceUID = ""
    query.ScheduledProcedureStepSequence = Sequence([Dataset()])
    answers = worklist.find(query, engine=engine)
    assert len(answers) >= len(SCHEDULED)
    assert all(a.AccessionNumber.startswith("R") and a.StudyInstanceUID for a in answers)
    modalities = {a.ScheduledProcedureStepSequence[0].Modality for a in answers}
    assert {"CT", "DX", "MR"} <= modalities
    ct_chest = gateway.search(_context("doctor.demo"), "ServiceRequest", [
        ("code", "https://smartcare.example/fhir/CodeSystem/order-catalogue|ct-chest"), ("status", "active")])
    assert {orders.study_uid_of(r) for r in ct_chest} <= {a.StudyInstanceUID for a in answers}


def test_loading_the_demo_again_places_no_second_set_of_orders(demo, engine):
    with data_dir(demo):
        assert load_imaging(engine) == 0
    assert len(reporting.worklist(_context("rad.demo"), locale="en")) == len(PERFORMED)


def test_rad_demo_signs_in_and_sees_the_worklist_page(demo):
    web = browser()
    sign_in(web, "rad.demo", DEMO_PASSWORD)
    page = web.get("/workstation/imaging")
    assert page.status_code == 200
    assert "CT Head without contrast" in page.text and "MR Brain without contrast" in page.text
