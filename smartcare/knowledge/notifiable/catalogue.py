"""The list of notifiable infectious diseases as data: which diagnoses and results must be reported, and how soon.

A list (data/china-2025.yaml by default) names each disease's class, the ICD-10 codes that diagnose it, the case
classifications a report may carry, the laboratory results that should start a report and the reporting time
limits. Another country's list in the same shape replaces it. Codes are matched upper-case without dots on the
longest prefix, so a national extension (A01.000x001) matches its WHO category.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_LIST = Path(__file__).parent / "data" / "china-2025.yaml"
CLASSES = ("A", "B", "C")
DISEASE_KEYS = frozenset({"id", "class", "managed_as_a", "en", "zh", "icd10", "classifications", "standard", "subtypes",
                          "labs", "urgent_icd10", "urgent_note", "note"})
SUBTYPE_KEYS = frozenset({"id", "en", "zh", "icd10"})
CONTROL_KEYS = frozenset({"source", "observation_days", "isolation_days", "isolation_en", "isolation_zh", "vaccines"})
VACCINE_KEYS = frozenset({"en", "zh", "cvx", "atc"})
MAX_CONTROL_DAYS = 120


class NotifiableListInvalid(ValueError):
    """A notifiable-disease list that cannot be used as given."""


@dataclass(frozen=True, slots=True)
class Subtype:
    """A reported subtype of a disease (hepatitis A, B ...), with the codes that diagnose it."""

    id: str
    name_en: str
    name_zh: str
    icd10: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Disease:
    """One notifiable disease: its class, codes, case classifications and reporting limit."""

    id: str
    disease_class: str
    managed_as_a: bool
    name_en: str
    name_zh: str
    icd10: tuple[str, ...]
    classifications: tuple[str, ...]
    standard: str
    subtypes: tuple[Subtype, ...]
    urgent_icd10: tuple[str, ...]
    note: str

    def name(self, lang: str) -> str:
        """The disease's name in lang ("zh" for Chinese, else English)."""
        return self.name_zh if lang.startswith("zh") else self.name_en


@dataclass(frozen=True, slots=True)
class Match:
    """Why a diagnosis or a result is notifiable: the disease, its subtype, how soon, and the classification hinted."""

    disease: Disease
    subtype: Subtype | None
    urgent: bool
    report_within: timedelta
    classification: str | None  # from a laboratory result; None for a diagnosis (the doctor chooses)
    reason_en: str
    reason_zh: str


@dataclass(frozen=True, slots=True)
class Vaccine:
    """A vaccine against a disease, as a record's Immunization.vaccineCode may carry it: CVX codes, ATC prefixes."""

    id: str
    name_en: str
    name_zh: str
    cvx: tuple[str, ...]
    atc: tuple[str, ...]

    def name(self, lang: str) -> str:
        """The vaccine's name in lang ("zh" for Chinese, else English)."""
        return self.name_zh if lang.startswith("zh") else self.name_en

    def matches(self, system: str, code: str) -> bool:
        """Whether a coding (system, code) names this vaccine: a listed CVX code, or an ATC code under a listed one."""
        if system == CVX_SYSTEM:
            return code.strip() in self.cvx
        return system == ATC_SYSTEM and any(code.strip().upper().startswith(prefix) for prefix in self.atc)


CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
ATC_SYSTEM = "http://www.whocc.no/atc"


@dataclass(frozen=True, slots=True)
class Control:
    """How one disease (or subtype) is controlled: contacts' observation, the case's isolation, its vaccines."""

    id: str  # the disease's or subtype's id
    source: str
    observation_days: int | None  # from the last contact; None: no fixed period
    isolation_days: int | None  # from onset; None: the rule in words decides
    isolation_en: str
    isolation_zh: str
    vaccines: tuple[Vaccine, ...]

    def isolation_rule(self, lang: str) -> str:
        """The isolation rule in words, in lang."""
        return self.isolation_zh if lang.startswith("zh") else self.isolation_en


