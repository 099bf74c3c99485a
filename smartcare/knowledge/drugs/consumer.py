"""Consumer drug information: plain-language pages joined with the formulary, drug search and the together-checker.

The plain-language text lives in `data/consumer/<ATC letter>.yaml` (one entry per formulary key);
pregnancy and breastfeeding come from the formulary and drug-drug pairs from the interaction table,
through `Formulary.interactions_between`, the same function the prescription audit uses.
"""

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

from smartcare.knowledge.drugs.formulary import MAX_QUERY, Formulary
from smartcare.knowledge.drugs.formulary import default as default_formulary
from smartcare.knowledge.drugs.model import SEVERITIES, Drug, Interaction
from smartcare.knowledge.drugs.records import KnowledgeDataError

CONSUMER_DIR = Path(__file__).parent / "data" / "consumer"
MAX_CHECKED = 10
MIN_FUZZY_LENGTH = 4
FUZZY_CUTOFF = 80
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The ATC anatomical main groups (WHO Collaborating Centre for Drug Statistics Methodology).
ATC_GROUPS: dict[str, tuple[str, str]] = {
    "A": ("Alimentary tract and metabolism", "消化道和代谢"),
    "B": ("Blood and blood-forming organs", "血液和造血器官"),
    "C": ("Cardiovascular system", "心血管系统"),
    "D": ("Dermatologicals (skin)", "皮肤病用药"),
    "G": ("Genito-urinary system and sex hormones", "泌尿生殖系统和性激素"),
    "H": ("Hormones (other than sex hormones and insulins)", "全身用激素（性激素和胰岛素除外）"),
    "J": ("Anti-infectives", "全身用抗感染药"),
    "L": ("Cancer and immune system medicines", "抗肿瘤药和免疫调节剂"),
    "M": ("Muscles, bones and joints", "肌肉-骨骼系统"),
    "N": ("Nervous system", "神经系统"),
    "P": ("Antiparasitic products", "抗寄生虫药"),
    "R": ("Respiratory system", "呼吸系统"),
    "S": ("Eyes and ears", "感觉器官（眼、耳）"),
    "V": ("Various", "其他"),
}

# How each severity of the interaction table reads to a patient, and what a patient should do about it.
SEVERITY_PLAIN: dict[str, tuple[str, str]] = {
    "contraindicated": ("Do not take together", "不能一起使用"),
    "major": ("Serious: usually avoided together", "严重：通常应避免一起使用"),
    "moderate": ("Moderate: may need a dose change or extra checks", "中度：可能需要调整剂量或加强监测"),
    "minor": ("Minor: be aware", "轻度：需要留意"),
}
PATIENT_ACTION: dict[str, tuple[str, str]] = {
    "contraindicated": (
        "Do not take these together unless a doctor who knows you take both has told you to. If you have been "
        "given both, contact your doctor or pharmacist today; do not stop a prescribed medicine on your own.",
        "除非了解您同时在用这两种药的医生明确要求，否则不要一起使用。如果您已经被开了这两种药，请今天就联系医生或药师；"
        "不要自行停用处方药。",
    ),
    "major": (
        "Talk to your doctor or pharmacist before taking these together. They may choose another medicine or "
        "check you closely. Do not stop a prescribed medicine on your own.",
        "一起使用前请先咨询医生或药师，他们可能会换药或密切监测。不要自行停用处方药。",
    ),
    "moderate": (
        "These are often used together with care: your doctor may adjust a dose or check you more often. "
        "Tell your doctor or pharmacist that you take both.",
        "这两种药常在注意观察下一起使用：医生可能调整剂量或增加检查。请告诉医生或药师您同时在用这两种药。",
    ),
    "minor": (
        "Usually not a problem, but mention it to your pharmacist or doctor.",
        "通常问题不大，但请告诉药师或医生。",
    ),
}
DUPLICATE_SOURCE = "SmartCare formulary: ingredients of combination products (smartcare/knowledge/drugs/data/formulary)"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]
Items = Annotated[list[Text], Field(min_length=1, max_length=15)]
OptionalItems = Annotated[list[Text], Field(max_length=15)]


