"""Share links end to end: made on /app/share with a QR code, opened without an account within their scope only,
every use audited and shown to the patient, 410 once expired or revoked, guessing refused and throttled."""

import re
from datetime import timedelta

import pytest

from smartcare.fhir.ips.check import check_document
from smartcare.patient.sharing import links, public
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from tests.patient.sharing.conftest import signed_in
from tests.web_support import browser, form_token


def make_link(web, *, scope="summary", hours="24", label="Dr Li, Shanghai", person="pa1"):
    page = web.get(f"/app/share?person={person}")
    assert page.status_code == 200, page.text[:300]
    made = web.post("/app/share", data={"csrf_token": form_token(page), "person": person, "scope": scope,
                                        "hours": hours, "label": label})
    assert made.status_code == 201, made.text[:500]
    url = re.search(r'id="made-url" type="text" readonly value="([^"]+)"', made.text).group(1)
    return made, url.removeprefix("http://testserver")


def test_a_summary_link_shows_the_summary_and_its_qr_code_encodes_the_link(region):
    made, path = make_link(region)
    assert re.fullmatch(r"/shared/[A-Za-z0-9_-]{43}", path)
    # The QR code on the page is the encoding of exactly the link shown.
    assert links.qr_svg(f"http://testserver{path}") in made.text
    assert links.qr_svg("http://testserver/shared/" + "x" * 43) not in made.text
    visitor = browser()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Zhang" in page.text and "Type 2 diabetes" in page.text and "metformin 500 mg" in page.text
    assert "HbA1c" not in page.text  # results are not in a summary link
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"


def test_a_results_link_does_not_serve_medications_or_problems(region):
    _made, path = make_link(region, scope="results")
    page = browser().get(path)
    assert page.status_code == 200
    assert "HbA1c" in page.text and "7.9" in page.text
    assert "metformin" not in page.text and "Type 2 diabetes" not in page.text
    bundle = browser().get(f"{path}/ips.json")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("application/fhir+json")
    kinds = {e["resource"]["resourceType"] for e in bundle.json()["entry"]}
    assert "Observation" in kinds and not kinds & {"MedicationRequest", "MedicationStatement", "Condition"}
    assert "metformin" not in bundle.text


def test_the_downloaded_summary_is_a_valid_ips_document(region):
    _made, path = make_link(region, scope="summary_results")
    bundle = browser().get(f"{path}/ips.json").json()
    errors = [i for i in check_document(bundle) if i["severity"] == "error"]
    assert errors == []


def test_every_use_is_audited_with_the_address_and_shown_to_the_patient(region, engine):
    _made, path = make_link(region, label="Dr Li")
    visitor = browser()
    assert visitor.get(path).status_code == 200
    assert visitor.get(f"{path}/ips.json").status_code == 200
    with unit_of_work(engine) as conn:
        link = links.links_for(conn, "Patient/pa1")[0]
        uses = [e for e in audit.events_for_patient(conn, "Patient/pa1")
                if e["agent"] == link.agent and e["subtype"] == "export"]
    assert link.uses == 2 and len(uses) == 2
    assert all(e["event"]["agent"][0]["network"]["address"] == "testclient" for e in uses)
    assert all(any(x.get("what", {}).get("reference") == "Condition/dm-pa1" for x in e["event"]["entity"])
               for e in uses)
    listing = region.get("/app/share?person=pa1")
    assert "Opened 2 times" in listing.text
    detail = region.get(f"/app/share/{link.id}")
    assert detail.status_code == 200 and detail.text.count("testclient") == 2
    access = region.get("/app/access?person=pa1")
    assert "Your share link “Dr Li”" in access.text


def test_a_revoked_link_answers_410_at_once_and_the_try_is_shown(region, engine):
    _made, path = make_link(region)
    assert browser().get(path).status_code == 200
    page = region.get("/app/share?person=pa1")
    with unit_of_work(engine) as conn:
        link = links.links_for(conn, "Patient/pa1")[0]
    revoked = region.post(f"/app/share/{link.id}/revoke", data={"csrf_token": form_token(page), "person": "pa1"})
    assert revoked.status_code == 303
    gone = browser().get(path)
    assert gone.status_code == 410 and "This link was revoked" in gone.text
    assert browser().get(f"{path}/ips.json").status_code == 410
    assert "Revoked" in region.get("/app/share?person=pa1").text
    detail = region.get(f"/app/share/{link.id}")
    assert "Refused: the link had ended" in detail.text


@pytest.fixture
def later():
    """Move the clock on by a given time (tokens and sessions made before keep real time until then)."""
    start = clock.now()

    def move(delta: timedelta) -> None:
        clock.set_clock(lambda: start + delta)

    yield move
    clock.set_clock(None)


