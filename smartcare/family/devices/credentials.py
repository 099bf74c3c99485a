"""A device's MQTT credentials and topics: Mosquitto-compatible password hashes, login checks and topic rights.

The MQTT username is the device id; the password is random and kept only as a hash in Mosquitto's own `$7$`
form (PBKDF2-SHA512, `$7$<iterations>$<base64 salt>$<base64 hash>`, as `mosquitto_passwd` writes it), so the
same hashes serve our own broker auth and a Mosquitto password file alike.
"""

import base64
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.family.devices.tables import device_registry

TOPIC_ROOT = "smartcare/v1/devices"
# mosquitto_passwd's own default. The password is 192 random bits, not a person's choice, so many iterations
# would add no safety, only cost at every connect (as with OAuth client secrets, platform/security/clients.py).
ITERATIONS = 101
SALT_BYTES = 12
MAX_PASSWORD = 256


def readings_topic(device_id: str) -> str:
    """The topic a device publishes its readings on."""
    return f"{TOPIC_ROOT}/{device_id}/readings"


def errors_topic(device_id: str) -> str:
    """The topic refusals of a device's frames go back on."""
    return f"{TOPIC_ROOT}/{device_id}/errors"


def new_password() -> str:
    """A fresh random MQTT password (shown once)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The password hashed as Mosquitto's `$7$` PBKDF2-SHA512 line part."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_mosquitto_hash(password: str, stored: str) -> bool:
    """True when password matches a `$7$` hash (ours or one written by mosquitto_passwd)."""
    parts = (stored or "").split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit() or len(password) > MAX_PASSWORD:
        return False
    iterations = int(parts[2])
    if not 1 <= iterations <= 1_000_000:
        return False
    try:
        salt, expected = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(digest, expected)


def verify_mqtt_login(conn: Connection, username: str, password: str) -> str | None:
    """The device id when username/password are an active device's MQTT credentials, else None."""
    if not username or len(username) > 64 or not password:
        return None
    row = conn.execute(sa.select(device_registry.c.status, device_registry.c.mqtt_hash)
                       .where(device_registry.c.device_id == username)).first()
    if row is None or row.status != "active" or not row.mqtt_hash:
        return None
    return username if check_mosquitto_hash(password, row.mqtt_hash) else None


def topic_allowed(device_id: str, topic: str, action: str) -> bool:
    """May the device publish ("publish"/"write") or subscribe ("subscribe"/"read") on topic? Its own only."""
    if not device_id or "+" in topic or "#" in topic:
        return False
    if action in ("publish", "write"):
        return topic == readings_topic(device_id)
    if action in ("subscribe", "read"):
        return topic == errors_topic(device_id)
    return False


def mosquitto_password_file(conn: Connection) -> str:
    """A Mosquitto password_file of every active device (username = device id), for a broker run with one."""
    rows = conn.execute(sa.select(device_registry.c.device_id, device_registry.c.mqtt_hash)
                        .where(device_registry.c.status == "active", device_registry.c.mqtt_hash.is_not(None))
                        .order_by(device_registry.c.device_id))
    return "".join(f"{r.device_id}:{r.mqtt_hash}\n" for r in rows)
