"""The consultation pages of both sides, in English and Chinese: the patient's list, opening and chat; the doctor's
inbox, pick-up, chat tools, closing, online prescription and follow-up booking; and who may open which page."""

import re

import pytest

from tests.web_support import browser, form_token, make_user, sign_in

TRIAGE = {
    "resourceType": "QuestionnaireResponse", "id": "triage-1", "status": "completed",
    "questionnaire": "https://smartcare.example/fhir/Questionnaire/triage",
    "subject": {"reference": "Patient/p1"}, "authored": "2026-03-01T09:00:00.000Z",
    "item": [{"linkId": "complaint", "text": "Chief complaint", "answer": [{"valueString": "chest tightness"}]},
             {"linkId": "result", "text": "Triage result", "item": [
                 {"linkId": "level", "text": "Triage level", "answer": [{"valueCoding": {
                     "system": "https://smartcare.example/fhir/CodeSystem/triage-level", "code": "soon",
                     "display": "See a doctor within 24 hours"}}]}]}]}


@pytest.fixture
def people(hospital, engine):
    """Signed-in browsers: patients p1 and p3, cardiologists doc-a and doc-b."""
    accounts = {"p1": ("patient", "Patient/p1", None), "p3": ("patient", "Patient/p3", None),
                "doc-a": ("doctor", "Practitioner/doc-a", "Organization/org-a"),
                "doc-b": ("doctor", "Practitioner/doc-b", "Organization/org-a")}
    made = {}
    for key, (role, ref, org) in accounts.items():
        fields = {"fhir_ref": ref, **({"organization": org} if org else {})}
        make_user(engine, role, username=f"user.{key}", **fields)
        web = browser()
        sign_in(web, f"user.{key}")
        made[key] = web
    assert hospital.put("/fhir/QuestionnaireResponse/triage-1", json=TRIAGE,
                        headers={"Content-Type": "application/fhir+json"}).status_code in (200, 201)
    yield made
    for web in made.values():
        web.close()


def _open(web, lang="en", **fields):
    page = web.get(f"/app/consultations/new?lang={lang}")
    assert page.status_code == 200, page.text[:300]
    form = {"csrf_token": form_token(page), "patient": re.search(r'name="patient" value="([^"]+)"', page.text)[1],
            "kind": "advice", "target": "pool:dept-cardio", "question": "Chest tightness when climbing stairs",
            "triage": "", **fields}
    return web.post(f"/app/consultations/new?lang={lang}", data=form)


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["My consultations", "Ask a doctor", "Follow-up visit", "Attach your triage result", "chest tightness",
            "Cardiology: the doctor on duty"]),
    ("zh-Hans", ["我的咨询", "问医生", "复诊", "附上分诊结果", "chest tightness", "Cardiology：值班医生"]),
])
def test_the_patient_lists_and_opens_consultations_in_both_languages(people, lang, words):
    p1 = people["p1"]
    listing = p1.get(f"/app/consultations?lang={lang}")
    assert listing.status_code == 200 and words[0] in listing.text
    new = p1.get(f"/app/consultations/new?lang={lang}")
    for word in words[1:]:
        assert word in new.text, word
    assert 'value="htn-1"' in new.text  # the condition diagnosed in person, offered for a follow-up
    opened = _open(p1, lang, triage="triage-1")
    assert opened.status_code == 303
    chat = p1.get(opened.headers["location"] + f"?lang={lang}")
    assert chat.status_code == 200
    assert "Chest tightness when climbing stairs" in chat.text and "consultation-chat.js" in chat.text
    assert ("Triage summary" if lang == "en" else "分诊摘要") in chat.text
    assert ("Withdraw" if lang == "en" else "撤回") in chat.text
    assert ("Expected wait" if lang == "en" else "暂无") in chat.text or "consult-wait" in chat.text


