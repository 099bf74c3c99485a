"""The demo's remote consultations on a small generated region: the demo community doctor finds one waiting for the
department, one convened as a multi-disciplinary session later today and one answered; a convened specialist finds
the session on their workstation, and loading again adds nothing."""

import pytest

from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
from smartcare.demo.loader import load_region
from smartcare.hospital.referral import service as referrals
from smartcare.hospital.teleconsult import service
from smartcare.hospital.teleconsult.demo import ANSWERED, CONVENED, WAITING, load_teleconsults
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.web_support import browser, sign_in


# scripts/run plays the demo on SQLite; the loader's PostgreSQL run is tests/demo's.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_demo_has_a_waiting_a_convened_and_an_answered_teleconsult(engine):
    load_region(engine=engine, residents=20, seed=5)  # the loader plays the teleconsult demo
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        gp = users.context_for(users.get_by_username(conn, username="gp.demo"))
        rad = users.context_for(users.get_by_username(conn, username="rad.demo"))
        mine = {t.question: t for t in service.listing(conn, ctx=gp, box="outgoing")}
        assert {q: t.state for q, t in mine.items()} == {WAITING: "requested", CONVENED: "scheduled",
                                                         ANSWERED: "answered"}
        session = mine[CONVENED]
        assert rad.fhir_user in session.specialists and len(session.specialists) >= 2
        start = clock.parse_instant(session.session_start)
        assert clock.now() < start and session.room
        assert any(r.startswith("ImagingStudy/") for r in session.records)  # the demo patient has imaging
        shared = service.shared_records(conn, ctx=rad, teleconsult=service.read(conn, ctx=rad, task_id=session.id))
        assert shared and all(s["resource"] for s in shared)  # the convened radiologist reads what was shared
        sections = service.opinion_sections(conn, ctx=gp, teleconsult=mine[ANSWERED])
        assert any("perindopril" in s["text"] for s in sections)
    gp_web, rad_web = browser(), browser()
    sign_in(gp_web, "gp.demo", DEMO_PASSWORD)
    sign_in(rad_web, "rad.demo", DEMO_PASSWORD)
    outgoing = gp_web.get("/workstation/teleconsults?box=outgoing")
    assert outgoing.status_code == 200 and all(t.id in outgoing.text for t in mine.values())
    incoming = rad_web.get("/workstation/teleconsults?box=incoming")
    assert incoming.status_code == 200 and session.id in incoming.text
    assert rad_web.get(f"/workstation/teleconsults/{session.id}").status_code == 200
    assert load_teleconsults(engine) == 0
    with unit_of_work(engine) as conn:
        assert len(service.listing(conn, ctx=gp, box="outgoing")) == 3
        # gp.demo is also the demo referrals' family doctor: they sent the upward one and receive the downward one.
        assert referrals.listing(conn, ctx=gp, box="outgoing") and referrals.listing(conn, ctx=gp, box="incoming")
    assert "/workstation/referrals/" in gp_web.get("/workstation/referrals?box=outgoing").text
