"""The chart shows the patient-view decision support inline (care gaps with their sources) and leads on to a note,
a prescription and orders."""

import pytest

from tests.hospital.cds.prescribing_record import HBA1C_DAY, write_record
from tests.web_support import browser, make_user, sign_in


@pytest.fixture
def doctor(engine):
    write_record()
    make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li", organization="Organization/org-h")
    web = browser()
    sign_in(web, "li.doctor")
    return web


def test_care_gaps_appear_on_the_chart_with_why_and_the_source(doctor):
    page = doctor.get("/workstation/patients/p-wang")
    assert page.status_code == 200
    section = page.text.split('id="cds-title"')[1].split("</section>")[0]
    assert "HbA1c overdue" in section and HBA1C_DAY in section and "Standards of Care in Diabetes" in section
    assert "Blood pressure above target" in section and "156/92" in section
    assert 'href="/workstation/patients/p-wang/orders?q=4548-4"' in section


def test_the_chart_leads_to_a_note_a_prescription_and_orders(doctor):
    page = doctor.get("/workstation/patients/p-wang")
    for path in ("notes/new", "prescribe", "orders", "notes"):
        assert f'href="/workstation/patients/p-wang/{path}"' in page.text
    ordering = doctor.get("/workstation/patients/p-wang/orders", params={"q": "4548-4"})
    assert 'name="order" value="' in ordering.text


def test_the_decision_support_speaks_chinese(doctor):
    page = doctor.get("/workstation/patients/p-wang", params={"lang": "zh-Hans"})
    assert "临床决策支持" in page.text and "糖化血红蛋白逾期" in page.text
