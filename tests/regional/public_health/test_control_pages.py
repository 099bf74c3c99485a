"""The control pages: an officer brings in the contacts, changes a status, adds one and starts a home isolation from
the case's control page (English and Chinese, hostile input shown as text, mistakes named by field); the community
health centre's work list shows its own districts' people only; everyone else is refused."""

import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import contacts, control, isolation, review
from tests.regional.public_health.test_contacts import OFFICER, bring_in, investigated_case
from tests.regional.public_health.test_isolation import CENTRES
from tests.regional.public_health.test_review import put
from tests.web_support import browser, form_token, make_user, sign_in

ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def reported(engine, now):
    """The investigated measles case of the contact tests."""
    return investigated_case(engine)
PAGE = "/console/public-health/cases/rep-m/control"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def officer(reported, now):
    put(reported, *CENTRES)
    make_user(reported, "public_health_officer")
    web = browser()
    sign_in(web, "public.health.officer.test")
    yield web
    web.close()


def post(web, path: str, fields: dict, *, page: str = PAGE):
    return web.post(path, data={"csrf_token": form_token(web.get(page)), **fields})


def listed(engine) -> contacts.ContactList:
    with unit_of_work(engine) as conn:
        return contacts.read_list(conn, "rep-m")


@ONE_STORE
def test_an_officer_brings_in_the_contacts_changes_a_status_and_isolates_a_resident(officer, reported):
    first = officer.get(PAGE)
    assert first.status_code == 200 and "2 contacts named in the case investigation are not on the list yet" in first.text
    assert "21 days after the last contact" in first.text and "Measles-containing vaccine" in first.text
    done = post(officer, PAGE + "/contacts/import", {"version": "0"})
    assert done.status_code == 303 and done.headers["location"].startswith(PAGE + "?done=imported")
    page = officer.get(PAGE)
    assert 'id="control-contacts"' in page.text and "2026-03-13" in page.text and "resident matched" in page.text
    wang = listed(reported).contacts[0]
    changed = post(officer, f"{PAGE}/contacts/{wang.id}/status", {"version": "1", "status": "traced",
                                                                   "note": "reached by phone"})
    assert changed.status_code == 303 and listed(reported).contacts[0].status == "traced"
    started = post(officer, PAGE + "/isolation", {"patient": "Patient/res-wang", "role": "contact",
                                                  "start": "2026-03-02", "end": "2026-03-13", "reason": ""})
    assert started.status_code == 303
    page = officer.get(PAGE + "?lang=zh-Hans")
    assert "居家隔离" in page.text and "2026-03-13" in page.text and "第2社区卫生服务中心" in page.text


@ONE_STORE
def test_hostile_input_is_shown_as_text_and_mistakes_are_named_at_their_field_in_chinese(officer, reported):
    added = post(officer, PAGE + "/contacts", {"version": "0", "name": HOSTILE[:50], "relation": "friend",
                                               "phone": "", "last_contact": "2026-02-27"})
    assert added.status_code == 303
    page = officer.get(PAGE)
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    bad = post(officer, PAGE + "/contacts?lang=zh-Hans", {"version": "1", "name": "赵强", "relation": "friend",
                                                          "phone": "' OR 1=1 --", "last_contact": "2026-02-27"},
               page=PAGE + "?lang=zh-Hans")
    assert bad.status_code == 400
    assert re.search(r'id="add-phone"[^>]*aria-invalid="true"', bad.text)
    assert "请填写电话号码" in bad.text and 'value="赵强"' in bad.text
    too_long = post(officer, PAGE + "/contacts", {"version": "1", "name": "x" * 5000, "last_contact": "2026-02-27"})
    assert too_long.status_code == 400 and "最多 50 个字符" in too_long.text  # the language chosen stays
    stale = post(officer, PAGE + "/contacts", {"version": "0", "name": "赵强", "last_contact": "2026-02-27"})
    assert stale.status_code == 409
    odd = post(officer, PAGE + "/contacts", {"version": "1; DROP", "name": "赵强", "last_contact": "2026-02-27"})
    assert odd.status_code == 409
    assert [c.name for c in listed(reported).contacts] == [HOSTILE[:50]]


