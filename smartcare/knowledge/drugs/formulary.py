"""The drug formulary in memory: load the shipped and imported data, find drugs, their classes and interactions."""

import functools
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pypinyin import Style, lazy_pinyin

from smartcare.knowledge.drugs.model import SEVERITIES, AllergyClass, Drug, Interaction
from smartcare.knowledge.drugs.records import (
    ATC_PREFIX,
    CLASS_RULE_PREFIX,
    KnowledgeDataError,
    parse_allergy_classes,
    parse_drugs,
    parse_interactions,
    read_csv,
)

DATA_DIR = Path(__file__).parent / "data"
KNOWLEDGE_DIR_ENV = "SMARTCARE_KNOWLEDGE_DIR"
DEFAULT_KNOWLEDGE_DIR = "var/knowledge"
# An imported set's folder holds formulary/*.yaml (drugs) and interactions/*.csv, like the shipped data.
FORMULARY_SUBDIR = "formulary"
INTERACTIONS_SUBDIR = "interactions"
INTERACTION_COLUMNS = ("a", "b", "severity", "mechanism_en", "mechanism_zh", "management_en", "management_zh",
                       "source", "onc_high_priority")
INTERACTION_REQUIRED = INTERACTION_COLUMNS[:-1]
MAX_QUERY = 200
MAX_SEARCH_LIMIT = 200
_ATC_LENGTHS = (1, 3, 4, 5, 7)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Chinese product names carry the salt and the dosage form around the generic name: 苯磺酸氨氯地平片.
_ZH_FORMS = sorted((
    "片", "缓释片", "控释片", "肠溶片", "分散片", "咀嚼片", "泡腾片", "口崩片", "薄膜衣片", "胶囊", "肠溶胶囊", "缓释胶囊",
    "软胶囊", "注射液", "氯化钠注射液", "葡萄糖注射液", "粉针", "吸入粉雾剂", "吸入气雾剂", "气雾剂", "吸入溶液", "颗粒",
    "口服溶液", "口服液", "糖浆", "混悬液", "干混悬剂", "滴眼液", "眼膏", "乳膏", "软膏", "凝胶", "栓", "贴剂", "贴片",
    "滴剂", "喷雾剂", "散", "丸", "酊", "溶液",
), key=len, reverse=True)
_ZH_SALT_PREFIXES = sorted((
    "盐酸", "硫酸氢", "硫酸", "苯磺酸", "甲磺酸", "马来酸", "琥珀酸", "酒石酸", "磷酸", "枸橼酸", "富马酸", "醋酸",
    "氢溴酸", "草酸", "硝酸", "乳酸", "葡萄糖酸",
), key=len, reverse=True)
_ZH_SALT_SUFFIXES = ("钙", "钾", "钠", "镁")
_EN_NOISE = frozenset((
    "hydrochloride", "hcl", "sodium", "potassium", "calcium", "magnesium", "sulfate", "sulphate", "bisulfate",
    "maleate", "besylate", "besilate", "succinate", "tartrate", "mesylate", "mesilate", "phosphate", "citrate",
    "fumarate", "acetate", "hydrobromide", "oxalate", "tablet", "tablets", "capsule", "capsules", "injection",
    "solution", "oral", "extended", "release", "modified", "sustained", "delayed", "enteric", "coated", "er", "xr",
    "sr", "mr", "cr", "dr", "xl", "for", "and",
))
_STRENGTH = re.compile(r"\d+(\.\d+)?\s*(mg|g|ug|mcg|µg|ml|iu|units?|%)\b")
_SEPARATORS = re.compile(r"[\s\-‐‑–—_]+")


