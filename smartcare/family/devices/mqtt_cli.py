"""`smartcare devices listen | simulate | mosquitto-files`: the MQTT side of the devices command."""

import getpass
import os
import signal
import threading
import time
from pathlib import Path

import typer
from rich.live import Live
from rich.table import Table

from smartcare.family.devices.cli import devices_app
from smartcare.family.devices.mqtt import CLIENT_ID, SERVICE_USERNAME, BrokerAddress, ReadingsSubscriber
from smartcare.platform.console import make_console

console = make_console()


def _engine():
    from smartcare.platform.db import get_engine

    return get_engine()


def _configured_address() -> BrokerAddress:
    from smartcare.family.devices.mqtt import configured_url, parse_mqtt_url

    try:
        return parse_mqtt_url(configured_url())
    except ValueError as exc:
        console.print(f"[red]SMARTCARE_MQTT_URL: {exc}[/]")
        raise typer.Exit(1) from exc


def _broker_and_subscriber(port: int, client_id: str, workers: int):
    """The subscriber for SMARTCARE_MQTT_URL, or an embedded broker on 127.0.0.1:port and a subscriber on it."""
    from smartcare.family.devices.broker import EmbeddedBroker
    from smartcare.family.devices.mqtt import configured_url
    from smartcare.platform.jobs.worker import load_handlers

    # What reacts to stored readings (monitoring's rules, the pill box confirming doses) subscribes when its module
    # is imported: this process publishes the ReadingsStored events, so it must have them.
    load_handlers()
    broker = None
    if configured_url():
        address = _configured_address()
    else:
        broker = EmbeddedBroker(port=port)
        try:
            broker.start()
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/]. Set SMARTCARE_MQTT_URL to use the broker already there, or pick "
                          "another --port.")
            raise typer.Exit(1) from exc
        address = broker.address
    return broker, ReadingsSubscriber(_engine(), address, client_id=client_id, workers=workers)


def _until_signalled() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _where(address: BrokerAddress, embedded: bool) -> str:
    return f"{'the embedded broker on ' if embedded else ''}{address.host}:{address.port}"


@devices_app.command()
def listen(
    port: int = typer.Option(1883, help="Port of the embedded broker (only when SMARTCARE_MQTT_URL is unset)."),
    client_id: str = typer.Option(CLIENT_ID, help="MQTT client id; the broker keeps this session's messages."),
    workers: int = typer.Option(2, min=1, max=16, help="Threads storing readings (a device stays on one)."),
) -> None:
    """Store device readings from the MQTT broker until stopped (Ctrl-C).

    The broker is SMARTCARE_MQTT_URL (mqtt://user:password@host:port; the login may instead come from
    SMARTCARE_MQTT_USERNAME / SMARTCARE_MQTT_PASSWORD); when it is unset, an embedded broker is started on
    127.0.0.1 and devices log in to it with their own credentials.
    """
    broker, subscriber = _broker_and_subscriber(port, client_id, workers)
    stop = _until_signalled()
    subscriber.start()
    console.print(f"Storing readings from {_where(subscriber.address, broker is not None)} as {client_id!r}.")
    last = None
    while not stop.wait(60):
        stats = subscriber.stats
        now = (stats.received, stats.stored, stats.duplicates, stats.refused)
        if now != last:
            console.print(f"{stats.received:,} received, {stats.stored:,} stored, {stats.duplicates:,} duplicates, "
                          f"{stats.refused:,} refused"
                          + (f" (last problem: {stats.last_error})" if stats.last_error else ""))
            last = now
    subscriber.stop()
    if broker is not None:
        broker.stop()
    console.print("Stopped; the broker keeps what arrives meanwhile for the next start.")


def _simulation_table(publisher, subscriber, started: float, planned: float | None) -> Table:
    stats = publisher.stats
    elapsed = time.monotonic() - started
    table = Table(title="Simulated home devices", show_header=False)
    table.add_row("running", f"{elapsed:,.0f} s" + (f" of {planned:,.0f} s" if planned else ""))
    table.add_row("frames sent / confirmed by the broker", f"{stats.sent:,} / {stats.confirmed:,}")
    table.add_row("readings sent", f"{stats.readings:,} ({stats.readings / max(elapsed, 0.001):,.1f}/s)")
    table.add_row("readings missed on purpose", f"{stats.missed:,}")
    for episode, n in sorted(stats.episodes.items()):
        table.add_row(f"episodes: {episode}", f"{n:,}")
    if subscriber is not None:
        done = subscriber.stats
        table.add_row("frames stored / duplicates / refused",
                      f"{done.stored:,} / {done.duplicates:,} / {done.refused:,}")
    return table


class _MinuteLine:
    """In place of the live table when the simulator runs beside other processes: a line a minute."""

    def __init__(self, publisher) -> None:
        self.publisher = publisher
        self.last = time.monotonic()

    def __enter__(self) -> "_MinuteLine":
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def update(self, _table: Table) -> None:
        if time.monotonic() - self.last >= 60:
            stats = self.publisher.stats
            console.print(f"Home device simulator: {stats.sent:,} frames sent, {stats.readings:,} readings, "
                          f"{sum(stats.episodes.values()):,} abnormal episodes")
            self.last = time.monotonic()


