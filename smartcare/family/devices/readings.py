"""Device readings as FHIR Observations: unit conversion, plausibility limits and the vital-signs resources.

Pure functions over the checked payload models (payload.py) and data/reading_types.yaml; no database here.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from smartcare.family.devices.payload import reading_types

READING_SID = "https://smartcare.example/fhir/sid/device-reading"
CLOCK_TAG_SYSTEM = "https://smartcare.example/fhir/CodeSystem/device-flag"
CLOCK_TAG = "device-clock-corrected"
_DECIMALS = {"mm[Hg]": 0, "/min": 0, "%": 0, "mmol/L": 1, "kg": 2, "Cel": 1}


class Implausible(ValueError):
    """A reading outside its plausibility limits; the message names the limit."""


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a frame's readings go in time: the effective time, and the correction made to a wrong device clock."""

    effective: datetime
    corrected_by: int | None  # seconds the device clock was off (positive: ahead), None when it was right


def _spec(kind: str) -> dict[str, Any]:
    return reading_types()["types"][kind]


def _system(name: str) -> str:
    return reading_types()["systems"][name]


def to_stored_unit(kind: str, value: float, unit: str | None) -> float:
    """The value in the type's stored unit (value * factor + offset), rounded as the unit is charted."""
    spec = _spec(kind)
    conversion = spec.get("units", {}).get(unit or spec.get("unit"), {"factor": 1})
    converted = value * conversion["factor"] + conversion.get("offset", 0)
    decimals = _DECIMALS.get(spec.get("unit", ""), 2)
    return round(converted, decimals) if decimals else float(round(converted))


def _check(kind: str, field: str, value: float) -> None:
    limit = _spec(kind).get("limits", {}).get(field)
    if limit and not limit["low"] <= value <= limit["high"]:
        what = kind if field == "value" else f"{kind} {field}"
        raise Implausible(f"{what} {value:g} {_spec(kind).get('unit', '')} is outside the plausible "
                          f"{limit['low']}-{limit['high']}".rstrip())


def stored_values(reading: BaseModel) -> dict[str, Any]:
    """The reading's values in stored units, checked against the plausibility limits (Implausible if not)."""
    kind = reading.type  # type: ignore[attr-defined]
    if kind == "blood-pressure":
        systolic = to_stored_unit(kind, reading.systolic, reading.unit)  # type: ignore[attr-defined]
        diastolic = to_stored_unit(kind, reading.diastolic, reading.unit)  # type: ignore[attr-defined]
        _check(kind, "systolic", systolic)
        _check(kind, "diastolic", diastolic)
        if _spec(kind)["limits"].get("diastolic_below_systolic") and diastolic >= systolic:
            raise Implausible(f"blood-pressure diastolic {diastolic:g} must be below systolic {systolic:g}")
        return {"systolic": systolic, "diastolic": diastolic}
    if kind == "fall":
        return {"value": True}
    if kind == "pillbox-open":
        return {"value": reading.compartment or "opened"}  # type: ignore[attr-defined]
    if kind in ("steps", "motion"):
        value: float = reading.value  # type: ignore[attr-defined]
    else:
        value = to_stored_unit(kind, reading.value, reading.unit)  # type: ignore[attr-defined]
    _check(kind, "value", value)
    return {"value": value}


def place(device_time: datetime, received: datetime, *, live: bool = True) -> Placed:
    """The time a frame's readings are placed at: the device's, unless its clock is too far ahead (or, for a live
    frame, too far behind) the time of receipt; then the receipt time, in the device's own offset."""
    clock = reading_types()["clock"]
    off = (device_time - received).total_seconds()
    if off > clock["max_ahead_seconds"] or (live and -off > clock["max_behind_seconds"]):
        return Placed(received.astimezone(device_time.tzinfo), round(off))
    return Placed(device_time, None)


def _quantity(kind: str, value: float) -> dict[str, Any]:
    unit = _spec(kind)["unit"]
    return {"value": value, "unit": unit, "system": _system("ucum"), "code": unit}


def _code(kind: str) -> dict[str, Any]:
    spec = _spec(kind)
    codings = [{"system": _system(spec["code"]["system"]), "code": spec["code"]["code"],
                "display": spec["code"]["display"]}]
    if spec.get("also"):
        codings.append({"system": _system(spec["also"]["system"]), "code": spec["also"]["code"],
                        "display": spec["also"]["display"]})
    return {"coding": codings, "text": spec["code"]["display"]}


def _value(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    spec = _spec(kind)
    if kind == "blood-pressure":
        return {"component": [
            {"code": {"coding": [{"system": _system("loinc"), "code": part["code"], "display": part["display"]}],
                      "text": part["display"]},
             "valueQuantity": _quantity(kind, values[name])}
            for name, part in spec["components"].items()]}
    if spec.get("value") == "boolean":
        return {"valueBoolean": True}
    if spec.get("value") == "label":
        return {"valueString": values["value"]}
    if kind == "motion":
        return {"valueInteger": int(values["value"])}
    if kind == "steps":
        return {"valueQuantity": {**_quantity(kind, int(values["value"]))}}
    return {"valueQuantity": _quantity(kind, values["value"])}


def observation(kind: str, values: dict[str, Any], *, patient_id: str, device_id: str, seq: int, index: int,
                placed: Placed, received: str) -> dict[str, Any]:
    """One accepted reading as a FHIR Observation (vital-signs profile for the vital types)."""
    spec = _spec(kind)
    category = spec["category"]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": READING_SID, "value": f"{device_id}:{seq}:{index}"}],
        "status": "final",
        "category": [{"coding": [{"system": _system("category"), "code": category,
                                  "display": "Vital Signs" if category == "vital-signs" else "Activity"}]}],
        "code": _code(kind),
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": placed.effective.isoformat(timespec="seconds"),
        "issued": received,
        "device": {"reference": f"Device/{device_id}"},
        **_value(kind, values),
    }
    meta: dict[str, Any] = {}
    if category == "vital-signs":
        meta["profile"] = [_system("vital_signs_profile")]
    if placed.corrected_by is not None:
        meta["tag"] = [{"system": CLOCK_TAG_SYSTEM, "code": CLOCK_TAG, "display": "Device clock corrected"}]
        resource["note"] = [{"text": f"device clock corrected by {placed.corrected_by} s"}]
    if meta:
        resource = {"resourceType": "Observation", "meta": meta, **{k: v for k, v in resource.items()
                                                                     if k != "resourceType"}}
    return resource
