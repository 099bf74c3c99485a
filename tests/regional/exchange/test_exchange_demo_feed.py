"""The demo's institutions feed the platform: registered as members, a week of nightly bundles and an HL7 message."""

import pytest
import sqlalchemy as sa

from smartcare.demo.loader import load_region
from smartcare.fhir import tables as ft
from smartcare.platform.db import unit_of_work
from smartcare.regional.exchange import members, stats
from smartcare.regional.exchange.demo_feed import feed_members
from smartcare.regional.exchange.tables import exchange_submission
from tests.web_support import browser, make_user, sign_in

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_the_demo_institutions_submit_nightly_and_the_console_shows_it(engine):
    load_region(engine=engine, residents=40, seed=3)  # the loader plays the feed once
    with unit_of_work(engine) as conn:
        registered = members.list_members(conn)
        summaries = stats.member_summaries(conn)
    assert {m.org_id for m in registered} >= {"org-hosp-1", "org-hosp-2", "org-chc-1", "org-chc-2", "org-chc-3"}
    assert all(s["submissions"] >= 7 and s["accepted"] > 0 for s in summaries)
    with engine.connect() as conn:
        kinds = set(conn.execute(sa.select(exchange_submission.c.kind)).scalars())
        days = conn.execute(sa.select(sa.func.count(sa.distinct(sa.func.substr(exchange_submission.c.received, 1, 10))))
                            .where(exchange_submission.c.kind == "batch"))
        fed = conn.execute(sa.select(sa.func.count()).select_from(ft.resource).where(
            ft.resource.c.res_type == "Observation", ft.resource.c.res_id.like("xf-%"),
            ft.resource.c.source.like("Organization/org-%"))).scalar()
        assert days.scalar() == 7
    assert kinds == {"batch", "hl7"} and fed > 0
    assert feed_members(engine) == 0  # a second run adds nothing
    make_user(engine, "regional_admin")
    web = browser()
    sign_in(web, "regional.admin.test")
    page = web.get("/console/exchange/org-hosp-1")
    assert page.status_code == 200 and 'id="completeness"' in page.text and "HL7 v2 message" in page.text
