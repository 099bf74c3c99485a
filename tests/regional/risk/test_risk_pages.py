"""The risk pages: the region's stratification for the console (counts only, small cells hidden) and the family
doctor's own high-risk patients, each refused to the roles that may not open it."""

import re

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk.service import CATEGORY_SYSTEM, METHOD_SYSTEM, SCORE_EXTENSION
from smartcare.regional.risk.stratify import PROGRAMME_URI
from tests.web_support import browser, make_user, sign_in

CONSOLE, LIST = "/console/risk", "/workstation/risk"
HEDONG, HEXI = "Hedong District", "Hexi District"
# Dr A's patients (pat-1 to pat-6) and Dr B's (pat-7), all of the same health centre, so Dr A could read pat-7.
NAMES = {f"pat-{n}": name for n, name in enumerate(
    ["", "陈静", "王芳", "李娜", "赵敏", "刘洋", "孙丽", "周其他"]) if n}


def _put(body: dict) -> dict:
    path = f"{body['resourceType']}/{body['id']}"
    return gateway.serve(SYSTEM, FhirRequest(method="PUT", path=path, body=body)).body or {}


def _risk(pid: str, calculator: str, category: str, when: str, value: float, unit: str = "%") -> None:
    _put({"resourceType": "RiskAssessment", "id": f"ra-{pid}-{calculator}-{when[:10]}", "status": "final",
          "subject": {"reference": f"Patient/{pid}"}, "occurrenceDateTime": when,
          "method": {"coding": [{"system": METHOD_SYSTEM, "code": calculator}]},
          "prediction": [{"qualitativeRisk": {"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}}],
          "extension": [{"url": SCORE_EXTENSION, "valueQuantity": {"value": value, "unit": unit}}]})


def _plan(pid: str, status: str) -> None:
    _put({"resourceType": "CarePlan", "id": f"plan-{pid}", "status": status, "intent": "plan",
          "instantiatesUri": [PROGRAMME_URI], "subject": {"reference": f"Patient/{pid}"}})


@pytest.fixture
def region(engine, now):
    """Seven residents of one health centre, all with a high 10-year ASCVD risk now; pat-1 was low a year ago."""
    _put({"resourceType": "Organization", "id": "org-a", "name": "East Lake Community Health Centre"})
    for pid, name in NAMES.items():
        _put({"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1960-05-01",
              "name": [{"use": "official", "text": name}],
              "address": [{"use": "home", "district": HEXI if pid == "pat-7" else HEDONG}],
              "managingOrganization": {"reference": "Organization/org-a"},
              "generalPractitioner": [{"reference": "Practitioner/doc-b" if pid == "pat-7" else "Practitioner/doc-a"}]})
    _risk("pat-1", "pce-ascvd", "low", "2025-02-01T08:00:00Z", 4.1)
    for n in range(1, 8):
        _risk(f"pat-{n}", "pce-ascvd", "high", f"2026-02-0{n}T08:00:00Z", 20.0 + n)
    _risk("pat-2", "cha2ds2-vasc", "recommended", "2026-02-10T08:00:00Z", 3, "{score}")
    _plan("pat-1", "active")
    _plan("pat-3", "draft")


def signed_in_as(engine, role: str):
    """A browser signed in with the test account of role."""
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of a table, row by row."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)] for row in rows]


def test_a_regional_administrator_sees_counts_in_a_chart_and_a_table_and_no_names(engine, region):
    with signed_in_as(engine, "regional_admin") as web:
        page = web.get(CONSOLE)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert 'class="chart risk-chart"' in html and 'role="img"' in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    rows = table_rows(html, "table-pce-ascvd-district")
    assert rows[0][0] == "District" and rows[0][-2:] == ["High risk (20% or more)", "Total"]
    # Hexi's one resident is shown as <5; Hedong's 6 would give it back from the region's 7, so Hedong is hidden.
    assert rows[1] == [HEDONG, "0", "0", "0", "*hidden", "*hidden"]
    assert rows[2] == [HEXI, "0", "0", "0", "&lt;5", "&lt;5"]
    assert rows[3] == ["Total", "0", "0", "0", "7", "7"]
    ages = table_rows(html, "table-pce-ascvd-age")
    assert ["65-74", "0", "0", "0", "7", "7"] in ages
    # Seven high-risk residents, two with a programme (one active, one in draft): five without, at East Lake.
    programmes = table_rows(html, "programmes-table")
    assert programmes[1][0] == "East Lake Community Health Centre" and programmes[1][1] == "5"
    assert [name for name in NAMES.values() if name in html] == [] and "pat-" not in html
    with unit_of_work(engine) as conn:
        logged = audit.search(conn, agent="user/regional.admin.test", subtype="search")
    assert len(logged) == 1 and logged[0]["patient"] is None


def test_the_dashboard_speaks_chinese(engine, region):
    with signed_in_as(engine, "public_health_officer") as web:
        page = web.get(CONSOLE + "?lang=zh-Hans")
    assert page.status_code == 200
    assert "风险分层" in page.text and "按区县" in page.text


@pytest.mark.parametrize("role", ["doctor", "researcher", "hospital_admin", "patient"])
def test_everyone_else_is_refused_the_dashboard(engine, region, role):
    with signed_in_as(engine, role) as web:
        page = web.get(CONSOLE)
    assert page.status_code == 403
    assert [name for name in NAMES.values() if name in page.text] == []


def test_the_doctor_sees_their_own_high_risk_patients_newest_first(engine, region):
    with signed_in_as(engine, "doctor") as web:
        page = web.get(LIST)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    rows = table_rows(page.text, "high-risk-table")[1:]
    assert [row[0].split(" ")[0] for row in rows] == ["王芳", "孙丽", "刘洋", "赵敏", "李娜", "王芳", "陈静"]
    assert rows[0][1:] == ["CHA2DS2-VASc stroke risk in atrial fibrillation", "3", "Oral anticoagulation recommended",
                           "2026-02-10", "None"]
    assert rows[-1][2:] == ["21%", "High risk (20% or more)", "2026-02-01", "Active"]
    assert rows[-3][-1] == "Draft, awaiting review"  # pat-3
    assert 'href="/workstation/patients/pat-1"' in page.text
    assert "周其他" not in page.text and "pat-7" not in page.text  # Dr B's patient, though Dr A's centre's too


def test_the_doctor_filters_by_calculator(engine, region):
    with signed_in_as(engine, "doctor") as web:
        page = web.get(LIST, params={"calculator": "cha2ds2-vasc"})
    rows = table_rows(page.text, "high-risk-table")[1:]
    assert len(rows) == 1 and rows[0][0].startswith("王芳") and rows[0][3] == "Oral anticoagulation recommended"


@pytest.mark.parametrize("role", ["patient", "regional_admin"])
def test_the_high_risk_list_is_refused_to_other_accounts(engine, region, role):
    with signed_in_as(engine, role) as web:
        page = web.get(LIST)
    assert page.status_code == 403
    assert [name for name in NAMES.values() if name in page.text] == []
