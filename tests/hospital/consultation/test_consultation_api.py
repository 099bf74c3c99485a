"""Consultations over HTTP: opening by kind, the doctor's inbox, messages in order and once, access, closing."""

from tests.hospital.consultation.conftest import doctor_token, patient_token

BASE = "/api/v1/consultations"


def _open(client, who="p1", kind="advice", **target):
    target = target or {"practitioner": "doc-a"}
    return client.post(BASE, json={"patient": who, "kind": kind, "question": "Headache since Monday", **target},
                       headers=patient_token(who))


def test_advice_is_open_to_anyone_and_the_question_is_message_one(hospital):
    opened = _open(hospital, "p2")
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["kind"], body["status"], body["last_seq"]) == ("advice", "waiting", 1)
    listed = hospital.get(f"{BASE}/{body['id']}/messages", headers=patient_token("p2")).json()
    assert [(m["seq"], m["text"]) for m in listed] == [(1, "Headache since Monday")]
    encounter = hospital.get(f"/fhir/Encounter/{body['id']}").json()
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "planned"


def test_follow_up_without_an_in_person_diagnosis_is_refused_with_the_reason(hospital):
    refused = _open(hospital, "p3", kind="follow_up")
    assert refused.status_code == 422
    assert refused.json()["error"] == "first-visit"
    assert "diagnosed in person" in refused.json()["message"]


def test_follow_up_after_an_in_person_diagnosis_is_opened_on_that_condition(hospital):
    opened = _open(hospital, "p1", kind="follow_up")
    assert opened.status_code == 201, opened.text
    assert opened.json()["condition"] == "htn-1"


def test_a_retried_message_is_stored_once_and_numbers_follow_the_order_of_sending(hospital):
    cid = _open(hospital).json()["id"]
    me = patient_token("p1")
    first = hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "m-1", "text": "Also dizzy"}, headers=me)
    again = hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "m-1", "text": "Also dizzy"}, headers=me)
    second = hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "m-2", "text": "And tired"}, headers=me)
    assert (first.status_code, again.status_code, second.status_code) == (201, 200, 201)
    assert again.json()["seq"] == first.json()["seq"] == 2 and again.json()["duplicate"]
    assert second.json()["seq"] == 3
    listed = hospital.get(f"{BASE}/{cid}/messages", params={"since": 1}, headers=me).json()
    assert [m["text"] for m in listed] == ["Also dizzy", "And tired"]
    stored = hospital.get("/fhir/Communication", params={"encounter": f"Encounter/{cid}"}).json()
    assert len(stored["entry"]) == 3


def test_the_doctor_picks_up_from_the_department_pool_replies_and_closes(hospital):
    cid = _open(hospital, department="dept-cardio").json()["id"]
    doc_b, doc_c = doctor_token("doc-b"), doctor_token("doc-c")
    assert [c["id"] for c in hospital.get(f"{BASE}/inbox", headers=doc_b).json()] == [cid]
    assert hospital.get(f"{BASE}/inbox", headers=doc_c).json() == []  # dermatology: not their pool
    assert hospital.post(f"{BASE}/{cid}/pick-up", headers=doc_c).status_code == 404
    picked = hospital.post(f"{BASE}/{cid}/pick-up", headers=doc_b)
    assert picked.status_code == 200 and picked.json()["status"] == "in_progress"
    assert hospital.post(f"{BASE}/{cid}/pick-up", headers=doctor_token("doc-a")).status_code == 404
    asked = hospital.post(f"{BASE}/{cid}/messages", headers=doc_b,
                          json={"client_id": "d-1", "text": "Your blood pressure readings?", "category": "info-request"})
    assert asked.status_code == 201 and asked.json()["category"] == "info-request"
    read = hospital.post(f"{BASE}/{cid}/receipts", json={"up_to": 2}, headers=patient_token("p1"))
    assert read.json()["marked"] == [2]
    assert hospital.get(f"{BASE}/{cid}/messages", params={"since": 1}, headers=doc_b).json()[0]["read"]
    closed = hospital.post(f"{BASE}/{cid}/close", json={"summary": "Tension headache", "advice": "Rest"},
                           headers=doc_b)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert hospital.get(f"/fhir/Encounter/{cid}").json()["status"] == "finished"
    rated = hospital.post(f"{BASE}/{cid}/rating", json={"rating": 5, "feedback": "Quick"}, headers=patient_token("p1"))
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    again = hospital.post(f"{BASE}/{cid}/rating", json={"rating": 1}, headers=patient_token("p1"))
    assert again.status_code == 409
    assert hospital.post(f"{BASE}/{cid}/rating", json={"rating": 5}, headers=doc_b).status_code == 403


