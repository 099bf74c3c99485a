"""One reader of the region's districts: reporting, detection, releases and control place a person the same way."""

import pytest

from smartcare.regional.public_health import districts, reporting
from smartcare.regional.public_health.case_model import CaseFacts
from smartcare.regional.public_health.case_series import district_for


def case_without_district() -> CaseFacts:
    return CaseFacts(id="r1", state="submitted", disease=None, subtype=None, classification=None,
                     patient="Patient/p1", practitioner=None, organization=None, diagnosed_at=None, onset=None,
                     deadline=None, submitted_at=None, escalated_at=None, district=None, duplicate_of=None)


def person(*addresses: dict) -> dict:
    return {"resourceType": "Patient", "id": "p1", "address": list(addresses)}


@pytest.mark.parametrize(("address", "code"), [
    ({"use": "home", "district": "Hexi District"}, "339902"),
    ({"use": "home", "district": "hexi district"}, "339902"),
    ({"use": "home", "district": "河西区"}, "339902"),
    ({"use": "home", "district": "339904"}, "339904"),
    ({"use": "home", "text": "滨河市湖滨区湖滨路3号"}, "339904"),
    ({"use": "home", "district": "Elsewhere County"}, None),
    ({"use": "old", "district": "Hexi District"}, None),
])
def test_a_persons_district_is_found_by_code_name_or_chinese_address(address, code):
    assert districts.code_of(person(address)) == code


def test_the_home_address_wins_over_a_work_address_and_old_addresses_are_ignored():
    someone = person({"use": "old", "district": "Hedong District"}, {"use": "work", "district": "Xincheng District"},
                     {"use": "home", "district": "Shanqian District"})
    assert districts.of_person(someone).name_en == "Shanqian District"
    assert [a["use"] for a in districts.current_addresses(someone)] == ["home", "work"]


def test_an_address_outside_the_region_falls_through_to_the_next_current_address():
    someone = person({"use": "home", "district": "Elsewhere County"}, {"use": "temp", "text": "新城区建设路1号"})
    assert districts.code_of(someone) == "339903"


def test_the_case_report_the_detector_and_the_release_agree_on_the_district():
    someone = person({"use": "home", "text": "滨河市河东区解放路12号"})
    assert reporting.district_of(someone)["code"] == "339901"
    assert district_for(case_without_district(), someone) == "339901"


def test_every_district_has_a_community_health_centre_and_each_centre_serves_its_districts():
    assert all(d.centre for d in districts.region_districts())
    assert {d.code for d in districts.served_by("Organization/org-chc-1")} == {"339901", "339903"}
    assert districts.served_by("Organization/org-hosp-1") == ()
    assert districts.served_by(None) == ()


def test_names_are_given_in_the_readers_language():
    hexi = districts.find("339902")
    assert (hexi.name("zh-CN"), hexi.name("en")) == ("河西区", "Hexi District")
    assert districts.find("") is None and districts.find(None) is None
