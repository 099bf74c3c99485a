"""Every staff role can open the critical-values banner without a server error; only those it serves poll it."""

import pytest

from smartcare.hospital.lab import release, results
from smartcare.hospital.lab.critical_views import BANNER_PATH
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.policy import CLINICAL_ROLES
from smartcare.platform.security.users import STAFF_ROLES
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import browser, make_user, sign_in

POTASSIUM = "2823-3"
# Whose work involves critical-value Tasks: the ordering clinicians and ward nurses, the laboratory that releases
# and is told when nobody acknowledges, and the pharmacists (they work through Tasks too).
POLLING_ROLES = {"doctor", "nurse", "pharmacist", "lab_technician"}


@pytest.fixture
def lab(engine, now):
    """The hospital with one critical potassium waiting for Dr Li, so the banner's search has something to find."""
    accounts = write_hospital(engine)
    specimen = received(accounts["tech"], place(accounts["doctor"], "potassium"))
    report = results.enter_results(accounts["tech"], specimen_id=specimen["id"], values={POTASSIUM: "7.0"})
    results.review(accounts["tech"], report_id=report["id"])
    release.release(accounts["tech"], report_id=report["id"])
    return accounts


def _signed_in_as(engine, role: str):
    make_user(engine, role, username=f"{role.replace('_', '.')}.banner", organization="Organization/org-h")
    web = browser()
    sign_in(web, f"{role.replace('_', '.')}.banner")
    return web


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_no_staff_role_gets_a_server_error_from_the_banner(lab, engine, role):
    answer = _signed_in_as(engine, role).get(BANNER_PATH)
    assert answer.status_code < 500
    if role in CLINICAL_ROLES:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 403


@pytest.mark.parametrize("role", sorted(CLINICAL_ROLES - {"doctor"}))
def test_the_banner_of_a_clinician_who_owns_no_critical_value_is_empty(lab, engine, role):
    assert _signed_in_as(engine, role).get(BANNER_PATH).text.strip() == ""


def test_the_doctor_still_sees_the_waiting_value_in_the_banner(lab):
    web = browser()
    sign_in(web, "li.doctor")
    banner = web.get(BANNER_PATH)
    assert banner.status_code == 200 and "7 mmol/L" in banner.text and "Critical high" in banner.text


def test_a_radiologists_banner_leaves_no_refused_search_in_the_audit_trail(lab, engine):
    # A refusal there would read to the privacy officer as a radiologist probing for Tasks on every page opened.
    assert _signed_in_as(engine, "radiologist").get(BANNER_PATH).status_code == 200
    with unit_of_work(engine) as conn:
        refused = audit.search(conn, agent="user/radiologist.banner", outcome="4")
    assert refused == []


@pytest.mark.parametrize("role", sorted(CLINICAL_ROLES))
def test_only_the_roles_the_alerts_serve_poll_the_banner_from_their_pages(lab, engine, role):
    page = _signed_in_as(engine, role).get("/workstation")
    assert page.status_code == 200
    polls = f'data-src="{BANNER_PATH}"' in page.text
    assert polls == (role in POLLING_ROLES)
    assert ("critical-alerts.js" in page.text) == (role in POLLING_ROLES)

