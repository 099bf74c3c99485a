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


def _account_ctx(engine, username):
    from smartcare.platform.security import users

    with unit_of_work(engine) as conn:
        return users.context_for(users.get_by_username(conn, username=username))


def test_other_peoples_accesses_come_first_and_the_patients_own_fold_into_a_line_a_day(region, engine, now):
    from datetime import timedelta

    from tests.web_support import make_user

    make_user(engine, "patient", "daughter.test", fhir_ref="Patient/pa2")  # a family account looking after pa1
    me, daughter, stranger = (_account_ctx(engine, name) for name in ("patient.test", "daughter.test", "caregiver.test"))
    now[0] -= timedelta(days=2)
    with unit_of_work(engine) as conn:
        for _ in range(12):
            audit.record(conn, ctx=me, action="R", subtype="search", patient="Patient/pa1", entities=["Patient/pa1"])
    now[0] += timedelta(days=1)
    with unit_of_work(engine) as conn:
        audit.record(conn, ctx=me, action="R", subtype="read", patient="Patient/pa1", entities=["Condition/dm-pa1"])
        audit.record(conn, ctx=daughter, action="R", subtype="read", patient="Patient/pa1",
                     entities=["Observation/hba1c-pa1"])
        audit.record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/pa1", entities=["Condition/dm-pa1"])
        # What a patient-side account was refused is never folded away.
        audit.record(conn, ctx=stranger, action="R", subtype="access-refused", outcome="4", patient="Patient/pa1")
    now[0] += timedelta(days=1)
    page = region.get("/app/access?person=pa1")
    assert page.status_code == 200
    text = page.text
    others, own = text.index('id="access-others"'), text.index('id="access-own"')
    assert others < own
    # The doctor, the refused try and the system that loaded the world; none of the 15 entries of her own side.
    assert text.count('class="access-entry') == 3
    assert "a doctor" in text[others:own] and "Refused" in text[others:own] and "You" not in text[others:own]
    assert text.count("<details>") == 3  # two days before, and today's (this page itself read her record)
    assert "You opened your record 12 times" in text and "<time datetime=\"2026-02-28\">" in text
    assert "You and your family opened this record 2 times" in text
    assert "A family member who looks after this record" in text[own:]
    assert "looked through" in text[own:] and "personal details" in text[own:]
    assert "<summary>" in text and text.index("You opened your record 12 times") > own
    zh = region.get("/app/access?person=pa1&lang=zh-Hans").text
    assert "您查看了自己的档案 12 次" in zh and "您和您的家人查看了此档案 2 次" in zh and "其他人" in zh


def test_a_carer_sees_their_own_reads_of_the_childs_record_folded(region, engine):
    carer_ctx = _account_ctx(engine, "caregiver.test")
    with unit_of_work(engine) as conn:
        for _ in range(3):
            audit.record(conn, ctx=carer_ctx, action="R", subtype="read", patient="Patient/kid1",
                         entities=["Condition/asthma-kid1"])
    page = signed_in("caregiver.test").get("/app/access?person=kid1").text
    # Three reads, and the page's own look at whose records the carer may open.
    assert "You opened this record 4 times" in page and "<details>" in page
    others = page[page.index('id="access-others"'):page.index('id="access-own"')]
    assert "<strong>You" not in others and "A connected system" in others
