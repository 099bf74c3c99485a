"""The scopes a share link may have and the FHIR resource types each one reaches (data/scopes.yaml)."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.platform.security.scopes import ResourceScope, ScopeSet

DATA = Path(__file__).resolve().parent / "data" / "scopes.yaml"
_KEYS = frozenset({"key", "title_en", "title_zh", "types", "source", "checked"})


class ScopeDataError(ValueError):
    """data/scopes.yaml is not what the loader expects."""


@dataclass(frozen=True, slots=True)
class ShareScope:
    """One scope: its key, its name in each language and the resource types it reaches."""

    key: str
    title_en: str
    title_zh: str
    types: tuple[str, ...]

    def title(self, locale: str) -> str:
        """The scope's name in locale (English unless Chinese)."""
        return self.title_zh if locale == "zh-Hans" else self.title_en

    def scope_set(self) -> ScopeSet:
        """SMART scopes for the recipient: read and search, patient context, the scope's types only."""
        return ScopeSet(tuple(ResourceScope("patient", t, frozenset("rs")) for t in self.types))


def parse_scopes(data: Any) -> dict[str, ShareScope]:
    """The scopes of a loaded scopes.yaml by key; ScopeDataError says what is wrong."""
    items = data.get("scopes") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ScopeDataError("scopes.yaml needs a non-empty list 'scopes'")
    found: dict[str, ShareScope] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != _KEYS:
            raise ScopeDataError(f"scope {index} must have exactly the keys {sorted(_KEYS)}")
        types = item["types"]
        if not isinstance(types, list) or "Patient" not in types or not all(isinstance(t, str) for t in types):
            raise ScopeDataError(f"scope {item['key']!r} must list its types, Patient among them")
        if item["key"] in found:
            raise ScopeDataError(f"scope {item['key']!r} is listed twice")
        found[item["key"]] = ShareScope(item["key"], item["title_en"], item["title_zh"], tuple(types))
    return found


@cache
def share_scopes() -> dict[str, ShareScope]:
    """The scopes of data/scopes.yaml by key, in the order the file lists them."""
    return parse_scopes(yaml.safe_load(DATA.read_text(encoding="utf-8")))
