"""Orders other than medicines: catalogue orders become ServiceRequests routed to the laboratory or radiology
worklist of the doctor's hospital, a follow-up becomes a proposed Appointment, bad orders are refused."""

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.workstation import ordering
from smartcare.hospital.workstation.ordering import FollowUp, OrderRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.cds.prescribing_record import write_record
from tests.web_support import browser, form_token, make_user, sign_in

DEPARTMENT = "https://smartcare.example/fhir/CodeSystem/department"


def department(key: str) -> list[dict]:
    return [{"resourceType": "Organization", "id": f"dept-{key}", "name": key,
             "partOf": {"reference": "Organization/org-h"}},
            {"resourceType": "HealthcareService", "id": f"hcs-{key}", "name": key,
             "providedBy": {"reference": f"Organization/dept-{key}"},
             "type": [{"coding": [{"system": DEPARTMENT, "code": key}]}]}]


@pytest.fixture
def hospital(engine):
    write_record()
    resources = department("laboratory") + department("radiology") + department("cardiology")
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    doctor = make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li",
                       organization="Organization/org-h")
    make_user(engine, "lab_technician", username="lab.tech", fhir_ref="Practitioner/prac-lab",
              organization="Organization/org-h")
    return users.context_for(doctor)


def test_a_lab_panel_and_a_scan_go_to_the_laboratory_and_radiology(hospital):
    placed = ordering.place(ctx=hospital, patient_id="p-wang", orders=[
        OrderRequest("4548-4", reason="E11.9"), OrderRequest(ordering.catalogue.imaging_procedures()[0].key,
                                                             priority="urgent")])
    lab, scan = (gateway.read(hospital, ref) for ref in placed)
    assert lab["code"]["coding"][0] == {"system": "http://loinc.org", "code": "4548-4",
                                        "display": lab["code"]["coding"][0]["display"]}
    assert lab["performer"][0]["reference"] == "HealthcareService/hcs-laboratory"
    assert lab["reasonCode"][0]["coding"][0]["code"] == "E11.9"
    assert scan["performer"][0]["reference"] == "HealthcareService/hcs-radiology" and scan["priority"] == "urgent"
    assert scan["orderDetail"][0]["coding"][0]["code"] == ordering.catalogue.imaging_procedures()[0].modality
    worklist = ordering.worklist(hospital, department="laboratory")
    assert [r["id"] for r in worklist] == [placed[0].split("/")[1]]


def test_a_follow_up_is_a_proposed_appointment_with_the_department(hospital):
    placed = ordering.place(ctx=hospital, patient_id="p-wang", orders=[],
                            follow_up=FollowUp(in_days=28, department="cardiology", note="Review blood pressure"))
    appointment = gateway.read(hospital, placed[0])
    assert appointment["status"] == "proposed" and appointment["description"] == "Review blood pressure"
    actors = {p["actor"]["reference"] for p in appointment["participant"]}
    assert {"Patient/p-wang", "HealthcareService/hcs-cardiology", "Practitioner/prac-li"} <= actors


@pytest.mark.parametrize(("orders", "follow_up", "words"), [
    ([], None, "at least one"),
    ([OrderRequest("no-such-test")], None, "not in the order catalogue"),
    ([OrderRequest("4548-4", priority="whenever")], None, "priority"),
    ([OrderRequest("4548-4", reason="ZZZ")], None, "ICD-10"),
    ([], FollowUp(in_days=0, department="cardiology"), "1 to 730"),
    ([], FollowUp(in_days=7, department="astrology"), "no astrology department"),
])
def test_bad_orders_are_refused_and_nothing_is_written(hospital, orders, follow_up, words):
    with pytest.raises(ordering.OrderRefused, match=words):
        ordering.place(ctx=hospital, patient_id="p-wang", orders=orders, follow_up=follow_up)
    assert gateway.search(SYSTEM, "ServiceRequest", [("subject", "Patient/p-wang")]) == []


def test_the_orders_page_searches_the_catalogue_and_places_the_chosen_orders(hospital):
    web = browser()
    sign_in(web, "li.doctor")
    page = web.get("/workstation/patients/p-wang/orders", params={"q": "HbA1c"})
    assert page.status_code == 200 and 'value="' in page.text
    key = page.text.split('name="order" value="')[1].split('"')[0]
    done = web.post("/workstation/patients/p-wang/orders",
                    data={"csrf_token": form_token(page), "order": key, "priority": "routine", "reason": "e11.9"})
    assert done.status_code == 200 and "1 order placed." in done.text
    tech = browser()
    sign_in(tech, "lab.tech")
    assert "Hemoglobin A1c" in tech.get("/workstation/worklist/laboratory").text or "HbA1c" in tech.get(
        "/workstation/worklist/laboratory").text
    assert tech.get("/workstation/worklist/radiology").status_code == 403
    assert tech.get("/workstation/worklist/..%2Fetc").status_code == 404


def test_order_sets_that_fit_the_diagnoses_are_offered_and_placed_whole(hospital):
    web = browser()
    sign_in(web, "li.doctor")
    page = web.get("/workstation/patients/p-wang/orders")
    sets = page.text.split('id="sets-title"')[1].split("</section>")[0]
    assert 'action="/workstation/patients/p-wang/order-sets/diabetes-annual-review"' in sets
    assert "Standards of Care" in sets
    done = web.post("/workstation/patients/p-wang/order-sets/diabetes-annual-review",
                    data={"csrf_token": form_token(page), "reason": "E11.9", "follow_up_department": "cardiology"})
    assert done.status_code == 200 and "orders placed." in done.text
    placed = gateway.search(SYSTEM, "ServiceRequest", [("subject", "Patient/p-wang")])
    expected = len(ordering.order_sets.order_set("diabetes-annual-review").orders)
    assert len(placed) == expected and all(r["reasonCode"][0]["coding"][0]["code"] == "E11.9" for r in placed)
    assert gateway.search(SYSTEM, "Appointment", [("patient", "Patient/p-wang"), ("status", "proposed")])
    assert web.post("/workstation/patients/p-wang/order-sets/no-such-set",
                    data={"csrf_token": form_token(page)}).status_code == 404


def test_an_order_sets_medicines_prefill_the_prescription_and_are_audited(hospital):
    web = browser()
    sign_in(web, "li.doctor")
    medicines = ordering.order_sets.order_set("diabetes-annual-review").medications
    if not medicines:
        pytest.skip("this order set suggests no medicines")
    page = web.get("/workstation/patients/p-wang/prescribe", params={"set": "diabetes-annual-review"})
    assert page.status_code == 200 and f'name="line-1-medicine" value="{medicines[0].drug}"' in page.text
    assert "Prescription audit" in page.text and "rx-facts" in page.text
