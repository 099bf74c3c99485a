"""Device readings per second through a real Mosquitto into the store, and publish -> stored latency.

Starts a Mosquitto of its own on a free port (persistence on, password and ACL files written from the credentials
table, as a deployment runs it), registers simulated homes (six devices each) on a fresh PostgreSQL schema (or
SQLite file), and runs SmartCare's subscriber in this process. The simulated devices publish from a second process,
each with its own login, at QoS 1:
  1. as fast as they can (`--frames` frames): readings/s from the first publish to the last reading stored;
  2. at a steady `--steady-rate` frames/s for `--steady-seconds`: p50/p95 from publish to Observation visible
     (the moment the storing transaction committed: the ReadingsStored event);
  3. `--alerts` blood pressures of 190/120 (one home after another, 20 a second, while the homes' other devices go
     on at a steady rate): p50/p95 from publish to the monitoring alert visible (the alert Task committed).
Every home has a hypertension monitoring plan and the subscriber process loads what reacts to readings (monitoring's
rules, the pill box), as `smartcare devices listen` does, so phases 1 and 2 include judging every reading.
The issue's target is >= 2,000 readings/s on PostgreSQL with alert p95 <= 1 s.

    .venv/bin/python bench/devices.py [--homes 10] [--frames 20000] [--databases postgresql,sqlite]
"""

import argparse
import getpass
import multiprocessing
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartcare.family.devices import registry  # noqa: E402
from smartcare.family.devices.broker import mosquitto_config, write_mosquitto_files  # noqa: E402
from smartcare.family.devices.mqtt import SERVICE_USERNAME, BrokerAddress, ReadingsSubscriber  # noqa: E402
from smartcare.family.devices.service import READINGS_STORED  # noqa: E402
from smartcare.family.devices.simulator import (  # noqa: E402
    HOME_KINDS,
    DevicePublisher,
    SimulatedDevice,
    draw_patient,
    next_frame,
)
from smartcare.family.monitoring import plans  # noqa: E402
from smartcare.fhir import store  # noqa: E402
from smartcare.platform import clock, events  # noqa: E402
from smartcare.platform.db import unit_of_work, use_engine  # noqa: E402
from smartcare.platform.jobs.worker import load_handlers  # noqa: E402
from smartcare.platform.security.context import SYSTEM  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_store import fresh_engine  # noqa: E402  (beside this file)

SERVICE_PASSWORD = "bench-service"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_homes(engine: sa.Engine, homes: int) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(device id, kind, MQTT password) of `homes` patients with one device of each home kind and a hypertension
    monitoring plan; and each device's patient reference."""
    logins, owners, patients = [], {}, []
    with unit_of_work(engine) as conn:
        for n in range(homes):
            patient = store.create(conn, SYSTEM, {"resourceType": "Patient", "name": [{"family": f"Bench {n}"}]})
            patients.append(patient.res_id)
            for kind in HOME_KINDS:
                got = registry.register_device(conn, ctx=SYSTEM, kind=kind, patient_id=patient.res_id)
                logins.append((got.device.device_id, kind, got.mqtt_password))
                owners[got.device.device_id] = f"Patient/{patient.res_id}"
    for patient_id in patients:
        plans.assign_plan(SYSTEM, patient_id=patient_id, template_name="hypertension")
    return logins, owners


