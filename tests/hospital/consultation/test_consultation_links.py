"""What a consultation links to: a video visit started from the doctor's page and joined from the patient's chat,
the department's structured questions answered on opening, and reports shared from the patient's own record,
which the consultation's doctor may open and another doctor may not."""

import re

import pytest

from smartcare.hospital.consultation import questions, service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.consultation.conftest import FHIR_JSON, doctor_token, patient_token
from tests.web_support import browser, form_token, make_user, sign_in

ELSEWHERE = "Organization/org-b"


def _report(rid: str, patient: str, title: str, category: str = "LAB") -> dict:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": category}]}],
            "code": {"text": title}, "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": "2026-02-20T02:00:00Z", "issued": "2026-02-20T06:00:00Z"}


@pytest.fixture
def people(hospital, engine):
    """Signed-in browsers: patient p1; cardiologist doc-a; dermatologist doc-c and doc-x, both of another
    organisation, so they reach p1 only through a care relationship such as a consultation."""
    accounts = {"p1": ("patient", "Patient/p1", None), "p3": ("patient", "Patient/p3", None),
                "doc-a": ("doctor", "Practitioner/doc-a", "Organization/org-a"),
                "doc-c": ("doctor", "Practitioner/doc-c", ELSEWHERE),
                "doc-x": ("doctor", "Practitioner/doc-x", ELSEWHERE)}
    made = {}
    for key, (role, ref, org) in accounts.items():
        make_user(engine, role, username=f"user.{key}", fhir_ref=ref, **({"organization": org} if org else {}))
        web = browser()
        sign_in(web, f"user.{key}")
        made[key] = web
    for report in (_report("rep-fbc", "p1", "Full blood count"), _report("rep-cxr", "p1", "Chest X-ray", "RAD"),
                   _report("rep-other", "p2", "Lipid panel")):
        assert hospital.put(f"/fhir/DiagnosticReport/{report['id']}", json=report,
                            headers=FHIR_JSON).status_code in (200, 201)
    yield made
    for web in made.values():
        web.close()


def _open(web, lang: str = "en", **fields) -> object:
    page = web.get(f"/app/consultations/new?lang={lang}")
    form = {"csrf_token": form_token(page), "patient": re.search(r'name="patient" value="([^"]+)"', page.text)[1],
            "kind": "advice", "target": "pool:dept-cardio", "question": "A question for the doctor", "triage": "",
            **fields}
    return web.post(f"/app/consultations/new?lang={lang}", data=form)


def _cid(opened) -> str:
    assert opened.status_code == 303, opened.text[:500]
    return opened.headers["location"].rsplit("/", 1)[1]


# --- video -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Start video visit", "Join video visit", "The doctor started a video visit.", "Return to the video visit")),
    ("zh-Hans", ("发起视频问诊", "加入视频问诊", "医生发起了视频问诊。", "返回视频问诊")),
])
def test_the_doctor_starts_a_video_visit_and_the_patient_gets_a_join_link(people, lang, words):
    start, join, told, back = words
    cid = _cid(_open(people["p1"]))
    doc = people["doc-a"]
    pool = doc.get(f"/workstation/consultations/{cid}?lang={lang}")
    early = doc.post(f"/workstation/consultations/{cid}/video?lang={lang}", data={"csrf_token": form_token(pool)})
    assert early.status_code == 409 and 'data-code="not-yours"' in early.text  # picked up first
    assert join not in people["p1"].get(f"/app/consultations/{cid}?lang={lang}").text
    doc.post(f"/workstation/consultations/{cid}/pick-up", data={"csrf_token": form_token(pool)})
    desk = doc.get(f"/workstation/consultations/{cid}?lang={lang}")
    assert start in desk.text and f'action="/workstation/consultations/{cid}/video"' in desk.text
    started = doc.post(f"/workstation/consultations/{cid}/video", data={"csrf_token": form_token(desk)})
    assert started.status_code == 303
    visit_id = started.headers["location"].removeprefix("/workstation/video/")
    assert started.headers["location"] == f"/workstation/video/{visit_id}" and visit_id
    assert doc.get(started.headers["location"]).status_code == 200
    assert back in doc.get(f"/workstation/consultations/{cid}?lang={lang}").text
    chat = people["p1"].get(f"/app/consultations/{cid}?lang={lang}")
    assert join in chat.text and f'href="/app/video/{visit_id}"' in chat.text and told in chat.text
    assert people["p1"].get(f"/app/video/{visit_id}").status_code == 200
    assert people["p3"].get(f"/app/consultations/{cid}").status_code == 404
    ended = doc.post(f"/api/v1/video/{visit_id}/end", headers=doctor_token("doc-a"))
    assert ended.status_code == 200, ended.text
    assert join not in people["p1"].get(f"/app/consultations/{cid}?lang={lang}").text  # only while it is open