class ConsumerDataError(KnowledgeDataError):
    """A consumer drug file that does not load or does not match the formulary."""


class UnknownDrugs(ValueError):
    """Names given to the checker that name no formulary drug."""

    def __init__(self, names: list[str], suggestions: Mapping[str, list[Drug]]):
        self.names = names
        self.suggestions = dict(suggestions)
        super().__init__("Unknown drug: " + ", ".join(names))


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9\-]*$", max_length=64)]
    uses_en: Text
    uses_zh: Text
    how_en: Items
    how_zh: Items
    common_en: Items
    common_zh: Items
    serious_en: Items
    serious_zh: Items
    avoid_en: OptionalItems = []
    avoid_zh: OptionalItems = []
    source: Text


@dataclass(frozen=True)
class ConsumerInfo:
    """The plain-language text about one formulary drug, in English and Chinese."""

    key: str
    uses_en: str
    uses_zh: str
    how_en: tuple[str, ...]
    how_zh: tuple[str, ...]
    common_en: tuple[str, ...]
    common_zh: tuple[str, ...]
    serious_en: tuple[str, ...]
    serious_zh: tuple[str, ...]
    avoid_en: tuple[str, ...]
    avoid_zh: tuple[str, ...]
    source: str
    origin: str


@dataclass(frozen=True)
class Pairing:
    """One rule of the interaction table that involves a drug, with the formulary drugs on the other side."""

    rule: Interaction
    partners: tuple[Drug, ...]


@dataclass(frozen=True)
class Finding:
    """What the checker found for two of the chosen drugs: interaction rules (most severe first) or a duplicate."""

    first: Drug
    second: Drug
    kind: str  # "interaction" or "duplicate"
    rules: tuple[Interaction, ...] = ()
    shared: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        """The most severe level among the rules; a duplicate ingredient counts as major."""
        return self.rules[0].severity if self.rules else "major"


def _read(path: Path) -> list[ConsumerInfo]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ConsumerDataError(f"{path}: cannot be read as YAML: {exc}") from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConsumerDataError(f"{path}: expected a list of entries")
    found = []
    for index, item in enumerate(raw, start=1):
        try:
            entry = _Entry.model_validate(item)
        except ValidationError as exc:
            key = item.get("key") if isinstance(item, dict) else None
            raise ConsumerDataError(f"{path}: entry {index} ({key!r}): {exc}") from None
        values = entry.model_dump()
        found.append(ConsumerInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()},
                                  origin=str(path)))
    return found


def load_entries(directory: Path = CONSUMER_DIR) -> dict[str, ConsumerInfo]:
    """Every consumer entry of the folder's *.yaml files, by key; refuses malformed entries and duplicate keys."""
    entries: dict[str, ConsumerInfo] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        for info in _read(path):
            if info.key in entries:
                raise ConsumerDataError(f"{path}: {info.key!r} is already described in {entries[info.key].origin}")
            entries[info.key] = info
    return entries


def problems(entries: Mapping[str, ConsumerInfo], formulary: Formulary) -> list[str]:
    """What is wrong between the consumer entries and the formulary: unknown keys, entries in the wrong letter's file."""
    found = []
    for key, info in entries.items():
        drug = formulary.drugs.get(key)
        if drug is None:
            found.append(f"{info.origin}: {key!r} is not a drug of the formulary")
        elif Path(info.origin).stem not in {code[0] for code in drug.atc}:
            found.append(f"{info.origin}: {key!r} belongs in the file of its ATC letter {drug.atc[0][0]}")
    return found


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split()).replace("-", "")


