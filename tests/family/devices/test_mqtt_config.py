"""Where the subscriber finds the broker and which topics it takes readings from (no broker needed)."""

import pytest

from smartcare.family.devices.mqtt import device_of_topic, parse_mqtt_url


def test_the_broker_url_gives_host_port_and_service_login():
    address = parse_mqtt_url("mqtt://smartcare-service:s%40cret@broker.example:1884")
    assert (address.host, address.port, address.username, address.password, address.tls) == \
        ("broker.example", 1884, "smartcare-service", "s@cret", False)
    assert parse_mqtt_url("mqtts://broker.example").port == 8883


def test_the_login_comes_from_the_environment_when_the_url_has_none(monkeypatch):
    monkeypatch.setenv("SMARTCARE_MQTT_USERNAME", "ingest")
    monkeypatch.setenv("SMARTCARE_MQTT_PASSWORD", "from-env")
    address = parse_mqtt_url("mqtt://127.0.0.1")
    assert (address.port, address.username, address.password) == (1883, "ingest", "from-env")


@pytest.mark.parametrize("url", ["http://broker:1883", "broker:1883", ""])
def test_a_url_that_is_no_mqtt_broker_is_refused_with_its_reason(url):
    with pytest.raises(ValueError, match="not an MQTT broker URL"):
        parse_mqtt_url(url)


@pytest.mark.parametrize(("topic", "device"), [
    ("smartcare/v1/devices/dev-1a2b/readings", "dev-1a2b"),
    ("smartcare/v1/devices/dev-1a2b/errors", None),
    ("smartcare/v1/devices/dev-1a2b/readings/extra", None),
    ("smartcare/v2/devices/dev-1a2b/readings", None),
    ("smartcare/v1/devices/dev 1a2b/readings", None),
    ("smartcare/v1/devices/" + "x" * 65 + "/readings", None),
])
def test_readings_are_taken_only_from_a_device_readings_topic(topic, device):
    assert device_of_topic(topic) == device
