"""The exchange console: members with volumes, rejection rates, last submission and data quality, in both languages."""

import re

import pytest

from tests.regional.exchange.conftest import bundle, heart_rate, patient, register
from tests.web_support import browser, form_token, make_user, sign_in

URL = "/api/v1/exchange/bundles"


@pytest.fixture
def fed(anonymous, engine, hospital_a):
    """Hospital A sent one batch with a bad Observation and a patient without identifier or birth date."""
    bad = heart_rate("xa-bad", "xa-p1", value="seventy")
    unknown = heart_rate("xa-o2", "xa-p1")
    unknown["code"]["coding"][0]["code"] = "99999-9"
    sent = bundle("batch", patient("xa-p1", identifier=None, born=None), heart_rate("xa-o1", "xa-p1"), unknown, bad)
    assert anonymous.post(URL, json=sent, headers=hospital_a.headers).status_code == 200
    return hospital_a


def signed_in(engine, role: str):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def test_a_members_page_shows_volumes_rejections_and_quality(engine, fed):
    web = signed_in(engine, "regional_admin")
    listing = web.get("/console/exchange")
    assert listing.status_code == 200 and "Riverside First Hospital" in listing.text
    assert "25.0%" in listing.text  # 1 of 4 records rejected
    page = web.get("/console/exchange/org-xa")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert '<p class="big-number" id="rejection-rate">25.0%</p>' in text
    assert 'id="volume-chart"' in text and '"accepted":' in text  # the chart's data
    completeness = text.split('id="completeness"')[1].split("</table>")[0]
    assert "birth date</td><td class=\"numeric\">0 / 1" in completeness
    validity = text.split('id="validity"')[1].split("</table>")[0]
    assert "LOINC</th><td class=\"numeric\">1 / 2" in validity
    assert "batch bundle" in text and "partly rejected" in text


def test_the_console_reads_in_chinese(engine, fed):
    web = signed_in(engine, "regional_admin")
    page = web.get("/console/exchange/org-xa?lang=zh-Hans")
    assert page.status_code == 200
    assert "数据质量" in page.text and "拒收率" in page.text and "批量包" in page.text
    assert "数据交换" in web.get("/console/exchange").text


def test_a_regional_admin_registers_a_member_and_sees_its_secret_once(engine):
    web = signed_in(engine, "regional_admin")
    page = web.get("/console/exchange")
    done = web.post("/console/exchange", data={"csrf_token": form_token(page), "organization": "org-new",
                                               "name": "Northgate Clinic", "sends": "Patient,Observation"})
    assert done.status_code == 200 and "Northgate Clinic" in done.text
    secret = re.search(r"Client secret: <code>([^<]{20,})</code>", done.text).group(1)
    later = web.get("/console/exchange").text
    assert "Northgate Clinic" in later and secret not in later  # listed, and the secret never shown again
    again = web.post("/console/exchange", data={"csrf_token": form_token(page), "organization": "org-new"})
    assert again.status_code == 400 and "already a member" in again.text


def test_a_hospital_admin_sees_only_its_own_organisation(engine, fed):
    register(engine, "org-a", "Hospital A of the admin")
    web = signed_in(engine, "hospital_admin")
    listing = web.get("/console/exchange")
    assert "Hospital A of the admin" in listing.text and "Riverside First Hospital" not in listing.text
    assert "Register a member" not in listing.text
    assert web.get("/console/exchange/org-a").status_code == 200
    assert web.get("/console/exchange/org-xa").status_code == 403


def test_patients_and_clinicians_cannot_open_the_console(engine, fed):
    for role in ("patient", "doctor"):
        web = signed_in(engine, role)
        assert web.get("/console/exchange/org-xa").status_code == 403
        assert web.get("/console/exchange").status_code == 403


def test_hostile_input_in_the_register_form_is_refused_and_shown_escaped(engine):
    web = signed_in(engine, "regional_admin")
    token = form_token(web.get("/console/exchange"))
    answer = web.post("/console/exchange", data={"csrf_token": token, "organization": "<script>alert(1)</script>",
                                                 "name": "x" * 5000, "fhir_base": "javascript:alert(1)"})
    assert answer.status_code == 400 and "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text  # kept in the form, escaped, for correcting
    assert web.get("/console/exchange/%3Cscript%3E").status_code == 404
    assert web.post("/console/exchange", data={"csrf_token": "wrong", "organization": "org-z"}).status_code == 403
