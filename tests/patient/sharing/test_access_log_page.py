"""'Who opened my record' (/app/access): the audit entries about the chosen person in plain words, paged."""

from smartcare.patient.sharing.access_log import plain_entries
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from tests.conftest import bearer
from tests.patient.sharing.conftest import signed_in

DOCTOR = AccessContext(kind="user", name="dr.chen", roles=frozenset({"doctor"}), organization="Organization/org-a",
                       subject="user-dr.chen", fhir_user="Practitioner/doc-a")


def test_a_doctors_read_is_shown_by_role_and_hospital_not_by_user_name(region, client):
    doctor = bearer("user/*.cruds", kind="user", name="dr.chen", roles={"doctor"}, subject="user-dr.chen",
                    organization="Organization/org-a", fhir_user="Practitioner/doc-a")
    assert client.get("/fhir/Condition/dm-pa1", headers=doctor).status_code == 200
    page = region.get("/app/access?person=pa1")
    assert page.status_code == 200
    assert "a doctor" in page.text and "at Riverside First Hospital" in page.text and "problems and diagnoses" in page.text
    assert "dr.chen" not in page.text and "user-dr.chen" not in page.text


def test_break_the_glass_is_highlighted_with_its_reason(region, engine):
    with unit_of_work(engine) as conn:
        audit.record(conn, ctx=DOCTOR, action="E", subtype="break-the-glass", patient="Patient/pa1",
                     purpose="ETREAT", description="<b>unconscious</b> in the emergency room")
    page = region.get("/app/access?person=pa1")
    assert "Emergency access" in page.text and "access-entry--emergency" in page.text
    assert "&lt;b&gt;unconscious&lt;/b&gt; in the emergency room" in page.text and "emergency treatment" in page.text


def test_the_page_is_paged_and_only_about_the_chosen_person(region, engine):
    with unit_of_work(engine) as conn:
        for n in range(25):
            audit.record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/pa1",
                         entities=[f"Observation/o{n}"])
        audit.record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/pa2", entities=["Condition/x"])
    first = region.get("/app/access?person=pa1")
    assert first.text.count('class="access-entry') == 20 and "page=2" in first.text
    second = region.get("/app/access?person=pa1&page=2")
    assert second.text.count('class="access-entry') >= 5 and "page=1" in second.text
    # Asking for another person shows one's own record instead (pa2 is not someone pa1 stands for).
    other = region.get("/app/access?person=pa2")
    assert other.status_code == 200 and "Condition/x" not in other.text
    assert region.get("/app/access?person=pa1&page=abc").status_code == 200


def test_a_caregiver_sees_the_childs_entries_and_the_page_in_chinese(region, engine):
    with unit_of_work(engine) as conn:
        audit.record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/kid1", entities=["Condition/a"])
    carer = signed_in("caregiver.test")
    page = carer.get("/app/access?person=kid1&lang=zh-Hans")
    assert page.status_code == 200 and "谁查看了我的档案" in page.text and "一名医生" in page.text


def test_plain_entries_name_the_viewer_themselves_and_share_links():
    entries = [
        {"recorded": "2026-03-02T08:00:00Z", "subtype": "read", "outcome": "0",
         "event": {"agent": [{"who": {"display": "user/zhang", "reference": "Patient/pa1"}, "altId": "u1"}]}},
        {"recorded": "2026-03-02T08:00:00Z", "subtype": "operation", "outcome": "0",
         "event": {"agent": [{"who": {"display": "share-link/l1"}}]}},
        {"recorded": "2026-03-02T08:00:00Z", "subtype": "access-refused", "outcome": "4",
         "event": {"agent": [{"who": {"display": "share-link/gone"}}]}},
    ]
    rows = plain_entries(entries, viewer_id="u1", viewer_ref="Patient/pa1", link_labels={"l1": "Dr Li"},
                         org_names={})
    assert [r["who"] for r in rows] == [{"kind": "you"}, {"kind": "share", "label": "Dr Li"},
                                        {"kind": "share", "label": ""}]
    assert rows[2]["refused"] and not rows[0]["refused"]
