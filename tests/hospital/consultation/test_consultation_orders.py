"""Tests ordered from an online consultation: a follow-up's orders reach the laboratory and radiology worklists with
the consultation as their encounter and the patient reads in the chat what to have done and where; advice and
closed consultations are refused, and bad input is a form error in the reader's language with nothing written."""

import re

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.consultation import orders, service
from smartcare.hospital.workstation import ordering
from smartcare.knowledge.orders import catalogue
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, make_user, sign_in

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
DEPARTMENT = "https://smartcare.example/fhir/CodeSystem/department"
FLOOR = "https://smartcare.example/fhir/StructureDefinition/floor"


def _department(key: str, english: str, chinese: str, building: str, building_zh: str) -> list[dict]:
    return [
        {"resourceType": "Organization", "id": f"dept-{key}", "name": english,
         "partOf": {"reference": "Organization/org-a"}},
        {"resourceType": "Location", "id": f"loc-{key}", "name": building, "alias": [building_zh]},
        {"resourceType": "HealthcareService", "id": f"hcs-{key}", "name": english,
         "providedBy": {"reference": f"Organization/dept-{key}"},
         "type": [{"coding": [{"system": DEPARTMENT, "code": key, "display": english}], "text": chinese}],
         "location": [{"reference": f"Location/loc-{key}"}]},
    ]


@pytest.fixture
def people(hospital, engine):
    """Signed-in browsers of patient p1 (hypertension diagnosed in person) and cardiologist doc-a, with their access
    contexts; the hospital has a laboratory in the outpatient building and a radiology department."""
    records = _department("laboratory", "Laboratory", "检验科", "Outpatient Building", "门诊楼") + \
        _department("radiology", "Radiology", "放射科", "Medical Technology Building", "医技楼")
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in records])
    accounts = {"p1": ("patient", "Patient/p1", None), "doc-a": ("doctor", "Practitioner/doc-a", "Organization/org-a")}
    made = {}
    for key, (role, ref, org) in accounts.items():
        user = make_user(engine, role, username=f"user.{key}", fhir_ref=ref, **({"organization": org} if org else {}))
        web = browser()
        sign_in(web, f"user.{key}")
        made[key] = web
        made[f"{key}-ctx"] = users.context_for(user)
    yield made
    for web in made.values():
        if hasattr(web, "close"):
            web.close()


def _consultation(people, kind: str) -> str:
    """A consultation of kind opened by p1 with doc-a and picked up by doc-a; its id."""
    p1, doc = people["p1"], people["doc-a"]
    page = p1.get("/app/consultations/new")
    form = {"csrf_token": form_token(page), "patient": re.search(r'name="patient" value="([^"]+)"', page.text)[1],
            "kind": kind, "target": "doctor:doc-a", "question": "My blood pressure is up again", "triage": "",
            **({"condition": "htn-1"} if kind == "follow_up" else {})}
    opened = p1.post("/app/consultations/new", data=form)
    assert opened.status_code == 303, opened.text[:500]
    cid = opened.headers["location"].rsplit("/", 1)[1]
    picked = doc.post(f"/workstation/consultations/{cid}/pick-up",
                      data={"csrf_token": form_token(doc.get("/workstation/consultations"))})
    assert picked.status_code == 303
    return cid


def _token(page) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)[1]


def _order(people, cid: str, lang: str = "en", **fields):
    doc = people["doc-a"]
    page = doc.get(f"/workstation/consultations/{cid}/orders?lang={lang}")
    return doc.post(f"/workstation/consultations/{cid}/orders?lang={lang}",
                    data={"csrf_token": _token(page), "priority": "routine", "reason": "", "note": "", **fields})


def _service_requests() -> list[dict]:
    return gateway.search(SYSTEM, "ServiceRequest", [("subject", "Patient/p1")])


def test_a_follow_ups_orders_reach_the_worklists_with_the_consultation_as_encounter(people, engine):
    cid = _consultation(people, "follow_up")
    chat = people["doc-a"].get(f"/workstation/consultations/{cid}")
    assert f'action="/workstation/consultations/{cid}/orders"' in chat.text  # the "Order tests" form
    found = people["doc-a"].get(f"/workstation/consultations/{cid}/orders", params={"q": "chest CT", "kind": "imaging"})
    scan = re.search(r'name="order" value="([^"]+)"', found.text)[1]
    assert catalogue.find_order(scan).kind == "imaging"
    placed = _order(people, cid, order=["cbc", scan], priority="urgent")
    assert placed.status_code == 201 and "2 orders placed." in placed.text
    requests = {r["code"]["coding"][-1]["code"]: r for r in _service_requests()}
    assert set(requests) == {"cbc", scan}
    for r in requests.values():
        assert r["encounter"]["reference"] == f"Encounter/{cid}" and r["priority"] == "urgent"
        assert r["requester"]["reference"] == "Practitioner/doc-a"
        assert r["reasonCode"][0]["coding"][0]["code"] == "I10"  # the diagnosis the follow-up rests on
    assert requests["cbc"]["performer"][0]["reference"] == "HealthcareService/hcs-laboratory"
    assert requests[scan]["performer"][0]["reference"] == "HealthcareService/hcs-radiology"
    tech_user = make_user(engine, "lab_technician", username="user.tech", fhir_ref="Practitioner/lab-1",
                          organization="Organization/org-a")
    tech = browser()
    sign_in(tech, "user.tech")
    worklist = tech.get("/workstation/worklist/laboratory")
    assert worklist.status_code == 200 and "CBC panel - Blood by Automated count" in worklist.text
    assert catalogue.find_order(scan).name_en not in worklist.text
    on_worklist = ordering.worklist(users.context_for(tech_user), department="laboratory")
    assert [r["id"] for r in on_worklist] == [requests["cbc"]["id"]]
    with unit_of_work() as conn:
        trail = audit.events_for_patient(conn, "Patient/p1", limit=500)
    placing = [e["event"]["action"] for e in trail if any(
        x.get("what", {}).get("reference") == f"ServiceRequest/{requests['cbc']['id']}"
        for x in e["event"].get("entity", []))]
    assert "C" in placing  # placing the orders is on the patient's audit trail


