"""Chief complaints read into syndromes (influenza-like illness, diarrhoea, fever with rash) from English or Chinese
text, negations included, by the keyword rules in data/syndromes.yaml: a pure function for syndromic surveillance.

`classify(text)` answers a `Reading`: the findings present and negated, a temperature and an illness duration where
the text gives them, and the syndromes they meet. How the text is read is described at the top of the data file.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "syndromes.yaml"
_EN_WORD = "a-z0-9"
_NUMBER = r"\d{1,3}(?:\.\d{1,2})?"
_ZH_NUMERALS = "一二两三四五六七八九十半几"
_DATE = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class SyndromeRulesInvalid(ValueError):
    """A syndrome rules file that cannot be used as given."""


@dataclass(frozen=True, slots=True)
class Syndrome:
    """One syndrome: the findings it needs (each group met by any one of its findings) and its extra conditions."""

    id: str
    name_en: str
    name_zh: str
    all_of: tuple[tuple[str, ...], ...]
    fever_at_least: float | None
    onset_within_days: float | None
    reading: str
    source: str

    def name(self, lang: str) -> str:
        """The syndrome's name in lang ("zh..." for Chinese, else English)."""
        return self.name_zh if lang.startswith("zh") else self.name_en


@dataclass(frozen=True, slots=True)
class Reading:
    """What a complaint says: findings present and negated, temperature (°C) and duration (days) if given, syndromes."""

    syndromes: frozenset[str]
    findings: frozenset[str]
    negated: frozenset[str]
    temperature: float | None
    days: float | None


@dataclass(frozen=True, slots=True)
class Rules:
    """A syndrome rules file compiled for reading complaints."""

    id: str
    source: str
    max_text: int
    syndromes: tuple[Syndrome, ...]
    finding_of: Mapping[str, str]  # keyword -> finding id
    negates: Mapping[str, str]  # finding id -> the finding its mention negates (afebrile -> fever)
    findings: re.Pattern[str]
    before: re.Pattern[str]
    before_lang: Mapping[str, str]  # trigger -> "en" or "zh"
    after: re.Pattern[str]
    between: Mapping[str, re.Pattern[str]]
    temperature_unit: re.Pattern[str]
    temperature_word: re.Pattern[str]
    celsius: tuple[float, float]
    fahrenheit: tuple[float, float]
    duration: re.Pattern[str]
    days_per_unit: Mapping[str, float]
    numbers: Mapping[str, float]

    def syndrome(self, syndrome_id: str) -> Syndrome | None:
        """The syndrome with this id, or None."""
        return next((s for s in self.syndromes if s.id == syndrome_id), None)


