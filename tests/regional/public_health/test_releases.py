"""Public releases and announcements in the store: counted from case reports, decided by four eyes, public once
approved. The helpers here build identifiable cases for the page and API tests too."""

import json
from datetime import timedelta
from typing import Any

import pytest

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import announcements, releases
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health.case_reports import document_type
from smartcare.regional.public_health.release_figures import Period, ReleaseInvalid, default_period
from smartcare.regional.public_health.releases import ReleaseRefused

HEDONG, HEXI = "339901", "339902"
# Everything that identifies the test cases: none of it may reach a release, the public page, the feed or the API.
IDENTIFYING = ("王秀英", "Wang Xiuying", "33990119800417", "1980-04-17", "解放路", "Jiefang Road", "rel-pat-",
               "13900001", "Patient/")


def officer(name: str, role: str = "public_health_officer") -> AccessContext:
    """A signed-in user of role (a public-health officer by default)."""
    return AccessContext(kind="user", name=name, roles=frozenset({role}), subject=f"u-{name}")


def person(n: int, district: str = "Hedong District") -> dict[str, Any]:
    """An identifiable resident of the district (English name)."""
    return {
        "resourceType": "Patient", "id": f"rel-pat-{n}",
        "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id",
                        "value": f"33990119800417{n:04d}"}],
        "name": [{"use": "official", "text": f"王秀英{n}"}, {"use": "usual", "family": "Wang", "given": ["Xiuying"]}],
        "telecom": [{"system": "phone", "value": f"+86 13900001{n:03d}"}],
        "gender": "female", "birthDate": "1980-04-17",
        "address": [{"use": "home", "text": f"滨河市解放路{n}号", "line": [f"{n} Jiefang Road"], "city": "Riverside City",
                     "district": district}],
    }


def report(n: int, disease: str = "influenza", *, state: str = "submitted", onset: str = "2026-02-24",
           district: str | None = HEDONG) -> dict[str, Any]:
    """A case report of the model's shape for person n."""
    extensions = [{"url": model.STATE, "valueCode": state}, {"url": model.ONSET, "valueDate": onset},
                  {"url": model.DIAGNOSED_AT, "valueDateTime": f"{onset}T10:00:00+08:00"}]
    if district:
        extensions.append({"url": model.DISTRICT, "valueCoding": {"system": model.DISTRICT_SYSTEM, "code": district}})
    return {
        "resourceType": "Composition", "id": f"rel-report-{n}", "status": model.STATUS_OF_STATE[state],
        "type": {"coding": [document_type()]}, "date": "2026-02-26T09:00:00+08:00", "title": "Case report",
        "category": [{"coding": [{"system": model.DISEASE_SYSTEM, "code": disease}]}],
        "subject": {"reference": f"Patient/rel-pat-{n}", "display": f"王秀英{n}"},
        "author": [{"reference": "Organization/rel-hosp"}], "extension": extensions,
    }


def load_cases(engine, specs: list[tuple[int, dict[str, Any]]]) -> None:
    """Store person n and their report (keyword arguments of report) for each (n, spec)."""
    resources = [{"resourceType": "Organization", "id": "rel-hosp", "name": "Riverside First Hospital"}]
    for n, spec in specs:
        district = "Hexi District" if spec.get("district") == HEXI else "Hedong District"
        resources += [person(n, district), report(n, **spec)]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def week_nine(engine) -> None:
    """Week 2026-W09: 7 influenza cases in Hedong, 3 in Hexi (one with its district only in the address), and a
    draft and a discarded report that do not count."""
    specs = [(n, {}) for n in range(7)] + [(n, {"district": HEXI}) for n in range(7, 9)]
    specs += [(9, {"district": None}), (10, {"state": "draft"}), (11, {"state": "discarded"})]
    load_cases(engine, specs)
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, person(9, "Hexi District"), res_type="Patient", res_id="rel-pat-9")


def prepared(engine, by: str = "li", period: Period | None = None) -> releases.Release:
    """A release prepared by officer `by` for period (the default one)."""
    with unit_of_work(engine) as conn:
        return releases.prepare(conn, ctx=officer(by), period=period or default_period(releases_today()))


def releases_today():
    from smartcare.platform import clock

    return clock.now().date()


def decide(engine, release_id: str, by: str, *, approve: bool = True, reason: str = "") -> releases.Release:
    with unit_of_work(engine) as conn:
        return releases.decide_release(conn, ctx=officer(by), release_id=release_id, approve=approve, reason=reason)


def public_ids(engine) -> list[str]:
    with unit_of_work(engine) as conn:
        return [r.id for r in releases.approved(conn)]