def test_participant_side_names_the_patient_and_the_doctor_and_refuses_anyone_else(hospital, engine):
    opened = hospital.post("/api/v1/consultations", headers=patient_token("p1"), json={
        "patient": "p1", "kind": "advice", "question": "A rash", "practitioner": "doc-a"})
    cid = opened.json()["id"]
    from smartcare.platform.security.context import AccessContext
    from smartcare.platform.security.users import scope_ceiling

    def ctx(role: str, ref: str, org: str | None = None) -> AccessContext:
        return AccessContext(kind="user", name=ref, roles=frozenset({role}), fhir_user=ref, organization=org,
                             patient=ref if role == "patient" else None, scopes=scope_ceiling(role))

    with unit_of_work(engine) as conn:
        assert service.participant_side(conn, ctx("patient", "Patient/p1"), cid) == "patient"
        assert service.participant_side(conn, ctx("doctor", "Practitioner/doc-a", "Organization/org-a"), cid) \
            == "doctor"
        for outsider in (ctx("patient", "Patient/p2"), ctx("doctor", "Practitioner/doc-c", ELSEWHERE), SYSTEM):
            with pytest.raises(service.ConsultationError) as refused:
                service.participant_side(conn, outsider, cid)
            assert refused.value.status == 404


# --- structured questions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Where on your body is the problem?", "One week to a month", "Yes", "Is it itchy?",
            "Answers to the department's questions", "Please send clear photos")),
    ("zh-Hans", ("问题出现在身体哪个部位？", "一周到一个月", "是", "痒吗？", "科室问题的回答", "请在聊天中发送皮肤的清晰照片")),
])
def test_department_questions_are_asked_stored_with_the_consultation_and_shown_to_the_doctor(people, hospital, lang,
                                                                                            words):
    where, duration, yes, itchy, heading, photos = words
    new = people["p1"].get(f"/app/consultations/new?lang={lang}&target=pool:dept-derm")
    assert where in new.text and photos in new.text and 'name="q-how-long"' in new.text
    part = people["p1"].get(f"/app/consultations/new/questions?lang={lang}&target=pool:dept-cardio")
    assert part.status_code == 200 and 'name="q-chest-pain"' in part.text and where not in part.text
    assert "hidden" in people["p1"].get("/app/consultations/new/questions?target=pool:nowhere").text
    cid = _cid(_open(people["p1"], lang, target="doctor:doc-c", **{
        "q-where": "Both forearms", "q-how-long": "1w-1m", "q-itchy": "yes", "q-spreading": ""}))
    stored = hospital.get(f"/fhir/QuestionnaireResponse?encounter=Encounter/{cid}").json()
    response = stored["entry"][0]["resource"]
    assert response["questionnaire"] == questions.QUESTIONNAIRE + "dermatology"
    assert [i["linkId"] for i in response["item"]] == ["where", "how-long", "itchy"]
    assert response["item"][0]["answer"] == [{"valueString": "Both forearms"}]
    desk = people["doc-c"].get(f"/workstation/consultations/{cid}?lang={lang}")
    assert desk.status_code == 200
    panel = desk.text.split('class="consult-answers"', 1)[1].split("</section>", 1)[0]
    for word in (heading, where, "Both forearms", duration, itchy, yes):
        assert word in desk.text and (word == heading or word in panel), word
    assert "Both forearms" in people["p1"].get(f"/app/consultations/{cid}?lang={lang}").text  # in the history


def test_a_bad_answer_is_refused_and_nothing_is_opened(people, engine):
    for bad in ({"q-how-long": "forever"}, {"q-where": "x" * 201}, {"q-itchy": "maybe<script>"}):
        refused = _open(people["p1"], target="pool:dept-derm", **bad)
        assert refused.status_code == 400 and 'data-code="bad-answer"' in refused.text
        assert "<script>" not in refused.text.split("<main", 1)[1]
    with unit_of_work(engine) as conn:
        assert service.my_consultations(conn, SYSTEM, patient_id="p1") == []