def start_mosquitto(engine: sa.Engine, folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    files = write_mosquitto_files(engine, folder, service_password=SERVICE_PASSWORD)
    (folder / "data").mkdir(exist_ok=True)
    conf = mosquitto_config(files, port=port, persistence_dir=folder / "data", user=getpass.getuser())
    (folder / "mosquitto.conf").write_text(conf, encoding="utf-8")
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "mosquitto.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def publish(port: int, logins: list, frames: int, rate: float | None, first_seq: int, results) -> None:
    """In its own process: publish `frames` frames round the devices (at `rate` a second, or flat out); put
    [(device id, monotonic time sent, readings)] and the seconds it took on results."""
    rng = random.Random(7)
    devices = [SimulatedDevice(device_id, kind, draw_patient(rng), password=password, seq=first_seq)
               for device_id, kind, password in logins]
    publisher = DevicePublisher(BrokerAddress(port=port), devices)
    time.sleep(1.0)  # every device connected
    sent = []
    began = time.monotonic()
    n = 0
    while len(sent) < frames:
        device = devices[n % len(devices)]
        n += 1
        if rate:
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        frame = next_frame(device, clock.now(), rng)
        if frame is None:
            continue
        publisher.publish(device, frame)
        sent.append((device.device_id, time.monotonic(), len(frame["readings"])))
    publisher.wait_confirmed(60)
    publisher.close()
    results.put((sent, time.monotonic() - began))


def publish_alerts(port: int, logins: list, alerts: int, first_seq: int, results) -> None:
    """In its own process: `alerts` blood pressures of 190/120 round the homes' monitors, 20 a second, with the
    other devices publishing at 200 frames/s meanwhile; put [(patient's bp device, monotonic time sent)]."""
    rng = random.Random(11)
    devices = [SimulatedDevice(device_id, kind, draw_patient(rng), password=password, seq=first_seq)
               for device_id, kind, password in logins]
    monitors = [d for d in devices if d.kind == "bp-monitor"]
    others = [d for d in devices if d.kind != "bp-monitor"]
    publisher = DevicePublisher(BrokerAddress(port=port), devices)
    time.sleep(1.0)
    sent = []
    began = time.monotonic()
    n = 0
    while len(sent) < alerts:
        n += 1
        delay = began + n / 200 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if n % 10:
            frame = next_frame(others[n % len(others)], clock.now(), rng)
            if frame is not None:
                publisher.publish(others[n % len(others)], frame)
            continue
        device = monitors[len(sent) % len(monitors)]
        frame = {"seq": device.seq, "time": clock.now().isoformat(timespec="seconds"),
                 "readings": [{"type": "blood-pressure", "systolic": 190, "diastolic": 120, "unit": "mm[Hg]"}]}
        device.seq += 1
        publisher.publish(device, frame)
        sent.append((device.device_id, time.monotonic()))
    publisher.wait_confirmed(60)
    publisher.close()
    results.put(sent)


class AlertClock:
    """When each patient's alert was written: the alert Task's create or update, after its transaction commits."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        events.subscribe("ResourceCreated", self.note)
        events.subscribe("ResourceUpdated", self.note)

    def close(self) -> None:
        """Stop listening (the next database's run has its own clock)."""
        events.unsubscribe("ResourceCreated", self.note)
        events.unsubscribe("ResourceUpdated", self.note)

    def note(self, event: events.DomainEvent) -> None:
        if event.payload.get("type") != "Task":
            return
        at = time.monotonic()
        with unit_of_work(self.engine) as conn:
            task = store.read(conn, SYSTEM, res_type="Task", res_id=event.payload["id"]).resource
        with self.lock:
            self.times[(task.get("for") or {}).get("reference", "")].append(at)


class StoredClock:
    """When each device's frames became visible: ReadingsStored comes after the storing transaction commits, in
    the order a device's frames are stored."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        events.subscribe(READINGS_STORED, self.note)

    def close(self) -> None:
        """Stop listening."""
        events.unsubscribe(READINGS_STORED, self.note)

    def note(self, event: events.DomainEvent) -> None:
        with self.lock:
            self.times[event.payload["device"].removeprefix("Device/")].append(time.monotonic())

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.times.values())

    def reset(self) -> None:
        with self.lock:
            self.times.clear()


def run_phase(port: int, logins: list, frames: int, rate: float | None, first_seq: int,
              stored: StoredClock) -> tuple[int, float, list[float]]:
    """Readings, seconds from first publish to last stored, and each frame's publish -> stored latency."""
    stored.reset()
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    process = spawn.Process(
        target=publish, args=(port, logins, frames, rate, first_seq, results))
    process.start()
    sent, _ = results.get(timeout=600)
    process.join()
    deadline = time.monotonic() + 120
    while stored.count() < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    by_device: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for device_id, at, readings in sent:
        by_device[device_id].append((at, readings))
    latencies = []
    last = 0.0
    for device_id, frames_sent in by_device.items():
        for (at, _), done in zip(frames_sent, stored.times.get(device_id, []), strict=False):
            latencies.append(done - at)
            last = max(last, done)
    readings = sum(r for _, _, r in sent)
    first = min(at for _, at, _ in sent)
    return readings, last - first, latencies


def bench(kind: str, homes: int, frames: int, steady_rate: float, steady_seconds: float, workers: int,
          alerts: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    engine = fresh_engine(kind, workdir, "bench_devices")
    use_engine(engine)  # monitoring's plans and judgements use the default engine, as in the listener process
    load_handlers()  # as `smartcare devices listen` does: monitoring judges every stored reading
    logins, owners = register_homes(engine, homes)
    alerted = AlertClock(engine)
    mosquitto, port = start_mosquitto(engine, workdir / "mosquitto")
    stored = StoredClock()
    subscriber = ReadingsSubscriber(engine, BrokerAddress(port=port, username=SERVICE_USERNAME,
                                                          password=SERVICE_PASSWORD), workers=workers)
    subscriber.start()
    subscriber.wait_connected(10)
    try:
        readings, seconds, latencies = run_phase(port, logins, frames, None, 1, stored)
        print(f"{kind:10} flat out: {readings:,} readings in {seconds:.1f} s = {readings / seconds:,.0f} readings/s "
              f"({frames / seconds:,.0f} frames/s; {len(logins)} devices, {workers} storing threads)")
        steady = int(steady_rate * steady_seconds)
        readings, seconds, latencies = run_phase(port, logins, steady, steady_rate, frames + 10, stored)
        q = statistics.quantiles(latencies, n=100)
        print(f"{kind:10} steady {steady_rate:,.0f} frames/s ({readings / seconds:,.0f} readings/s): publish -> "
              f"stored p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
              f"over {len(latencies):,} frames")
        if alerts:
            spawn = multiprocessing.get_context("spawn")
            results = spawn.Queue()
            process = spawn.Process(target=publish_alerts,
                                    args=(port, logins, alerts, frames + steady + 20, results))
            process.start()
            sent = results.get(timeout=600)
            process.join()
            time.sleep(3)
            waits = []
            for patient in {owners[d] for d, _ in sent}:
                published = sorted(at for d, at in sent if owners[d] == patient)
                written = sorted(alerted.times.get(patient, []))
                # Each blood pressure raises (first) or updates (after) the patient's open alert: pair each one with
                # the first alert write after it.
                for at in published:
                    done = next((w for w in written if w >= at), None)
                    if done is not None:
                        waits.append(done - at)
                        written.remove(done)
            if len(waits) >= 2:
                q = statistics.quantiles(waits, n=100)
                print(f"{kind:10} alerts: publish -> alert visible p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, "
                      f"max {max(waits) * 1000:.0f} ms over {len(waits):,} of {len(sent):,} alarming readings")
            else:
                print(f"{kind:10} alerts: only {len(waits)} of {len(sent)} alarming readings raised an alert")
        if subscriber.stats.refused:
            print(f"{kind:10} {subscriber.stats.refused} frames refused (simulated readings should all pass)")
    finally:
        alerted.close()
        stored.close()
        subscriber.stop()
        mosquitto.terminate()
        mosquitto.wait()
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homes", type=int, default=10, help="simulated homes (six devices each)")
    parser.add_argument("--frames", type=int, default=20000, help="frames published flat out")
    parser.add_argument("--steady-rate", type=float, default=500, help="frames/s of the latency phase")
    parser.add_argument("--steady-seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4, help="storing threads of the subscriber")
    parser.add_argument("--alerts", type=int, default=200, help="alarming blood pressures in the alert phase")
    parser.add_argument("--databases", default="postgresql,sqlite")
    args = parser.parse_args()
    if shutil.which("mosquitto") is None:
        sys.exit("mosquitto is not installed")
    for kind in args.databases.split(","):
        bench(kind, args.homes, args.frames, args.steady_rate, args.steady_seconds, args.workers, args.alerts)


if __name__ == "__main__":
    main()