@dataclass(frozen=True, slots=True)
class ControlRules:
    """The list's control facts: per disease, and what a fever and a day's reports are in home isolation."""

    source: str
    fever_celsius: float
    reports_per_day: int
    diseases: dict[str, Control]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A whole notifiable-disease list, ready to match codes against."""

    id: str
    title_en: str
    title_zh: str
    source: str
    diseases: tuple[Disease, ...]
    classifications: dict[str, dict[str, str]]
    events: tuple[dict[str, Any], ...]
    urgent_within: timedelta
    standard_within: timedelta
    labs: dict[str, tuple[Disease, str | None, str]]  # LOINC -> (disease, subtype id, classification)
    positive_codes: frozenset[str]
    positive_texts: frozenset[str]
    control: ControlRules | None = field(default=None)

    def disease(self, disease_id: str) -> Disease | None:
        """The disease with this id, or None."""
        return next((d for d in self.diseases if d.id == disease_id), None)

    def classification_label(self, key: str, lang: str) -> str:
        """A case classification's label in lang (the key itself when the list does not name it)."""
        labels = self.classifications.get(key) or {}
        return labels.get("zh" if lang.startswith("zh") else "en", key)

    def match_diagnosis(self, code: str) -> Match | None:
        """The notifiable disease an ICD-10 code diagnoses (longest prefix wins), or None."""
        wanted = _normal(code)
        best: tuple[int, Disease, Subtype | None] | None = None
        for disease in self.diseases:
            for prefix in disease.icd10:
                if wanted.startswith(_normal(prefix)) and (best is None or len(_normal(prefix)) > best[0]):
                    best = (len(_normal(prefix)), disease, _subtype_for(disease, wanted))
        if best is None:
            return None
        _, disease, subtype = best
        urgent = self.is_urgent(disease, wanted)
        as_a = urgent and disease.disease_class != "A"
        name_en = subtype.name_en if subtype else disease.name_en
        name_zh = subtype.name_zh if subtype else disease.name_zh
        return Match(disease, subtype, urgent, self._limit(urgent), None,
                     f"ICD-10 {code} is {name_en}, Class {disease.disease_class}{_managed(as_a, 'en')}",
                     f"ICD-10 {code} 为{name_zh}（{disease.disease_class}类{_managed(as_a, 'zh')}）")

    def match_result(self, loinc: str, *, answer_codes: set[str], answer_text: str = "") -> Match | None:
        """The notifiable disease a positive laboratory result points to, or None (negative or not listed)."""
        found = self.labs.get(loinc.strip())
        if found is None or not self.is_positive(answer_codes, answer_text):
            return None
        disease, subtype_id, classification = found
        subtype = next((s for s in disease.subtypes if s.id == subtype_id), None)
        urgent = disease.disease_class == "A" or disease.managed_as_a
        name_en = subtype.name_en if subtype else disease.name_en
        name_zh = subtype.name_zh if subtype else disease.name_zh
        label_en = self.classification_label(classification, "en").lower()
        label_zh = self.classification_label(classification, "zh")
        return Match(disease, subtype, urgent, self._limit(urgent), classification,
                     f"LOINC {loinc} positive: {name_en} ({label_en}), Class {disease.disease_class}",
                     f"LOINC {loinc} 阳性：{name_zh}（{label_zh}，{disease.disease_class}类）")

    def is_positive(self, answer_codes: set[str], answer_text: str) -> bool:
        """Whether a result's coded answer or its text says positive."""
        return bool(answer_codes & self.positive_codes) or answer_text.strip().lower() in self.positive_texts

    def is_urgent(self, disease: Disease, code: str = "") -> bool:
        """Whether a case of disease (diagnosed with code) is reported within the urgent limit."""
        if disease.disease_class == "A" or disease.managed_as_a:
            return True
        wanted = _normal(code)
        return bool(wanted) and any(wanted.startswith(_normal(c)) for c in disease.urgent_icd10)

    def deadline(self, match: Match, diagnosed_at: datetime) -> datetime:
        """When the report of a case diagnosed (or found) at diagnosed_at is due."""
        return diagnosed_at + match.report_within

    def _limit(self, urgent: bool) -> timedelta:
        return self.urgent_within if urgent else self.standard_within

    def control_for(self, disease_id: str | None, subtype_id: str | None = None) -> Control | None:
        """How a disease is controlled (its subtype's entry first, when it has one), or None when the list says nothing."""
        if self.control is None:
            return None
        return self.control.diseases.get(subtype_id or "") or self.control.diseases.get(disease_id or "")


def _normal(code: str) -> str:
    return code.strip().upper().replace(".", "")