def test_a_number_answer_is_checked_against_its_range():
    asked = questions.for_department("paediatrics")
    assert {q.id for q in asked} >= {"age-months", "weight", "fever", "feeding"}
    assert questions.checked_answers("paediatrics", {"q-weight": "12,5", "q-fever": "no"}, zh=True)[0][1] == \
        {"valueDecimal": 12.5}
    for wrong in ("200", "-3", "1e3", "twelve"):
        with pytest.raises(service.ConsultationError):
            questions.checked_answers("paediatrics", {"q-weight": wrong}, zh=False)


def test_the_question_file_loads_with_a_source_and_both_languages():
    loaded = questions.load()
    assert loaded.source and {"dermatology", "paediatrics", "internal-medicine"} <= set(loaded.departments)
    for found in loaded.departments.values():
        assert all(q.en and q.zh for q in found)


# --- reports from the record --------------------------------------------------------------------------------------


def test_shared_reports_open_for_the_consultations_doctor_and_not_for_another_doctor(people, hospital):
    doc_c, doc_x = doctor_token("doc-c", ELSEWHERE), doctor_token("doc-x", ELSEWHERE)
    assert hospital.get("/fhir/DiagnosticReport/rep-fbc", headers=doc_c).status_code in (403, 404)  # not yet
    new = people["p1"].get("/app/consultations/new")
    assert 'name="report-rep-fbc"' in new.text and 'name="report-rep-cxr"' in new.text
    assert "rep-other" not in new.text  # another patient's report is never offered
    cid = _cid(_open(people["p1"], target="doctor:doc-c", **{"report-rep-fbc": "on"}))
    assert hospital.get("/fhir/DiagnosticReport/rep-fbc", headers=doc_c).status_code == 200
    assert hospital.get("/fhir/DiagnosticReport/rep-fbc", headers=doc_x).status_code in (403, 404)
    desk = people["doc-c"].get(f"/workstation/consultations/{cid}")
    assert 'href="/workstation/lab/reports/rep-fbc"' in desk.text and "Full blood count" in desk.text
    assert people["doc-x"].get(f"/workstation/consultations/{cid}").status_code == 404
    chat = people["p1"].get(f"/app/consultations/{cid}")
    assert 'name="report-rep-cxr"' in chat.text and 'name="report-rep-fbc"' not in chat.text  # shared already
    shared = people["p1"].post(f"/app/consultations/{cid}/reports",
                               data={"csrf_token": form_token(chat), "report-rep-cxr": "on"})
    assert shared.status_code == 303
    again = people["p1"].post(f"/app/consultations/{cid}/reports",
                              data={"csrf_token": form_token(chat), "report-rep-cxr": "on"})
    assert again.status_code == 303
    desk = people["doc-c"].get(f"/workstation/consultations/{cid}?lang=zh-Hans")
    assert 'href="/workstation/imaging/reports/rep-cxr"' in desk.text and "共享的报告" in desk.text
    history = hospital.get(f"/api/v1/consultations/{cid}/messages", headers=patient_token("p1")).json()
    listed = history["messages"] if isinstance(history, dict) else history
    assert sum(1 for m in listed if m.get("category") == "reports") == 2  # the repeat was stored once


def test_a_patient_cannot_share_another_patients_report(people):
    refused = _open(people["p1"], **{"report-rep-other": "on"})
    assert refused.status_code == 400 and 'data-code="bad-report"' in refused.text
    cid = _cid(_open(people["p1"]))
    chat = people["p1"].get(f"/app/consultations/{cid}")
    bad = people["p1"].post(f"/app/consultations/{cid}/reports",
                            data={"csrf_token": form_token(chat), "report-rep-other": "on",
                                  **{f"report-r{n}": "on" for n in range(12)}})
    assert bad.status_code == 400 and 'data-code="bad-report"' in bad.text
    assert people["p3"].post(f"/app/consultations/{cid}/reports",
                             data={"csrf_token": form_token(people["p3"].get("/app/consultations/new")),
                                   "report-rep-fbc": "on"}).status_code == 404
