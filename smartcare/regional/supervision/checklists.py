"""The supervision checklists and licence rules (data/checklists.yaml), loaded once with strict validation."""

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA = Path(__file__).resolve().parent / "data" / "checklists.yaml"
KINDS = ("hospital", "clinic", "water_supply", "school", "public_venue")
SEVERITIES = ("minor", "major", "critical")
# Findings of these severities breach a legal duty: they are recorded as violations with their legal basis.
VIOLATION_SEVERITIES = frozenset({"major", "critical"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Validity(_Strict):
    """How long a licence (or its verification) lasts for a facility of at least min_beds beds."""

    min_beds: int = Field(ge=0, le=100_000)
    years: int = Field(ge=1, le=10)


class LicenceKind(_Strict):
    """A licence a facility kind needs, with its validity rules and their source."""

    en: str = Field(min_length=1, max_length=120)
    zh: str = Field(min_length=1, max_length=60)
    validity: tuple[Validity, ...] = Field(min_length=1)
    source: str = Field(min_length=1, max_length=400)
    checked: Literal["recalled", "read"]

    @model_validator(mode="after")
    def _rules_cover_every_facility(self) -> "LicenceKind":
        beds = [rule.min_beds for rule in self.validity]
        if beds != sorted(beds, reverse=True) or len(set(beds)) != len(beds) or beds[-1] != 0:
            raise ValueError("validity rules go from the most beds down to min_beds 0, each threshold once")
        return self

    def years_for(self, beds: int | None) -> int:
        """The validity in years for a facility with beds (none known counts as 0)."""
        return next(rule.years for rule in self.validity if (beds or 0) >= rule.min_beds)


class Item(_Strict):
    """One checklist item: what the inspector checks, how serious a failure is, and its source."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{2,39}$")
    en: str = Field(min_length=1, max_length=200)
    zh: str = Field(min_length=1, max_length=100)
    severity: Literal["minor", "major", "critical"]
    rectify_days: int = Field(ge=1, le=180)
    source: str = Field(min_length=1, max_length=300)
    checked: Literal["recalled", "read"]

    def text(self, lang: str) -> str:
        """The item in lang ("zh..." for Chinese, else English)."""
        return self.zh if lang.startswith("zh") else self.en


class Kind(_Strict):
    """A kind of supervised facility: its names, its licence (None for schools) and its checklist."""

    en: str = Field(min_length=1, max_length=120)
    zh: str = Field(min_length=1, max_length=60)
    licence: str | None
    basis: str = Field(min_length=1, max_length=300)
    items: tuple[Item, ...] = Field(min_length=8, max_length=12)

    def name(self, lang: str) -> str:
        """The kind's name in lang."""
        return self.zh if lang.startswith("zh") else self.en

    def item(self, item_id: str) -> Item | None:
        """The checklist item of that id, if this kind has one."""
        return next((item for item in self.items if item.id == item_id), None)


class Checklists(_Strict):
    """Every facility kind's checklist and every licence kind, checked for consistency."""

    version: Literal[1]
    licences: dict[str, LicenceKind]
    kinds: dict[str, Kind]

    @model_validator(mode="after")
    def _consistent(self) -> "Checklists":
        if tuple(self.kinds) != KINDS:
            raise ValueError(f"the kinds must be exactly {', '.join(KINDS)}, in that order")
        ids = [item.id for kind in self.kinds.values() for item in kind.items]
        if len(ids) != len(set(ids)):
            raise ValueError("checklist item ids must be unique across all kinds")
        for name, kind in self.kinds.items():
            if kind.licence is not None and kind.licence not in self.licences:
                raise ValueError(f"kind {name} needs licence {kind.licence}, which is not defined")
        unused = set(self.licences) - {kind.licence for kind in self.kinds.values()}
        if unused:
            raise ValueError(f"licences no kind needs: {', '.join(sorted(unused))}")
        return self

    def kind(self, name: str) -> Kind:
        """The facility kind of that name (KeyError for an unknown one)."""
        return self.kinds[name]

    def licence_of(self, kind: str) -> LicenceKind | None:
        """The licence a facility of kind needs, or None."""
        needed = self.kinds[kind].licence
        return self.licences[needed] if needed else None


def load(path: Path = DATA) -> Checklists:
    """Read and validate a checklist file (pydantic.ValidationError for anything unknown or inconsistent)."""
    return Checklists.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def checklists() -> Checklists:
    """The checklists the region works to, read once."""
    return load()