class ConsumerDrugs:
    """The consumer drug knowledge: entries, search, interactions of a drug and the together-checker."""

    def __init__(self, *, formulary: Formulary, entries: Mapping[str, ConsumerInfo]) -> None:
        self.formulary = formulary
        self.entries = dict(entries)
        terms: dict[str, str] = {}
        for drug in formulary.drugs.values():
            for name in (drug.key, drug.name_en, drug.name_zh, *drug.aliases):
                terms.setdefault(_fold(name), drug.key)
                if any("\u4e00" <= char <= "\u9fff" for char in name):
                    terms.setdefault("".join(lazy_pinyin(name)), drug.key)
        self._fuzzy_terms = terms
        self._fuzzy_choices = list(terms)

    def info(self, key: str) -> ConsumerInfo | None:
        """The plain-language entry of a drug, if written."""
        return self.entries.get(key)

    def search(self, text: str, limit: int = 20) -> list[Drug]:
        """Drugs matching a generic, brand, Chinese or pinyin name (initials too), then close misspellings."""
        if not isinstance(text, str) or len(text) > MAX_QUERY or not text.strip():
            return []
        limit = max(1, min(limit, 50))
        found: dict[str, Drug] = {}
        exact = self.formulary.find(text)
        if exact is not None:
            found[exact.key] = exact
        for drug in self.formulary.search(text, limit=limit):
            found.setdefault(drug.key, drug)
        query = _fold(text)
        # A Chinese name written with a wrong character of the same sound (华发林) still matches by its pinyin.
        queries = {query, "".join(lazy_pinyin(query))}
        for folded in sorted(queries):
            if len(found) >= limit or len(folded) < MIN_FUZZY_LENGTH:
                continue
            for term, _score, _index in process.extract(folded, self._fuzzy_choices, scorer=fuzz.ratio,
                                                        limit=limit * 2, score_cutoff=FUZZY_CUTOFF):
                key = self._fuzzy_terms[term]
                found.setdefault(key, self.formulary.drugs[key])
        return list(found.values())[:limit]

    def in_group(self, letter: str) -> list[Drug]:
        """The formulary drugs of an ATC main group (by first ATC code), by English name."""
        if letter not in ATC_GROUPS:
            return []
        return sorted((d for d in self.formulary.drugs.values() if d.atc and d.atc[0][0] == letter),
                      key=lambda d: d.name_en.casefold())

    def pairings(self, key: str) -> list[Pairing]:
        """The interaction table's rules involving a drug, each with the formulary drugs it pairs with, worst first."""
        return list(self._pairings(key))

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one instance per process; the formulary is immutable
    def _pairings(self, key: str) -> tuple[Pairing, ...]:
        drug = self.formulary.drugs.get(key)
        if drug is None:
            return ()
        partners: dict[Interaction, list[Drug]] = {}
        for other in self.formulary.drugs.values():
            if other.key == drug.key:
                continue
            for rule in self.formulary.interactions_between(drug, other):
                partners.setdefault(rule, []).append(other)
        ordered = sorted(partners.items(), key=lambda item: (SEVERITIES.index(item[0].severity), -len(item[1]),
                                                            item[0].a, item[0].b))
        return tuple(Pairing(rule, tuple(sorted(found, key=lambda d: d.name_en.casefold())))
                     for rule, found in ordered)

    def resolve(self, names: Iterable[str]) -> list[Drug]:
        """The formulary drugs named (key, name, brand, Chinese name), in order, once each; UnknownDrugs otherwise."""
        drugs: dict[str, Drug] = {}
        unknown: list[str] = []
        suggestions: dict[str, list[Drug]] = {}
        for name in names:
            drug = self.formulary.find(name) if isinstance(name, str) else None
            if drug is None:
                shown = str(name)[:MAX_QUERY]
                unknown.append(shown)
                suggestions[shown] = self.search(shown, limit=3) if isinstance(name, str) else []
            else:
                drugs.setdefault(drug.key, drug)
        if unknown:
            raise UnknownDrugs(unknown, suggestions)
        return list(drugs.values())

    def check_together(self, keys: Iterable[str]) -> list[Finding]:
        """Each pair of the named drugs that the interaction table lists, or that shares an ingredient, worst first."""
        drugs = self.resolve(keys)
        if len(drugs) > MAX_CHECKED:
            raise ValueError(f"At most {MAX_CHECKED} medicines can be checked at once")
        findings = []
        for index, first in enumerate(drugs):
            for second in drugs[index + 1:]:
                shared = tuple(k for k in first.ingredient_keys if k in second.ingredient_keys)
                if shared:
                    findings.append(Finding(first, second, "duplicate", shared=shared))
                rules = self.formulary.interactions_between(first, second)
                if rules:
                    findings.append(Finding(first, second, "interaction", rules=tuple(rules)))
        return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


