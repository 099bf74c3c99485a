"""The demo region's map: coordinates, distances, typed addresses, nearest ordering and the services search."""

import pytest

from smartcare.hospital.queue.waits import EmergencyWait
from smartcare.patient.navigation import geo, service


def test_haversine_gives_known_distances():
    assert geo.haversine_km((0, 0), (0, 1)) == pytest.approx(111.19, abs=0.01)
    assert geo.haversine_km((27.4, 118.6), (27.4, 118.6)) == 0


def test_the_local_frame_round_trips_and_keeps_kilometres():
    lat, lon = geo.to_latlon(3, 4)
    east, north = geo.to_km(lat, lon)
    assert east == pytest.approx(3, abs=0.001) and north == pytest.approx(4, abs=0.001)
    assert geo.haversine_km(geo.to_latlon(0, 0), (lat, lon)) == pytest.approx(5, abs=0.02)


@pytest.mark.parametrize(("text", "street"), [
    ("1 Jiefang Road", "Jiefang Road"), ("解放路1号", "Jiefang Road"), ("jiefnag rd", "Jiefang Road"),
    ("12 Heping St", "Heping Street"), ("科技大道5号", "Keji Avenue"),
])
def test_typed_streets_are_found_in_english_chinese_and_with_typos(text, street):
    found = geo.locate(text)
    assert found is not None and found.kind == "street" and found.name_en == street


def test_a_typed_district_is_found_by_its_english_or_chinese_name():
    assert geo.locate("Hexi District").name_zh == "河西区"
    assert geo.locate("湖滨区").district == "hubin"


@pytest.mark.parametrize("text", ["", "   ", "Baker Street London", "<script>alert(1)</script>", "x" * 5000])
def test_addresses_outside_the_region_are_not_guessed(text):
    assert geo.locate(text) is None


@pytest.mark.parametrize(("lat", "lon"), [("abc", "1"), ("91", "0"), ("0", "181"), ("nan", "0"), ("inf", "1"),
                                          ("1", ""), ("1e400", "0")])
def test_impossible_positions_are_refused(lat, lon):
    with pytest.raises(geo.BadPosition):
        geo.parse_position(lat, lon)


def test_no_position_is_not_an_error():
    assert geo.parse_position(None, "") is None
    assert geo.parse_position("27.4", "118.6") == (27.4, 118.6)


def _hospital(org_id: str, emergency: bool = False) -> service.Hospital:
    lat, lon = geo.organization_position(org_id)
    return service.Hospital(org_id, org_id, org_id, "", "", "", "", "", lat, lon,
                            emergency_service=f"hcs-{org_id}-emergency" if emergency else None)


def test_nearest_sorts_by_distance_from_a_known_position():
    everyone = [_hospital(o) for o in ("org-hosp-1", "org-hosp-2", "org-chc-1", "org-chc-2", "org-chc-3")]
    beside_hexi_hospital = geo.to_latlon(-3.4, 1.1)
    ranked = service.by_distance(everyone, beside_hexi_hospital)
    assert [h.id for h, _km in ranked][:2] == ["org-hosp-2", "org-chc-2"]
    assert ranked[0][1] < 0.2 and all(a[1] <= b[1] for a, b in zip(ranked, ranked[1:], strict=False))
    assert [h.id for h, _ in service.by_distance(everyone, geo.to_latlon(4.4, 0.8))][0] == "org-chc-1"


def test_emergency_departments_with_a_known_wait_come_first_and_unknown_ones_keep_distance_order():
    near, far, farther = _hospital("org-hosp-1", True), _hospital("org-hosp-2", True), _hospital("org-chc-3", True)
    ranked = [(near, 1.0), (far, 5.0), (farther, 9.0)]
    quiet = EmergencyWait(waiting=0, median_minutes=5)
    assert [h.id for h, _ in service.by_wait(ranked, {"org-hosp-2": quiet, "org-hosp-1": None, "org-chc-3": None})] == [
        "org-hosp-2", "org-hosp-1", "org-chc-3"]
    slow, fast = EmergencyWait(waiting=2, median_minutes=40), EmergencyWait(waiting=6, median_minutes=15)
    assert [h.id for h, _ in service.by_wait(ranked, {"org-hosp-1": slow, "org-hosp-2": fast})][:2] == [
        "org-hosp-2", "org-hosp-1"]


def test_a_known_median_wait_ranks_before_a_count_alone_and_equal_waits_go_by_distance():
    near, far, farther = _hospital("org-hosp-1", True), _hospital("org-hosp-2", True), _hospital("org-chc-3", True)
    ranked = [(near, 1.0), (far, 5.0), (farther, 9.0)]
    waits = {"org-hosp-1": EmergencyWait(waiting=1, median_minutes=None),
             "org-hosp-2": EmergencyWait(waiting=3, median_minutes=20),
             "org-chc-3": EmergencyWait(waiting=3, median_minutes=20)}
    assert [h.id for h, _ in service.by_wait(ranked, waits)] == ["org-hosp-2", "org-chc-3", "org-hosp-1"]


@pytest.mark.parametrize(("query", "kind"), [("parking", "parking"), ("停车", "parking"), ("ATM", "atm"),
                                              ("药房", "pharmacy"), ("hotel", "accommodation"), ("bus", "transport"),
                                              ("canteen", "canteen"), ("取款", "atm")])
def test_services_around_the_hospital_are_found_by_kind_in_both_languages(query, kind):
    h = _hospital("org-hosp-1")
    h.services = service._services("org-hosp-1")
    hits = [s for s in h.services if service.service_matches(s, query)]
    assert hits and {s["kind"] for s in hits} == {kind}


def test_a_search_nothing_answers_finds_nothing():
    h = _hospital("org-hosp-1")
    h.services = service._services("org-hosp-1")
    assert service.search_services([h], "helicopter") == []


def test_every_service_around_a_hospital_says_what_where_and_when_in_both_languages():
    organizations = geo.places()["organizations"]
    assert sorted(organizations) == ["org-chc-1", "org-chc-2", "org-chc-3", "org-hosp-1", "org-hosp-2"]
    for org_id, spec in organizations.items():
        assert geo.in_region(geo.organization_position(org_id))
        for s in spec["services"]:
            assert s["kind"] in service.SERVICE_KINDS
            assert all(s[f"{field}_{lang}"].strip() for field in ("name", "where", "hours") for lang in ("en", "zh"))