@ONE_STORE
def test_a_form_without_the_sessions_token_changes_nothing(officer, reported):
    refused = officer.post(PAGE + "/contacts/import", data={"version": "0", "csrf_token": "forged"})
    assert refused.status_code == 403 and listed(reported).version == 0
    missing = officer.get("/console/public-health/cases/<no-such>/control")
    assert missing.status_code == 404 and "There is no case report" in missing.text
    stranger = post(officer, PAGE + "/isolation", {"patient": "Patient/../../etc", "role": "contact",
                                                   "start": "2026-03-02"})
    assert stranger.status_code == 400 and "match the contact to a resident first" in stranger.text


@ONE_STORE
@pytest.mark.parametrize("role", ["doctor", "regional_admin", "researcher", "patient"])
def test_other_roles_are_refused_the_control_page(reported, now, role):
    make_user(reported, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    assert web.get(PAGE).status_code == 403
    assert web.post(PAGE + "/contacts/import", data={"version": "0"}).status_code == 403
    assert listed(reported).version == 0


@pytest.fixture
def isolated(officer, reported):
    """Wang Fang (Hexi, centre 2) in home isolation; nurses of centres 1 and 2, a hospital doctor."""
    bring_in(reported)
    with unit_of_work(reported) as conn:
        found = isolation.start(conn, ctx=OFFICER, report_id="rep-m", patient="Patient/res-wang", role="contact",
                                start_text="2026-03-02", end_text="", reason="", today=review.today())
    for n in (1, 2):
        make_user(reported, "nurse", f"nurse.chc{n}", organization=f"Organization/org-chc-{n}",
                  fhir_ref=f"Practitioner/n{n}")
    make_user(reported, "doctor")
    return found


def signed(username: str):
    web = browser()
    sign_in(web, username)
    return web


@ONE_STORE
def test_the_centre_sees_its_own_districts_people_in_isolation_and_their_reports(isolated, reported):
    web = signed("nurse.chc2")
    page = web.get("/workstation/isolation")
    assert page.status_code == 200 and "王芳" in page.text and "Hexi District" in page.text
    assert f"/workstation/isolation/{isolated.id}" in page.text
    person = web.get(f"/workstation/isolation/{isolated.id}?lang=zh-Hans")
    assert person.status_code == 200 and "王芳" in person.text and "今天，尚未结束" in person.text
    with unit_of_work(reported) as conn:
        trail = audit.search(conn, agent="user/nurse.chc2", patient="Patient/res-wang")
    assert {e["subtype"] for e in trail} == {"search", "read"}


@ONE_STORE
def test_another_centre_and_hospital_staff_are_refused(isolated, reported):
    other = signed("nurse.chc1")
    page = other.get("/workstation/isolation")
    assert page.status_code == 200 and "王芳" not in page.text and 'id="isolation-none"' in page.text
    assert other.get(f"/workstation/isolation/{isolated.id}").status_code == 403
    hospital = signed("doctor.test")
    assert hospital.get("/workstation/isolation").status_code == 403
    assert signed("public.health.officer.test").get("/workstation/isolation").status_code == 403


@ONE_STORE
def test_vaccination_shows_the_recorded_doses_and_says_not_recorded_otherwise(officer, reported):
    doses = [{"resourceType": "Immunization", "id": f"imm-{n}", "status": "completed",
              "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "03", "display": "MMR"}]},
              "patient": {"reference": "Patient/h1-1"}, "occurrenceDateTime": day,
              "protocolApplied": [{"doseNumberPositiveInt": n}]}
             for n, day in ((1, "1981-05-01"), (2, "1986-09-01"))]
    refused = {**doses[0], "id": "imm-x", "status": "not-done", "occurrenceDateTime": "2020-01-01"}
    flu = {**doses[0], "id": "imm-flu", "vaccineCode": {"coding": [{"system": "http://www.whocc.no/atc",
                                                                    "code": "J07BB02"}]}}
    put(reported, *doses, refused, flu)
    bring_in(reported)
    with unit_of_work(reported) as conn:
        case = control.vaccination(conn, "Patient/h1-1", review.catalogue().control_for("measles"))
        wang = control.vaccination(conn, "Patient/res-wang", review.catalogue().control_for("measles"))
    assert [(d.day, d.number) for d in case[0].doses] == [("1981-05-01", "1"), ("1986-09-01", "2")]
    assert wang[0].doses == ()
    page = officer.get(PAGE)
    assert "2 doses recorded" in page.text and "not recorded" in page.text and "unvaccinated" not in page.text
    assert "No record to look in" in page.text  # Li Lei is not matched to anyone
    with unit_of_work(reported) as conn:
        assert control.vaccination(conn, "Patient/h1-1", None) == []  # no vaccine listed: nothing to say
