"""The demo's notifiable diseases: years of weekly history, case reports in every state, an outbreak the detectors
find, and an approved release on the public page."""

from collections import Counter
from datetime import timedelta

import pytest

from smartcare.demo.loader import load_region
from smartcare.demo.public_health import OUTBREAK, load_public_health
from smartcare.knowledge.surveillance import detect
from smartcare.platform import migrate
from smartcare.platform.db import make_engine, unit_of_work, use_engine
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import history, releases, signals
from smartcare.regional.public_health.releases import search_as_platform

HEXI = "339902"


def releases_officer():
    from smartcare.demo.public_health import PREPARER

    return PREPARER


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    # Loaded once for the module into its own SQLite file (the demo's database), apart from the shared test stores.
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('public-health-demo')}/demo.db")
    migrate.upgrade(engine)
    use_engine(engine)
    load_region(engine=engine, residents=20, seed=5)
    yield engine
    use_engine(None)
    engine.dispose()


def _reports(engine) -> list[model.CaseFacts]:
    with unit_of_work(engine) as conn:
        found = search_as_platform(conn, "Composition", [("type", "http://loinc.org|55751-2")], count=1000)
    return [model.facts(s.resource) for s in found.matches]


def test_the_demo_has_five_years_of_weekly_history_and_reports_in_each_state_of_the_workflow(demo):
    with unit_of_work(demo) as conn:
        weeks = history.weekly_history(conn)
    assert len(weeks[("influenza", HEXI)]) == 6 * 52
    states = Counter(case.state for case in _reports(demo))
    assert {"draft", "submitted", "correction-requested", "verified", "closed"} <= set(states)
    assert states["verified"] > states["submitted"] > states["draft"]
    assert load_public_health(demo, seed=5) == 0, "loading again adds nothing"


def test_the_detectors_find_this_weeks_outbreak_of_diarrhoea_in_hexi_and_nothing_there_for_influenza(demo):
    with unit_of_work(demo) as conn:
        weeks = history.weekly_history(conn)
    cases = [c for c in _reports(demo) if model.counts(c) or c.state == "draft"]

    def series(disease: str) -> list[int]:
        counts = dict(weeks[(disease, HEXI)])
        for case in cases:
            if case.disease == disease and case.district == HEXI:
                day = model.count_date(case)
                monday = day - timedelta(days=day.weekday())
                counts[monday] = counts.get(monday, 0) + 1
        return [counts[m] for m in sorted(counts)]

    assert OUTBREAK[:2] == ("infectious-diarrhoea", "hexi")
    assert detect("noufaily", series("infectious-diarrhoea"), frequency=52)[-1].alarm
    assert not detect("noufaily", series("influenza"), frequency=52)[-1].alarm
    with unit_of_work(demo) as conn:
        raised = signals.listed(conn, ctx=releases_officer())
    assert ("infectious-diarrhoea", HEXI, "noufaily", "weekly") in {
        (s.key.subject, s.key.place, s.method, s.key.frequency) for s in raised}


def test_an_approved_release_and_announcement_are_on_the_public_page(demo):
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app

    use_engine(demo)  # the page reads the process's database; another module's test may have run in between
    with unit_of_work(demo) as conn:
        current = releases.approved(conn, limit=1)[0]
    assert (current.decision.prepared_by, current.decision.decided_by) == ("cdc.demo", "epi.demo")
    with TestClient(create_app(), base_url="http://testserver") as web:
        page = web.get("/public")
    assert page.status_code == 200 and "Diarrhoea: wash hands" in page.text


def test_the_demo_traces_a_mumps_cases_contacts_and_isolates_people_at_home(demo):
    from smartcare.regional.public_health import contacts, districts

    with unit_of_work(demo) as conn:
        lists = search_as_platform(conn, "List", [("code", "https://smartcare.example/fhir/CodeSystem/"
                                                           "public-health-list|close-contacts")], count=10).matches
        assert len(lists) == 1
        listed = contacts.read_list(conn, lists[0].resource["identifier"][0]["value"]).contacts
        episodes = search_as_platform(conn, "EpisodeOfCare", [("status", "active")], count=10).matches
    assert {c.relation for c in listed} == {"colleague", "classmate", "household"}
    household = next(c for c in listed if c.relation == "household")
    assert household.resident and household.status == "under-observation"  # the index knew the resident by name and phone
    isolated = {e.resource["patient"]["reference"]: e.resource for e in episodes}
    assert household.resident in isolated and len(isolated) == 2  # the contact and a hand, foot and mouth disease case
    centres = {d.centre for d in districts.region_districts()}
    assert all(e["managingOrganization"]["reference"] in centres for e in isolated.values())


def test_overdue_case_reports_reach_the_demo_hospitals_infection_control_nurse(demo):
    from smartcare.demo.accounts import ensure_demo_accounts
    from smartcare.regional.public_health import deadlines

    ensure_demo_accounts(demo)
    with unit_of_work(demo) as conn:
        office, listed = deadlines.office_accounts(conn, "Organization/org-hosp-1")
        staffed = search_as_platform(conn, "PractitionerRole", [
            ("organization", "Organization/org-hosp-2"),
            ("service.service-type", f"{deadlines.DEPARTMENT_SYSTEM}|infection-control")], count=5).matches
    assert listed and [a.username for a in office] == ["ic.demo"]
    assert len(staffed) == 1  # the second hospital's office is in the directory too
