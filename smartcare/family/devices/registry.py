"""The device register: FHIR Devices with their owner and pairing history, per-device credentials, revocation and
pairing by QR code.

A device is a FHIR Device (serial, kind, model, owner Patient, status); every change of owner or status is a
new version of it, and the pairing-history extension lists who had it when. Its credentials are an OAuth client
of kind device (HTTPS gateways, scope limited to creating Observations) and an MQTT username (the device id) and
random password kept only as a Mosquitto `$7$` hash. Revoking a device ends both at once.
"""

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import segno
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from smartcare.family.devices import credentials
from smartcare.family.devices.tables import device_pairing, device_registry
from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security import clients
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.settings import get_settings

SERIAL_SID = "https://smartcare.example/fhir/sid/device-serial"
PAIRING_EXTENSION = "https://smartcare.example/fhir/StructureDefinition/device-pairing"
DEVICE_SCOPES = "system/Observation.c"
PAIRING_MINUTES = 10
# No 0/O, 1/I/L: a code read off a screen or a label is typed without mix-ups.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8
_TEXT = re.compile(r"[\w .,:/()+\-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class DeviceError(ValueError):
    """A device request that cannot be carried out; the message is safe to show.

    str(exc) is the English sentence; `message` is its catalog msgid with `values` apart (filled in with %), so a page
    says it in the visitor's language, and `field` names the form field it is about, if any."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, **values: str) -> None:
        super().__init__(message % values if values else message)
        self.message, self.values, self.field = message, values, field


class DeviceNotFound(DeviceError):
    """No such device (or not one the caller may change)."""

    status = 404


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A registered device as the register lists it."""

    device_id: str
    kind: str
    serial: str | None
    patient_id: str | None
    organization: str | None
    status: str
    client_id: str | None
    created: str
    last_seen: str | None

    @property
    def topic(self) -> str:
        """The MQTT topic it publishes readings on."""
        return credentials.readings_topic(self.device_id)


@dataclass(frozen=True, slots=True)
class Registered:
    """A newly registered device and its credentials (the secrets are shown this once and never stored)."""

    device: DeviceInfo
    mqtt_password: str
    client_id: str
    client_secret: str

    def as_json(self) -> dict[str, Any]:
        """What `smartcare devices add` prints."""
        d = self.device
        return {"id": d.device_id, "kind": d.kind, "patient": d.patient_id, "topic": d.topic,
                "error_topic": credentials.errors_topic(d.device_id), "mqtt_username": d.device_id,
                "mqtt_password": self.mqtt_password, "client_id": self.client_id,
                "client_secret": self.client_secret}


@cache
def device_kinds() -> dict[str, Any]:
    """The kinds of device and how each is coded (data/device_kinds.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "device_kinds.yaml").read_text(encoding="utf-8"))


def _info(row: sa.Row) -> DeviceInfo:
    return DeviceInfo(row.device_id, row.kind, row.serial, row.patient_id, row.organization, row.status,
                      row.client_id, row.created, row.last_seen)


_TEXT_RULES = {
    "serial": _("The serial number is 1-64 letters, digits, spaces or . , : / ( ) + -"),
    "model": _("The model is 1-64 letters, digits, spaces or . , : / ( ) + -"),
    "manufacturer": _("The maker is 1-64 letters, digits, spaces or . , : / ( ) + -"),
}
_NOT_AN_ID = {"Patient": _("'%(value)s' is not a Patient id"),
              "Organization": _("'%(value)s' is not an Organization id")}


def _text(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    if not _TEXT.fullmatch(value.strip()):
        raise DeviceError(_TEXT_RULES[field], field=field)
    return value.strip()


def _plain_id(value: str, res_type: str) -> str:
    plain = (value or "").strip().removeprefix(f"{res_type}/")
    if not _ID.fullmatch(plain):
        raise DeviceError(_NOT_AN_ID[res_type], field=res_type.lower(), value=(value or "")[:80])
    return plain


def _device_type(kind: str) -> dict[str, Any]:
    data = device_kinds()
    spec = data["kinds"][kind]
    codings = [{"system": data["system"], "code": kind, "display": spec["display"]}]
    if spec.get("mdc"):
        codings.append({"system": data["mdc_system"], "code": spec["mdc"]["code"], "display": spec["mdc"]["display"]})
    return {"coding": codings, "text": spec["display"]}


def _pairing(patient_id: str, start: str, method: str) -> dict[str, Any]:
    return {"url": PAIRING_EXTENSION, "extension": [
        {"url": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}},
        {"url": "start", "valueDateTime": start},
        {"url": "method", "valueCode": method},
    ]}


def _check_patient(conn: Connection, patient_id: str) -> None:
    try:
        store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id)
    except FhirError as exc:
        raise DeviceError(_("There is no patient %(patient)s"), field="patient", patient=patient_id) from exc


def _row(conn: Connection, device_id: str) -> sa.Row:
    row = conn.execute(sa.select(device_registry).where(device_registry.c.device_id == (device_id or "")[:64])).first()
    if row is None:
        raise DeviceNotFound(_("There is no device %(device)s"), device=(device_id or "")[:64])
    return row


def register_device(conn: Connection, *, ctx: AccessContext, kind: str, patient_id: str | None = None,
                    serial: str | None = None, model: str | None = None, manufacturer: str | None = None,
                    organization: str | None = None) -> Registered:
    """Register a device (owned by patient_id, or unowned until paired) and issue its HTTPS and MQTT credentials."""
    if kind not in device_kinds()["kinds"]:
        raise DeviceError(_("The kind of device is one of %(kinds)s"), field="kind",
                          kinds=", ".join(device_kinds()["kinds"]))
    serial, model, manufacturer = _text(serial, "serial"), _text(model, "model"), _text(manufacturer, "manufacturer")
    if patient_id is not None:
        patient_id = _plain_id(patient_id, "Patient")
        _check_patient(conn, patient_id)
    organization = f"Organization/{_plain_id(organization, 'Organization')}" if organization else None
    if serial and conn.execute(sa.select(device_registry.c.device_id).where(
            device_registry.c.serial == serial, device_registry.c.kind == kind,
            device_registry.c.status == "active")).first():
        raise DeviceError(_("An active %(kind)s with serial number %(serial)s is already registered"), field="serial",
                          kind=kind, serial=serial)
    device_id = f"dev-{uuid.uuid4().hex[:20]}"
    now = clock.format_instant(clock.now())
    device: dict[str, Any] = {"resourceType": "Device", "status": "active", "type": _device_type(kind)}
    if serial:
        device["identifier"] = [{"system": SERIAL_SID, "value": serial}]
        device["serialNumber"] = serial
    if manufacturer:
        device["manufacturer"] = manufacturer
    if model:
        device["modelNumber"] = model
    if organization:
        device["owner"] = {"reference": organization}
    if patient_id:
        device["patient"] = {"reference": f"Patient/{patient_id}"}
        device["extension"] = [_pairing(patient_id, now, "registration")]
    store.write_batch(conn, SYSTEM, [store.Write("PUT", "Device", device_id, {**device, "id": device_id})])
    client, secret = clients.register_client(
        conn, name=f"Device {device_id}", kind="device", scopes=DEVICE_SCOPES, fhir_ref=f"Device/{device_id}",
        organization=organization)
    password = credentials.new_password()
    conn.execute(device_registry.insert().values(
        device_id=device_id, kind=kind, serial=serial, patient_id=patient_id, organization=organization,
        status="active", client_id=client.client_id, mqtt_hash=credentials.mosquitto_hash(password),
        created=now, revoked=None, last_seen=None))
    audit.record(conn, ctx=ctx, action="C", subtype="security-config", entities=[f"Device/{device_id}"],
                 patient=f"Patient/{patient_id}" if patient_id else None)
    return Registered(_info(_row(conn, device_id)), password, client.client_id, secret or "")


def get_device(conn: Connection, *, device_id: str) -> DeviceInfo:
    """The registered device; DeviceNotFound if there is none."""
    return _info(_row(conn, device_id))


def list_devices(conn: Connection, *, patient_id: str | None = None, organization: str | None = None,
                 limit: int = 500) -> list[DeviceInfo]:
    """Registered devices, newest first (of one patient or organisation when given)."""
    query = sa.select(device_registry).order_by(device_registry.c.created.desc()).limit(min(limit, 5000))
    if patient_id:
        query = query.where(device_registry.c.patient_id == patient_id)
    if organization:
        query = query.where(device_registry.c.organization == organization)
    return [_info(r) for r in conn.execute(query)]


def _update_device(conn: Connection, device_id: str, change: Any) -> dict[str, Any]:
    current = store.read(conn, SYSTEM, res_type="Device", res_id=device_id)
    resource = change(dict(current.resource))
    store.write_batch(conn, SYSTEM, [store.Write("PUT", "Device", device_id, resource, current.version)])
    return resource


def revoke_device(conn: Connection, *, ctx: AccessContext, device_id: str) -> DeviceInfo:
    """Revoke a device: its MQTT login and OAuth client stop working, and its later frames are refused."""
    row = _row(conn, device_id)
    if row.status == "revoked":
        return _info(row)
    now = clock.format_instant(clock.now())
    conn.execute(device_registry.update().where(device_registry.c.device_id == row.device_id)
                 .values(status="revoked", revoked=now))
    if row.client_id:
        clients.set_disabled(conn, client_id=row.client_id, disabled=True)

    def inactive(resource: dict[str, Any]) -> dict[str, Any]:
        resource["status"] = "inactive"
        return resource

    _update_device(conn, row.device_id, inactive)
    audit.record(conn, ctx=ctx, action="D", subtype="security-config", entities=[f"Device/{row.device_id}"],
                 patient=f"Patient/{row.patient_id}" if row.patient_id else None)
    return _info(_row(conn, row.device_id))


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normal_code(code: str) -> str:
    """A pairing code as typed or scanned, without spaces and dashes, in capitals."""
    return re.sub(r"[\s\-]", "", (code or "")[:32]).upper()


def looks_like_code(code: str) -> bool:
    """True when a normalised code has the length and letters of the codes pairing_code makes."""
    return len(code) == _CODE_LENGTH and all(c in _CODE_ALPHABET for c in code)


@dataclass(frozen=True, slots=True)
class PairingCode:
    """A short-lived code pairing a device with whoever enters it, and its QR code."""

    code: str
    expires: str
    qr_svg: str
    url: str  # what the QR code holds: the app's pairing page with the code filled in

    @property
    def shown(self) -> str:
        """The code as printed for people: two groups of four."""
        return f"{self.code[:4]}-{self.code[4:]}"


def pairing_code(conn: Connection, *, ctx: AccessContext, device_id: str) -> PairingCode:
    """A fresh pairing code (valid PAIRING_MINUTES) for an active device that has no owner yet."""
    row = _row(conn, device_id)
    if row.status != "active":
        raise DeviceError(_("A revoked device cannot be paired"))
    if row.patient_id:
        raise DeviceError(_("This device already belongs to a patient"))
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    expires = clock.format_instant(clock.now() + timedelta(minutes=PAIRING_MINUTES))
    conn.execute(device_pairing.insert().values(code_hash=_code_hash(code), device_id=row.device_id,
                                                expires=expires, used=None))
    audit.record(conn, ctx=ctx, action="E", subtype="security-config", entities=[f"Device/{row.device_id}"])
    # A phone's camera opens a link it scans: the app's devices page, with the code in the form, waiting for the
    # patient to confirm (the pairing itself is a POST, never the GET of a scanned link).
    url = f"{get_settings().public_base_url}/app/devices?code={code}"
    qr = segno.make(url, error="m")
    return PairingCode(code, expires, qr.svg_inline(scale=4, title="SmartCare device pairing code"), url)


def pair_device(conn: Connection, *, ctx: AccessContext, code: str, patient_id: str) -> DeviceInfo:
    """Attach the unowned device a pairing code stands for to patient_id (the patient scanning it)."""
    patient_id = _plain_id(patient_id, "Patient")
    normal = normal_code(code)
    now = clock.format_instant(clock.now())
    found = conn.execute(sa.select(device_pairing).where(device_pairing.c.code_hash == _code_hash(normal))).first()
    if found is None or found.used or found.expires <= now:
        raise DeviceError(_("This pairing code is wrong or has expired; ask for a new one"))
    row = _row(conn, found.device_id)
    if row.status != "active" or row.patient_id:
        raise DeviceError(_("This device can no longer be paired"))
    _check_patient(conn, patient_id)
    conn.execute(device_pairing.update().where(device_pairing.c.code_hash == found.code_hash).values(used=now))
    conn.execute(device_registry.update().where(device_registry.c.device_id == row.device_id)
                 .values(patient_id=patient_id))

    def owned(resource: dict[str, Any]) -> dict[str, Any]:
        resource["patient"] = {"reference": f"Patient/{patient_id}"}
        resource["extension"] = [*resource.get("extension", []), _pairing(patient_id, now, "qr-code")]
        return resource

    _update_device(conn, row.device_id, owned)
    audit.record(conn, ctx=ctx, action="U", subtype="update", entities=[f"Device/{row.device_id}"],
                 patient=f"Patient/{patient_id}")
    return _info(_row(conn, row.device_id))
