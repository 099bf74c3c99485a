"""The documented payload a device sends (data/payload-schema.json), checked at the edge with a reason for every refusal.

A frame is `{"seq": 42, "time": "2026-11-26T08:00:00+08:00", "readings": [...]}` (and optionally the patient it
is for). The frame's envelope must be right as a whole; each reading is checked on its own, so one bad reading
is refused with its reason while the frame's good readings are still stored.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, field_validator

DATA = Path(__file__).parent / "data"
# An instant with its UTC offset: a device's local time without one cannot be placed.
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
MAX_SEQ = 2**53 - 1  # the largest integer every JSON parser reads exactly


@cache
def reading_types() -> dict[str, Any]:
    """The reading types, their codes, units and plausibility limits (data/reading_types.yaml)."""
    return yaml.safe_load((DATA / "reading_types.yaml").read_text(encoding="utf-8"))


def limits() -> dict[str, Any]:
    """The payload's size limits (bytes, readings per frame, label lengths)."""
    return reading_types()["payload"]


class FrameInvalid(ValueError):
    """A frame that cannot be taken at all; the reasons are safe to send back to the device."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


_STRICT = ConfigDict(extra="forbid", strict=True)
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _units(kind: str) -> Any:
    return Literal[tuple(reading_types()["types"][kind]["units"])]  # type: ignore[valid-type]


class BloodPressure(BaseModel):
    """A blood pressure: systolic and diastolic."""

    model_config = _STRICT
    type: Literal["blood-pressure"]
    systolic: Number
    diastolic: Number
    unit: _units("blood-pressure")


def _quantity_model(kind: str) -> type[BaseModel]:
    """A reading of one number in one of the type's accepted units."""
    fields: dict[str, Any] = {"type": (Literal[kind], ...), "value": (Number, ...), "unit": (_units(kind), ...)}
    return create_model(kind.title().replace("-", ""), __config__=_STRICT, **fields)


HeartRate = _quantity_model("heart-rate")
Spo2 = _quantity_model("spo2")
RespiratoryRate = _quantity_model("respiratory-rate")
Glucose = _quantity_model("glucose")
BodyWeight = _quantity_model("body-weight")
BodyTemperature = _quantity_model("body-temperature")


class Steps(BaseModel):
    """Steps counted since the previous reading."""

    model_config = _STRICT
    type: Literal["steps"]
    value: int = Field(ge=0)
    unit: Literal["{steps}"] | None = None


class Fall(BaseModel):
    """A fall the detector noticed."""

    model_config = _STRICT
    type: Literal["fall"]
    value: Literal[True] = True


class Motion(BaseModel):
    """Movements a motion sensor counted."""

    model_config = _STRICT
    type: Literal["motion"]
    value: int = Field(ge=0)


class PillboxOpen(BaseModel):
    """A pill box compartment was opened."""

    model_config = _STRICT
    type: Literal["pillbox-open"]
    compartment: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 ._:-]+$")


Reading = Annotated[
    BloodPressure | HeartRate | Spo2 | RespiratoryRate | Glucose | BodyWeight | BodyTemperature  # type: ignore[valid-type]
    | Steps | Fall | Motion | PillboxOpen,
    Field(discriminator="type"),
]
_READING = TypeAdapter(Reading)


class Envelope(BaseModel):
    """A frame's envelope: sequence number, device time, optionally the patient, and the readings (each checked
    on its own)."""

    model_config = _STRICT
    seq: int = Field(ge=0, le=MAX_SEQ)
    time: str = Field(max_length=40, pattern=TIME_PATTERN)
    patient: str | None = Field(default=None, min_length=1, max_length=72, pattern=r"^(Patient/)?[A-Za-z0-9\-.]+$")
    readings: list[Any] = Field(min_length=1, max_length=100)

    @field_validator("time")
    @classmethod
    def _real_instant(cls, text: str) -> str:
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("is not a real date and time") from exc
        return text

    @property
    def device_time(self) -> datetime:
        """The device's time, with its offset."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00"))


class Frame(Envelope):
    """A whole frame with every reading valid: the model the JSON Schema document describes."""

    readings: list[Reading] = Field(min_length=1, max_length=100)  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    """A frame whose envelope is valid: its readings, each a model or the reason it was refused."""

    envelope: Envelope
    readings: list[BaseModel | str]


def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "frame"


def _reason(error: dict[str, Any], *, reading: bool) -> str:
    """One pydantic error in words a device maker understands."""
    loc = tuple(error["loc"])
    kind = error["type"]
    if reading and kind == "union_tag_invalid":
        return f"unknown reading type {str(error['input'].get('type'))[:40]!r}; expected one of {', '.join(_types())}"
    if reading and kind == "union_tag_not_found":
        return "the reading has no 'type'"
    if reading and len(loc) > 1:
        loc = loc[1:]  # drop the discriminator's tag from the location
    where = _where(loc)
    if kind == "missing":
        return f"'{where}' is missing"
    if kind == "extra_forbidden":
        return f"'{where}' is not part of the payload schema"
    if kind == "literal_error" and loc and loc[-1] == "unit":
        return f"unit {str(error['input'])[:20]!r} is not accepted; use {error['ctx']['expected']}"
    if kind in ("too_long", "too_short") and loc == ("readings",):
        return f"a frame carries 1 to {limits()['max_readings']} readings"
    if kind == "string_pattern_mismatch" and loc == ("time",):
        return "'time' must be an ISO 8601 date and time with its UTC offset, e.g. 2026-11-26T08:00:00+08:00"
    return f"'{where}': {error['msg']}"


def _types() -> list[str]:
    return list(reading_types()["types"])


def parse_reading(raw: Any) -> BaseModel:
    """One reading as its model; ValueError with the reason when it does not fit the schema."""
    if not isinstance(raw, dict):
        raise ValueError("a reading must be a JSON object")
    try:
        return _READING.validate_python(raw)
    except ValidationError as exc:
        raise ValueError("; ".join(_reason(e, reading=True) for e in exc.errors()[:3])) from None


def decode(payload: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The frame's JSON object; FrameInvalid when it is too large or no JSON object."""
    if isinstance(payload, dict):
        return payload
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > limits()["max_bytes"]:
        raise FrameInvalid([f"the payload is over {limits()['max_bytes']} bytes"])
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameInvalid(["the payload is not JSON (UTF-8)"]) from None
    if not isinstance(data, dict):
        raise FrameInvalid(["the payload must be a JSON object with seq, time and readings"])
    return data


def parse_frame(payload: bytes | str | dict[str, Any]) -> ParsedFrame:
    """Check a frame: FrameInvalid (all reasons) when its envelope is wrong, else each reading or its reason."""
    data = decode(payload)
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise FrameInvalid([_reason(e, reading=False) for e in exc.errors()[:5]]) from None
    readings: list[BaseModel | str] = []
    for raw in envelope.readings:
        try:
            readings.append(parse_reading(raw))
        except ValueError as exc:
            readings.append(str(exc))
    return ParsedFrame(envelope, readings)


def schema_document() -> dict[str, Any]:
    """The payload's JSON Schema document for device makers (data/payload-schema.json)."""
    return orjson.loads((DATA / "payload-schema.json").read_bytes())
