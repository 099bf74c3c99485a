"""The console's device register: administrators see devices with kind, owner, last reading and status, and
revoke one; a hospital administrator manages only the hospital's own devices."""

import re

import orjson

from smartcare.family.devices import credentials, registry, service
from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.family.devices.conftest import EXAMPLE
from tests.web_support import ROLE_LINKS, browser, form_token, make_user, sign_in


def test_a_regional_admin_sees_the_register_and_revokes_a_device(engine, device, register):
    service.ingest_frame(engine, device_id=device.device.device_id, payload=orjson.dumps(EXAMPLE))
    unowned = register("pillbox", patient_id=None)
    make_user(engine, "regional_admin")
    web = browser()
    sign_in(web, "regional.admin.test")

    page = web.get("/console/devices?lang=zh_Hans")
    assert page.status_code == 200
    row = page.text.split(f'id="device-{device.device.device_id}"')[1].split("</tr>")[0]
    assert "血压计" in row and "BP-0001" in row and f"Patient/{device.device.patient_id}" in row and "从未" not in row
    other = page.text.split(f'id="device-{unowned.device.device_id}"')[1].split("</tr>")[0]
    assert "智能药盒" in other and "未配对" in other and "从未" in other

    done = web.post(f"/console/devices/{device.device.device_id}/revoke", data={"csrf_token": form_token(page)})
    assert done.status_code == 200 and "设备已吊销" in done.text
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, device.device.device_id, device.mqtt_password) is None
    assert "吊销</button>" not in done.text.split(f'id="device-{device.device.device_id}"')[1].split("</tr>")[0]


def test_a_hospital_admin_manages_only_the_hospitals_devices(engine, register):
    own = register("bedside-monitor", organization="org-a")
    home = register("scale")
    make_user(engine, "hospital_admin")
    web = browser()
    sign_in(web, "hospital.admin.test")
    page = web.get("/console/devices")
    assert own.device.device_id in page.text and home.device.device_id not in page.text
    refused = web.post(f"/console/devices/{home.device.device_id}/revoke", data={"csrf_token": form_token(page)})
    assert refused.status_code == 404
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, home.device.device_id, home.mqtt_password)


def test_the_register_is_closed_to_clinicians_and_strangers(engine):
    make_user(engine, "nurse")
    web = browser()
    assert web.get("/console/devices").status_code == 303
    sign_in(web, "nurse.test")
    assert web.get("/console/devices").status_code == 403
    assert web.post("/console/devices/dev-x/revoke", data={"csrf_token": "x"}).status_code == 403


def test_a_patient_pairs_the_device_handed_over_with_its_qr_code(engine, register):
    unowned = register("glucometer", patient_id=None, serial="GM-5")
    patient = ROLE_LINKS["patient"]["fhir_ref"].removeprefix("Patient/")
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, {"resourceType": "Patient", "id": patient}, res_type="Patient", res_id=patient)
    make_user(engine, "regional_admin")
    admin = browser()
    sign_in(admin, "regional.admin.test")
    page = admin.get("/console/devices")
    shown = admin.post(f"/console/devices/{unowned.device.device_id}/pairing", data={"csrf_token": form_token(page)})
    assert shown.status_code == 200 and "<svg" in shown.text
    code = re.search(r'class="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', shown.text).group(1)

    make_user(engine, "patient")
    me = browser()
    sign_in(me, "patient.test")
    mine = me.get("/app/devices?lang=zh_Hans")
    assert "您还没有设备" in mine.text
    wrong = me.post("/app/devices/pair", data={"csrf_token": form_token(mine), "code": "AAAA-AAAA"})
    assert wrong.status_code == 400 and "该配对码无效" in wrong.text
    done = me.post("/app/devices/pair", data={"csrf_token": form_token(mine), "code": code.lower()})
    assert done.status_code == 200 and "设备已归您使用" in done.text and "血糖仪 · GM-5" in done.text
    with unit_of_work(engine) as conn:
        assert registry.get_device(conn, device_id=unowned.device.device_id).patient_id == patient


def test_the_pairing_qr_code_is_a_link_that_opens_the_app_with_the_code_filled_in(engine, register):
    unowned = register("pulse-oximeter", patient_id=None, serial="OX-9")
    make_user(engine, "regional_admin")
    admin = browser()
    sign_in(admin, "regional.admin.test")
    shown = admin.post(f"/console/devices/{unowned.device.device_id}/pairing",
                       data={"csrf_token": form_token(admin.get("/console/devices"))})
    code = re.search(r'class="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', shown.text).group(1)
    link = re.search(r'class="pairing-url">([^<]+)<', shown.text).group(1)
    assert link.endswith(f"/app/devices?code={code.replace('-', '')}") and link.startswith("http")

    make_user(engine, "patient")
    me = browser()
    sign_in(me, "patient.test")
    scanned = me.get(link.split("/app/", 1)[1].join(["/app/", ""]))
    assert f'value="{code}"' in scanned.text and "Filled in from the QR code" in scanned.text
    # Scanning alone pairs nothing: the patient still confirms with the form.
    with unit_of_work(engine) as conn:
        assert registry.get_device(conn, device_id=unowned.device.device_id).patient_id is None
    # Anything else in the link is not echoed into the page.
    hostile = me.get('/app/devices?code="><script>alert(1)</script>')
    assert "<script>alert(1)" not in hostile.text and "Filled in from the QR code" not in hostile.text
