"""The device register: FHIR Devices with owner and pairing history, MQTT and HTTPS credentials, revocation and
pairing by QR code."""

import shutil
import subprocess
from datetime import timedelta

import pytest

from smartcare.family.devices import credentials, registry
from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients
from smartcare.platform.security.context import SYSTEM, AccessContext
from tests.family.devices.conftest import make_patient
from tests.support import IN_CI

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def _device(engine, device_id: str) -> store.Stored:
    with unit_of_work(engine) as conn:
        return store.read(conn, SYSTEM, res_type="Device", res_id=device_id)


def _mosquitto_line(tmp_path, username: str, password: str) -> str:
    if not shutil.which(MOSQUITTO_PASSWD):
        if IN_CI:
            pytest.fail("mosquitto_passwd is not installed")
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "passwords"
    path.write_text("")
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(path), username, password], check=True, capture_output=True)
    return path.read_text().strip()


def test_our_mqtt_hash_has_mosquittos_form_and_mosquittos_hash_is_accepted(tmp_path):
    line = _mosquitto_line(tmp_path, "dev-1", "s3cret-pass")
    theirs = line.split(":", 1)[1]
    ours = credentials.mosquitto_hash("s3cret-pass")
    assert credentials.check_mosquitto_hash("s3cret-pass", theirs)
    assert not credentials.check_mosquitto_hash("s3cret-pasS", theirs)
    assert credentials.check_mosquitto_hash("s3cret-pass", ours)
    # Same shape as mosquitto_passwd's: $7$, iterations, 12-byte salt and 64-byte SHA-512 digest in base64.
    assert [len(p) for p in ours.split("$")] == [len(p) for p in theirs.split("$")]
    assert ours.split("$")[:3] == theirs.split("$")[:3]
    iterations, salt = theirs.split("$")[2], theirs.split("$")[3]
    import base64

    assert credentials.mosquitto_hash("s3cret-pass", salt=base64.b64decode(salt),
                                      iterations=int(iterations)) == theirs


@pytest.mark.parametrize("stored", ["", "$6$abc$def", "$7$x$AAAA$BBBB", "$7$101$!!!$AAAA", "$7$9999999$AA==$AA=="])
def test_malformed_hashes_never_match(stored):
    assert not credentials.check_mosquitto_hash("anything", stored)


def test_registering_makes_a_fhir_device_with_owner_serial_model_and_pairing(engine, now, device, patient):
    resource = _device(engine, device.device.device_id).resource
    assert resource["status"] == "active"
    assert resource["patient"] == {"reference": f"Patient/{patient}"}
    assert resource["identifier"] == [{"system": "https://smartcare.example/fhir/sid/device-serial",
                                       "value": "BP-0001"}]
    assert resource["modelNumber"] == "HEM-7361T" and resource["serialNumber"] == "BP-0001"
    assert {"system": "urn:iso:std:iso:11073:10101", "code": "528391",
            "display": "MDC_DEV_SPEC_PROFILE_BPM"} in resource["type"]["coding"]
    assert resource["extension"][0]["url"] == registry.PAIRING_EXTENSION
    out = device.as_json()
    assert out["topic"] == f"smartcare/v1/devices/{device.device.device_id}/readings"
    assert out["error_topic"] == f"smartcare/v1/devices/{device.device.device_id}/errors"
    assert out["mqtt_username"] == device.device.device_id


def test_the_mqtt_login_and_the_oauth_client_work_until_the_device_is_revoked(engine, now, device):
    dev = device.device.device_id
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, dev, device.mqtt_password) == dev
        assert credentials.verify_mqtt_login(conn, dev, device.mqtt_password + "x") is None
        assert credentials.verify_mqtt_login(conn, "dev-other", device.mqtt_password) is None
        client = clients.authenticate_client(conn, client_id=device.client_id, secret=device.client_secret)
        assert str(client.scopes) == "system/Observation.c" and client.fhir_ref == f"Device/{dev}"
        assert f"{dev}:$7$" in credentials.mosquitto_password_file(conn)
        registry.revoke_device(conn, ctx=SYSTEM, device_id=dev)
    with unit_of_work(engine) as conn:
        assert credentials.verify_mqtt_login(conn, dev, device.mqtt_password) is None
        with pytest.raises(clients.ClientError):
            clients.authenticate_client(conn, client_id=device.client_id, secret=device.client_secret)
        assert dev not in credentials.mosquitto_password_file(conn)
        assert registry.get_device(conn, device_id=dev).status == "revoked"
    stored = _device(engine, dev)
    assert stored.resource["status"] == "inactive" and stored.version == 2


