"""The facility register and its licences: validity from the rules, status as the clock moves, revocation, who may
write, and hostile input; on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.regional.supervision import registry
from smartcare.regional.supervision.access import SupervisionForbidden
from smartcare.regional.supervision.rules import SupervisionInvalid
from tests.regional.supervision.conftest import DOCTOR, HEDONG, HEXI, INSPECTOR, OFFICER, register


def _licence(engine, facility_id: str, **fields):
    with unit_of_work(engine) as conn:
        return registry.add_licence(conn, ctx=INSPECTOR, facility_id=facility_id, **fields)


def _listed(engine, **filters):
    with unit_of_work(engine) as conn:
        return registry.list_facilities(conn, ctx=INSPECTOR, **filters)


@pytest.mark.parametrize(("kind", "beds", "expires"), [
    ("hospital", "120", "2028-03-01"),  # 100 beds or more: verified every 3 years
    ("hospital", "80", "2026-03-01"),  # fewer: every year
    ("clinic", None, "2026-03-01"),
    ("public_venue", None, "2029-03-01"),  # 公共场所卫生许可证: 4 years
    ("water_supply", None, "2029-03-01"),  # 供水单位卫生许可证: 4 years
])
def test_a_licence_expires_when_the_rules_say_for_the_facility(engine, now, kind, beds, expires):
    facility = register(engine, kind=kind, beds=beds)
    licence = _licence(engine, facility["id"], number="HX-001", issued="2025-03-01")
    assert licence["expires"] == expires


def test_licence_status_follows_the_clock_valid_then_expiring_then_expired(engine, now):
    facility = register(engine)
    _licence(engine, facility["id"], number="HX-002", issued="2023-01-10", expires="2026-07-01")
    assert [r["licence_state"] for r in _listed(engine)] == ["valid"]  # 2 March: 121 days to go
    now[0] = datetime(2026, 4, 10, 8, tzinfo=UTC)
    assert [r["licence_state"] for r in _listed(engine)] == ["expiring"]  # 82 days
    now[0] = datetime(2026, 7, 2, 8, tzinfo=UTC)
    assert [r["licence_state"] for r in _listed(engine)] == ["expired"]
    assert _listed(engine, licence="expired")[0]["id"] == facility["id"] and not _listed(engine, licence="valid")


def test_a_renewal_replaces_the_expired_licence_and_a_revoked_one_shows_revoked(engine, now):
    facility = register(engine)
    _licence(engine, facility["id"], number="OLD-1", issued="2021-01-10")  # expired 2025-01-10
    assert _listed(engine)[0]["licence_state"] == "expired"
    renewed = _licence(engine, facility["id"], number="NEW-1", issued="2026-01-05")
    assert _listed(engine)[0]["licence"]["number"] == "NEW-1" and renewed["status"] == "valid"
    with unit_of_work(engine) as conn:
        registry.revoke_licence(conn, ctx=INSPECTOR, licence_id=renewed["id"], reason="Pool water unsafe, repeatedly")
    assert _listed(engine)[0]["licence_state"] == "revoked"
    with unit_of_work(engine) as conn, pytest.raises(SupervisionInvalid):
        registry.revoke_licence(conn, ctx=INSPECTOR, licence_id=renewed["id"], reason="again")


def test_a_school_needs_no_licence_and_one_without_any_shows_none(engine, now):
    school = register(engine, kind="school", name="Hexi No. 1 Primary School")
    register(engine, kind="water_supply", name="Hexi Water Works")
    states = {r["name"]: r["licence_state"] for r in _listed(engine)}
    assert states == {"Hexi No. 1 Primary School": None, "Hexi Water Works": "none"}
    with pytest.raises(SupervisionInvalid):
        _licence(engine, school["id"], number="X", issued="2026-01-01")


@pytest.mark.parametrize(("fields", "field"), [
    ({"issued": "2026-03-03"}, "issued"),  # tomorrow
    ({"issued": "2026-02-01", "expires": "2026-01-01"}, "expires"),
    ({"issued": "01/02/2026"}, "issued"),
    ({"number": ""}, "number"),
    ({"number": "N" * 61}, "number"),
])
def test_bad_licence_input_is_refused_naming_the_field(engine, now, fields, field):
    facility = register(engine)
    with pytest.raises(SupervisionInvalid) as refused:
        _licence(engine, facility["id"], **{"number": "OK-1", "issued": "2026-01-01", **fields})
    assert refused.value.field == field


def test_filters_by_kind_district_and_name_and_every_listing_is_audited(engine, now):
    register(engine, kind="public_venue", name="Hexi Bath House")
    register(engine, kind="public_venue", name="Hedong Hotel", district=HEDONG)
    register(engine, kind="school", name="Hexi Middle School")
    assert [r["name"] for r in _listed(engine, kind="public_venue")] == ["Hedong Hotel", "Hexi Bath House"]
    assert [r["name"] for r in _listed(engine, district=HEDONG)] == ["Hedong Hotel"]
    assert [r["name"] for r in _listed(engine, search="bath")] == ["Hexi Bath House"]
    assert _listed(engine, search="%") == [] and _listed(engine, search="_") == []
    with unit_of_work(engine) as conn:
        entries = audit.search(conn, agent="user/insp.wang", subtype="search")
    assert len(entries) == 5


def test_hostile_text_is_stored_as_typed_and_over_long_text_refused(engine, now):
    hostile = "<script>alert('x')</script> Bath'; DROP TABLE finding; --"
    facility = register(engine, name=hostile)
    assert _listed(engine)[0]["name"] == hostile == facility["name"]
    with pytest.raises(SupervisionInvalid) as refused:
        register(engine, name="N" * 201)
    assert refused.value.field == "name" and refused.value.values == {"limit": 200}
    with pytest.raises(SupervisionInvalid):
        register(engine, name="bad\x00name")
    with pytest.raises(SupervisionInvalid):
        register(engine, district="110101")  # not one of the region's districts


def test_only_hospitals_and_clinics_link_to_an_existing_organization_once(engine, client, now):
    client.put("/fhir/Organization/sv-org-1", json={"resourceType": "Organization", "id": "sv-org-1",
                                                     "name": "Riverside First Hospital"},
               headers={"Content-Type": "application/fhir+json"})
    linked = register(engine, kind="hospital", name="Riverside First Hospital", organization_ref="Organization/sv-org-1")
    assert linked["organization_ref"] == "Organization/sv-org-1"
    for kind, ref in (("hospital", "Organization/sv-org-1"), ("school", "Organization/sv-org-1"),
                      ("hospital", "Organization/no-such"), ("hospital", "Patient/p1")):
        with pytest.raises(SupervisionInvalid) as refused:
            register(engine, kind=kind, name="Again", organization_ref=ref)
        assert refused.value.field == "organization_ref"


def test_an_officer_reads_but_cannot_write_and_a_doctor_cannot_even_read(engine, now):
    facility = register(engine)
    with unit_of_work(engine) as conn:
        assert registry.list_facilities(conn, ctx=OFFICER)[0]["id"] == facility["id"]
        with pytest.raises(SupervisionForbidden) as refused:
            registry.add_licence(conn, ctx=OFFICER, facility_id=facility["id"], number="X", issued="2026-01-01")
        assert refused.value.status == 403
        with pytest.raises(SupervisionForbidden):
            registry.register_facility(conn, ctx=OFFICER, kind="school", name="S", district=HEXI)
        with pytest.raises(SupervisionForbidden):
            registry.list_facilities(conn, ctx=DOCTOR)
