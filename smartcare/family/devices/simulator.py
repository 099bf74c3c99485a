"""Simulated home devices for the demo and the benchmark: realistic reading streams, published over MQTT.

The streams are pure functions of a seeded random generator and the time of day, so they are testable without a
broker: blood pressure follows the day (lowest at night, a morning surge), glucose rises after meals and falls back,
and now and then a patient has an abnormal episode (a hypertensive spike, a hypoglycaemia, a desaturation, a fever),
falls, or simply misses a reading. The publisher sends them as the documented payload, each device with its own
MQTT login, exactly as a real device would.
"""

import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as paho
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from smartcare.family.devices.credentials import readings_topic
from smartcare.family.devices.mqtt import BrokerAddress

# The kinds a simulated home carries, and the payload types each sends.
HOME_KINDS = ("bp-monitor", "glucometer", "pulse-oximeter", "scale", "thermometer", "fall-detector")
# Shares of frames that never come (the patient forgot, the battery was flat) and that carry an abnormal episode.
MISSED_READING = 0.04
ABNORMAL_EPISODE = 0.03
FALL_PER_FRAME = 0.005
EPISODES = {"bp-monitor": "hypertensive surge", "glucometer": "hypoglycaemia", "pulse-oximeter": "desaturation",
            "scale": "weight gain", "thermometer": "fever"}
SIMULATED_SID = "https://smartcare.example/fhir/sid/simulated-home"
# Meal times (hour of day, local) around which glucose rises: breakfast, lunch, dinner.
MEALS = (7.0, 12.0, 18.5)


@dataclass
class SimulatedPatient:
    """A patient's own physiology, drawn once from the seed: where the readings sit when nothing is wrong."""

    systolic: float
    diastolic: float
    heart_rate: float
    fasting_glucose: float
    weight: float
    diabetic: bool


@dataclass
class SimulatedDevice:
    """One device of a simulated patient: its id, kind, MQTT login and next sequence number."""

    device_id: str
    kind: str
    patient: SimulatedPatient
    password: str = ""
    seq: int = 1
    timezone: str = "Asia/Shanghai"
    # What was wrong in the last frame (an episode's name), for the simulator's display.
    last_episode: str | None = None


def draw_patient(rng: random.Random) -> SimulatedPatient:
    """A patient's baseline: about a third hypertensive, a fifth diabetic (the shares in a community's older people)."""
    hypertensive = rng.random() < 0.35
    diabetic = rng.random() < 0.2
    return SimulatedPatient(
        systolic=rng.gauss(148 if hypertensive else 122, 8),
        diastolic=rng.gauss(92 if hypertensive else 78, 5),
        heart_rate=rng.gauss(72, 7),
        fasting_glucose=rng.gauss(7.6 if diabetic else 5.2, 0.5),
        weight=rng.gauss(66, 10),
        diabetic=diabetic,
    )


def diurnal_offset(hour: float) -> float:
    """Blood pressure's swing over the day in mmHg: lowest around 03:00 in sleep, rising through the morning (±8)."""
    return -8.0 * math.cos(2 * math.pi * (hour - 3.0) / 24.0)


def meal_rise(hour: float, diabetic: bool) -> float:
    """Glucose above fasting in mmol/L at this hour: a rise peaking about an hour after each meal, gone in three."""
    peak = 4.5 if diabetic else 2.2
    rise = 0.0
    for meal in MEALS:
        since = hour - meal
        if 0 <= since <= 3:
            rise = max(rise, peak * math.exp(-((since - 1.0) ** 2) / 0.5))
    return rise


def _local_hour(at: datetime, timezone: str) -> float:
    local = at.astimezone(ZoneInfo(timezone))
    return local.hour + local.minute / 60


