"""The chronic-disease pages: the doctor's work list, the follow-up form through the browser, refusals, indicators."""

import pytest

from smartcare.fhir import gateway
from smartcare.platform.security.context import SYSTEM
from tests.regional.chronic.test_chronic_service import GOOD_VISIT, centre  # noqa: F401  (the fixture)
from tests.web_support import browser, form_token, sign_in

FORM = "/workstation/chronic/patients/p-htn/follow-up"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


@pytest.fixture
def doctor(centre):  # noqa: F811  (the fixture imported above)
    return _signed_in("gao.gp")


def test_the_doctor_sees_an_overdue_patient_first(doctor):
    page = doctor.get("/workstation/chronic")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "260 days overdue" in text and "77 days overdue" in text
    assert text.index("P-Htn") < text.index("P-Dm") < text.index("P-New")
    assert "P-Seen" not in text  # not due until May
    assert "P-Other" not in text  # Dr Hu's patient
    assert 'href="/workstation/chronic/patients/p-htn/follow-up?registry=hypertension"' in text
    # The beta blocker alone asks for confirmation.
    assert "1 resident to confirm for a registry" in text


def test_the_registry_filter_and_the_whole_centre(doctor):
    diabetes = doctor.get("/workstation/chronic?registry=diabetes").text
    assert "P-Dm" in diabetes and "P-Htn" not in diabetes
    assert "P-Other" in doctor.get("/workstation/chronic?scope=centre").text


def test_the_work_list_speaks_chinese(doctor):
    page = doctor.get("/workstation/chronic?lang=zh-Hans")
    assert page.status_code == 200
    assert "慢病随访" in page.text and "高血压" in page.text


def test_the_form_shows_the_previous_visit_and_prefills(doctor):
    page = doctor.get("/workstation/chronic/patients/p-seen/follow-up")
    assert page.status_code == 200
    assert "2026-02-01" in page.text and "Controlled" in page.text
    for name in ("systolic", "diastolic", "heart_rate", "weight", "height", "adverse_reaction_text"):
        assert f'for="f-{name}"' in page.text and f'id="f-{name}"' in page.text


def test_posting_the_form_records_the_visit_and_says_why(doctor):
    token = form_token(doctor.get(FORM))
    done = doctor.post(FORM, data={"csrf_token": token, **GOOD_VISIT, "systolic": "152", "diastolic": "92"})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/workstation/chronic?recorded=")
    shown = doctor.get(done.headers["location"])
    # 152/92 at 67 is not under 150/90: not controlled, seen again within 2 weeks (2 March + 14 days).
    assert "Not controlled: adjust treatment" in shown.text
    assert "2026-03-16" in shown.text
    assert "152/92 mmHg not below 150/90 mmHg" in shown.text
    assert "260 days overdue" not in shown.text
    assert len(gateway.search(SYSTEM, "Encounter", [("subject", "Patient/p-htn")])) == 1


def test_a_bad_form_comes_back_with_the_message_at_the_field(doctor):
    token = form_token(doctor.get(FORM))
    page = doctor.post(FORM, data={"csrf_token": token, **GOOD_VISIT, "systolic": "1200"})
    assert page.status_code == 400
    assert 'id="e-systolic"' in page.text and 'aria-describedby="e-systolic"' in page.text
    assert "Systolic blood pressure must be a number from 50 to 300 mmHg." in page.text
    assert gateway.search(SYSTEM, "Encounter", []) == []
    chinese = doctor.post(FORM + "?lang=zh-Hans", data={"csrf_token": token, **GOOD_VISIT, "salt": ""})
    assert chinese.status_code == 400 and 'id="e-salt"' in chinese.text
    assert "请选择其中一个答案" in chinese.text


def test_hostile_text_is_stored_as_text_and_escaped(doctor):
    token = form_token(doctor.get(FORM))
    posted = doctor.post(FORM, data={"csrf_token": token, **GOOD_VISIT, "adverse_reaction": "yes",
                                     "adverse_reaction_text": HOSTILE})
    assert posted.status_code == 303
    (response,) = [r for r in gateway.search(SYSTEM, "QuestionnaireResponse", [("subject", "Patient/p-htn")])]
    assert {"linkId": "adverse_reaction_text", "text": "Adverse reaction",
            "answer": [{"valueString": HOSTILE}]} in response["item"]
    # Shown again in a form that comes back with a mistake: escaped.
    page = doctor.post(FORM, data={"csrf_token": token, **GOOD_VISIT, "systolic": "x", "adverse_reaction": "yes",
                                   "adverse_reaction_text": HOSTILE})
    assert page.status_code == 400
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text


def test_the_csrf_token_is_checked(doctor):
    assert doctor.post(FORM, data={"csrf_token": "forged", **GOOD_VISIT}).status_code == 403
    assert gateway.search(SYSTEM, "Encounter", []) == []


def test_a_patient_account_is_refused(centre):  # noqa: F811
    web = _signed_in("htn.patient")
    assert web.get("/workstation/chronic").status_code == 403
    assert web.get(FORM).status_code == 403
    assert web.post(FORM, data=GOOD_VISIT).status_code == 403
    assert gateway.search(SYSTEM, "Encounter", []) == []


def test_signed_out_visitors_go_to_sign_in(centre):  # noqa: F811
    assert browser().get("/workstation/chronic").status_code == 303


@pytest.mark.parametrize("path", [
    "/workstation/chronic/patients/p-away/follow-up",  # another centre's resident
    "/workstation/chronic/patients/p-confirm/follow-up",  # not on a registry
    "/workstation/chronic/patients/..%2F..%2Fetc/follow-up",
    "/workstation/chronic/patients/" + "x" * 5000 + "/follow-up",
])
def test_residents_out_of_reach_or_off_the_registries_get_404(doctor, path):
    assert doctor.get(path).status_code == 404


def test_the_indicators_page(doctor):
    page = doctor.get("/workstation/chronic/indicators")
    assert page.status_code == 200
    assert "Test Road Health Centre" in page.text and "Hedong District" in page.text
    assert "Circulation. 2018" in page.text and "BMJ. 2020" in page.text
    assert 'id="ind-chart"' in page.text
    assert doctor.get("/workstation/chronic/indicators?year=2031").status_code == 400
