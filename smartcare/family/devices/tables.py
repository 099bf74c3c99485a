"""Device tables outside FHIR: credentials and status for the hot path, raw frames (exactly once), pairing codes.

The FHIR Device is the record of a device; device_registry mirrors what every frame needs (owner, status,
credentials) so a reading costs one indexed lookup, and both are changed in the same transaction.
Instants are ISO-8601 UTC text with milliseconds, as in the FHIR store.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

device_registry = sa.Table(
    "device_registry",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("serial", sa.String(64)),
    # The owner Patient's id; None until the device is paired with someone.
    sa.Column("patient_id", sa.String(64)),
    sa.Column("organization", sa.String(100)),
    sa.Column("status", sa.String(16), nullable=False),  # active | revoked
    # The device's OAuth client (HTTPS); its secret's digest lives with the client.
    sa.Column("client_id", sa.String(64)),
    # The MQTT password, only as Mosquitto's $7$ PBKDF2-SHA512 hash; the username is the device id.
    sa.Column("mqtt_hash", sa.String(200)),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("revoked", sa.String(32)),
    sa.Column("last_seen", sa.String(32)),
)
sa.Index("ix_device_registry_patient_id", device_registry.c.patient_id)
sa.Index("ix_device_registry_serial", device_registry.c.serial)

# Every frame taken from a device, once: the unique (device, seq) is what makes a retransmission a duplicate.
device_frame = sa.Table(
    "device_frame",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("received", sa.String(32), nullable=False),
    sa.Column("device_time", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # accepted | partial | rejected
    # The result as JSON: observations stored, readings refused with reasons, clock correction.
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
)
sa.Index("ix_device_frame_received", device_frame.c.received)

# Short-lived codes (shown as a QR code) a patient enters in the app to pair an unowned device with himself.
device_pairing = sa.Table(
    "device_pairing",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("used", sa.String(32)),
)
sa.Index("ix_device_pairing_device_id", device_pairing.c.device_id)
