"""Device readings over MQTT through the real Mosquitto: QoS 1 with the subscriber killed and the broker restarted
mid-stream (every reading stored exactly once), refusals answered on the device's error topic, the broker's ACL and
logins from the credentials table; and the embedded amqtt broker's device logins."""

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcare.family.devices import registry
from smartcare.family.devices.broker import EmbeddedBroker, mosquitto_config, write_mosquitto_files
from smartcare.family.devices.credentials import errors_topic, readings_topic
from smartcare.family.devices.mqtt import SERVICE_USERNAME, BrokerAddress, ReadingsSubscriber
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.family.devices.conftest import make_patient
from tests.support import IN_CI

ROOT = Path(__file__).resolve().parents[3]
SERVICE_PASSWORD = "service-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Mosquitto:
    """A Mosquitto of this test module on a free port, with persistence and the files SmartCare writes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def admit(self, engine: sa.Engine) -> None:
        """Write the password and ACL files from the credentials table; start Mosquitto or make it read them."""
        files = write_mosquitto_files(engine, self.folder, service_password=SERVICE_PASSWORD)
        (self.folder / "data").mkdir(exist_ok=True)
        conf = mosquitto_config(files, port=self.port, persistence_dir=self.folder / "data", user=getpass.getuser())
        (self.folder / "mosquitto.conf").write_text(conf, encoding="utf-8")
        if self.process is None:
            self.start()
        else:
            self.process.send_signal(signal.SIGHUP)

    def start(self) -> None:
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 (the broker writes it while it runs)
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        _wait(listening, 10, "Mosquitto to listen")

    def stop(self) -> None:
        """Stop as an operator does (SIGTERM): Mosquitto saves its sessions and queued messages first."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def service(self) -> BrokerAddress:
        return BrokerAddress(port=self.port, username=SERVICE_USERNAME, password=SERVICE_PASSWORD)


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        message = "mosquitto is not installed (apt-get install mosquitto)"
        (pytest.fail if IN_CI else pytest.skip)(message)
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