def test_the_patient_reads_which_tests_and_where_to_go_in_the_chat(people):
    cid = _consultation(people, "follow_up")
    assert _order(people, cid, order=["cbc", "lipid"]).status_code == 201
    for lang, words in (("en", ["Tests ordered", "bring your ID card"]), ("zh-Hans", ["已开检查检验", "携带身份证"])):
        page = people["p1"].get(f"/app/consultations/{cid}?lang={lang}")
        message = page.text.split('data-kind="orders"')[1].split("</li>\n")[0]
        for word in words:
            assert word in message, word
        assert "<li>CBC panel - Blood by Automated count (血常规) · Laboratory (检验科) · Outpatient Building (门诊楼)</li>" \
            in message
        assert "(血脂四项) · fasting (空腹) · Laboratory (检验科)" in message
    # The same message as the live chat and its catch-up receive it: the kind the script labels, the same lines.
    with unit_of_work() as conn:
        history = service.messages_since(conn, people["doc-a-ctx"], consultation_id=cid)
    sent = next(m for m in history if m["kind"] == "orders")
    assert sent["side"] == "doctor" and len(sent["orders"]) == 2
    assert sent["text"].split("\n")[0].startswith("CBC panel - Blood by Automated count (血常规)")


def test_an_advice_consultation_gets_no_orders(people):
    cid = _consultation(people, "advice")
    chat = people["doc-a"].get(f"/workstation/consultations/{cid}")
    assert f"/workstation/consultations/{cid}/orders" not in chat.text
    assert "no tests are ordered online" in chat.text
    page = people["doc-a"].get(f"/workstation/consultations/{cid}/orders?lang=zh-Hans")
    assert page.status_code == 422 and "仅在复诊" in page.text and 'name="order"' not in page.text
    refused = _order(people, cid, "zh-Hans", order=["cbc"])
    assert refused.status_code == 422 and 'data-code="orders-not-follow-up"' in refused.text and "仅在复诊" in refused.text
    with pytest.raises(service.ConsultationError) as raised:  # the service refuses, not only the page
        orders.order_tests(ctx=people["doc-a-ctx"], consultation_id=cid, keys=["cbc"])
    assert raised.value.code == "orders-not-follow-up"
    assert _service_requests() == []


def test_a_closed_consultation_gets_no_orders(people):
    cid = _consultation(people, "follow_up")
    doc = people["doc-a"]
    closed = doc.post(f"/workstation/consultations/{cid}/close", data={
        "csrf_token": form_token(doc.get(f"/workstation/consultations/{cid}")), "summary": "Stable", "advice": "Same"})
    assert closed.status_code == 303
    with pytest.raises(service.ConsultationError) as raised:
        orders.order_tests(ctx=people["doc-a-ctx"], consultation_id=cid, keys=["cbc"])
    assert raised.value.code == "closed"
    refused = _order(people, cid, order=["cbc"])
    assert refused.status_code == 409 and "The consultation is closed." in refused.text
    assert _service_requests() == []


MANY = [t.key for t in catalogue.lab_tests()][: orders.MAX_ORDERS + 1]
BAD = [
    ({"order": ["no-such-test"]}, "orders-unknown", "只能开具医嘱目录中的"),
    ({"order": ["<script>alert(1)</script>"]}, "orders-unknown", "只能开具医嘱目录中的"),
    ({"order": [catalogue.referrals()[0].key]}, "orders-unknown", "只能开具医嘱目录中的"),
    ({"order": ["cbc", "no-such-test"]}, "orders-unknown", "只能开具医嘱目录中的"),
    ({"order": MANY}, "orders-too-many", "最多 30 项"),
    ({}, "orders-none", "请至少选择一项"),
    ({"order": ["cbc"], "priority": "whenever"}, "orders-bad-priority", "常规、加急或立即"),
    ({"order": ["cbc"], "reason": "<b>ZZZ"}, "orders-bad-reason", "ICD-10"),
    ({"order": ["cbc"], "note": "x" * 600}, "orders-bad-note", "最多 500 个字符"),
    ({"order": ["cbc"], "note": "ok\x00\x1b[2J"}, "orders-bad-note", "最多 500 个字符"),
]


def test_bad_orders_are_a_form_error_in_the_readers_language_and_nothing_is_written(people):
    cid = _consultation(people, "follow_up")
    for fields, code, message in BAD:
        refused = _order(people, cid, "zh-Hans", **fields)
        assert refused.status_code == 400, (fields, refused.status_code)
        assert f'data-code="{code}"' in refused.text and message in refused.text, fields
        main = refused.text.split("<main", 1)[1]
        assert "<script>alert" not in main and "<b>ZZZ" not in main
    english = _order(people, cid, "en", order=["no-such-test"])
    assert english.status_code == 400 and "Only lab tests, panels and scans in the order catalogue" in english.text
    assert _service_requests() == []
    with unit_of_work() as conn:
        history = service.messages_since(conn, people["doc-a-ctx"], consultation_id=cid)
    assert all(m["kind"] != "orders" for m in history)