def readings_for(device: SimulatedDevice, at: datetime, rng: random.Random) -> list[dict]:
    """The readings the device takes at this moment (an empty list when the patient misses this one)."""
    if rng.random() < MISSED_READING:
        return []
    p, hour = device.patient, _local_hour(at, device.timezone)
    episode = rng.random() < ABNORMAL_EPISODE
    device.last_episode = EPISODES.get(device.kind) if episode else None
    if device.kind == "bp-monitor":
        surge = rng.uniform(35, 60) if episode else 0.0
        systolic = p.systolic + diurnal_offset(hour) + surge + rng.gauss(0, 5)
        diastolic = min(p.diastolic + diurnal_offset(hour) * 0.6 + surge * 0.45 + rng.gauss(0, 4), systolic - 20)
        return [{"type": "blood-pressure", "systolic": round(systolic), "diastolic": round(diastolic),
                 "unit": "mm[Hg]"},
                {"type": "heart-rate", "value": round(p.heart_rate + rng.gauss(0, 4)), "unit": "/min"}]
    if device.kind == "glucometer":
        value = rng.uniform(2.6, 3.5) if episode else p.fasting_glucose + meal_rise(hour, p.diabetic) + rng.gauss(0, 0.4)
        return [{"type": "glucose", "value": round(max(value, 1.5), 1), "unit": "mmol/L"}]
    if device.kind == "pulse-oximeter":
        spo2 = rng.randint(84, 89) if episode else min(100, round(rng.gauss(97, 1.2)))
        return [{"type": "spo2", "value": spo2, "unit": "%"},
                {"type": "heart-rate", "value": round(p.heart_rate + (15 if episode else 0) + rng.gauss(0, 4)),
                 "unit": "/min"}]
    if device.kind == "scale":
        p.weight += rng.gauss(0, 0.05) + (0.8 if episode else 0.0)
        return [{"type": "body-weight", "value": round(p.weight, 1), "unit": "kg"}]
    if device.kind == "thermometer":
        fever = rng.uniform(1.3, 2.3) if episode else 0.0
        value = 36.6 + 0.3 * math.sin(2 * math.pi * (hour - 12.0) / 24.0) + fever + rng.gauss(0, 0.15)
        return [{"type": "body-temperature", "value": round(value, 1), "unit": "Cel"}]
    if device.kind == "fall-detector":
        if rng.random() < FALL_PER_FRAME:
            device.last_episode = "fall"
            return [{"type": "fall", "value": True}]
        return [{"type": "steps", "value": rng.randint(0, 400), "unit": "{steps}"}]
    return [{"type": "heart-rate", "value": round(p.heart_rate + rng.gauss(0, 5)), "unit": "/min"}]


def next_frame(device: SimulatedDevice, at: datetime, rng: random.Random) -> dict | None:
    """The device's next payload at this moment (device time in the patient's zone), or None for a missed reading."""
    readings = readings_for(device, at, rng)
    if not readings:
        return None
    frame = {"seq": device.seq, "time": at.astimezone(ZoneInfo(device.timezone)).isoformat(timespec="seconds"),
             "readings": readings}
    device.seq += 1
    return frame


def schedule(devices: list[SimulatedDevice], *, rate: float, start: datetime,
             seconds: float | None) -> Iterator[tuple[float, SimulatedDevice, datetime]]:
    """(offset in seconds, device, device time) for `rate` frames a second round the devices, for `seconds` or ever."""
    if rate <= 0 or not devices:
        return
    step = 1.0 / rate
    n = 0
    while seconds is None or n * step < seconds:
        offset = n * step
        yield offset, devices[n % len(devices)], start + timedelta(seconds=offset)
        n += 1


@dataclass
class PublishStats:
    """What a publishing run did: frames sent and confirmed by the broker (PUBACK), readings missed on purpose,
    and the abnormal episodes sent by name."""

    sent: int = 0
    confirmed: int = 0
    missed: int = 0
    readings: int = 0
    episodes: dict[str, int] = field(default_factory=dict)


class DevicePublisher:
    """MQTT connections for a set of simulated devices, one per device with its own login, publishing at QoS 1."""

    def __init__(self, address: BrokerAddress, devices: list[SimulatedDevice]) -> None:
        self.address = address
        self.stats = PublishStats()
        self._lock = threading.Lock()
        self._clients: dict[str, paho.Client] = {}
        for device in devices:
            self._clients[device.device_id] = self._connect(device)

    def _connect(self, device: SimulatedDevice) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{device.device_id}",
                             protocol=paho.MQTTv311, clean_session=False)
        client.username_pw_set(device.device_id, device.password or None)
        if self.address.tls:
            client.tls_set()
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.on_publish = self._confirmed
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        return client

    def _confirmed(self, _client, _userdata, _mid, _reason_code, _properties) -> None:
        with self._lock:
            self.stats.confirmed += 1

    def publish(self, device: SimulatedDevice, frame: dict) -> None:
        """Send one frame on the device's readings topic at QoS 1 (queued by the client while disconnected)."""
        self._clients[device.device_id].publish(readings_topic(device.device_id), orjson.dumps(frame), qos=1)
        with self._lock:
            self.stats.sent += 1
            self.stats.readings += len(frame["readings"])
            if device.last_episode:
                episodes = self.stats.episodes
                episodes[device.last_episode] = episodes.get(device.last_episode, 0) + 1

    def wait_confirmed(self, timeout: float = 30.0) -> bool:
        """Wait until the broker confirmed every frame sent; False if it did not within timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.stats.confirmed >= self.stats.sent:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Disconnect every device."""
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()