def _normalise(text: str) -> str:
    """Text folded for matching: NFKC, case-folded, without spaces, hyphens or underscores."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _has_han(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def _zh_variants(name: str) -> Iterator[str]:
    stem = re.sub(r"\([^)]*\)", "", name).removeprefix("注射用")
    yield stem
    stem = next((stem[: -len(f)] for f in _ZH_FORMS if stem.endswith(f) and len(stem) > len(f) + 1), stem)
    yield stem
    stem = next((stem[len(p):] for p in _ZH_SALT_PREFIXES if stem.startswith(p) and len(stem) > len(p) + 1), stem)
    yield stem
    stem = next((stem[:-1] for s in _ZH_SALT_SUFFIXES if stem.endswith(s) and len(stem) > 2), stem)
    yield stem


def _en_variants(text: str) -> Iterator[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    without_strength = _STRENGTH.sub(" ", folded)
    yield _normalise(without_strength)
    words = [w for w in re.split(r"[\s,/()]+", without_strength) if w and w not in _EN_NOISE]
    yield _normalise(" ".join(words))


def _candidates(text: str) -> list[str]:
    normalised = _normalise(text)
    found = [normalised, normalised.removeprefix("atc:")]
    found.extend(_zh_variants(normalised) if _has_han(normalised) else _en_variants(text))
    return list(dict.fromkeys(c for c in found if c))


@dataclass(frozen=True)
class _SearchEntry:
    drug: Drug
    terms: tuple[str, ...]


class Formulary:
    """The drug knowledge in memory, with lookups by name, code, class, interaction and allergy."""

    def __init__(
        self, *, drugs: Mapping[str, Drug], allergy_classes: Mapping[str, AllergyClass],
        interactions: Iterable[Interaction],
    ) -> None:
        self.drugs: dict[str, Drug] = dict(drugs)
        self.allergy_classes: dict[str, AllergyClass] = dict(allergy_classes)
        self.interactions: tuple[Interaction, ...] = tuple(interactions)
        self._names = self._name_index()
        self._by_side: dict[str, list[Interaction]] = defaultdict(list)
        for interaction in self.interactions:
            self._by_side[interaction.a].append(interaction)
            if interaction.b != interaction.a:
                self._by_side[interaction.b].append(interaction)
        self._classes_by_name: dict[str, list[AllergyClass]] = defaultdict(list)
        for allergy_class in self.allergy_classes.values():
            for name in (allergy_class.key, allergy_class.name_en, allergy_class.name_zh, *allergy_class.snomed):
                entries = self._classes_by_name[_normalise(name)]
                if allergy_class not in entries:
                    entries.append(allergy_class)
        self._tags: dict[Drug, frozenset[str]] = {}

    def _name_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        # Earlier passes win: a drug's own key and names before ATC codes, codes before aliases.
        passes = (
            lambda d: (d.key, d.name_en, d.name_zh),
            lambda d: d.atc,
            lambda d: d.aliases,
        )
        for names_of in passes:
            for drug in self.drugs.values():
                for name in names_of(drug):
                    index.setdefault(_normalise(name), drug.key)
        return index

    def find(self, text: str) -> Drug | None:
        """The drug named by key, English or Chinese name, alias or ATC code (product names too); None if unknown."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUERY:
            return None
        for candidate in _candidates(text):
            key = self._names.get(candidate)
            if key is not None:
                return self.drugs[key]
        return None

    @functools.cached_property
    def _search_entries(self) -> tuple[_SearchEntry, ...]:
        entries = []
        for drug in self.drugs.values():
            names = (drug.key, drug.name_en, drug.name_zh, *drug.aliases)
            terms = {_normalise(name) for name in names} | {code.casefold() for code in drug.atc}
            for name in names:
                if _has_han(name):
                    terms.add("".join(lazy_pinyin(name)))
                    terms.add("".join(lazy_pinyin(name, style=Style.FIRST_LETTER)))
            entries.append(_SearchEntry(drug, tuple(sorted(t for t in terms if t))))
        return tuple(entries)

    def search(self, text: str, limit: int = 20) -> list[Drug]:
        """Drugs whose names, aliases, pinyin (full or initials) or ATC codes match: exact, then prefix, then substring."""
        if not isinstance(text, str) or len(text) > MAX_QUERY:
            return []
        query = _normalise(text)
        if not query:
            return []
        ranked: list[tuple[int, str, Drug]] = []
        for entry in self._search_entries:
            best = min(
                (0 if term == query else 1 if term.startswith(query) else 2 for term in entry.terms if query in term),
                default=None,
            )
            if best is not None:
                ranked.append((best, entry.drug.name_en.casefold(), entry.drug))
        ranked.sort(key=lambda item: item[:2])
        return [drug for _, _, drug in ranked[: max(0, min(limit, MAX_SEARCH_LIMIT))]]

    def in_class(self, atc_prefix: str) -> list[Drug]:
        """Every drug with an ATC code starting with the prefix (C09, C09CA, ATC:C09CA ...), by key."""
        prefix = atc_prefix.strip().upper().removeprefix(CLASS_RULE_PREFIX)
        if not ATC_PREFIX.match(prefix):
            raise ValueError(f"{atc_prefix!r} is not an ATC code or class prefix")
        return sorted(
            (d for d in self.drugs.values() if any(code.startswith(prefix) for code in d.atc)), key=lambda d: d.key
        )

    def _tags_of(self, drug: Drug) -> frozenset[str]:
        tags = self._tags.get(drug)
        if tags is None:
            parts = [drug, *(self.drugs[k] for k in drug.ingredients if k in self.drugs)]
            keys = {drug.key, *drug.ingredients}
            codes = {f"{CLASS_RULE_PREFIX}{c[:n]}" for part in parts for c in part.atc for n in _ATC_LENGTHS}
            tags = self._tags[drug] = frozenset(keys | codes)
        return tags

    def interactions_between(self, a: Drug, b: Drug) -> list[Interaction]:
        """The interactions between two drugs (either order, by key or ATC class, ingredients included), most severe first."""
        tags_a, tags_b = self._tags_of(a), self._tags_of(b)
        found: dict[Interaction, None] = {}
        for tag in tags_a:
            for rule in self._by_side.get(tag, ()):
                if (rule.a in tags_a and rule.b in tags_b) or (rule.b in tags_a and rule.a in tags_b):
                    found[rule] = None
        return sorted(found, key=lambda rule: (SEVERITIES.index(rule.severity), rule.a, rule.b))

    def allergy_classes_of(self, substance: str | Drug) -> list[AllergyClass]:
        """The allergy classes of a SNOMED CT substance code, a class key or name, or a drug (and its ingredients)."""
        if isinstance(substance, Drug):
            drug: Drug | None = substance
        elif not isinstance(substance, str) or len(substance) > MAX_QUERY:
            return []
        else:
            by_name = self._classes_by_name.get(_normalise(substance))
            if by_name:
                return list(by_name)
            drug = self.find(substance)
        if drug is None:
            return []
        parts = [drug, *(self.drugs[k] for k in drug.ingredients if k in self.drugs)]
        keys = dict.fromkeys(key for part in parts for key in part.allergy_classes)
        return [self.allergy_classes[key] for key in keys if key in self.allergy_classes]