@devices_app.command()
def simulate(
    patients: int = typer.Option(10, min=1, max=2000, help="Simulated homes (a patient with six devices each)."),
    rate: float = typer.Option(20.0, min=0.1, max=20000, help="Frames a second, over all devices."),
    minutes: float = typer.Option(None, min=0.05, help="Stop after this long (default: until Ctrl-C)."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same patients and streams."),
    port: int = typer.Option(1883, help="Port of the embedded broker (only when SMARTCARE_MQTT_URL is unset)."),
    demo_region: bool = typer.Option(False, "--demo-region", help="Publish for the demo region's monitored "
                                     "residents (their devices from `smartcare demo load`) instead of new homes."),
    broker_url: str = typer.Option(None, "--broker", help="Publish to this broker (mqtt://host:port) only, as "
                                   "the devices; SmartCare's own listener stores what arrives there."),
    quiet: bool = typer.Option(False, help="A line a minute instead of the live table (when run beside others)."),
) -> None:
    """Publish realistic readings from simulated homes for the demo and the benchmark.

    Registers the demo patients and their devices (blood pressure monitor, glucometer, pulse oximeter, scale,
    thermometer, fall detector) the first time, keeping their logins in <data dir>/simulator/homes.json, then
    publishes as each device over MQTT: blood pressure following the day, glucose around meals, now and then an
    abnormal episode or a fall, and some readings missed. Without SMARTCARE_MQTT_URL it runs the embedded broker
    and stores the readings itself.
    """
    import random

    from smartcare.family.devices.mqtt import configured_url, parse_mqtt_url
    from smartcare.family.devices.simulator import (
        DevicePublisher,
        demo_homes,
        demo_region_homes,
        next_frame,
        schedule,
    )
    from smartcare.platform import clock
    from smartcare.platform.settings import get_settings

    folder = Path(get_settings().data_dir) / "simulator"
    if demo_region:
        devices = demo_region_homes(_engine(), seed=seed, logins=folder / "demo-region.json",
                                    first_seq=int(time.time() * 1000))
        if not devices:
            console.print("[red]The demo region has no home devices[/]: load it first (`smartcare demo load`).")
            raise typer.Exit(1)
        new = 0
    else:
        with console.status(f"Registering {patients} simulated homes"):
            devices, new = demo_homes(_engine(), patients=patients, seed=seed, logins=folder / "homes.json",
                                      first_seq=int(time.time() * 1000))
    if new and (configured_url() or broker_url):
        console.print(f"[yellow]{new} new homes were registered[/]: a Mosquitto with a password file must read "
                      "them first (`smartcare devices mosquitto-files`, then SIGHUP).")
    broker = subscriber = None
    if broker_url:
        try:
            address = parse_mqtt_url(broker_url)
        except ValueError as exc:
            console.print(f"[red]--broker: {exc}[/]")
            raise typer.Exit(1) from exc
    elif not configured_url():
        broker, subscriber = _broker_and_subscriber(port, CLIENT_ID, 2)
        subscriber.start()
        address = broker.address
    else:
        address = _configured_address()
    publisher = DevicePublisher(address, devices)
    stop = _until_signalled()
    rng = random.Random(seed)
    started = time.monotonic()
    seconds = minutes * 60 if minutes else None
    try:
        display = _MinuteLine(publisher) if quiet else Live(
            _simulation_table(publisher, subscriber, started, seconds), console=console, refresh_per_second=2)
        with display as live:
            shown = started
            for offset, device, _ in schedule(devices, rate=rate, start=clock.now(), seconds=seconds):
                if stop.is_set():
                    break
                delay = started + offset - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                frame = next_frame(device, clock.now(), rng)
                if frame is None:
                    publisher.stats.missed += 1
                else:
                    publisher.publish(device, frame)
                if time.monotonic() - shown > 0.5:
                    live.update(_simulation_table(publisher, subscriber, started, seconds))
                    shown = time.monotonic()
            publisher.wait_confirmed(timeout=30)
            if subscriber is not None:
                deadline = time.monotonic() + 30
                done = subscriber.stats
                while done.stored + done.duplicates + done.refused < publisher.stats.sent \
                        and time.monotonic() < deadline:
                    time.sleep(0.2)
            live.update(_simulation_table(publisher, subscriber, started, seconds))
    finally:
        publisher.close()
        if subscriber is not None:
            subscriber.stop()
        if broker is not None:
            broker.stop()


@devices_app.command("mosquitto-files")
def mosquitto_files(
    folder: Path = typer.Option(Path("var/mosquitto"), help="Where to write the password file and the ACL file."),
    port: int = typer.Option(1883, help="Port for the mosquitto.conf written beside them."),
    user: str = typer.Option(None, help="The user Mosquitto runs as (default: whoever runs this, who owns the files)."),
) -> None:
    """Write Mosquitto's password file and ACL file from the device credentials (and a mosquitto.conf using them).

    The service login is SMARTCARE_MQTT_USERNAME (default smartcare-service) with SMARTCARE_MQTT_PASSWORD. Run
    Mosquitto with `mosquitto -c <folder>/mosquitto.conf`, and send it SIGHUP after `devices add` or `revoke` so it
    reads the files again.
    """
    from smartcare.family.devices.broker import mosquitto_config, write_mosquitto_files

    password = os.environ.get("SMARTCARE_MQTT_PASSWORD", "")
    if not password:
        console.print("[red]Set SMARTCARE_MQTT_PASSWORD[/]: the password SmartCare's subscriber logs in with.")
        raise typer.Exit(1)
    folder = folder.resolve()
    files = write_mosquitto_files(_engine(), folder, service_password=password,
                                  service_username=os.environ.get("SMARTCARE_MQTT_USERNAME") or SERVICE_USERNAME)
    conf = folder / "mosquitto.conf"
    (folder / "data").mkdir(exist_ok=True)
    conf.write_text(mosquitto_config(files, port=port, persistence_dir=folder / "data",
                                     user=user or getpass.getuser()), encoding="utf-8")
    console.print(f"Wrote {files.password_file} ({files.devices} devices), {files.acl_file} and {conf}.")


if __name__ == "__main__":
    devices_app()