def _managed(as_a: bool, lang: str) -> str:
    if not as_a:
        return ""
    return ", managed and reported as Class A (2 hours)" if lang == "en" else "，按甲类管理和报告（2小时）"


def _subtype_for(disease: Disease, wanted: str) -> Subtype | None:
    best: tuple[int, Subtype] | None = None
    for subtype in disease.subtypes:
        for prefix in subtype.icd10:
            if wanted.startswith(_normal(prefix)) and (best is None or len(_normal(prefix)) > best[0]):
                best = (len(_normal(prefix)), subtype)
    return best[1] if best else None


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise NotifiableListInvalid(f"{where}: '{key}' must be a non-empty text")
    return value.strip()


def _codes(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value) or (
            required and not value):
        raise NotifiableListInvalid(f"{where}: '{key}' must be a list of codes")
    return tuple(str(c).strip() for c in value)


def _known_keys(entry: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    # A comma left unquoted in a YAML flow mapping splits a name into a stray key: refuse it rather than show "Hand".
    unknown = sorted(str(key) for key in entry if key not in allowed)
    if unknown:
        raise NotifiableListInvalid(f"{where}: unknown key {', '.join(unknown)}")


def _disease(entry: dict[str, Any], classifications: dict[str, Any]) -> Disease:
    where = f"disease {entry.get('id')!r}"
    _known_keys(entry, DISEASE_KEYS, where)
    for subtype in entry.get("subtypes") or []:
        _known_keys(subtype, SUBTYPE_KEYS, f"{where} subtype {subtype.get('id')!r}")
    if entry.get("class") not in CLASSES:
        raise NotifiableListInvalid(f"{where}: class must be one of {', '.join(CLASSES)}")
    allowed = _codes(entry, "classifications", where)
    unknown = [c for c in allowed if c not in classifications]
    if unknown:
        raise NotifiableListInvalid(f"{where}: unknown classification {', '.join(unknown)}")
    subtypes = tuple(Subtype(_text(s, "id", where), _text(s, "en", where), _text(s, "zh", where),
                             _codes(s, "icd10", where)) for s in entry.get("subtypes") or [])
    return Disease(
        id=_text(entry, "id", where), disease_class=entry["class"], managed_as_a=bool(entry.get("managed_as_a")),
        name_en=_text(entry, "en", where), name_zh=_text(entry, "zh", where), icd10=_codes(entry, "icd10", where),
        classifications=allowed, standard=str(entry.get("standard") or ""), subtypes=subtypes,
        urgent_icd10=_codes(entry, "urgent_icd10", where, required=False), note=str(entry.get("note") or ""),
    )


def _labs(raw: list[dict[str, Any]], diseases: tuple[Disease, ...],
          classifications: dict[str, Any]) -> dict[str, tuple[Disease, str | None, str]]:
    labs: dict[str, tuple[Disease, str | None, str]] = {}
    for entry, disease in zip(raw, diseases, strict=True):
        for lab in entry.get("labs") or []:
            where = f"disease {disease.id!r} lab {lab.get('loinc')!r}"
            loinc = _text(lab, "loinc", where)
            if loinc in labs:
                raise NotifiableListInvalid(f"{where}: the code already starts a report of {labs[loinc][0].id}")
            classification = _text(lab, "classification", where)
            if classification not in classifications:
                raise NotifiableListInvalid(f"{where}: unknown classification {classification}")
            subtype = lab.get("subtype")
            if subtype is not None and subtype not in {s.id for s in disease.subtypes}:
                raise NotifiableListInvalid(f"{where}: unknown subtype {subtype}")
            labs[loinc] = (disease, subtype, classification)
    return labs


def _days(entry: dict[str, Any], key: str, where: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CONTROL_DAYS:
        raise NotifiableListInvalid(f"{where}: '{key}' must be a whole number of days from 1 to {MAX_CONTROL_DAYS}")
    return value


def _vaccines(raw: Any) -> dict[str, Vaccine]:
    if not isinstance(raw, dict):
        raise NotifiableListInvalid("control: 'vaccines' must map vaccine ids to their names and codes")
    found = {}
    for vaccine_id, entry in raw.items():
        where = f"control vaccine {vaccine_id!r}"
        if not isinstance(entry, dict):
            raise NotifiableListInvalid(f"{where}: must be a mapping")
        _known_keys(entry, VACCINE_KEYS, where)
        cvx, atc = _codes(entry, "cvx", where, required=False), _codes(entry, "atc", where, required=False)
        if not cvx and not atc:
            raise NotifiableListInvalid(f"{where}: give CVX or ATC codes")
        found[str(vaccine_id)] = Vaccine(str(vaccine_id), _text(entry, "en", where), _text(entry, "zh", where), cvx,
                                         tuple(code.upper() for code in atc))
    return found


def _control(raw: Any, diseases: tuple[Disease, ...]) -> ControlRules | None:
    """The control facts of a list (None when it has none), for the diseases and subtypes it holds, checked."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("diseases"), dict):
        raise NotifiableListInvalid("control: needs a 'diseases' mapping")
    vaccines = _vaccines(raw.get("vaccines") or {})
    known = {d.id for d in diseases} | {s.id for d in diseases for s in d.subtypes}
    entries: dict[str, Control] = {}
    for key, entry in raw["diseases"].items():
        where = f"control of {key!r}"
        if key not in known:  # a list cut down to fewer diseases keeps the control facts of the rest
            continue
        if not isinstance(entry, dict):
            raise NotifiableListInvalid(f"{where}: must be a mapping")
        _known_keys(entry, CONTROL_KEYS, where)
        named = _codes(entry, "vaccines", where, required=False)
        unknown = [v for v in named if v not in vaccines]
        if unknown:
            raise NotifiableListInvalid(f"{where}: unknown vaccine {', '.join(unknown)}")
        rule_en, rule_zh = str(entry.get("isolation_en") or "").strip(), str(entry.get("isolation_zh") or "").strip()
        isolation_days = _days(entry, "isolation_days", where)
        if bool(rule_en) != bool(rule_zh) or (isolation_days and not rule_en):
            raise NotifiableListInvalid(f"{where}: give the isolation rule in English and Chinese")
        entries[str(key)] = Control(str(key), _text(entry, "source", where), _days(entry, "observation_days", where),
                                    isolation_days, rule_en, rule_zh, tuple(vaccines[v] for v in named))
    fever, reports = raw.get("fever_celsius"), raw.get("reports_per_day")
    if isinstance(fever, bool) or not isinstance(fever, int | float) or not 35 < fever < 42:
        raise NotifiableListInvalid("control: 'fever_celsius' must be a temperature between 35 and 42")
    if isinstance(reports, bool) or not isinstance(reports, int) or not 0 < reports <= 24:
        raise NotifiableListInvalid("control: 'reports_per_day' must be a whole number from 1 to 24")
    return ControlRules(_text(raw, "source", "control"), float(fever), reports, entries)


def parse(raw: dict[str, Any]) -> Catalogue:
    """A catalogue from a list's parsed YAML, checked for consistency."""
    if not isinstance(raw, dict) or not isinstance(raw.get("diseases"), list):
        raise NotifiableListInvalid("a notifiable-disease list needs a 'diseases' list")
    classifications = raw.get("classifications") or {}
    diseases = tuple(_disease(entry, classifications) for entry in raw["diseases"])
    ids = [d.id for d in diseases]
    if len(set(ids)) != len(ids):
        raise NotifiableListInvalid("disease ids must be unique")
    limits = raw.get("time_limits") or {}
    positive = raw.get("positive_answers") or {}
    return Catalogue(
        id=_text(raw, "id", "list"), title_en=_text(raw, "title_en", "list"), title_zh=_text(raw, "title_zh", "list"),
        source=_text(raw, "source", "list"), diseases=diseases, classifications=classifications,
        events=tuple(raw.get("events") or ()),
        urgent_within=timedelta(hours=float(limits.get("urgent_hours", 2))),
        standard_within=timedelta(hours=float(limits.get("standard_hours", 24))),
        labs=_labs(raw["diseases"], diseases, classifications),
        positive_codes=frozenset(str(c) for c in positive.get("codes") or ()),
        positive_texts=frozenset(str(t).lower() for t in positive.get("texts") or ()),
        control=_control(raw.get("control"), diseases),
    )


@cache
def load(path: Path = DEFAULT_LIST) -> Catalogue:
    """The catalogue in the YAML file at path (China's 2025 list by default), read once."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise NotifiableListInvalid(f"cannot read the notifiable-disease list {path}: {exc}") from exc
    return parse(raw)