def _read_yaml(path: Path) -> object:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise KnowledgeDataError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeDataError(f"{path}: cannot be read as UTF-8 text: {exc}") from None


def read_interactions(path: Path) -> list[tuple[int, Interaction]]:
    """The interactions of one CSV file (the columns of data/interactions.csv), each with its line."""
    rows = read_csv(path, columns=INTERACTION_COLUMNS, required=INTERACTION_REQUIRED)
    return parse_interactions(rows, origin=str(path))


@dataclass(frozen=True)
class _Sources:
    """Parsed data and where each record came from, for error messages."""

    drugs: dict[str, Drug]
    drug_origins: dict[str, str]
    classes: dict[str, AllergyClass]
    interactions: dict[frozenset[str], tuple[str, Interaction]]


@functools.lru_cache(maxsize=1)
def _shipped() -> _Sources:
    drugs: dict[str, Drug] = {}
    origins: dict[str, str] = {}
    for path in sorted((DATA_DIR / "formulary").glob("*.yaml")):
        for drug in parse_drugs(_read_yaml(path), origin=str(path)):
            if drug.key in drugs:
                raise KnowledgeDataError(f"{path}: drug {drug.key!r} is already defined in {origins[drug.key]}")
            drugs[drug.key] = drug
            origins[drug.key] = str(path)
    classes_path = DATA_DIR / "allergy_classes.yaml"
    classes = {c.key: c for c in parse_allergy_classes(_read_yaml(classes_path), origin=str(classes_path))}
    interactions: dict[frozenset[str], tuple[str, Interaction]] = {}
    interactions_path = DATA_DIR / "interactions.csv"
    if interactions_path.exists():
        for line, rule in read_interactions(interactions_path):
            interactions[frozenset((rule.a, rule.b))] = (f"{interactions_path}: line {line}", rule)
    return _Sources(drugs, origins, classes, interactions)