def test_a_device_may_publish_and_subscribe_only_on_its_own_topics():
    assert credentials.topic_allowed("dev-a", "smartcare/v1/devices/dev-a/readings", "publish")
    assert credentials.topic_allowed("dev-a", "smartcare/v1/devices/dev-a/errors", "subscribe")
    assert not credentials.topic_allowed("dev-a", "smartcare/v1/devices/dev-b/readings", "publish")
    assert not credentials.topic_allowed("dev-a", "smartcare/v1/devices/dev-a/errors", "publish")
    assert not credentials.topic_allowed("dev-a", "smartcare/v1/devices/dev-a/readings", "subscribe")
    assert not credentials.topic_allowed("dev-a", "smartcare/v1/devices/+/readings", "subscribe")
    assert not credentials.topic_allowed("dev-a", "smartcare/v1/devices/#", "subscribe")
    assert not credentials.topic_allowed("", "smartcare/v1/devices//readings", "publish")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "toaster"}, "kind of device"),
    ({"kind": "scale", "patient_id": "nobody"}, "no patient"),
    ({"kind": "scale", "serial": "<script>alert(1)</script>"}, "serial number"),
    ({"kind": "scale", "model": "x" * 65}, "model"),
])
def test_registering_refuses_bad_input_with_a_reason(engine, now, kwargs, message):
    with unit_of_work(engine) as conn, pytest.raises(registry.DeviceError, match=message):
        registry.register_device(conn, ctx=SYSTEM, **kwargs)


def test_the_same_serial_is_not_registered_twice_while_active(engine, now, device, register):
    with pytest.raises(registry.DeviceError, match="already registered"):
        register(serial="BP-0001")


def test_a_patient_pairs_an_unowned_device_with_the_code_from_its_qr(engine, now, register):
    unowned = register("scale", patient_id=None, serial="SC-9")
    patient = make_patient(engine, "Zhao")
    with unit_of_work(engine) as conn:
        code = registry.pairing_code(conn, ctx=SYSTEM, device_id=unowned.device.device_id)
    assert code.qr_svg.startswith("<svg") and len(code.shown) == 9
    me = AccessContext(kind="user", name="zhao", roles=frozenset({"patient"}), fhir_user=f"Patient/{patient}")
    with unit_of_work(engine) as conn:
        paired = registry.pair_device(conn, ctx=me, code=code.shown.lower(), patient_id=patient)
    assert paired.patient_id == patient
    resource = _device(engine, unowned.device.device_id).resource
    assert resource["patient"] == {"reference": f"Patient/{patient}"}
    method = [e for e in resource["extension"][-1]["extension"] if e["url"] == "method"]
    assert method == [{"url": "method", "valueCode": "qr-code"}]
    with unit_of_work(engine) as conn, pytest.raises(registry.DeviceError, match="wrong or has expired"):
        registry.pair_device(conn, ctx=me, code=code.code, patient_id=patient)


def test_a_pairing_code_expires_and_an_owned_device_gets_none(engine, now, register, device):
    unowned = register("thermometer", patient_id=None)
    with unit_of_work(engine) as conn:
        code = registry.pairing_code(conn, ctx=SYSTEM, device_id=unowned.device.device_id)
        with pytest.raises(registry.DeviceError, match="already belongs"):
            registry.pairing_code(conn, ctx=SYSTEM, device_id=device.device.device_id)
    patient = make_patient(engine)
    now[0] += timedelta(minutes=registry.PAIRING_MINUTES, seconds=1)
    with unit_of_work(engine) as conn, pytest.raises(registry.DeviceError, match="expired"):
        registry.pair_device(conn, ctx=SYSTEM, code=code.code, patient_id=patient)
