"""The MQTT subscriber that takes device readings off the broker into the store, acknowledging only what is stored.

A reading is acknowledged to the broker (PUBACK) only after the transaction that stored it committed, so nothing
acknowledged is ever lost: the subscriber keeps a persistent session under a fixed client id, and whatever the
broker holds for it (sent but unacknowledged, or queued while the subscriber or the broker was away) comes again on
the next connection. Redelivered frames are duplicates by device and sequence number, which the store ignores.
Frames that can never be stored (malformed JSON, a payload naming another device, a refused reading) are answered on
the device's error topic and acknowledged, so they are not delivered again forever.

Messages are taken off paho's network thread into one queue per worker (a device always goes to the same worker, so
its frames are stored in the order they came) and stored there, so the network keeps reading while the database
writes.
"""

import logging
import os
import queue
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as paho
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartcare.family.devices.credentials import TOPIC_ROOT as TOPIC_PREFIX
from smartcare.family.devices.credentials import errors_topic
from smartcare.platform import clock
from smartcare.platform.ops.metrics import count_device_frames

log = logging.getLogger(__name__)

READINGS_FILTER = f"{TOPIC_PREFIX}/+/readings"
CLIENT_ID = "smartcare-readings"
SERVICE_USERNAME = "smartcare-service"
# The broker keeps the subscriber's session (its subscription and the messages queued for it) this long while it is
# away; a week outlasts any maintenance window.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
# How many unacknowledged readings the broker may have on the way to us at once (MQTT 5 Receive Maximum): the
# batches the workers store need many in flight; the broker's default for MQTT 3.1.1 clients is 20.
RECEIVE_MAXIMUM = 2000
DEVICE_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def device_of_topic(topic: str) -> str | None:
    """The device id of a readings topic, or None when the topic is not one (or the id is not a valid id)."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != TOPIC_PREFIX or parts[4] != "readings":
        return None
    return parts[3] if DEVICE_ID.match(parts[3]) else None


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how SmartCare's own subscriber logs in."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # MQTT 5 (Mosquitto, EMQX); the embedded amqtt broker speaks 3.1.1 only.
    mqtt5: bool = True


def parse_mqtt_url(url: str) -> BrokerAddress:
    """The broker address in an mqtt:// (or mqtts://) URL, with the service login from it or from the environment.

    The login comes from the URL's user part, else SMARTCARE_MQTT_USERNAME / SMARTCARE_MQTT_PASSWORD.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"not an MQTT broker URL (mqtt://host:port): {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    username = unquote(parts.username) if parts.username else os.environ.get("SMARTCARE_MQTT_USERNAME") or None
    password = unquote(parts.password) if parts.password else os.environ.get("SMARTCARE_MQTT_PASSWORD") or None
    return BrokerAddress(host=parts.hostname or "127.0.0.1", port=parts.port or (8883 if tls else 1883),
                         username=username, password=password, tls=tls)


def configured_url() -> str:
    """SMARTCARE_MQTT_URL, or "" when SmartCare is to start its embedded broker."""
    return os.environ.get("SMARTCARE_MQTT_URL", "").strip()


