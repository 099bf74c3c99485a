"""A public-health officer in a real browser: the weekly chart, the table with small counts hidden, the case reports."""

import uuid
from datetime import timedelta
from pathlib import Path

from smartcare.fhir import store
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.regional.conftest import HEDONG, HEXI, case_report, condition, patient

SHOTS = Path("/tmp")
XINCHENG = "Xincheng District"
PASSWORD = "Amber-Valley-Signal-58"


# Cases per district over the last eight weeks (oldest first): mostly five or more, a 2 and a 3 to hide.
OUTBREAK = {
    HEDONG: [9, 12, 15, 11, 8, 7, 6, 10],
    HEXI: [5, 6, 2, 9, 12, 7, 5, 8],
    XINCHENG: [6, 5, 8, 10, 0, 6, 3, 7],
}


def load_outbreak(engine, tag: str) -> None:
    """Influenza in three districts over the last eight weeks, and one case report."""
    today = clock.now().date()
    resources = [{"resourceType": "Organization", "id": f"org-{tag}", "name": "Riverside First Hospital"}]
    n = 0
    for district, counts in OUTBREAK.items():
        for weeks_ago, count in zip(range(len(counts), 0, -1), counts, strict=True):
            day = (today - timedelta(weeks=weeks_ago)).isoformat()
            for _ in range(count):
                n += 1
                person = patient(n, district) | {"id": f"{tag}-p{n}",
                                                 "managingOrganization": {"reference": f"Organization/org-{tag}"}}
                resources += [person, condition(f"{tag}-c{n}", person["id"], "J10.1", onset=day)]
    report = case_report(f"{tag}-r1", f"{tag}-p1", f"{tag}-c1", today.isoformat())
    report["author"] = [{"reference": f"Organization/org-{tag}"}]
    resources.append(report)
    writes = [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, writes)


def sign_in_as_officer(tab, username: str) -> None:
    tab.goto("/login?next=/console/public-health")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/console/public-health")


def test_an_officer_sees_the_weekly_chart_and_table(page, mobile_page, e2e_engine):
    tag = uuid.uuid4().hex[:8]
    load_outbreak(e2e_engine, tag)
    username = f"officer.{tag}"
    with unit_of_work(e2e_engine) as conn:
        users.create_user(conn, username=username, password=PASSWORD, role="public_health_officer")

    sign_in_as_officer(page, username)
    assert page.locator("h1").inner_text() == "Public health"
    chart = page.locator("#weekly-chart svg")
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200
    assert chart.locator("path").count() >= 2, "bars are drawn for the weeks with cases"
    table = page.get_by_role("table", name="Cases by week and district")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == 12
    text = table.inner_text()
    assert HEDONG in text and HEXI in text and XINCHENG in text and "<5" in text
    reports = page.locator("#case-reports")
    assert reports.is_visible() and "张1" in reports.inner_text() and "J10.1" in reports.inner_text()
    page.screenshot(path=str(SHOTS / "sc-public-health.png"), full_page=True)

    page.get_by_role("link", name="简体中文").first.click()
    page.wait_for_url("**lang=zh-Hans")
    assert page.locator("h1").inner_text() == "公共卫生"
    page.locator("#weekly-chart svg").wait_for()
    assert page.get_by_role("table", name="按周和区县统计的病例数").is_visible()
    page.screenshot(path=str(SHOTS / "sc-public-health-zh.png"), full_page=True)

    sign_in_as_officer(mobile_page, username)
    mobile_page.locator("#weekly-chart svg").wait_for()
    mobile_page.screenshot(path=str(SHOTS / "sc-public-health-mobile.png"), full_page=True)
    width = mobile_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page itself does not scroll sideways on a phone; wide tables scroll in their box"
