"""First-aid protocols for lay rescuers: one YAML file per protocol, in English and Chinese, every one sourced.

The files under data/ are read and checked once; `protocols()` gives them in emergency-first order and
`protocol(key)` one of them (None for a key that is not a protocol). Nothing here touches the store or
the network, so the patient app, triage and tests all read the same content.
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DATA_DIR = Path(__file__).resolve().parent / "data"

# The protocol keys every part of SmartCare links to (/app/first-aid/<key>); exactly these files exist.
PROTOCOL_KEYS = (
    "cpr-adult", "cpr-child", "cpr-infant", "choking", "severe-bleeding", "burns", "stroke", "heart-attack",
    "anaphylaxis", "seizure", "fracture", "heat-stroke", "hypoglycaemia", "poisoning", "drowning",
    "electric-shock", "snake-bite",
)
LOCALES = ("en", "zh-Hans")
# When to call 120: before anything else, as soon as the scene is safe, or only when the listed signs are there.
CALL_WHEN = ("first", "now", "if")
AUDIENCES = ("all", "adult", "infant")
PICTURE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAX_TEXT = 600


class FirstAidDataError(ValueError):
    """A protocol file is missing, malformed, or inconsistent; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _pick(obj: BaseModel, field: str, locale: str):
    return getattr(obj, f"{field}_zh" if locale == "zh-Hans" else f"{field}_en")


class Step(_Strict):
    """One instruction: a short imperative line, an optional explanation, an optional picture."""

    text_en: str = Field(min_length=3, max_length=160)
    text_zh: str = Field(min_length=2, max_length=120)
    detail_en: str | None = Field(default=None, max_length=_MAX_TEXT)
    detail_zh: str | None = Field(default=None, max_length=_MAX_TEXT)
    picture: str | None = None
    audience: Literal["all", "adult", "infant"] = "all"

    @field_validator("picture")
    @classmethod
    def _picture_name(cls, value: str | None) -> str | None:
        if value is not None and not PICTURE_NAME.fullmatch(value):
            raise ValueError(f"picture {value!r} is not a lowercase slug (the SVG file's name without .svg)")
        return value

    @model_validator(mode="after")
    def _details_in_both_languages(self) -> "Step":
        if (self.detail_en is None) != (self.detail_zh is None):
            raise ValueError(f"step {self.text_en!r} has a detail in one language only")
        return self

    def text(self, locale: str) -> str:
        """The instruction in locale."""
        return _pick(self, "text", locale)

    def detail(self, locale: str) -> str | None:
        """The explanation in locale, if the step has one."""
        return _pick(self, "detail", locale)


class Protocol(_Strict):
    """A first-aid protocol: recognise it, whether to call 120 first, the steps in order, what not to do, sources."""

    key: str
    rank: int = Field(ge=1, le=99)
    icon: str
    metronome: bool = False
    title_en: str = Field(min_length=3, max_length=60)
    title_zh: str = Field(min_length=2, max_length=30)
    summary_en: str = Field(min_length=3, max_length=120)
    summary_zh: str = Field(min_length=2, max_length=60)
    recognise_en: list[str] = Field(min_length=1)
    recognise_zh: list[str] = Field(min_length=1)
    call_120: Literal["first", "now", "if"]
    call_120_en: str = Field(min_length=3, max_length=_MAX_TEXT)
    call_120_zh: str = Field(min_length=2, max_length=_MAX_TEXT)
    steps: list[Step] = Field(min_length=3)
    do_not_en: list[str] = Field(min_length=1)
    do_not_zh: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=2)

    @field_validator("icon")
    @classmethod
    def _icon_name(cls, value: str) -> str:
        if not PICTURE_NAME.fullmatch(value):
            raise ValueError(f"icon {value!r} is not a lowercase slug")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Protocol":
        for field in ("recognise", "do_not"):
            english, chinese = getattr(self, f"{field}_en"), getattr(self, f"{field}_zh")
            if len(english) != len(chinese):
                raise ValueError(f"{field}_en has {len(english)} items but {field}_zh has {len(chinese)}")
            if any(not item.strip() or len(item) > _MAX_TEXT for item in [*english, *chinese]):
                raise ValueError(f"{field} has an empty or over-long item")
        if not any(step.picture for step in self.steps):
            raise ValueError("no step has a picture")
        if any(len(source) < 10 for source in self.sources):
            raise ValueError("a source is too short to say which guideline it is")
        return self

    def title(self, locale: str) -> str:
        """The protocol's name in locale."""
        return _pick(self, "title", locale)

    def summary(self, locale: str) -> str:
        """One line for the list: when this protocol is the one to open."""
        return _pick(self, "summary", locale)

    def recognise(self, locale: str) -> list[str]:
        """The signs that this is the situation, in locale."""
        return _pick(self, "recognise", locale)

    def call_advice(self, locale: str) -> str:
        """When and why to call 120, in locale."""
        return _pick(self, "call_120", locale)

    def do_not(self, locale: str) -> list[str]:
        """What never to do, in locale."""
        return _pick(self, "do_not", locale)

    def pictures(self) -> list[str]:
        """Every picture the protocol shows (its icon first), each once."""
        names = [self.icon, *(step.picture for step in self.steps if step.picture)]
        return list(dict.fromkeys(names))


def _read(path: Path) -> Protocol:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FirstAidDataError(f"{path.name}: cannot be read as YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise FirstAidDataError(f"{path.name}: must hold one protocol (a mapping)")
    try:
        found = Protocol.model_validate(raw)
    except ValidationError as exc:
        raise FirstAidDataError(f"{path.name}: {exc}") from exc
    if found.key != path.stem:
        raise FirstAidDataError(f"{path.name}: key {found.key!r} must match the file name")
    return found


def load(data_dir: Path = DATA_DIR) -> tuple[Protocol, ...]:
    """Read and check every protocol file in data_dir, in emergency-first order (rank)."""
    found = [_read(path) for path in sorted(data_dir.glob("*.yaml"))]
    keys = [p.key for p in found]
    if sorted(keys) != sorted(PROTOCOL_KEYS):
        missing = sorted(set(PROTOCOL_KEYS) - set(keys))
        extra = sorted(set(keys) - set(PROTOCOL_KEYS))
        raise FirstAidDataError(f"protocol files do not match the shared keys: missing {missing}, unexpected {extra}")
    ranks = [p.rank for p in found]
    if len(set(ranks)) != len(ranks):
        raise FirstAidDataError("two protocols share a rank; the list order must be unambiguous")
    return tuple(sorted(found, key=lambda p: p.rank))


@lru_cache(maxsize=1)
def protocols() -> tuple[Protocol, ...]:
    """All shipped protocols, most urgent first."""
    return load()


def protocol(key: str) -> Protocol | None:
    """The protocol with this key, or None (for any other text, however odd)."""
    if not isinstance(key, str) or key not in PROTOCOL_KEYS:
        return None
    return next(p for p in protocols() if p.key == key)


def pictures() -> list[str]:
    """Every picture name any protocol uses, each once."""
    return list(dict.fromkeys(name for p in protocols() for name in p.pictures()))


__all__ = [
    "AUDIENCES", "CALL_WHEN", "LOCALES", "PROTOCOL_KEYS", "FirstAidDataError", "Protocol", "Step", "load",
    "pictures", "protocol", "protocols",
]
