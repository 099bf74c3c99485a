"""The resident's "who may see my records" page: choices saved as Consents that take effect at once for every
clinician, in English and Chinese, with bad or forged posts refused and nothing written."""

import pytest

from smartcare.platform.security.context import SYSTEM
from smartcare.regional.consent import service
from tests.conftest import bearer
from tests.fhir.test_access import FHIR_JSON, transaction
from tests.web_support import browser, form_token, make_user, sign_in

PROV = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}]}
DOCTOR_A = bearer("user/*.cruds", kind="user", name="dr.chen", roles={"doctor"}, subject="user-dr.chen",
                  organization="Organization/org-a", fhir_user="Practitioner/doc-a")


def org(oid: str, name: str, zh: str) -> dict:
    return {"resourceType": "Organization", "id": oid, "active": True, "type": [PROV], "name": name, "alias": [zh]}


def condition(cid: str, code: str, source: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "meta": {"source": source},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
            "subject": {"reference": "Patient/pa1"}}


@pytest.fixture
def region(client, engine):
    resources = [
        org("org-a", "Riverside First Hospital", "滨江第一医院"), org("org-b", "Hillside District Hospital", "山城区医院"),
        org("org-c", "Lakeside Health Centre", "湖畔社区卫生服务中心"),
        {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Zhang"}],
         "managingOrganization": {"reference": "Organization/org-a"}},
        condition("asthma-b", "J45.9", "Organization/org-b"), condition("depression-b", "F32.1", "Organization/org-b"),
        condition("diabetes-c", "E11.9", "Organization/org-c"),
    ]
    assert client.post("/fhir", json=transaction(resources), headers=FHIR_JSON).status_code == 200
    make_user(engine, "patient")
    web = browser()
    sign_in(web, "patient.test")
    return client, web


def seen_by_doctor_a(client) -> set[str]:
    r = client.get("/fhir/Condition?subject=Patient/pa1", headers=DOCTOR_A)
    assert r.status_code == 200, r.text
    return {e["resource"]["id"] for e in r.json().get("entry", [])}


def test_the_page_shows_the_regions_default_and_every_institution(region):
    _client, web = region
    page = web.get("/app/sharing")
    assert page.status_code == 200
    assert "Who may see my records" in page.text and "the region's default is shown" in page.text
    assert "Records from Hillside District Hospital may be seen by" in page.text
    assert 'name="see-org-a__org-b"' in page.text and 'name="withhold-mental_health"' in page.text


def test_choices_saved_on_the_page_apply_to_clinicians_at_once(region):
    client, web = region
    assert seen_by_doctor_a(client) == set()  # opt-in region, nothing chosen yet: only org-a's own records
    page = web.get("/app/sharing")
    form = {"csrf_token": form_token(page), "person": "pa1", "share": "yes", "withhold-mental_health": "on",
            # every pair allowed but org-a seeing org-c's records
            **{f"see-{r}__{s}": "on" for r in ("org-a", "org-b", "org-c") for s in ("org-a", "org-b", "org-c")
               if r != s and (r, s) != ("org-a", "org-c")}}
    saved = web.post("/app/sharing", data=form)
    assert saved.status_code == 200, saved.text[:400]
    assert "Your choices are saved" in saved.text
    assert seen_by_doctor_a(client) == {"asthma-b"}
    # The page shows what was chosen.
    assert 'name="withhold-mental_health" checked' in saved.text
    assert 'name="see-org-a__org-c">' in saved.text and 'name="see-org-a__org-b" checked' in saved.text
    # Releasing mental health and org-c: everything shows.
    form.pop("withhold-mental_health")
    form["see-org-a__org-c"] = "on"
    assert web.post("/app/sharing", data=form).status_code == 200
    assert seen_by_doctor_a(client) == {"asthma-b", "depression-b", "diabetes-c"}
    # Saying no to sharing closes it all again.
    assert web.post("/app/sharing", data={**form, "share": "no"}).status_code == 200
    assert seen_by_doctor_a(client) == set()


def test_the_choices_are_consents_with_their_history_kept(region):
    client, web = region
    page = web.get("/app/sharing")
    base = {"csrf_token": form_token(page), "person": "pa1", "share": "yes", "withhold-hiv": "on"}
    web.post("/app/sharing", data=base)
    web.post("/app/sharing", data={k: v for k, v in base.items() if k != "withhold-hiv"})
    labels = client.get("/fhir/Consent/rs-pa1-labels").json()
    assert labels["status"] == "inactive"  # ended, not deleted
    history = client.get("/fhir/Consent/rs-pa1-labels/_history").json()
    assert history["total"] == 2
    assert client.get("/fhir/Consent/rs-pa1").json()["provision"]["type"] == "permit"


def test_the_page_in_chinese(region):
    _client, web = region
    page = web.get("/app/sharing", params={"lang": "zh-Hans"})
    assert page.status_code == 200
    assert "谁可以查看我的记录" in page.text and "山城区医院" in page.text and "心理健康" in page.text
    assert "Who may see my records" not in page.text


def test_a_forged_institution_is_refused_and_nothing_is_written(region):
    client, web = region
    page = web.get("/app/sharing")
    refused = web.post("/app/sharing", data={"csrf_token": form_token(page), "person": "pa1", "share": "yes",
                                             "see-org-zz__org-b": "on"})
    assert refused.status_code == 400
    assert "could not be saved" in refused.text
    assert client.get("/fhir/Consent?patient=Patient/pa1").json()["total"] == 0
    no_choice = web.post("/app/sharing", data={"csrf_token": form_token(page), "person": "pa1"})
    assert no_choice.status_code == 400
    assert client.get("/fhir/Consent?patient=Patient/pa1").json()["total"] == 0


def test_a_post_without_the_sessions_token_is_refused(region):
    client, web = region
    assert web.post("/app/sharing", data={"csrf_token": "forged", "person": "pa1", "share": "yes"}).status_code == 403
    assert client.get("/fhir/Consent?patient=Patient/pa1").json()["total"] == 0


def test_only_the_resident_or_their_proxy_reaches_the_page(region, engine):
    _client, _web = region
    make_user(engine, "doctor")
    web = browser()
    sign_in(web, "doctor.test")
    assert web.get("/app/sharing").status_code in (303, 403)


def test_unknown_categories_are_refused_by_the_service(region):
    client, _web = region
    ctx = SYSTEM
    with pytest.raises(service.ChoiceProblem):
        service.save(ctx, "pa1", service.Choices(share=True, withheld=["astrology"]))
    assert client.get("/fhir/Consent?patient=Patient/pa1").json()["total"] == 0
