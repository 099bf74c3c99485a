"""Registering a device from the console (/console/devices/register): the administrator picks the kind and the
owner, and is shown the new device's topics and credentials once; bad input comes back as a form message in the
user's language."""

import html
import re

from smartcare.family.devices import credentials, registry
from smartcare.platform.db import unit_of_work
from tests.web_support import browser, form_token, make_user, sign_in


def _shown(page, name: str) -> str:
    """The text of the credential the page shows under id=name."""
    return html.unescape(re.search(rf'id="{name}">([^<]+)<', page.text).group(1))


def _admin(engine, role: str = "regional_admin"):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def test_an_admin_registers_a_patients_device_and_the_shown_credentials_work(engine, patient):
    web = _admin(engine)
    page = web.get("/console/devices")
    assert 'action="/console/devices/register"' in page.text and '<option value="pillbox">' in page.text

    made = web.post("/console/devices/register", data={
        "csrf_token": form_token(page), "kind": "bp-monitor", "patient": f"Patient/{patient}",
        "serial": "BP-7700", "model": "HEM-7361T", "manufacturer": "Omron"})

    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    assert "The device is registered" in made.text and "shown this once" in made.text
    device_id = re.search(r"<th scope=\"row\">Device</th><td><code>(dev-[0-9a-f]+)</code>", made.text).group(1)
    assert f"smartcare/v1/devices/{device_id}/readings" in made.text
    assert f"Patient/{patient}" in made.text and 'target="_blank"' not in made.text  # owned: no pairing code
    password, client_id, secret = (_shown(made, "shown-mqtt-password"), _shown(made, "shown-client-id"),
                                   _shown(made, "shown-client-secret"))
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, device_id, password) == device_id
        stored = registry.get_device(conn, device_id=device_id)
    assert (stored.kind, stored.serial, stored.patient_id) == ("bp-monitor", "BP-7700", patient)
    token = web.post("/auth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                          "client_secret": secret})
    assert token.status_code == 200 and token.json()["access_token"]

    again = web.get("/console/devices")
    assert f'id="device-{device_id}"' in again.text
    assert password not in again.text and secret not in again.text


def test_a_hospital_admin_registers_an_unowned_device_for_the_hospital_and_is_offered_its_pairing_code(engine):
    web = _admin(engine, "hospital_admin")
    page = web.get("/console/devices")
    made = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "glucometer",
                                                       "patient": "", "serial": "", "model": ""})
    assert made.status_code == 200
    device_id = re.search(r"<th scope=\"row\">Device</th><td><code>(dev-[0-9a-f]+)</code>", made.text).group(1)
    with unit_of_work(engine) as conn:
        assert registry.get_device(conn, device_id=device_id).organization == "Organization/org-a"
    offer = made.text.split('class="device-credentials"')[1].split("</article>")[0]
    assert f'action="/console/devices/{device_id}/pairing"' in offer and "Not paired" in offer

    code = web.post(f"/console/devices/{device_id}/pairing", data={"csrf_token": form_token(made)})
    assert code.status_code == 200 and re.search(r'class="pairing-code">[A-Z0-9]{4}-[A-Z0-9]{4}<', code.text)


def test_an_unknown_patient_comes_back_as_a_form_message_and_nothing_is_registered(engine):
    web = _admin(engine)
    page = web.get("/console/devices")
    refused = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "scale",
                                                          "patient": "ghost-17", "serial": "SC-1"})
    assert refused.status_code == 400
    assert '<article class="form-error" role="alert" id="devices-error">There is no patient ghost-17</article>' \
        in refused.text
    assert 'name="patient" maxlength="72" autocomplete="off" spellcheck="false" value="ghost-17" aria-invalid="true"' \
        in refused.text
    assert 'value="SC-1"' in refused.text and '<option value="scale" selected>' in refused.text
    with unit_of_work(engine) as conn:
        assert registry.list_devices(conn) == []


def test_hostile_input_is_refused_and_shown_escaped(engine):
    web = _admin(engine)
    page = web.get("/console/devices")
    refused = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "thermometer",
                                                          "serial": "<script>alert(1)</script>" * 10})
    assert refused.status_code == 400 and "The serial number is 1-64 letters" in refused.text
    assert "<script>alert(1)" not in refused.text
    unknown_kind = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "toaster"})
    assert unknown_kind.status_code == 400 and "The kind of device is one of" in unknown_kind.text
    with unit_of_work(engine) as conn:
        assert registry.list_devices(conn) == []


def test_registering_without_the_forms_token_is_refused(engine, patient):
    web = _admin(engine)
    web.get("/console/devices")
    for token in ({}, {"csrf_token": "forged"}):
        refused = web.post("/console/devices/register", data={**token, "kind": "scale", "patient": patient})
        assert refused.status_code == 403
    with unit_of_work(engine) as conn:
        assert registry.list_devices(conn) == []


def test_a_nurse_may_not_register_devices(engine, patient):
    make_user(engine, "nurse")
    web = browser()
    sign_in(web, "nurse.test")
    home = web.get("/workstation")
    token = re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)
    refused = web.post("/console/devices/register", data={"csrf_token": token, "kind": "scale", "patient": patient})
    assert refused.status_code == 403
    with unit_of_work(engine) as conn:
        assert registry.list_devices(conn) == []


def test_the_form_and_its_messages_are_in_chinese(engine, patient):
    web = _admin(engine)
    page = web.get("/console/devices?lang=zh_Hans")
    assert '<label for="register-kind">类型 <abbr class="note-required" title="必填">*</abbr></label>' in page.text
    assert "登记设备" in page.text and "患者编号" in page.text and "<option value=\"pillbox\">智能药盒</option>" in page.text

    refused = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "scale",
                                                          "patient": "ghost-17"})
    assert refused.status_code == 400 and "没有编号为 ghost-17 的患者" in refused.text
    made = web.post("/console/devices/register", data={"csrf_token": form_token(page), "kind": "scale",
                                                       "patient": patient})
    assert made.status_code == 200 and "设备已登记" in made.text and "MQTT 密码" in made.text
