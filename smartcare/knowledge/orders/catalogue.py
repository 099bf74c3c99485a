"""The order catalogue of the doctor's workstation: lab tests and panels, imaging, procedures and referrals.

Read once from `data/lab.yaml`, `data/imaging.yaml` and `data/procedures.yaml`; every cross-reference
(specimen, tube, panel member, body part) is checked while loading, so a bad edit fails at start-up.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pypinyin import Style, lazy_pinyin

DATA_DIR = Path(__file__).parent / "data"
KINDS = ("lab", "panel", "imaging", "procedure", "referral")
MODALITIES = ("CR", "DX", "CT", "MR", "US", "MG", "NM", "PT", "XA", "RF")
MAX_QUERY = 100
MAX_LIMIT = 200
_HAN = re.compile(r"[\u3400-\u9fff]")
_ALNUM = re.compile(r"[a-z0-9]+")
_SEP = "|"


class OrderCatalogueError(ValueError):
    """The shipped order data is inconsistent (unknown specimen, panel member, body part ...)."""


@dataclass(frozen=True)
class ReferenceRange:
    """An adult reference interval, optionally for one sex and an age band (years, inclusive)."""

    low: float | None = None
    high: float | None = None
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class Specimen:
    """A specimen type with its SNOMED CT concept and HL7 v2 table 0487 code (blank when none fits)."""

    key: str
    name_en: str
    name_zh: str
    snomed: str
    hl7: str


@dataclass(frozen=True)
class Container:
    """A collection tube or container, named by its colour or kind."""

    key: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class LabTest:
    """A single laboratory test with its LOINC code, unit (UCUM) and adult reference ranges."""

    key: str
    loinc: str
    name_en: str
    name_zh: str
    specimen: Specimen
    container: Container
    fasting: bool
    tat_hours: float
    unit: str | None
    ranges: tuple[ReferenceRange, ...]

    @property
    def kind(self) -> str:
        """The order kind: 'lab'."""
        return "lab"

    @property
    def code(self) -> str:
        """The LOINC code."""
        return self.loinc


@dataclass(frozen=True)
class LabPanel:
    """A set of tests ordered together; `loinc` is None for locally named panels."""

    key: str
    loinc: str | None
    name_en: str
    name_zh: str
    specimen: Specimen
    container: Container
    fasting: bool
    tat_hours: float
    tests: tuple[LabTest, ...]

    @property
    def kind(self) -> str:
        """The order kind: 'panel'."""
        return "panel"

    @property
    def code(self) -> str | None:
        """The LOINC panel code, if there is one."""
        return self.loinc


@dataclass(frozen=True)
class BodyPart:
    """A DICOM Body Part Examined term with its SNOMED CT concept."""

    term: str
    snomed: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class ImagingProcedure:
    """An imaging examination: DICOM modality, body part, contrast and the patient's preparation."""

    key: str
    modality: str
    body_part: BodyPart
    contrast: bool
    loinc: str | None
    name_en: str
    name_zh: str
    preparation: str

    @property
    def kind(self) -> str:
        """The order kind: 'imaging'."""
        return "imaging"

    @property
    def code(self) -> str | None:
        """The LOINC/RSNA Playbook code, if certain."""
        return self.loinc


@dataclass(frozen=True)
class Procedure:
    """A bedside or departmental procedure (ECG, spirometry, endoscopy ...)."""

    key: str
    snomed: str | None
    name_en: str
    name_zh: str
    department: str
    preparation: str

    @property
    def kind(self) -> str:
        """The order kind: 'procedure'."""
        return "procedure"

    @property
    def code(self) -> str | None:
        """The SNOMED CT procedure code, if certain."""
        return self.snomed


@dataclass(frozen=True)
class Referral:
    """A referral to a department of the hospital directory."""

    key: str
    department: str
    name_en: str
    name_zh: str

    @property
    def kind(self) -> str:
        """The order kind: 'referral'."""
        return "referral"

    @property
    def code(self) -> None:
        """Referrals carry no code; the department key says where they go."""
        return None


Order = LabTest | LabPanel | ImagingProcedure | Procedure | Referral


@dataclass(frozen=True)
class _Catalogue:
    tests: tuple[LabTest, ...]
    panels: tuple[LabPanel, ...]
    imaging: tuple[ImagingProcedure, ...]
    procedures: tuple[Procedure, ...]
    referrals: tuple[Referral, ...]
    by_key: dict[str, Order]
    by_code: dict[str, Order]
    search_rows: tuple[tuple[Order, str, str, str], ...]