@functools.lru_cache(maxsize=1)
def default() -> ConsumerDrugs:
    """The consumer drug knowledge over the product's formulary and the shipped consumer files (cached)."""
    return ConsumerDrugs(formulary=default_formulary(), entries=load_entries())


# The letter categories of the formulary (the former US FDA pregnancy categories), explained plainly.
PREGNANCY_PLAIN: dict[str, tuple[str, str]] = {
    "A": ("Studies in pregnant women have not shown a risk to the baby.", "在孕妇中的研究未显示对胎儿有风险。"),
    "B": ("Animal studies have not shown a risk, but there are not enough studies in pregnant women.",
          "动物研究未显示风险，但在孕妇中的研究不足。"),
    "C": ("A risk to the baby cannot be ruled out. It is used in pregnancy only when a doctor judges that the "
          "benefit outweighs the risk.", "不能排除对胎儿的风险。只有医生判断获益大于风险时才在孕期使用。"),
    "D": ("There is evidence of harm to the baby. It is used in pregnancy only when the benefit clearly outweighs "
          "the risk, such as for a serious illness with no safer choice.",
          "有证据表明可能伤害胎儿。只有在获益明显大于风险时（例如严重疾病且没有更安全的选择）才在孕期使用。"),
    "X": ("Must not be used in pregnancy: the risk to the baby is greater than any benefit.",
          "孕期禁用：对胎儿的风险大于任何获益。"),
}
PREGNANCY_UNKNOWN = ("Our formulary gives no pregnancy category for this medicine.", "本处方集未给出该药的妊娠分级。")
PREGNANCY_ADVICE = (
    "If you are pregnant, might be pregnant or are planning a pregnancy, talk to your doctor before you start or "
    "stop this medicine.",
    "如果您已怀孕、可能怀孕或计划怀孕，开始或停用此药前请先咨询医生。",
)
LACTATION_PLAIN: dict[str, tuple[str, str]] = {
    "compatible": ("Generally considered compatible with breastfeeding.", "一般认为哺乳期可以使用。"),
    "caution": ("Use with care while breastfeeding: your doctor may prefer another medicine or ask you to watch "
                "your baby for side effects.", "哺乳期需谨慎使用：医生可能会换用其他药物，或请您留意宝宝有无不良反应。"),
    "avoid": ("Usually avoided while breastfeeding, or breastfeeding is paused. Ask your doctor.",
              "哺乳期通常避免使用，或需暂停哺乳。请咨询医生。"),
}
LACTATION_UNKNOWN = ("Our formulary gives no breastfeeding advice for this medicine.", "本处方集未给出该药的哺乳期建议。")
NO_KNOWN_INTERACTION = (
    "Our interaction table lists no interaction between these medicines. That does not prove they are safe "
    "together: the table does not cover every medicine, herbal product or health condition.",
    "我们的相互作用表中没有列出这些药物之间的相互作用。但这并不能证明一起使用就是安全的："
    "该表不能涵盖所有药物、中草药产品或健康状况。",
)
ASK_PHARMACIST = (
    "Always ask your pharmacist or doctor before you start, stop or combine medicines.",
    "开始用药、停药或合并用药前，请务必咨询药师或医生。",
)
DUPLICATE_TEXT = (
    "Both contain the same medicine ({names}). Taking both can mean a double dose.",
    "两者含有相同的药物成分（{names}），一起服用可能导致剂量加倍。",
)
DUPLICATE_ACTION = (
    "Do not take both unless your doctor has told you to. Ask your pharmacist which one to take.",
    "除非医生明确要求，否则不要同时服用。请咨询药师应该服用哪一种。",
)