def _words(values: Any, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise SyndromeRulesInvalid(f"{where} must be a list of words (quote no, yes, on and off)")
    return [unicodedata.normalize("NFKC", str(v)).casefold().strip() for v in values]


def _alternation(en: Iterable[str], zh: Iterable[str]) -> str:
    """One regex alternative per word, longest first; English words only as whole words."""
    terms = [(w, "en") for w in en] + [(w, "zh") for w in zh]
    terms.sort(key=lambda t: -len(t[0]))
    parts = [rf"(?<![{_EN_WORD}]){re.escape(w)}(?![{_EN_WORD}])" if lang == "en" and w[-1].isalnum()
             else re.escape(w) for w, lang in terms]
    return "|".join(parts) or "(?!)"


def _syndrome(key: str, entry: dict[str, Any], findings: set[str]) -> Syndrome:
    groups = []
    for item in entry.get("all_of") or []:
        group = tuple(item) if isinstance(item, list) else (item,)
        unknown = [f for f in group if f not in findings]
        if unknown or not group:
            raise SyndromeRulesInvalid(f"syndrome {key}: unknown finding {', '.join(map(str, unknown)) or '[]'}")
        groups.append(group)
    if not groups or not all(isinstance(entry.get(k), str) for k in ("en", "zh", "source", "reading")):
        raise SyndromeRulesInvalid(f"syndrome {key}: needs all_of, en, zh, reading and source")
    fever, onset = entry.get("fever_at_least_celsius"), entry.get("onset_within_days")
    return Syndrome(key, entry["en"], entry["zh"], tuple(groups), float(fever) if fever is not None else None,
                    float(onset) if onset is not None else None, " ".join(entry["reading"].split()),
                    " ".join(entry["source"].split()))


def parse(data: Any) -> Rules:
    """Rules from the parsed YAML; raises SyndromeRulesInvalid naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        raise SyndromeRulesInvalid("the rules must be a mapping with a source")
    finding_of: dict[str, str] = {}
    negates: dict[str, str] = {}
    for key, entry in (data.get("findings") or {}).items():
        for word in _words(entry.get("en"), f"finding {key} en") + _words(entry.get("zh"), f"finding {key} zh"):
            finding_of[word] = key
        if entry.get("negates"):
            negates[key] = str(entry["negates"])
    known = set(data.get("findings") or {})
    if not finding_of or any(target not in known for target in negates.values()):
        raise SyndromeRulesInvalid("findings must name keywords, and negates an existing finding")
    syndromes = tuple(_syndrome(k, v, known) for k, v in (data.get("syndromes") or {}).items())
    negation, temperature, duration = data.get("negation") or {}, data["temperature"], data["duration"]
    before = {lang: _words(negation["before"][lang], f"negation before {lang}") for lang in ("en", "zh")}
    after = [*_words(negation["after"]["en"], "negation after en"), *_words(negation["after"]["zh"], "after zh")]
    between = {lang: re.compile(rf"(?:\s|{_alternation(_words(negation['between'][lang], 'between'), [])})*")
               for lang in ("en", "zh")}
    units = {**duration["units_en"], **duration["units_zh"]}
    numbers = {**duration["numbers_en"], **duration["numbers_zh"]}
    temp_words = _alternation(_words(temperature["words_en"], "words_en"), _words(temperature["words_zh"], "zh"))
    unit = rf"({_NUMBER})\s*(?:°\s*|degrees?\s*|deg\s*)?(celsius|fahrenheit|c|f|度)(?![a-z])"
    number_words = _alternation(duration["numbers_en"], [])
    return Rules(
        id=str(data.get("id", "")), source=" ".join(data["source"].split()), max_text=int(data.get("max_text", 2000)),
        syndromes=syndromes, finding_of=finding_of, negates=negates,
        findings=re.compile(_alternation([w for w in finding_of if w.isascii()],
                                         [w for w in finding_of if not w.isascii()])),
        before=re.compile(_alternation(before["en"], before["zh"])),
        before_lang={**{w: "en" for w in before["en"]}, **{w: "zh" for w in before["zh"]}},
        after=re.compile(rf"\s*:?\s*(?:{_alternation([w for w in after if w.isascii()], [w for w in after if not w.isascii()])})"),
        between=between,
        temperature_unit=re.compile(unit),
        temperature_word=re.compile(rf"(?:{temp_words})\s*[:=]?\s*({_NUMBER})(?![\d.])"),
        celsius=(float(temperature["celsius"]["min"]), float(temperature["celsius"]["max"])),
        fahrenheit=(float(temperature["fahrenheit"]["min"]), float(temperature["fahrenheit"]["max"])),
        duration=re.compile(rf"(?:(?<![a-z0-9.])(\d{{1,3}}(?:\.\d)?)|({number_words})|([{_ZH_NUMERALS}]{{1,3}}))"
                            rf"\s*-?\s*(?:个\s*)?({_alternation(duration['units_en'], duration['units_zh'])})"),
        days_per_unit={str(k): float(v) for k, v in units.items()},
        numbers={str(k): float(v) for k, v in numbers.items()},
    )


def load(path: Path = DEFAULT_RULES) -> Rules:
    """Read and compile a syndrome rules file."""
    with path.open(encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle))


@cache
def rules() -> Rules:
    """The default rules (data/syndromes.yaml), read once."""
    return load()


def normalise(text: str, limit: int) -> str:
    """The text as the rules read it: at most limit characters, NFKC, case-folded, control characters as spaces."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFKC", text[:limit])).casefold()