def _new_home(conn, number: int) -> dict:
    """A demo patient with one device of each home kind, registered as the console would; their logins."""
    from smartcare.family.devices.registry import register_device
    from smartcare.fhir import store
    from smartcare.platform.security.context import SYSTEM

    patient = store.create(conn, SYSTEM, {
        "resourceType": "Patient", "identifier": [{"system": SIMULATED_SID, "value": f"sim-{number}"}],
        "name": [{"family": "Simulated", "given": [f"Home {number}"]}], "gender": "unknown"})
    devices = {}
    for kind in HOME_KINDS:
        registered = register_device(conn, ctx=SYSTEM, kind=kind, patient_id=patient.res_id,
                                     serial=f"SIM-{patient.res_id}-{kind}"[:64], model="SmartCare simulator")
        devices[kind] = {"id": registered.device.device_id, "password": registered.mqtt_password}
    return {"patient": patient.res_id, "devices": devices}


def demo_homes(engine, *, patients: int, seed: int, logins: Path, first_seq: int) -> tuple[list[SimulatedDevice], int]:
    """The devices of `patients` simulated homes, registering the homes not registered before (their logins are kept
    in the `logins` file, readable by its owner only); and how many homes were new."""
    from smartcare.family.devices.tables import device_registry
    from smartcare.platform.db import unit_of_work

    homes: list[dict] = orjson.loads(logins.read_bytes()) if logins.exists() else []
    with engine.connect() as conn:
        active = set(conn.execute(sa.select(device_registry.c.device_id)
                                  .where(device_registry.c.status == "active")).scalars())
    homes = [h for h in homes if all(d["id"] in active for d in h["devices"].values())][:patients]
    new = patients - len(homes)
    if new > 0:
        with unit_of_work(engine) as conn:
            homes += [_new_home(conn, len(homes) + n + 1) for n in range(new)]
        logins.parent.mkdir(parents=True, exist_ok=True)
        logins.write_bytes(orjson.dumps(homes, option=orjson.OPT_INDENT_2))
        logins.chmod(0o600)
    rng = random.Random(seed)
    devices = []
    for home in homes:
        patient = draw_patient(rng)
        devices += [SimulatedDevice(device_id=d["id"], kind=kind, patient=patient, password=d["password"],
                                    seq=first_seq) for kind, d in home["devices"].items()]
    return devices, max(new, 0)


# Serial numbers of the home devices the demo region's loader registers for its monitored residents
# (smartcare/demo/family.py): "DEMO-HOME-<patient id>-<kind>".
DEMO_REGION_SERIAL = "DEMO-HOME-"


def demo_region_homes(engine, *, seed: int, logins: Path, first_seq: int) -> list[SimulatedDevice]:
    """The devices the demo region's residents were given at load time, to publish for them live. Their passwords
    were shown once at registration, so each device without a login in the `logins` file (readable by its owner
    only) gets a fresh MQTT password, kept there; a Mosquitto reading a password file must read it again."""
    from smartcare.family.devices import credentials
    from smartcare.family.devices.tables import device_registry
    from smartcare.platform.db import unit_of_work

    saved: dict[str, str] = orjson.loads(logins.read_bytes()) if logins.exists() else {}
    r = device_registry.c
    with unit_of_work(engine) as conn:
        rows = conn.execute(sa.select(r.device_id, r.kind, r.patient_id).where(
            r.serial.like(f"{DEMO_REGION_SERIAL}%"), r.status == "active", r.patient_id.is_not(None))
            .order_by(r.patient_id, r.device_id)).all()
        fresh = {row.device_id: credentials.new_password() for row in rows if row.device_id not in saved}
        for device_id, password in fresh.items():
            conn.execute(device_registry.update().where(r.device_id == device_id)
                         .values(mqtt_hash=credentials.mosquitto_hash(password)))
    if fresh:
        saved = {**{k: v for k, v in saved.items() if any(row.device_id == k for row in rows)}, **fresh}
        logins.parent.mkdir(parents=True, exist_ok=True)
        logins.write_bytes(orjson.dumps(saved, option=orjson.OPT_INDENT_2))
        logins.chmod(0o600)
    bodies: dict[str, SimulatedPatient] = {}
    devices = []
    for row in rows:
        body = bodies.setdefault(row.patient_id, draw_patient(random.Random(f"{seed}:{row.patient_id}")))
        devices.append(SimulatedDevice(device_id=row.device_id, kind=row.kind, patient=body,
                                       password=saved[row.device_id], seq=first_seq))
    return devices
