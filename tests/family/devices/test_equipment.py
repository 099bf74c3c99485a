"""The hospital's equipment register: each device with what, where, assigned patient, last seen and maintenance
due (set from the page, overdue highlighted), in English and Chinese; another hospital's administrator sees none."""

from datetime import date

import pytest

from smartcare.family.devices import equipment, equipment_views, registry, service
from smartcare.fhir import bundles, gateway
from smartcare.hospital.wards import admissions, monitors
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.wards.conftest import hospital_resources
from tests.web_support import browser, form_token, make_user, sign_in

HOSPITAL = "Organization/org-h"


@pytest.fixture
def ward_equipment(engine, now):
    """A monitor at bed 1 of the medical ward with its patient admitted, a spare oximeter, and a monitor of
    another hospital; administrators of both hospitals."""
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, [{"resource": r, "request": {
            "method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in hospital_resources()], "")
        monitor = registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", serial="MX450-0001",
                                           model="MX450", organization="org-h").device.device_id
        spare = registry.register_device(conn, ctx=SYSTEM, kind="pulse-oximeter", serial="OX-77",
                                         organization="org-h").device.device_id
        elsewhere = registry.register_device(conn, ctx=SYSTEM, kind="bedside-monitor", serial="FAR-0009",
                                             organization="org-x").device.device_id
    nurse = users.context_for(make_user(engine, "nurse", username="zhou.nurse", fhir_ref="Practitioner/prac-nurse",
                                        organization=HOSPITAL))
    make_user(engine, "hospital_admin", username="h.admin", organization=HOSPITAL)
    make_user(engine, "hospital_admin", username="x.admin", organization="Organization/org-x")
    monitors.connect(nurse, hospital=HOSPITAL, device_id=monitor, bed_id="bed-m1")
    admissions.admit(nurse, hospital=HOSPITAL, ward_id="ward-med", bed_id="bed-m1", patient_id="p-wang",
                     reason_code="J18.9", admit_source="emd", attending_id="prac-doc")
    service.ingest_frame(engine, device_id=monitor, payload={
        "seq": 1, "time": now[0].isoformat(), "readings": [{"type": "heart-rate", "value": 80, "unit": "/min"}]})
    return {"monitor": monitor, "spare": spare, "elsewhere": elsewhere}


def _row(page, device_id: str) -> str:
    return page.text.split(f'id="equipment-{device_id}"')[1].split("</tr>")[0]


def test_the_register_shows_what_where_whom_and_when_last_seen(engine, ward_equipment):
    web = browser()
    sign_in(web, "h.admin")
    page = web.get("/console/equipment")
    assert page.status_code == 200
    row = _row(page, ward_equipment["monitor"])
    for words in ("Bedside monitor", "MX450", "MX450-0001", "Internal Medicine Ward", "Room 1 · Bed 1", "Xiu Wang"):
        assert words in row
    assert "p-wang" not in row and "Never" not in row
    spare = _row(page, ward_equipment["spare"])
    assert "Pulse oximeter" in spare and "Not placed" in spare and "Never" in spare
    assert "FAR-0009" not in page.text and ward_equipment["elsewhere"] not in page.text

    chinese = web.get("/console/equipment?lang=zh_Hans")
    assert "设备台账" in chinese.text and "下次维护日期" in chinese.text and "未安放" in _row(chinese,
                                                                                    ward_equipment["spare"])


def test_maintenance_due_is_set_from_the_page_and_overdue_rows_are_highlighted(engine, ward_equipment):
    web = browser()
    sign_in(web, "h.admin")
    page = web.get("/console/equipment")
    saved = web.post(f"/console/equipment/{ward_equipment['monitor']}/maintenance",
                     data={"csrf_token": form_token(page), "due": "2026-02-01"})
    assert saved.status_code == 200 and "The maintenance date is saved." in saved.text
    row = _row(saved, ward_equipment["monitor"])
    assert 'value="2026-02-01"' in row and 'class="equipment-overdue"' in row and "Overdue" in row
    device = gateway.read(SYSTEM, f"Device/{ward_equipment['monitor']}")
    assert {"url": equipment.MAINTENANCE_EXTENSION, "valueDate": "2026-02-01"} in device["extension"]

    later = web.post(f"/console/equipment/{ward_equipment['monitor']}/maintenance",
                     data={"csrf_token": form_token(page), "due": "2026-09-30"})
    assert "Overdue" not in _row(later, ward_equipment["monitor"])
    cleared = web.post(f"/console/equipment/{ward_equipment['monitor']}/maintenance",
                       data={"csrf_token": form_token(page), "due": ""})
    assert 'value=""' in _row(cleared, ward_equipment["monitor"])
    assert equipment.maintenance_due(gateway.read(SYSTEM, f"Device/{ward_equipment['monitor']}")) is None


@pytest.mark.parametrize("typed", ["31/12/2026", "2026-02-30", "1899-01-01", "<script>", "9" * 5000])
def test_a_wrong_date_is_refused_with_a_reason(engine, ward_equipment, typed):
    web = browser()
    sign_in(web, "h.admin")
    page = web.get("/console/equipment?lang=zh_Hans")
    refused = web.post(f"/console/equipment/{ward_equipment['monitor']}/maintenance?lang=zh_Hans",
                       data={"csrf_token": form_token(page), "due": typed})
    assert refused.status_code == 400 and "例如 2027-01-31" in refused.text and "<script>" not in refused.text
    assert equipment.maintenance_due(gateway.read(SYSTEM, f"Device/{ward_equipment['monitor']}")) is None


def test_another_hospitals_admin_sees_and_changes_nothing_of_this_hospitals_equipment(engine, ward_equipment):
    web = browser()
    sign_in(web, "x.admin")
    page = web.get("/console/equipment")
    assert page.status_code == 200 and ward_equipment["elsewhere"] in page.text
    for hidden in (ward_equipment["monitor"], ward_equipment["spare"], "MX450-0001", "Xiu Wang", "Internal Medicine"):
        assert hidden not in page.text
    refused = web.post(f"/console/equipment/{ward_equipment['monitor']}/maintenance",
                       data={"csrf_token": form_token(page), "due": "2026-01-01"})
    assert refused.status_code == 404
    assert equipment.maintenance_due(gateway.read(SYSTEM, f"Device/{ward_equipment['monitor']}")) is None


def test_the_register_is_for_hospital_administrators_only(engine, ward_equipment):
    web = browser()
    assert web.get("/console/equipment").status_code == 303
    sign_in(web, "zhou.nurse")
    assert web.get("/console/equipment").status_code == 403
    admin = browser()
    sign_in(admin, "h.admin")
    assert 'href="/console/equipment"' in admin.get("/console").text


def test_parse_due_takes_iso_dates_in_range_only():
    assert equipment_views.parse_due(" 2027-01-31 ") == date(2027, 1, 31)
    assert equipment_views.parse_due("") is None
    for bad in ("2027-13-01", "tomorrow", "2101-01-01"):
        with pytest.raises(ValueError):
            equipment_views.parse_due(bad)