class FrameRefused(Exception):
    """A frame that can never be stored; its reasons go back to the device on its error topic."""

    def __init__(self, reasons: list[str], seq: Any = None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.seq = seq


@dataclass(slots=True)
class Delivery:
    """One message as the broker delivered it, waiting to be stored and acknowledged."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int
    received_at: datetime


@dataclass
class SubscriberStats:
    """What the subscriber has done since it started."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    connections: int = 0
    errors_published: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to the counters."""
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)
        count_device_frames(**counts)


IngestFrames = Callable[..., list[Any]]


def _default_ingest() -> IngestFrames:
    from smartcare.family.devices.service import ingest_frames

    return ingest_frames


def decode_frame(device_id: str, payload: bytes) -> dict:
    """The frame's JSON object, or FrameRefused with the reason (too large, not JSON, not an object, another device)."""
    from smartcare.family.devices.payload import FrameInvalid, decode

    try:
        frame = decode(payload)
    except FrameInvalid as exc:
        raise FrameRefused(exc.reasons) from None
    named = frame.get("device")
    if named is not None and named not in (device_id, f"Device/{device_id}"):
        raise FrameRefused([f"payload names device {str(named)[:80]!r} but came on the topic of {device_id}"],
                           seq=_plain_seq(frame.get("seq")))
    return frame


def error_report(result: Any) -> dict | None:
    """What goes back on the device's error topic for an ingest result, or None when all of the frame was taken."""
    if not result.has_errors:
        return None
    reasons = list(result.reasons) + [f"reading {r.index}: {r.reason}" for r in result.refused]
    body: dict[str, Any] = {"seq": result.seq, "status": result.status, "reasons": reasons}
    if result.refused:
        body["refused"] = [{"index": r.index, "type": r.type, "reason": r.reason} for r in result.refused]
    return body


def _plain_seq(seq: Any) -> int | None:
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class ReadingsSubscriber:
    """Subscribe to every device's readings and store them, acknowledging each message after its commit."""

    def __init__(self, engine: sa.Engine, address: BrokerAddress, *, client_id: str = CLIENT_ID,
                 workers: int = 2, batch_size: int = 200, ingest: IngestFrames | None = None) -> None:
        self.engine = engine
        self.address = address
        self.stats = SubscriberStats()
        self.batch_size = batch_size
        self._ingest = ingest or _default_ingest()
        self._connection = 0
        self._connected = threading.Event()
        # Set when the broker has confirmed the subscription (SUBACK), not when it was asked for: a frame a device
        # publishes between the two reaches nobody on a broker that holds no session for the subscriber yet.
        self._subscribed = threading.Event()
        self._subscribe_mid: int | None = None
        self._stopping = threading.Event()
        self._queues: list[queue.Queue[Delivery]] = [queue.Queue() for _ in range(max(1, workers))]
        self._threads: list[threading.Thread] = []
        self.client = self._make_client(client_id)

    def _make_client(self, client_id: str) -> paho.Client:
        if self.address.mqtt5:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5,
                                 manual_ack=True)
        else:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
                                 clean_session=False, manual_ack=True)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect (in the background, retrying with backoff) and start storing what arrives."""
        for n, q in enumerate(self._queues):
            thread = threading.Thread(target=self._work, args=(q,), name=f"mqtt-readings-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.address.mqtt5:
            connect = Properties(PacketTypes.CONNECT)
            connect.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            connect.ReceiveMaximum = RECEIVE_MAXIMUM
            self.client.connect_async(self.address.host, self.address.port, keepalive=30, clean_start=False,
                                      properties=connect)
        else:
            self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until the subscriber is connected and subscribed; False if not within timeout seconds."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Store what was already taken in, acknowledge it, then disconnect (the broker keeps the session)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(q.unfinished_tasks for q in self._queues):
            time.sleep(0.02)
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: paho.Client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.stats.last_error = f"the broker refused the connection: {reason_code}"
            log.error("MQTT broker %s:%s refused the subscriber: %s", self.address.host, self.address.port,
                      reason_code)
            return
        self._connection += 1
        self.stats.add(connections=1)
        # The session normally still holds the subscription; subscribing again costs nothing and covers a broker
        # that lost it (restarted without persistence, or the session expired).
        _result, self._subscribe_mid = client.subscribe(READINGS_FILTER, qos=1)
        log.info("Subscribed to %s on %s:%s (session %s)", READINGS_FILTER, self.address.host, self.address.port,
                 "resumed" if flags.session_present else "new")
        self._connected.set()

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            self.stats.last_error = f"the broker refused the subscription to {READINGS_FILTER}: {refused[0]}"
            log.error("MQTT broker refused the subscription to %s: %s", READINGS_FILTER, refused[0])
            return
        self._subscribed.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, message: paho.MQTTMessage) -> None:
        delivery = Delivery(topic=message.topic, payload=message.payload, mid=message.mid, qos=message.qos,
                            connection=self._connection, received_at=clock.now())
        self.stats.add(received=1)
        device = device_of_topic(message.topic) or ""
        self._queues[zlib.crc32(device.encode()) % len(self._queues)].put(delivery)

    def _work(self, q: "queue.Queue[Delivery]") -> None:
        while not self._stopping.is_set():
            try:
                batch = [q.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < self.batch_size:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            try:
                for delivery in self._store(batch):
                    self._acknowledge(delivery)
            finally:
                for _ in batch:
                    q.task_done()

    def _store(self, batch: list[Delivery]) -> list[Delivery]:
        """Store a batch of deliveries in one transaction, answering refused ones; the deliveries done with (to be
        acknowledged). Those left out stay with the broker, which delivers them again."""
        from smartcare.family.devices.service import FrameIn

        done: list[Delivery] = []
        frames: list[tuple[Delivery, Any]] = []
        for delivery in batch:
            device_id = device_of_topic(delivery.topic)
            if device_id is None:
                log.warning("Ignored a message on %r: not a device readings topic", delivery.topic[:200])
                self.stats.add(refused=1)
                done.append(delivery)
                continue
            try:
                frame = decode_frame(device_id, delivery.payload)
            except FrameRefused as refused:
                self._answer(device_id, {"seq": refused.seq, "status": "rejected", "reasons": refused.reasons})
                self.stats.add(refused=1)
                done.append(delivery)
                continue
            frames.append((delivery, FrameIn(device_id, frame, delivery.received_at)))
        if not frames:
            return done
        results = self._ingest_retrying([f for _, f in frames])
        if results is None:
            return done
        for (delivery, frame), result in zip(frames, results, strict=True):
            report = error_report(result)
            if report is not None:
                self._answer(frame.device_id, report)
            self.stats.add(stored=int(result.status in ("accepted", "partial")),
                           duplicates=int(result.status == "duplicate"), refused=int(result.status == "rejected"))
            done.append(delivery)
        return done

    def _ingest_retrying(self, frames: list[Any]) -> list[Any] | None:
        """Ingest in one transaction, waiting out a database that is away (with backoff) rather than dropping or
        acknowledging anything; None when stopped meanwhile or when the batch cannot be stored."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                return self._ingest(self.engine, frames)
            except sa.exc.OperationalError as exc:
                self.stats.last_error = str(exc.orig)
                log.warning("The database is not answering (%s); retrying in %.1f s", exc.orig, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            except Exception as exc:
                self.stats.last_error = str(exc)
                log.exception("Storing %d frames failed; they stay with the broker", len(frames))
                return None
        return None

    def _answer(self, device_id: str, report: dict) -> None:
        self.client.publish(errors_topic(device_id), orjson.dumps(report), qos=1)
        self.stats.add(errors_published=1)

    def _acknowledge(self, delivery: Delivery) -> None:
        # An acknowledgement belongs to the connection the message came on: on a newer connection the broker has
        # already resent it (and it is stored again as a duplicate, then acknowledged there), and its packet id may
        # name another message by now.
        if delivery.qos > 0 and delivery.connection == self._connection and self._connected.is_set():
            self.client.ack(delivery.mid, delivery.qos)