def test_a_release_holds_only_suppressed_counts_and_is_public_only_once_another_officer_approves(engine, now):
    week_nine(engine)
    release = prepared(engine, by="li")
    with unit_of_work(engine) as conn:
        stored = store.read(conn, SYSTEM, res_type="MeasureReport", res_id=release.id).resource
        assert releases.public_release(conn, release.id) is None
    assert (stored["status"], stored["type"], stored["period"]) == ("pending", "summary",
                                                                   {"start": "2026-01-05", "end": "2026-03-01"})
    assert [secret for secret in IDENTIFYING if secret in json.dumps(stored, ensure_ascii=False)] == []
    influenza = release.figures["diseases"][0]
    cells = {(c["week"], c["district"]): c["count"] for c in influenza["cells"]}
    assert influenza["total"] == 10 and cells[("2026-W09", HEXI)] == "<5" and cells[("2026-W09", HEDONG)] == "suppressed"
    assert None not in release.figures["districts"]  # the report without a district is placed by the case's address
    assert public_ids(engine) == []

    with pytest.raises(ReleaseRefused, match="Another officer must approve"):
        decide(engine, release.id, "li")
    assert public_ids(engine) == []
    approved = decide(engine, release.id, "zhao")
    assert approved.decision.state == "approved" and approved.decision.decided_by == "zhao"
    assert public_ids(engine) == [release.id]
    with pytest.raises(ReleaseRefused, match="already been decided"):
        decide(engine, release.id, "wu", approve=False, reason="late second thoughts")
    with unit_of_work(engine) as conn:
        kinds = {(e["action"], e["subtype"]) for e in audit.search(conn, agent="user/li")}
        assert {("R", "search"), ("C", "create")} <= kinds
        assert ("U", "update") in {(e["action"], e["subtype"]) for e in audit.search(conn, agent="user/zhao")}


def test_a_rejected_release_needs_a_reason_and_never_becomes_public(engine, now):
    week_nine(engine)
    release = prepared(engine)
    with pytest.raises(ReleaseInvalid) as missing:
        decide(engine, release.id, "zhao", approve=False, reason="   ")
    assert missing.value.field == "reason"
    rejected = decide(engine, release.id, "li", approve=False, reason="Week 9 is not complete in Hexi yet")
    assert (rejected.decision.state, rejected.decision.reason) == ("rejected", "Week 9 is not complete in Hexi yet")
    with pytest.raises(ReleaseRefused):
        decide(engine, release.id, "zhao")
    with unit_of_work(engine) as conn:
        assert releases.public_release(conn, release.id) is None
        assert store.read(conn, SYSTEM, res_type="MeasureReport", res_id=release.id).resource["status"] == "error"
    assert public_ids(engine) == []


def test_the_release_approved_last_supersedes_the_others(engine, now):
    week_nine(engine)
    older = prepared(engine, period=Period(default_period(releases_today()).start, 4))
    newer = prepared(engine)
    decide(engine, newer.id, "zhao")
    now[0] += timedelta(minutes=5)
    decide(engine, older.id, "zhao")
    assert public_ids(engine) == [older.id, newer.id]


def test_only_public_health_officers_prepare_and_decide(engine, now):
    week_nine(engine)
    release = prepared(engine)
    for role in ("regional_admin", "researcher", "doctor"):
        with unit_of_work(engine) as conn, pytest.raises(AccessDenied):
            releases.prepare(conn, ctx=officer("x", role), period=default_period(releases_today()))
        with unit_of_work(engine) as conn, pytest.raises(AccessDenied):
            releases.decide_release(conn, ctx=officer("x", role), release_id=release.id, approve=True)
    assert public_ids(engine) == []


def test_an_announcement_is_public_only_once_another_officer_approves_it(engine, now):
    draft = announcements.Draft(title_en="Flu season", body_en="Get vaccinated.\n\nWash your hands.",
                                title_zh="流感季节", body_zh="请接种疫苗。")
    with unit_of_work(engine) as conn:
        written = announcements.write(conn, ctx=officer("li"), draft=draft)
        assert announcements.published(conn) == []
        with pytest.raises(ReleaseRefused):
            announcements.decide_announcement(conn, ctx=officer("li"), announcement_id=written.id, approve=True)
    with unit_of_work(engine) as conn:
        announcements.decide_announcement(conn, ctx=officer("zhao"), announcement_id=written.id, approve=True)
        shown = announcements.published(conn)[0].shown("zh-Hans")
        assert (shown["title"], shown["paragraphs"], shown["lang"]) == ("流感季节", [["请接种疫苗。"]], "zh-Hans")
        assert announcements.published(conn)[0].shown("en")["paragraphs"] == [["Get vaccinated."], ["Wash your hands."]]
        resource = store.read(conn, SYSTEM, res_type="Communication", res_id=written.id).resource
        assert resource["status"] == "completed" and "subject" not in resource and resource["sent"]


@pytest.mark.parametrize(("draft", "field"), [
    (announcements.Draft(), "title_en"),
    (announcements.Draft(title_en="x" * 121, body_en="text"), "title_en"),
    (announcements.Draft(title_zh="标题", body_zh="正" * 4001), "body_zh"),
    (announcements.Draft(title_en="Title only"), "body_en"),
    (announcements.Draft(body_zh="没有标题"), "title_zh"),
    (announcements.Draft(title_en="Bell\x07", body_en="text"), "title_en"),
])
def test_an_announcement_that_cannot_be_published_names_the_field_to_change(draft, field):
    with pytest.raises(ReleaseInvalid) as caught:
        announcements.checked(draft)
    assert caught.value.field == field