class Device:
    """A device's own MQTT client (MQTT 5, QoS 1, persistent session), listening on its error topic."""

    def __init__(self, port: int, device_id: str, password: str) -> None:
        self.device_id = device_id
        self.errors: list[dict] = []
        self.connack: list = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{device_id}", protocol=paho.MQTTv5)
        self.client.username_pw_set(device_id, password)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self._connected
        self.client.on_message = lambda _c, _u, msg: self.errors.append(orjson.loads(msg.payload))
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = 300  # errors published while it reconnects wait for it
        self.client.connect_async("127.0.0.1", port, keepalive=10, clean_start=False, properties=session)
        self.client.loop_start()

    def _connected(self, client, _userdata, _flags, reason_code, _properties) -> None:
        self.connack.append(reason_code)
        if not reason_code.is_failure:
            client.subscribe(errors_topic(self.device_id), qos=1)

    def send(self, body: dict | bytes, topic: str | None = None) -> None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        self.client.publish(topic or readings_topic(self.device_id), payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publish_once(port: int, login: registry.Registered, topic: str, body: dict) -> None:
    """Publish one message at QoS 1 with a device's login from a client of its own (MQTT 3.1.1: Mosquitto
    acknowledges a publish it refuses by ACL and drops it; to MQTT 5 clients it answers "not authorised" and
    closes the connection)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"once-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(login.device.device_id, login.mqtt_password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, orjson.dumps(body), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _frame(seq: int, **readings) -> dict:
    return {"seq": seq, "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "readings": [readings or {"type": "heart-rate", "value": 60 + seq % 40, "unit": "/min"}]}


def _frames_stored(engine: sa.Engine, device_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM device_frame WHERE device_id = :d"), {"d": device_id}).scalar()


def _observations(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM fhir_resource WHERE res_type = 'Observation' AND NOT deleted").scalar()


def _register(engine: sa.Engine, patient: str, kind: str = "pulse-oximeter") -> registry.Registered:
    with unit_of_work(engine) as conn:
        return registry.register_device(conn, ctx=SYSTEM, kind=kind, patient_id=patient)


def _stream(device: Device, seqs: range, pause: float) -> threading.Thread:
    def run() -> None:
        for seq in seqs:
            device.send(_frame(seq))
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _first_frame_stored(engine: sa.Engine, device: Device) -> None:
    """Send frame 0 until it is stored: the subscriber (connecting meanwhile) has then subscribed."""
    deadline = time.monotonic() + 20
    while _frames_stored(engine, device.device_id) == 0:
        if time.monotonic() > deadline:
            pytest.fail("the subscriber never stored the first frame")
        device.send(_frame(0))
        time.sleep(0.3)


def _listener(engine: sa.Engine, mosquitto: Mosquitto, client_id: str) -> subprocess.Popen:
    """`smartcare devices listen` in its own process, on the test's database and Mosquitto."""
    env = {**os.environ, "SMARTCARE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "SMARTCARE_MQTT_URL": f"mqtt://{SERVICE_USERNAME}:{SERVICE_PASSWORD}@127.0.0.1:{mosquitto.port}"}
    return subprocess.Popen([sys.executable, "-m", "smartcare.family.devices.mqtt_cli", "listen",
                             "--client-id", client_id], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_every_reading_is_stored_once_when_the_subscriber_is_killed_mid_stream(engine, mosquitto):
    patient = make_patient(engine)
    registered = _register(engine, patient)
    mosquitto.admit(engine)
    device = Device(mosquitto.port, registered.device.device_id, registered.mqtt_password)
    client_id = f"readings-{uuid.uuid4().hex[:8]}"
    listener = _listener(engine, mosquitto, client_id)
    try:
        _first_frame_stored(engine, device)
        sending = _stream(device, range(1, 301), pause=0.01)
        _wait(lambda: _frames_stored(engine, device.device_id) >= 80, 20, "the first readings to be stored")
        listener.kill()  # no goodbye: whatever it had taken but not acknowledged stays with the broker
        listener.wait()
        sending.join()
        listener = _listener(engine, mosquitto, client_id)
        _wait(lambda: _frames_stored(engine, device.device_id) == 301, 30, "the rest to be stored after restart")
    finally:
        listener.terminate()
        listener.wait()
        device.close()
    assert _observations(engine) == 301  # each reading once: none lost, none doubled by redelivery


def test_every_reading_is_stored_once_when_the_broker_restarts_mid_stream(engine, mosquitto):
    patient = make_patient(engine)
    registered = _register(engine, patient)
    mosquitto.admit(engine)
    device = Device(mosquitto.port, registered.device.device_id, registered.mqtt_password)
    subscriber = ReadingsSubscriber(engine, mosquitto.service, client_id=f"readings-{uuid.uuid4().hex[:8]}")
    subscriber.start()
    try:
        _first_frame_stored(engine, device)
        sending = _stream(device, range(1, 301), pause=0.01)
        _wait(lambda: _frames_stored(engine, device.device_id) >= 80, 20, "the first readings to be stored")
        mosquitto.restart()
        sending.join()
        _wait(lambda: _frames_stored(engine, device.device_id) == 301, 40, "the rest to be stored after restart")
    finally:
        subscriber.stop()
        device.close()
    assert _observations(engine) == 301
    assert subscriber.stats.connections >= 2  # it did lose the broker and come back


def test_bad_frames_are_answered_on_the_device_error_topic_and_not_delivered_again(engine, mosquitto):
    patient, other_patient = make_patient(engine), make_patient(engine, "Li")
    mine, theirs = _register(engine, patient, "bp-monitor"), _register(engine, other_patient)
    mosquitto.admit(engine)
    device = Device(mosquitto.port, mine.device.device_id, mine.mqtt_password)
    client_id = f"readings-{uuid.uuid4().hex[:8]}"
    subscriber = ReadingsSubscriber(engine, mosquitto.service, client_id=client_id)
    subscriber.start()
    try:
        _first_frame_stored(engine, device)
        device.send(b"{not json")
        device.send({**_frame(2), "readings": [
            {"type": "blood-pressure", "systolic": 400, "diastolic": 20, "unit": "mm[Hg]"},
            {"type": "heart-rate", "value": 72, "unit": "/min"}]})
        device.send({**_frame(3), "patient": f"Patient/{other_patient}"})
        device.send({**_frame(4), "device": theirs.device.device_id})
        _publish_once(mosquitto.port, mine, readings_topic(theirs.device.device_id), _frame(5))  # the ACL says no
        device.send(_frame(6))
        _wait(lambda: len(device.errors) >= 4 and _frames_stored(engine, device.device_id) >= 3, 20,
              "the refusals")
        subscriber.stop()
        # A new subscriber on the same session gets nothing of those again: they were acknowledged.
        subscriber = ReadingsSubscriber(engine, mosquitto.service, client_id=client_id)
        subscriber.start()
        device.send(_frame(7))
        _wait(lambda: _frames_stored(engine, device.device_id) == 4, 20, "frame 7")
    finally:
        subscriber.stop()
        device.close()
    by_seq = {e["seq"]: " ".join(e["reasons"]) for e in device.errors}
    assert len(device.errors) == 4
    assert "not JSON" in by_seq[None]
    assert "400" in by_seq[2] and "plausible" in by_seq[2]
    assert "another patient" in by_seq[3]
    assert theirs.device.device_id in by_seq[4]
    assert _frames_stored(engine, theirs.device.device_id) == 0
    # Stored: frames 0, 6 and 7 whole, and frame 2's heart rate without its implausible blood pressure.
    assert _observations(engine) == 4


def test_a_revoked_device_can_no_longer_log_in_to_mosquitto(engine, mosquitto):
    registered = _register(engine, make_patient(engine))
    login = registered.device.device_id, registered.mqtt_password
    mosquitto.admit(engine)
    _wait(lambda: not _login(mosquitto.port, *login).is_failure, 10, "Mosquitto to let the new device in")
    with unit_of_work(engine) as conn:
        registry.revoke_device(conn, ctx=SYSTEM, device_id=registered.device.device_id)
    mosquitto.admit(engine)
    # Mosquitto reads the files again on its next turn after SIGHUP.
    _wait(lambda: _login(mosquitto.port, *login).is_failure, 10, "Mosquitto to refuse the revoked device")
    assert "authori" in str(_login(mosquitto.port, *login)).lower()


def _login(port: int, username: str, password: str):
    """Mosquitto's answer (CONNACK reason) to a login."""
    device = Device(port, username, password)
    try:
        _wait(lambda: bool(device.connack), 10, "Mosquitto's answer")
        return device.connack[0]
    finally:
        device.close()


def test_the_embedded_broker_lets_a_device_in_with_its_password_only_and_to_its_own_topic(engine):
    patient = make_patient(engine)
    registered, other = _register(engine, patient), _register(engine, patient, "scale")
    device_id = registered.device.device_id
    broker = EmbeddedBroker(port=_free_port())
    broker.start()
    subscriber = ReadingsSubscriber(engine, broker.address, client_id="embedded-readings")
    subscriber.start()
    answers = {}
    try:
        assert subscriber.wait_connected(10)
        for password in (registered.mqtt_password, "wrong-password"):
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{device_id}-{password[:5]}")
            client.username_pw_set(device_id, password)
            client.on_connect = lambda _c, _u, _f, rc, _p, pw=password: answers.setdefault(pw, rc)
            client.connect("127.0.0.1", broker.address.port)
            client.loop_start()
            _wait(lambda pw=password: pw in answers, 10, "the embedded broker's answer")
            if not answers[password].is_failure:
                for topic in (readings_topic(other.device.device_id), readings_topic(device_id)):
                    client.publish(topic, orjson.dumps(_frame(1)), qos=1).wait_for_publish(5)
                _wait(lambda: _frames_stored(engine, device_id) == 1, 10, "the reading through the embedded broker")
            client.disconnect()
            client.loop_stop()
    finally:
        subscriber.stop()
        broker.stop()
    assert not answers[registered.mqtt_password].is_failure
    assert answers["wrong-password"].is_failure
    assert _frames_stored(engine, other.device.device_id) == 0  # not on another device's topic
    assert _observations(engine) == 1