def _check_references(sources: _Sources) -> None:
    drugs, classes = sources.drugs, sources.classes
    names: dict[str, str] = {}
    for key, drug in drugs.items():
        where = f"{sources.drug_origins[key]}: drug {key!r}"
        for name in {_normalise(n) for n in (drug.key, drug.name_en, drug.name_zh)}:
            if names.setdefault(name, key) != key:
                raise KnowledgeDataError(f"{where}: the name {name!r} is already used by drug {names[name]!r}")
        for ingredient in drug.ingredients:
            if ingredient not in drugs or ingredient == key:
                raise KnowledgeDataError(f"{where}: ingredient {ingredient!r} is not a single drug of the formulary")
        for class_key in drug.allergy_classes:
            if class_key not in classes:
                raise KnowledgeDataError(f"{where}: unknown allergy class {class_key!r}")
    for allergy_class in classes.values():
        for other, _ in allergy_class.cross_sensitive:
            if other not in classes or other == allergy_class.key:
                raise KnowledgeDataError(
                    f"{DATA_DIR / 'allergy_classes.yaml'}: class {allergy_class.key!r}: "
                    f"unknown cross-sensitive class {other!r}"
                )
    for where, rule in sources.interactions.values():
        for side in (rule.a, rule.b):
            if not side.startswith(CLASS_RULE_PREFIX) and side not in drugs:
                raise KnowledgeDataError(f"{where}: {side!r} is not a drug of the formulary")


def load(
    *, extra_dirs: Iterable[Path] = (), extra_drugs: Iterable[tuple[str, Drug]] = (),
    extra_interactions: Iterable[tuple[str, Interaction]] = (),
) -> Formulary:
    """The shipped formulary, extended (or overridden by key) with the imported sets in `extra_dirs`.

    `extra_drugs`/`extra_interactions` add records not yet stored, each with where it came from
    ("file.csv: line 7"), so an import is checked against everything before it is written.
    """
    shipped = _shipped()
    sources = _Sources(dict(shipped.drugs), dict(shipped.drug_origins), shipped.classes, dict(shipped.interactions))
    for directory in extra_dirs:
        for path in sorted((Path(directory) / FORMULARY_SUBDIR).glob("*.yaml")):
            for drug in parse_drugs(_read_yaml(path), origin=str(path)):
                sources.drugs[drug.key] = drug
                sources.drug_origins[drug.key] = str(path)
        for path in sorted((Path(directory) / INTERACTIONS_SUBDIR).glob("*.csv")):
            for line, rule in read_interactions(path):
                sources.interactions[frozenset((rule.a, rule.b))] = (f"{path}: line {line}", rule)
    for where, drug in extra_drugs:
        sources.drugs[drug.key] = drug
        sources.drug_origins[drug.key] = where
    for where, rule in extra_interactions:
        sources.interactions[frozenset((rule.a, rule.b))] = (where, rule)
    _check_references(sources)
    return Formulary(
        drugs=sources.drugs,
        allergy_classes=sources.classes,
        interactions=(rule for _, rule in sources.interactions.values()),
    )


def knowledge_dir() -> Path:
    """Where imported knowledge sets live: $SMARTCARE_KNOWLEDGE_DIR, else var/knowledge under the working directory."""
    return Path(os.environ.get(KNOWLEDGE_DIR_ENV) or DEFAULT_KNOWLEDGE_DIR)


@functools.lru_cache(maxsize=1)
def default() -> Formulary:
    """The formulary the product uses: shipped data plus the imported sets in knowledge_dir() (cached)."""
    directory = knowledge_dir()
    return load(extra_dirs=[directory] if directory.is_dir() else [])