def _read(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _lookup(table: dict[str, Any], key: str, what: str, owner: str) -> Any:
    if key not in table:
        raise OrderCatalogueError(f"{owner}: unknown {what} {key!r}")
    return table[key]


def _lab(data: dict[str, Any]) -> tuple[tuple[LabTest, ...], tuple[LabPanel, ...]]:
    specimens = {k: Specimen(k, v["en"], v["zh"], v["snomed"], v["hl7"]) for k, v in data["specimens"].items()}
    containers = {k: Container(k, v["en"], v["zh"]) for k, v in data["containers"].items()}
    tests = {}
    for item in data["tests"]:
        ranges = tuple(ReferenceRange(**r) for r in item["ranges"])
        tests[item["key"]] = LabTest(
            item["key"], item["loinc"], item["en"], item["zh"],
            _lookup(specimens, item["specimen"], "specimen", item["key"]),
            _lookup(containers, item["container"], "container", item["key"]),
            item["fasting"], float(item["tat_hours"]), item["unit"], ranges)
    panels = tuple(LabPanel(
        item["key"], item["loinc"], item["en"], item["zh"],
        _lookup(specimens, item["specimen"], "specimen", item["key"]),
        _lookup(containers, item["container"], "container", item["key"]),
        item["fasting"], float(item["tat_hours"]),
        tuple(_lookup(tests, t, "panel member", item["key"]) for t in item["tests"]))
        for item in data["panels"])
    return tuple(tests.values()), panels


def _imaging(data: dict[str, Any]) -> tuple[ImagingProcedure, ...]:
    parts = {k: BodyPart(k, v["snomed"], v["en"], v["zh"]) for k, v in data["body_parts"].items()}
    result = []
    for item in data["procedures"]:
        if item["modality"] not in MODALITIES:
            raise OrderCatalogueError(f"{item['key']}: modality {item['modality']!r} is not one of {MODALITIES}")
        result.append(ImagingProcedure(
            item["key"], item["modality"], _lookup(parts, item["body_part"], "body part", item["key"]),
            item["contrast"], item["loinc"], item["en"], item["zh"], item["prep"]))
    return tuple(result)


def _pinyin(text: str, style: Style) -> str:
    return "".join(_ALNUM.findall(" ".join(lazy_pinyin(text, style=style)).lower()))


def _search_row(order: Order) -> tuple[Order, str, str, str]:
    names = _SEP + _SEP.join(filter(None, (order.key, order.code or "", order.name_en.lower()))) + _SEP
    pinyin = _SEP + _SEP.join((_pinyin(order.name_zh, Style.NORMAL), _pinyin(order.name_zh, Style.FIRST_LETTER))) + _SEP
    return order, names, _SEP + order.name_zh + _SEP, pinyin


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    tests, panels = _lab(_read("lab.yaml"))
    imaging = _imaging(_read("imaging.yaml"))
    extra = _read("procedures.yaml")
    procedures_ = tuple(Procedure(p["key"], p["snomed"], p["en"], p["zh"], p["department"], p["prep"])
                        for p in extra["procedures"])
    referrals_ = tuple(Referral(r["key"], r["department"], r["en"], r["zh"]) for r in extra["referrals"])
    orders: tuple[Order, ...] = (*tests, *panels, *imaging, *procedures_, *referrals_)
    by_key: dict[str, Order] = {}
    by_code: dict[str, Order] = {}
    for order in orders:
        if order.key in by_key:
            raise OrderCatalogueError(f"order key {order.key!r} is used twice")
        by_key[order.key] = order
        if order.code:
            if order.code in by_code:
                raise OrderCatalogueError(f"code {order.code} is used by {by_code[order.code].key} and {order.key}")
            by_code[order.code] = order
    return _Catalogue(tests, panels, imaging, procedures_, referrals_, by_key, by_code,
                      tuple(_search_row(o) for o in orders))


def lab_tests() -> tuple[LabTest, ...]:
    """Every single laboratory test."""
    return _catalogue().tests


def lab_panels() -> tuple[LabPanel, ...]:
    """Every laboratory panel (血常规, 肝功能 ...)."""
    return _catalogue().panels


def imaging_procedures() -> tuple[ImagingProcedure, ...]:
    """Every imaging examination."""
    return _catalogue().imaging


def procedures() -> tuple[Procedure, ...]:
    """Every non-imaging procedure (ECG, spirometry, endoscopy ...)."""
    return _catalogue().procedures


def referrals() -> tuple[Referral, ...]:
    """Every referral, one per clinical department."""
    return _catalogue().referrals


def find_order(code_or_key: str) -> Order | None:
    """The order with this key ('cbc', 'ct-head') or code (LOINC '58410-2', SNOMED '268400002')."""
    if not isinstance(code_or_key, str) or len(code_or_key) > MAX_QUERY:
        return None
    text = code_or_key.strip()
    catalogue = _catalogue()
    return catalogue.by_key.get(text.lower()) or catalogue.by_code.get(text.upper())


def _rank(haystack: str, needle: str) -> int | None:
    if not needle or needle not in haystack:
        return None
    if _SEP + needle + _SEP in haystack:
        return 0
    return 1 if _SEP + needle in haystack else 2


def search_orders(text: str, *, kind: str | None = None, limit: int = 20) -> list[Order]:
    """Orders whose key, code, English or Chinese name or pinyin matches `text`, best matches first.

    `kind` narrows to one of KINDS. Ranking: exact key, code or name; then prefix; then any substring.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not isinstance(text, str) or limit <= 0:
        return []
    query = " ".join(text[:MAX_QUERY].replace(_SEP, " ").lower().split())
    if not query:
        return []
    letters = "".join(_ALNUM.findall(query))
    found: list[tuple[int, int, Order]] = []
    for position, (order, names, name_zh, pinyin) in enumerate(_catalogue().search_rows):
        if kind is not None and order.kind != kind:
            continue
        if _HAN.search(query):
            rank = _rank(name_zh, query)
        else:
            candidates = [_rank(names, query)]
            if len(letters) >= 2 and letters.isalpha():
                candidates.append(_rank(pinyin, letters))
            rank = min((r for r in candidates if r is not None), default=None)
        if rank is not None:
            found.append((rank, position, order))
    found.sort(key=lambda item: item[:2])
    return [order for _, _, order in found[:min(limit, MAX_LIMIT)]]