def test_an_expired_link_answers_410(region, later):
    _made, path = make_link(region, hours="1")
    later(timedelta(minutes=59))
    assert browser().get(path).status_code == 200
    later(timedelta(minutes=61))
    gone = browser().get(path)
    assert gone.status_code == 410 and "This link has expired" in gone.text


def test_another_person_cannot_revoke_or_see_the_link(region, engine):
    make_link(region)
    with unit_of_work(engine) as conn:
        link = links.links_for(conn, "Patient/pa1")[0]
    from tests.web_support import make_user
    make_user(engine, "patient", "other.patient", fhir_ref="Patient/pa2")
    other = signed_in("other.patient")
    assert other.get(f"/app/share/{link.id}").status_code == 404
    page = other.get("/app/share")
    refused = other.post(f"/app/share/{link.id}/revoke", data={"csrf_token": form_token(page), "person": "pa2"})
    assert refused.status_code == 404
    forged = other.post(f"/app/share/{link.id}/revoke", data={"csrf_token": form_token(page), "person": "pa1"})
    assert forged.status_code == 404
    with unit_of_work(engine) as conn:
        assert links.link_by_id(conn, link.id).revoked is None


def test_guessed_tokens_get_404_and_then_are_throttled(region):
    _made, path = make_link(region)
    guesser = browser()
    for n in range(public.MISSES_PER_WINDOW):
        assert guesser.get(f"/shared/{'A' * 42}{n % 10}").status_code == 404
    assert guesser.get("/shared/not-even-a-token").status_code == 429
    # From that address even a real link waits until the window ends.
    throttled = guesser.get(path)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_every_request_from_an_address_is_counted(region, monkeypatch):
    _made, path = make_link(region)
    monkeypatch.setattr(public, "REQUESTS_PER_WINDOW", 3)
    visitor = browser()
    assert [visitor.get(path).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_hostile_label_is_stored_and_shown_escaped(region, engine):
    hostile = "<script>alert(1)</script>'; DROP TABLE share_link;--"
    made, _path = make_link(region, label=hostile)
    assert "<script>alert(1)</script>" not in made.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in made.text
    with unit_of_work(engine) as conn:
        assert links.links_for(conn, "Patient/pa1")[0].label == hostile


@pytest.mark.parametrize("field,value,message", [
    ("label", "x" * 101, "The label is too long"), ("scope", "everything", "Choose what the link shows"),
    ("hours", "721", "Choose how long the link lasts"), ("hours", "0", "Choose how long the link lasts"),
    ("hours", "-5", "Choose how long the link lasts"),
])
def test_bad_input_gets_a_form_message_and_makes_no_link(region, engine, field, value, message):
    page = region.get("/app/share?person=pa1")
    form = {"csrf_token": form_token(page), "person": "pa1", "scope": "summary", "hours": "24", "label": ""}
    refused = region.post("/app/share", data={**form, field: value})
    assert refused.status_code == 400 and message in refused.text
    with unit_of_work(engine) as conn:
        assert links.links_for(conn, "Patient/pa1") == []


def test_a_form_without_the_csrf_token_is_refused(region, engine):
    refused = region.post("/app/share", data={"person": "pa1", "scope": "summary", "hours": "24"})
    assert refused.status_code == 403
    with unit_of_work(engine) as conn:
        assert links.links_for(conn, "Patient/pa1") == []


def test_a_caregiver_makes_a_link_for_the_child_that_shows_only_the_child(region, engine):
    carer = signed_in("caregiver.test")
    _made, path = make_link(carer, person="kid1", label="School doctor")
    page = browser().get(path)
    assert page.status_code == 200 and "Asthma" in page.text and "Xiao" in page.text
    assert "Type 2 diabetes" not in page.text
    # The caregiver may not share someone they are no proxy for.
    listing = carer.get("/app/share?person=kid1")
    refused = carer.post("/app/share", data={"csrf_token": form_token(listing), "person": "pa1", "scope": "full",
                                             "hours": "24", "label": ""})
    assert refused.status_code == 400
    with unit_of_work(engine) as conn:
        assert links.links_for(conn, "Patient/pa1") == []
        assert links.links_for(conn, "Patient/kid1")[0].created_by == "user/caregiver.test"


def test_the_pages_in_chinese(region):
    _made, path = make_link(region)
    listing = region.get("/app/share?person=pa1&lang=zh-Hans")
    assert "分享我的记录" in listing.text
    shared = browser().get(path, headers={"Accept-Language": "zh-CN"})
    assert "共享的健康记录" in shared.text and "当前问题" in shared.text
    assert "没有这个链接" in browser().get("/shared/" + "B" * 43, headers={"Accept-Language": "zh-CN"}).text
