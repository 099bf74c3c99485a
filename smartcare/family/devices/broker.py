"""The MQTT brokers devices talk to: the embedded amqtt broker of a one-process SmartCare, and Mosquitto's files.

Without SMARTCARE_MQTT_URL, SmartCare runs an amqtt broker on 127.0.0.1 in its own process, whose plugins check
device logins and topics against the credentials table, and let SmartCare's own subscriber in with a service
login. A deployment runs Mosquitto instead, with a password file and an ACL file written from the same credentials
(`smartcare devices mosquitto-files`), and sends it SIGHUP after devices are added or revoked so it reads them again.
"""

import asyncio
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from smartcare.family.devices.credentials import (
    mosquitto_hash,
    mosquitto_password_file,
    topic_allowed,
    verify_mqtt_login,
)
from smartcare.family.devices.mqtt import READINGS_FILTER, SERVICE_USERNAME, TOPIC_PREFIX, BrokerAddress

log = logging.getLogger(__name__)
# amqtt logs every connection and its state machine (the transitions library) every state change at INFO: a
# home with six devices would fill the demo's console. Their warnings and errors still show.
for _noisy in ("amqtt", "transitions"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
# What the service login may do: read every device's readings, answer on every device's error topic.
SERVICE_ACL = (("read", READINGS_FILTER), ("write", f"{TOPIC_PREFIX}/+/errors"))
# A device may only publish its own readings and read its own errors (%u is the login, which is the device id).
DEVICE_ACL = (("write", f"{TOPIC_PREFIX}/%u/readings"), ("read", f"{TOPIC_PREFIX}/%u/errors"))


def _engine(database_url: str) -> sa.Engine:
    from smartcare.platform.db import get_engine

    return get_engine(database_url or None)


def _verify_device(database_url: str, username: str, password: str) -> str | None:
    with _engine(database_url).connect() as conn:
        return verify_mqtt_login(conn, username, password)


def _service_matches(config, username: str | None, password: str | None) -> bool:
    return (bool(config.service_password) and username == config.service_username
            and hmac.compare_digest((password or "").encode(), config.service_password.encode()))


class DeviceAuthPlugin(BaseAuthPlugin):
    """Let in the devices whose MQTT login the credentials table accepts, and SmartCare's service login."""

    @dataclass
    class Config:
        """The service login and the database whose credentials table is asked (empty: the process's own)."""

        service_username: str = SERVICE_USERNAME
        service_password: str = ""
        database_url: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        """True for the service login or a device with a valid, unrevoked login; False for anyone else."""
        username, password = session.username, session.password
        if not username or password is None:
            return False
        if _service_matches(self.config, username, password):
            return True
        try:
            device = await asyncio.to_thread(_verify_device, self.config.database_url, username, password)
        except Exception:
            log.exception("Checking the MQTT login of %r failed", username[:64])
            return False
        return device == username


class DeviceTopicPlugin(BaseTopicPlugin):
    """Keep each device to its own topics; the service login reads all readings and writes all error topics."""

    @dataclass
    class Config:
        """The service login's name (devices are known by their login, which is their id)."""

        service_username: str = SERVICE_USERNAME

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        """Whether this session may do this with this topic."""
        if session is None or not topic or not session.username:
            return False
        if session.username == self.config.service_username:
            if action == Action.PUBLISH:
                return _matches(f"{TOPIC_PREFIX}/+/errors", topic)
            return topic == READINGS_FILTER or _matches(READINGS_FILTER, topic)
        return topic_allowed(session.username, topic, "publish" if action == Action.PUBLISH else "subscribe")


def _matches(pattern: str, topic: str) -> bool:
    want, have = pattern.split("/"), topic.split("/")
    return len(want) == len(have) and all(w in ("+", h) for w, h in zip(want, have, strict=True))


@dataclass
class EmbeddedBroker:
    """An amqtt broker on 127.0.0.1 in a thread of this process, with SmartCare's device login and topic rules."""

    port: int = 1883
    host: str = "127.0.0.1"
    service_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    database_url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _broker: Broker | None = None
    _thread: threading.Thread | None = None

    @property
    def address(self) -> BrokerAddress:
        """Where SmartCare's own subscriber finds this broker, with its service login."""
        return BrokerAddress(host=self.host, port=self.port, username=SERVICE_USERNAME,
                             password=self.service_password, mqtt5=False)

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.DeviceAuthPlugin": {"service_username": SERVICE_USERNAME,
                                                 "service_password": self.service_password,
                                                 "database_url": self.database_url},
                f"{__name__}.DeviceTopicPlugin": {"service_username": SERVICE_USERNAME},
            },
        }

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; raises if the broker could not (e.g. the port is taken)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            try:
                self._broker = Broker(self._config())
                await self._broker.start()
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                ready.set()

        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(serve())
            except BaseException:
                return
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="mqtt-embedded-broker", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        if failure or not ready.is_set():
            raise RuntimeError(f"the embedded MQTT broker did not start on {self.host}:{self.port}: "
                               f"{failure[0] if failure else 'timed out'}")
        log.info("Embedded MQTT broker listening on %s:%s", self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection and stop listening."""
        if self._loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)


@dataclass(frozen=True)
class MosquittoFiles:
    """The files a Mosquitto deployment reads: password file and ACL file, and how many devices they admit."""

    password_file: Path
    acl_file: Path
    devices: int


def write_mosquitto_files(engine: sa.Engine, folder: Path, *, service_username: str = SERVICE_USERNAME,
                          service_password: str) -> MosquittoFiles:
    """Write Mosquitto's password_file and acl_file for every active device and the service login.

    Files are written beside and renamed over the old ones, so a Mosquitto reloading them (SIGHUP) never reads
    half a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        devices = mosquitto_password_file(conn)
    passwords = f"{service_username}:{mosquitto_hash(service_password)}\n{devices}"
    acl = [f"user {service_username}", *(f"topic {access} {topic}" for access, topic in SERVICE_ACL), "",
           "# every device: its own readings (write) and errors (read); the login is the device id",
           *(f"pattern {access} {topic}" for access, topic in DEVICE_ACL), ""]
    password_file, acl_file = folder / "passwords", folder / "acl"
    _replace(password_file, passwords)
    _replace(acl_file, "\n".join(acl))
    return MosquittoFiles(password_file=password_file, acl_file=acl_file, devices=devices.count("\n"))


def mosquitto_config(files: MosquittoFiles, *, port: int, persistence_dir: Path, host: str = "127.0.0.1",
                     user: str | None = None) -> str:
    """A mosquitto.conf for SmartCare: these files, persistent sessions, and no limit on what waits for the
    subscriber (Mosquitto keeps only 1,000 queued messages per client by default and drops the rest).

    Mosquitto started as root runs as the user "mosquitto" unless told otherwise (`user`), and must be able to
    read the files (written readable by their owner only) and write its persistence folder.
    """
    return "\n".join([
        *([f"user {user}"] if user else []),
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {files.password_file}",
        f"acl_file {files.acl_file}",
        "persistence true",
        f"persistence_location {persistence_dir}/",
        "autosave_interval 1",
        "max_queued_messages 0",
        "max_inflight_messages 0",
        "persistent_client_expiration 7d",
        "",
    ])


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)