def test_a_consultation_closed_unanswered_is_refunded(hospital):
    cid = _open(hospital, department="dept-cardio").json()["id"]
    withdrawn = hospital.post(f"{BASE}/{cid}/close", json={}, headers=patient_token("p1"))
    assert withdrawn.status_code == 200
    assert (withdrawn.json()["status"], withdrawn.json()["refunded"]) == ("refunded", True)
    assert hospital.get(f"/fhir/Encounter/{cid}").json()["status"] == "cancelled"


def test_patients_see_only_their_own_and_doctors_only_theirs(hospital):
    cid = _open(hospital).json()["id"]
    assert hospital.get(f"{BASE}/{cid}", headers=patient_token("p2")).status_code == 404
    assert hospital.get(f"{BASE}/{cid}/messages", headers=doctor_token("doc-c")).status_code == 404
    assert hospital.get(f"{BASE}/{cid}", headers=doctor_token("doc-a")).status_code == 200
    assert hospital.get(BASE, params={"patient": "p1"}, headers=patient_token("p2")).status_code == 404
    mine = hospital.get(BASE, params={"patient": "p1"}, headers=patient_token("p1")).json()
    assert [c["id"] for c in mine] == [cid]
    opened_for_other = hospital.post(BASE, headers=patient_token("p2"), json={
        "patient": "p1", "kind": "advice", "question": "x", "practitioner": "doc-a"})
    assert opened_for_other.status_code == 404
    posted = hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "x", "text": "hi"},
                           headers=patient_token("p2"))
    assert posted.status_code == 404


def test_bad_requests_get_clear_4xx(hospital):
    me = patient_token("p1")
    assert hospital.post(BASE, json={"patient": "p1", "kind": "chat", "question": "x", "practitioner": "doc-a"},
                         headers=me).status_code == 422
    both = hospital.post(BASE, json={"patient": "p1", "kind": "advice", "question": "x", "practitioner": "doc-a",
                                     "department": "dept-cardio"}, headers=me)
    assert both.status_code == 400 and both.json()["error"] == "bad-target"
    assert hospital.post(BASE, json={"patient": "p1", "kind": "advice", "question": "x" * 4001,
                                     "practitioner": "doc-a"}, headers=me).status_code == 422
    assert hospital.post(BASE, json={"patient": "p1", "kind": "advice", "question": "x",
                                     "practitioner": "nobody"}, headers=me).status_code == 400
    assert hospital.get(f"{BASE}/no-such", headers=me).status_code == 404
    assert hospital.post(BASE, json={"patient": "p1", "kind": "advice", "question": "x",
                                     "practitioner": "doc-a"}).status_code in (401, 403)  # the system client
    cid = _open(hospital).json()["id"]
    assert hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "", "text": "x"}, headers=me).status_code == 422
    assert hospital.post(f"{BASE}/{cid}/rating", json={"rating": 9}, headers=me).status_code == 422
    assert hospital.post(f"{BASE}/{cid}/rating", json={"rating": 4}, headers=me).status_code == 409
    info = hospital.post(f"{BASE}/{cid}/messages", json={"client_id": "i", "text": "x", "category": "info-request"},
                         headers=me)
    assert info.status_code == 400
    assert hospital.post(f"{BASE}/{cid}/close", json={"summary": "s", "advice": "a", "diagnosis": "I10"},
                         headers=doctor_token("doc-a")).status_code == 422  # advice carries no diagnosis


def test_online_prescription_rules_before_the_workstation_audit(hospital):
    advice = _open(hospital).json()["id"]
    doc = doctor_token("doc-a")
    hospital.post(f"{BASE}/{advice}/pick-up", headers=doc)
    line = {"medicine": "amlodipine", "dose": 5, "frequency": "QD"}
    refused = hospital.post(f"{BASE}/{advice}/prescriptions", json={"lines": [line]}, headers=doc)
    assert refused.status_code == 422 and refused.json()["error"] == "not-follow-up"
    follow = _open(hospital, kind="follow_up").json()["id"]
    hospital.post(f"{BASE}/{follow}/pick-up", headers=doc)
    narcotic = hospital.post(f"{BASE}/{follow}/prescriptions", headers=doc,
                             json={"lines": [{"medicine": "morphine", "dose": 10, "frequency": "Q12H"}]})
    assert narcotic.status_code == 422 and narcotic.json()["error"] == "controlled-drug"
    signed = hospital.post(f"{BASE}/{follow}/prescriptions", json={"lines": [line]}, headers=doc)
    assert signed.status_code == 201, signed.text
    task = hospital.get(f"/fhir/{signed.json()['review_task']}").json()
    assert task["status"] == "requested" and task["code"]["coding"][0]["code"] == "prescription-review"
    request = hospital.get(f"/fhir/{signed.json()['medication_requests'][0]}").json()
    assert request["encounter"]["reference"] == f"Encounter/{follow}"
    assert request["status"] == "draft"  # it takes effect once the pharmacist has checked it
