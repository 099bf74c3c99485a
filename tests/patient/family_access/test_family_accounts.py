"""Family accounts: a father lets his daughter's own account look after his record from the app, she switches to him
at the top of My health, everything she does there is audited as on his behalf, and he ends it again."""

import re

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.platform import audit
from smartcare.platform.audit.service import ON_BEHALF_OF, on_behalf_of_patient
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from tests.fhir.test_access import FHIR_JSON, transaction
from tests.patient.sharing.conftest import WORLD
from tests.web_support import browser, form_token, make_user, sign_in


@pytest.fixture
def family(client, engine):
    """The sharing tests' world; the daughter Zhang Wei (patient.test, Patient/pa1) and her father Fang Wang
    (father.test, Patient/pa2; "Fang Wang" as English pages write the name), each signed in on their own phone."""
    answer = client.post("/fhir", json=transaction(WORLD), headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text[:400]
    make_user(engine, "patient")
    make_user(engine, "patient", "father.test", fhir_ref="Patient/pa2")
    make_user(engine, "patient", "stranger.test", fhir_ref="Patient/kid1")
    daughter, father = browser(), browser()
    sign_in(daughter, "patient.test")
    sign_in(father, "father.test")
    return daughter, father


def _grant(web, *, member="patient.test", name="Zhang Wei", relationship="CHILD", person="pa2"):
    page = web.get(f"/app/family-access?person={person}")
    assert page.status_code == 200, page.text[:300]
    return web.post("/app/family-access", data={"csrf_token": form_token(page), "person": person, "action": "grant",
                                                "member": member, "name": name, "relationship": relationship})


def _user(engine, username):
    with unit_of_work(engine) as conn:
        return users.get_by_username(conn, username=username)


def _inbox(engine, username):
    user_id = _user(engine, username).id
    with unit_of_work(engine) as conn:
        return [n["title"] for n in notifications.inbox(conn, user_id=user_id)]


def test_before_a_grant_the_daughter_cannot_open_her_fathers_record(family):
    daughter, _father = family
    home = daughter.get("/app?person=pa2")
    assert home.status_code == 200
    assert "Wei Zhang" in home.text and "Fang Wang" not in home.text and "Influenza" not in home.text
    assert daughter.get("/app/record?person=pa2").status_code == 404


def test_the_father_gives_access_and_the_daughter_switches_to_him(family, engine):
    daughter, father = family
    done = _grant(father)
    assert done.status_code == 303 and "done=granted" in done.headers["location"]
    page = father.get(done.headers["location"])
    assert "They can now look after this record" in page.text
    assert "Zhang Wei" in page.text and "my child (son or daughter)" in page.text
    assert any("look after a family member" in t for t in _inbox(engine, "patient.test"))

    home = daughter.get("/app")
    assert "Fang Wang" in home.text and "(me)" in home.text  # the switcher: herself and her father
    switched = daughter.get("/app?person=pa2")
    assert "You are acting on behalf of Fang Wang" in switched.text
    # The choice carries over to the next pages that name nobody.
    assert "sc_person=pa2" in switched.headers.get("set-cookie", "")
    record = daughter.get("/app/record/lists")
    assert record.status_code == 200 and "Influenza" in record.text and "Type 2 diabetes" not in record.text
    back = daughter.get("/app?person=pa1")
    assert "acting on behalf" not in back.text and "Type 2 diabetes" in daughter.get("/app/record/lists").text
    # Her side of the page: whose record she looks after, as his child.
    mine = daughter.get("/app/family-access?person=pa1")
    assert "Records I look after" in mine.text and "Fang Wang" in mine.text and "my parent" in mine.text


def test_what_the_daughter_reads_of_her_father_is_audited_on_his_behalf(family, engine):
    daughter, father = family
    assert _grant(father).status_code == 303
    daughter.get("/app?person=pa2")
    daughter.get("/app?person=pa1")
    daughter_id = _user(engine, "patient.test").id
    with unit_of_work(engine) as conn:
        for_father, own = ([e["event"] for e in audit.search(conn, patient=p, limit=200)
                            if e["event"]["agent"][0].get("altId") == daughter_id] for p in ("Patient/pa2", "Patient/pa1"))
    assert for_father and own
    assert all(on_behalf_of_patient(e) == "Patient/pa2" for e in for_father)
    assert all(on_behalf_of_patient(e) is None for e in own)
    assert all(e["agent"][0]["altId"] == daughter_id for e in for_father)
    assert for_father[0]["agent"][0]["extension"][0]["url"] == ON_BEHALF_OF


def test_the_father_ends_it_and_the_daughter_loses_access_at_once(family, engine):
    daughter, father = family
    assert _grant(father).status_code == 303
    assert "Fang Wang" in daughter.get("/app").text
    page = father.get("/app/family-access")
    related = re.search(r'name="related_person" value="([^"]+)"', page.text).group(1)
    ended = father.post("/app/family-access", data={"csrf_token": form_token(page), "person": "pa2",
                                                    "action": "withdraw", "related_person": related})
    assert ended.status_code == 303 and "done=withdrawn" in ended.headers["location"]
    assert "Nobody else can see this record" in father.get(ended.headers["location"]).text
    home = daughter.get("/app?person=pa2")
    assert "Fang Wang" not in home.text and "Influenza" not in home.text
    assert daughter.get("/app/record?person=pa2").status_code == 404
    assert any("has ended" in t for t in _inbox(engine, "patient.test"))


def test_the_daughter_may_step_down(family):
    daughter, father = family
    assert _grant(father).status_code == 303
    page = daughter.get("/app/family-access")
    assert "Stop looking after Fang Wang" in page.text
    related = re.search(r'name="related_person" value="([^"]+)"', page.text).group(1)
    done = daughter.post("/app/family-access", data={"csrf_token": form_token(page), "person": "pa2",
                                                     "action": "step-down", "related_person": related})
    assert done.status_code == 303, re.findall(r'class="form-error"[^>]*>([^<]*)', done.text)
    assert "You do not look after anyone else" in daughter.get("/app/family-access").text
    assert "Nobody else can see this record" in father.get("/app/family-access").text


@pytest.mark.parametrize(("fields", "message"), [
    ({"member": "nobody.here"}, "There is no patient account with that user name."),
    ({"member": "father.test"}, "That is your own account."),
    ({"member": "admin.a"}, "There is no patient account with that user name."),
    ({"name": "   "}, "Give the family member's name."),
    ({"relationship": "BOSS"}, "Choose how they are related to you."),
])
def test_a_grant_that_cannot_be_made_says_why_on_the_form(family, engine, fields, message):
    _daughter, father = family
    make_user(engine, "hospital_admin", "admin.a", organization="Organization/org-a")
    answer = _grant(father, **fields)
    assert answer.status_code == 422
    assert message in answer.text, re.findall(r'class="form-error"[^>]*>([^<]*)', answer.text)
    assert 'aria-invalid="true"' in answer.text
    assert "Nobody else can see this record" in answer.text


def test_the_same_member_twice_is_refused_and_the_chinese_form_reads_in_chinese(family):
    _daughter, father = family
    assert _grant(father).status_code == 303
    again = _grant(father)
    assert again.status_code == 422 and "can look after this record already" in again.text
    zh = father.get("/app/family-access?lang=zh-Hans")
    assert "家人授权" in zh.text and "谁可以照看" in zh.text and "我的子女" in zh.text


def test_nobody_can_grant_access_to_someone_elses_record(family, engine):
    daughter, _father = family
    stranger = browser()
    sign_in(stranger, "stranger.test")
    page = stranger.get("/app/family-access")
    # A form posted for a person outside the caller's reach is not found; nothing is written.
    answer = stranger.post("/app/family-access", data={"csrf_token": form_token(page), "person": "pa2",
                                                       "action": "grant", "member": "stranger.test", "name": "X",
                                                       "relationship": "CHILD"})
    assert answer.status_code == 404
    assert "Fang Wang" not in daughter.get("/app").text
    no_token = stranger.post("/app/family-access", data={"person": "kid1", "action": "grant"})
    assert no_token.status_code == 403


def test_a_grant_over_fhir_by_someone_else_opens_nothing(family, engine):
    """The policy reads the account's RelatedPerson only with a proxy Consent of that patient naming it: a
    RelatedPerson the stranger writes about themselves naming the daughter's account gives her their record, never
    the stranger anyone else's."""
    daughter_id = _user(engine, "patient.test").id
    stranger = users.context_for(_user(engine, "stranger.test"))
    with pytest.raises(FhirError):
        gateway.serve(stranger, _post("RelatedPerson", {
            "resourceType": "RelatedPerson", "patient": {"reference": "Patient/pa2"},
            "identifier": [{"system": "https://smartcare.example/fhir/sid/account", "value": daughter_id}]}))


def _post(res_type, body):
    from smartcare.fhir.http import FhirRequest

    return FhirRequest(method="POST", path=res_type, body=body)


def test_notices_for_the_granted_relatedperson_reach_the_daughters_account(family, engine):
    """A care team names the RelatedPerson a grant made as a plan's caregiver: fall alerts and reminder copies for
    that RelatedPerson reach her own account (family/monitoring and family/medication look accounts up this way)."""
    from smartcare.family.medication import records
    from smartcare.family.monitoring import service as monitoring

    _daughter, father = family
    assert _grant(father).status_code == 303
    page = father.get("/app/family-access")
    related = "RelatedPerson/" + re.search(r'name="related_person" value="([^"]+)"', page.text).group(1)
    daughter = _user(engine, "patient.test")
    with unit_of_work(engine) as conn:
        assert [a for a, _locale in monitoring.accounts_of(conn, [related])] == [daughter.id]
        assert [a.id for a in records.accounts_of(conn, related)] == [daughter.id]
        assert monitoring.accounts_of(conn, ["RelatedPerson/rp1"]) == []  # the carer in the world has no account


def test_the_grant_form_stops_a_run_of_user_names_and_says_when_to_try_again(family, now):
    """Going through a list of names to learn which accounts exist stops after a few tries, in either language, and
    no grant is made then, even for a real name; after the window the form works again."""
    from datetime import timedelta

    from smartcare.patient.family_access import service

    daughter, father = family
    for n in range(service.LOOKUPS_PER_ACCOUNT):
        miss = _grant(father, member=f"guess.{n}")
        assert miss.status_code == 422 and "There is no patient account with that user name." in miss.text
        assert "the name they sign in to SmartCare with" in miss.text
    stopped = _grant(father)  # the daughter's real user name, too late
    assert stopped.status_code == 429
    assert "Too many attempts to give access. Try again in 15 minutes." in stopped.text
    assert 'role="alert"' in stopped.text and "Nobody else can see this record" in stopped.text
    now[0] += timedelta(minutes=5)
    father.get("/app/family-access?lang=zh-Hans")
    stopped_zh = _grant(father)
    assert stopped_zh.status_code == 429 and "尝试次数过多，请 10 分钟后再试。" in stopped_zh.text
    assert "Fang Wang" not in daughter.get("/app").text
    now[0] += timedelta(minutes=10, seconds=1)
    assert _grant(father).status_code == 303
    assert "Fang Wang" in daughter.get("/app").text


def test_the_grant_form_is_throttled_per_address_too(family, monkeypatch):
    """Two accounts on one network share the address's allowance (the daughter and her father on the same Wi-Fi)."""
    from smartcare.patient.family_access import service

    monkeypatch.setattr(service, "LOOKUPS_PER_ADDRESS", 3)
    daughter, father = family
    assert _grant(father, member="guess.1").status_code == 422
    assert _grant(father, member="guess.2").status_code == 422
    assert _grant(daughter, member="guess.3", person="pa1").status_code == 422
    stopped = _grant(daughter, member="father.test", name="Fang Wang", relationship="PRN", person="pa1")
    assert stopped.status_code == 429 and "Too many attempts to give access." in stopped.text
    assert "Nobody else can see this record" in daughter.get("/app/family-access?person=pa1").text
