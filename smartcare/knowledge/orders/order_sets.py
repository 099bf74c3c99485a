"""Order sets per condition: the tests, imaging, procedures and medicines a doctor usually orders together.

Read once from `data/order_sets.yaml`. Every order key is resolved against the catalogue while loading, so a
set can never offer an order that does not exist; medication keys name formulary drugs.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.orders.catalogue import Order, OrderCatalogueError, find_order

DATA_DIR = Path(__file__).parent / "data"
FREQUENCIES = ("QD", "BID", "TID", "QID", "QN", "Q6H", "Q8H", "Q12H", "PRN", "ONCE")
ROUTES = ("oral", "inhaled", "sublingual", "subcutaneous", "intramuscular", "intravenous")
SETTINGS = ("outpatient", "inpatient", "emergency")
DRUG_KEY = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_ISO_DURATION = re.compile(r"P[1-9][0-9]*[DWMY]")
_ICD10_PREFIX = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9]{1,2})?")


@dataclass(frozen=True)
class MedicationSuggestion:
    """A suggested medicine: formulary drug key, dose in a UCUM unit, frequency code, route and a note."""

    drug: str
    dose: float
    unit: str
    frequency: str
    route: str
    note_en: str
    note_zh: str


@dataclass(frozen=True)
class FollowUp:
    """When to see the patient again (ISO 8601 duration, e.g. P3M) and why."""

    interval: str
    note_en: str
    note_zh: str


@dataclass(frozen=True)
class OrderSet:
    """A named bundle of orders for the diagnoses whose ICD-10 codes start with one of `icd10_prefixes`."""

    key: str
    name_en: str
    name_zh: str
    icd10_prefixes: tuple[str, ...]
    setting: str
    orders: tuple[Order, ...]
    medications: tuple[MedicationSuggestion, ...]
    follow_up: FollowUp | None
    source: str


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise OrderCatalogueError(f"order set {key}: {message}")


def _medication(key: str, item: dict[str, Any]) -> MedicationSuggestion:
    _check(bool(DRUG_KEY.fullmatch(item["drug"])), key, f"drug key {item['drug']!r} is not a formulary key")
    _check(item["frequency"] in FREQUENCIES, key, f"frequency {item['frequency']!r} is not one of {FREQUENCIES}")
    _check(item["route"] in ROUTES, key, f"route {item['route']!r} is not one of {ROUTES}")
    _check(item["dose"] > 0, key, f"dose of {item['drug']} must be positive")
    return MedicationSuggestion(item["drug"], float(item["dose"]), item["unit"], item["frequency"], item["route"],
                                item["note_en"], item["note_zh"])


def _order_set(item: dict[str, Any]) -> OrderSet:
    key = item["key"]
    prefixes = tuple(item["icd10"])
    _check(all(_ICD10_PREFIX.fullmatch(p) for p in prefixes), key, f"bad ICD-10 prefix in {prefixes}")
    _check(item["setting"] in SETTINGS, key, f"setting {item['setting']!r} is not one of {SETTINGS}")
    orders = []
    for order_key in item["orders"]:
        order = find_order(order_key)
        _check(order is not None, key, f"order {order_key!r} is not in the catalogue")
        orders.append(order)
    follow = item["follow_up"]
    if follow is not None:
        _check(bool(_ISO_DURATION.fullmatch(follow["interval"])), key, f"interval {follow['interval']!r}")
    return OrderSet(
        key=key, name_en=item["name_en"], name_zh=item["name_zh"], icd10_prefixes=prefixes,
        setting=item["setting"], orders=tuple(orders),
        medications=tuple(_medication(key, m) for m in item["medications"]),
        follow_up=None if follow is None else FollowUp(follow["interval"], follow["note_en"], follow["note_zh"]),
        source=item["source"])


@lru_cache(maxsize=1)
def _order_sets() -> tuple[OrderSet, ...]:
    with (DATA_DIR / "order_sets.yaml").open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    sets = tuple(_order_set(item) for item in data["order_sets"])
    keys = [s.key for s in sets]
    if len(keys) != len(set(keys)):
        raise OrderCatalogueError("order set keys must be unique")
    return sets


def order_sets() -> tuple[OrderSet, ...]:
    """Every order set."""
    return _order_sets()


def order_set(key: str) -> OrderSet | None:
    """The order set with this key, if any."""
    return next((s for s in _order_sets() if s.key == key), None)


def _normalised_code(code: str) -> str:
    text = code.strip().upper()
    if "." not in text and len(text) > 3:
        text = f"{text[:3]}.{text[3:]}"
    return text


def order_sets_for(icd10_code: str) -> list[OrderSet]:
    """The order sets that fit a diagnosis code ("E11.9", "e119"), the most specific prefix first."""
    if not isinstance(icd10_code, str) or len(icd10_code) > 12:
        return []
    code = _normalised_code(icd10_code)
    if not _ICD10_PREFIX.fullmatch(code):
        return []
    matches = []
    for position, candidate in enumerate(_order_sets()):
        longest = max((len(p) for p in candidate.icd10_prefixes if code.startswith(p)), default=0)
        if longest:
            matches.append((-longest, position, candidate))
    matches.sort(key=lambda m: m[:2])
    return [m[2] for m in matches]