def _mentions(text: str, found: Rules) -> tuple[set[str], set[str]]:
    """The findings mentioned and not negated, and those negated (see the data file for the reading)."""
    spans = [(m.start(), m.end(), found.finding_of[m.group()]) for m in found.findings.finditer(text)]
    inside = [(s, e) for s, e, _f in spans]
    triggers = [(m.start(), m.end(), found.before_lang[m.group()]) for m in found.before.finditer(text)
                if not any(s <= m.start() < e for s, e in inside)]
    events = sorted([(s, 1, e, f) for s, e, f in spans] + [(s, 0, e, lang) for s, e, lang in triggers])
    present: set[str] = set()
    negated: set[str] = set()
    active, position = None, 0
    for start, kind, end, value in events:
        if start < position:
            continue
        if kind == 0:
            active, position = value, end
            continue
        denied = active is not None and found.between[active].fullmatch(text[position:start]) is not None
        active = active if denied else None
        denied = denied or found.after.match(text, end) is not None
        target = found.negates.get(value)
        if target:
            if not denied:  # "afebrile" negates fever; "not afebrile" says nothing either way
                negated.add(target)
        elif denied:
            negated.add(value)
        else:
            present.add(value)
        position = end
    return present, negated


def _temperature(text: str, found: Rules) -> float | None:
    """The highest plausible body temperature the text gives, in °C."""
    readings: list[float] = []
    for m in found.temperature_unit.finditer(text):
        value, unit = float(m.group(1)), m.group(2)
        readings.append(value if unit in ("c", "celsius", "度") else round((value - 32) * 5 / 9, 1))
    for m in found.temperature_word.finditer(text):
        value = float(m.group(1))
        readings.append(value if found.celsius[0] <= value <= found.celsius[1] else round((value - 32) * 5 / 9, 1)
                        if found.fahrenheit[0] <= value <= found.fahrenheit[1] else float("nan"))
    plausible = [r for r in readings if found.celsius[0] <= r <= found.celsius[1]]
    return max(plausible) if plausible else None


def _zh_number(text: str, numbers: Mapping[str, float]) -> float | None:
    """A Chinese numeral up to 99 (十五, 二十, 两), or None."""
    if "十" in text:
        tens, _sep, ones = text.partition("十")
        high = numbers.get(tens, 0) if tens else 1
        low = numbers.get(ones, 0) if ones else 0
        return high * 10 + low if (not tens or tens in numbers) and (not ones or ones in numbers) else None
    return numbers.get(text) if len(text) == 1 else None


def _days(text: str, found: Rules) -> float | None:
    """The longest illness duration the text gives, in days (calendar dates like 3月5日 are not durations)."""
    longest = None
    for m in found.duration.finditer(_DATE.sub(" ", text)):
        digits, word, zh, unit = m.groups()
        count = float(digits) if digits else found.numbers.get(word) if word else _zh_number(zh, found.numbers)
        if count is not None:
            days = count * found.days_per_unit[unit]
            longest = days if longest is None else max(longest, days)
    return longest


def _meets(syndrome: Syndrome, present: set[str], temperature: float | None, days: float | None) -> bool:
    if not all(any(f in present for f in group) for group in syndrome.all_of):
        return False
    if syndrome.fever_at_least is not None and temperature is not None and temperature < syndrome.fever_at_least:
        return False
    return syndrome.onset_within_days is None or days is None or days <= syndrome.onset_within_days


def classify(text: str, found: Rules | None = None) -> Reading:
    """Read a chief complaint (English or Chinese) into findings and syndromes; only the first max_text characters."""
    found = found or rules()
    clean = normalise(text if isinstance(text, str) else "", found.max_text)
    present, negated = _mentions(clean, found)
    temperature = _temperature(clean, found)
    fevers = [s.fever_at_least for s in found.syndromes if s.fever_at_least is not None]
    if temperature is not None and fevers and temperature >= min(fevers):
        present.add("fever")
    days = _days(clean, found)
    syndromes = frozenset(s.id for s in found.syndromes if _meets(s, present, temperature, days))
    return Reading(syndromes, frozenset(present), frozenset(negated - present), temperature, days)