def test_a_first_visit_follow_up_is_refused_on_the_page_in_the_readers_language(people):
    refused = _open(people["p3"], "zh-Hans", kind="follow_up")
    assert refused.status_code == 422
    assert "线下确诊" in refused.text and 'data-code="first-visit"' in refused.text
    hostile = _open(people["p1"], "en", question="x" * 5000, target="doctor:<script>")
    assert hostile.status_code == 400 and "<script>" not in hostile.text.split("<main", 1)[1].split("</main>")[0] \
        .replace("&lt;script&gt;", "")


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_the_doctor_picks_up_answers_closes_and_the_patient_rates(people, lang):
    cid = _open(people["p1"]).headers["location"].rsplit("/", 1)[1]
    doc = people["doc-b"]
    inbox = doc.get(f"/workstation/consultations?lang={lang}")
    assert inbox.status_code == 200 and cid in inbox.text
    assert ("Department pool" if lang == "en" else "科室号池") in inbox.text
    picked = doc.post(f"/workstation/consultations/{cid}/pick-up", data={"csrf_token": form_token(inbox)})
    assert picked.status_code == 303
    chat = doc.get(f"/workstation/consultations/{cid}?lang={lang}")
    assert ("Go to the emergency department" if lang == "en" else "请立即急诊就医") in chat.text  # a template
    assert ("Request more information" if lang == "en" else "请患者补充信息") in chat.text
    assert "/follow-up" in chat.text and "/prescribe" not in chat.text  # advice: no online prescription
    token = form_token(chat)
    asked = doc.post(f"/workstation/consultations/{cid}/request-info",
                     data={"csrf_token": token, "client_id": "info-1", "text": "Any swelling of the ankles?"})
    assert asked.status_code == 303
    closed = doc.post(f"/workstation/consultations/{cid}/close",
                      data={"csrf_token": token, "summary": "Exertional chest tightness", "advice": "Book a visit"})
    assert closed.status_code == 303
    page = people["p1"].get(f"/app/consultations/{cid}?lang={lang}")
    assert "Any swelling of the ankles?" in page.text and "Exertional chest tightness" in page.text
    rated = people["p1"].post(f"/app/consultations/{cid}/rate",
                              data={"csrf_token": form_token(page), "rating": "5", "feedback": "Clear answer"})
    assert rated.status_code == 303
    after = people["p1"].get(f"/app/consultations/{cid}?lang={lang}")
    assert ("You rated it 5 of 5." if lang == "en" else "您的评分：5 分（满分 5 分）。") in after.text


def test_the_online_prescription_page_applies_the_internet_hospital_rules(people):
    cid = _open(people["p1"], kind="follow_up", condition="htn-1", target="doctor:doc-a").headers["location"] \
        .rsplit("/", 1)[1]
    doc = people["doc-a"]
    inbox = doc.get("/workstation/consultations")
    doc.post(f"/workstation/consultations/{cid}/pick-up", data={"csrf_token": form_token(inbox)})
    assert f"/workstation/consultations/{cid}/prescribe" in doc.get(f"/workstation/consultations/{cid}").text
    form = doc.get(f"/workstation/consultations/{cid}/prescribe?lang=zh-Hans")
    assert form.status_code == 200 and "药师审核" in form.text
    line = {"csrf_token": form_token(form), "line-1-medicine": "morphine", "line-1-dose": "10", "line-1-unit": "mg",
            "line-1-frequency": "Q12H", "line-1-route": "oral"}
    refused = doc.post(f"/workstation/consultations/{cid}/prescribe?lang=zh-Hans", data=line)
    assert refused.status_code == 422 and "麻醉药品和精神药品不得在线开具" in refused.text
    signed = doc.post(f"/workstation/consultations/{cid}/prescribe",
                      data={**line, "line-1-medicine": "amlodipine", "line-1-dose": "5", "line-1-frequency": "QD"})
    assert signed.status_code == 201 and "Task/" in signed.text


def test_pages_are_for_the_right_people_only(people):
    cid = _open(people["p1"]).headers["location"].rsplit("/", 1)[1]
    assert people["p3"].get(f"/app/consultations/{cid}").status_code == 404  # another patient
    assert people["p1"].get("/workstation/consultations").status_code == 403  # a patient at the workstation
    assert people["doc-a"].get("/app/consultations").status_code == 403  # a doctor in the patient app
    assert people["doc-a"].get(f"/workstation/consultations/{cid}").status_code == 200  # the department's pool
    signed_out = browser()
    assert signed_out.get("/app/consultations").status_code == 303
    assert signed_out.get("/workstation/consultations").status_code == 303
    forged = people["p1"].post(f"/app/consultations/{cid}/withdraw", data={"csrf_token": "forged"})
    assert forged.status_code == 403
