"""Reading a chief complaint: symptoms (with synonyms, colloquial terms, typos and negation) and numbers, EN and ZH.

English is matched phrase by phrase on word tokens; a word that is not in the lexicon's vocabulary may be read as
one that is when it is one typing slip away (two for long words; rapidfuzz's optimal string alignment distance),
never for short words or common words. Chinese is segmented with rjieba (the lexicon's words added to its
dictionary), matched directly as phrases, and single-character terms only where they stand as a segmented word.
Negation follows NegEx's idea: a cue ("no", "denies", "没有", "不") before a term within the same clause, and a
word of normality straight after it ("breathing is normal", "喘气没问题": NegEx's post-negation triggers).
A symptom's `patterns` (regular expressions; `~` is up to three filler words) catch looser wordings: other word orders
and filler words ("blood is still spurting", "拿不住筷子"), never across a clause break or over a negation.
Chinese in traditional characters (Hong Kong, Taiwan) is first converted to simplified characters (OpenCC's t2s
table, which leaves simplified text as it is), then Cantonese and Taiwanese function words and set phrases are
rewritten in Mandarin (the lexicon files' ``colloquial_zh``: 唔 -> 不, 冇 -> 没, 咗 -> 了, 唔系 -> 不是), so the
lexicon, its negation cues and its patterns read them.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import rjieba
import yaml
from opencc import OpenCC
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

DATA_DIR = Path(__file__).parent / "data"

_HAN = re.compile(r"[\u3400-\u9fff]")
_EN_TOKEN = re.compile(r"[a-z0-9']+(?:\.[0-9]+)?|[.,;:!?()]")
_EN_BREAK = frozenset(".,;:!?()") | {"but", "however", "although", "though", "except", "yet", "and", "now", "then",
                                     "which", "who", "because", "since", "after", "while"}
_EN_CUES = frozenset({"no", "not", "without", "denies", "denied", "deny", "denying", "never", "negative", "nor",
                      "neither", "dont", "doesnt", "didnt", "hasnt", "havent", "isnt", "wasnt", "absent", "free"})
# Words after a cue that make it no negation at all ("no better", "not sure").
_EN_PSEUDO = frozenset({"better", "relief", "improvement", "improving", "sure", "only", "getting", "stopping", "stop",
                        "helping", "help", "going", "go", "just", "certain", "know", "knowing"})
# Common words that must never be "corrected" into a lexicon word.
_EN_KEEP = frozenset({"never", "ever", "fewer", "later", "couch", "touch", "tough", "could", "would", "should", "cause",
                      "house", "horse", "mouse", "sweet", "there", "where", "these", "those", "their", "other", "about",
                      "since", "still", "which", "while", "hours", "month", "months", "weeks", "years", "today",
                      "tonight", "morning", "evening", "night", "chess", "breast", "heard", "hearing", "seven",
                      "eleven", "fifty", "forty", "thirty", "twenty", "bleed", "breed", "front", "first", "worse",
                      "nurse", "doctor", "water", "after", "under", "over", "older", "elder", "child", "days", "being",
                      "spain", "paris", "wales", "stubbed", "stubbing", "multivitamin", "multivitamins", "vitamin", "vitamins", "cooking", "cooked", "cooker", "cookie",
                      "cookies", "beach", "consulting", "conversion", "conversions", "crashing", "writing", "overnight", "wedding", "weddings", "took",
                      "work", "works", "worked", "working", "hello", "hallo", "camping", "camped", "glove", "gloves"})
# Words a typo fallback must never add or drop ("can swallow" is not "can't swallow").
_EXACT = _EN_CUES | {"cant", "cannot", "wont", "can", "unable", "able", "one", "both", "left", "right", "but"}
_ZH_BREAK = re.compile(r"[，。；！？,.;!?：:]|但|却|可是|不过|诱因|以后|之后")
_ZH_CUES = ("并没有", "没有", "否认", "并无", "从未", "不是", "没", "无", "未", "不")
_ZH_PSEUDO = {"没": "完事好退用准停", "无": "法力聊", "未": "满", "不": "停断止住适舒行了少好清醒省能出上过到得着下动起开敢知见对同"}
# Post-negation: a word of normality straight after a term ("speech normal", "breathing is fine", "喘气没问题",
# "咽东西不费劲") says the symptom is absent. Only link words may stand between, never a clause break or another
# term, and "not normal" / "不正常" never match (the regex must start right after the term).
_EN_POST_NORMAL = re.compile(r"\s*(?:(?:is|are|was|were|seems?|looks?|sounds?|still|all|both|totally|completely|"
                             r"perfectly|quite|pretty|seem|look|sound)\s+){0,2}(?:normal(?:ly)?|fine|ok|okay|alright|"
                             r"all right|unaffected|intact|no problem|not a problem)\b", re.IGNORECASE)
_ZH_POST_NORMAL = re.compile(r"(?:都|也|倒|倒是|还|基本|完全|一切)?(?:正常|没问题|没啥问题|没什么问题|没事儿?|不费劲|顺畅|"
                             r"通畅|利索)")
# A bodily function (not a symptom: "喘气", "呼吸", "吞咽") read as a term, then other functions and "都/也 normal":
# "喘气吞东西都正常" denies breathlessness. Only the function words themselves, so "肚子痛吃饭睡觉都正常" still has
# the pain; never over a clause break, a negation or "other" ("胸闷其他都正常").
_ZH_FUNCTIONS = frozenset({"喘气", "呼吸", "吞咽", "吞东西", "咽东西", "说话", "讲话", "走路", "吃饭", "喝水", "大便", "小便",
                           "大小便", "睡觉", "精神", "胃口", "视力", "听力", "吃奶", "活动"})
_ZH_LIST_NORMAL = re.compile(r"((?:[、和跟及与]?[\u3400-\u9fff]){0,8}?)(?:都|也)(?:还|很|挺|基本)?(?:正常|没问题|没啥问题|没什么问题|"
                             r"不费劲|顺畅|通畅|利索|可以|好)(?![^，。；！？,.;!?\s]{0,2}(?:吗|嘛|么|\?|？))")
_ZH_LIST_NORMAL_NOT = re.compile(r"其他|其它|其余|别的|别处|另外|以外|之外|除了|但|却|可是|不过|没|不|无|未|痛|疼|血|晕|麻|肿")
# Keys that are facts about the person, not symptoms a word of normality could deny ("怀孕正常").
_NOT_POST_NEGATED = frozenset({"pregnancy"})
_ZH_CONNECTIVES = re.compile(r"[、和或及也有再会太怎么任何明显出现过感到觉得什么]")

_PREGNANCY_WEEKS = re.compile(r"(?:怀孕|孕)\s*[0-9一二两三四五六七八九十]+\s*(?:周|个月)|\d+\s*weeks?\s*pregnant|"
                              r"\d+\s*weeks?\s*(?:gestation|along)")
# Who a Chinese age directly follows ("孩子10个月" is an age, not ten months of illness).
_ZH_PERSON = "孩子|宝宝|小孩|儿子|女儿|婴儿|小宝|宝贝|孙子|孙女|外孙|娃|闺女|患儿|男婴|女婴|男孩|女孩|老人|患者|病人"
# A clinical summary's opening "58M", "45 F", "3yo M", "pt 70F": age and sex.
_SUMMARY_AGE_SEX = re.compile(r"(?:^|[,;(]\s*|\bpt\s+|\bpatient\s+)(\d{1,3})\s?(?:yo\s?|y/o\s?|y\s?|yrs?\s?)?([mf])\b")
# In lexicon patterns "~" is up to three filler words ("blood ~ spurting": "blood is still spurting").
_FILLERS = re.compile(r"\s*~\s*")
# Fillers stay inside the clause; the words they take are captured to check them for a negation ("chest not tight").
_FILLER = r"([^\\w.,;:!?]+(?:[\\w']+[^\\w.,;:!?]+){0,3}?)"
# A Chinese gap (".{0,4}") stays inside the clause and never takes a negation ("胸口不疼" is no chest pain).
_ZH_GAP = re.compile(r"\.(?=\{)")
_ZH_GAP_CLASS = "[^，。；！？,.;!?：:\\n没无未不否别]"
# Words after a site word that make it another thing ("chest infection" is no chest pain, "ear wax" no earache).
_SITE_NOT = r"\s+(?:infections?|x-?rays?|xrays?|colds?|scans?|drains?|physio\w*|clinic|tests?|wax)\b"
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "[0-9一二两三四五六七八九十半几]+"
_WORD_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10, "few": 3, "a few": 3, "several": 3, "couple of": 2, "a couple of": 2}
_UNIT_DAYS = {"minute": 1 / 1440, "min": 1 / 1440, "分钟": 1 / 1440, "hour": 1 / 24, "hr": 1 / 24, "day": 1, "week": 7, "wk": 7, "month": 30, "year": 365,
              "小时": 1 / 24, "钟头": 1 / 24, "天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "个月": 30, "月": 30, "年": 365}


@dataclass(frozen=True)
class Symptom:
    """A symptom of the lexicon: names, the level it alone leads to, departments and the words for it."""

    key: str
    name_en: str
    name_zh: str
    level: str
    departments: tuple[str, ...]
    pain: bool
    modifier: bool
    en: tuple[str, ...]
    zh: tuple[str, ...]
    covers: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    minor: bool = False
    pregnancy_common: bool = False
    harmless: bool = False
    explains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Site:
    """A body site read together with a nearby word of a kind (pain, swelling, injury...) as a symptom."""

    key: str
    kind: str
    en: tuple[str, ...]
    zh: tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    """A symptom found in the text: where, as which words, whether negated and whether read through a typo."""

    key: str
    start: int
    end: int
    matched: str
    negated: bool = False
    fuzzy: bool = False
    explained: bool = False  # told inside the words of a harmless finding that explains it (see _explained)


@dataclass(frozen=True)
class TextReading:
    """What a chief complaint says: symptom mentions and the numbers and facts that were plain to read."""

    mentions: tuple[Mention, ...] = ()
    temperature: float | None = None
    duration_days: float | None = None
    age_years: float | None = None
    severity: int | None = None
    sex: str | None = None
    infant_mentioned: bool = False
    numbers: dict[str, str] = field(default_factory=dict)
    heart_rate: float | None = None
    resp_rate: float | None = None
    spo2: float | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    gcs: float | None = None
    gestation_weeks: float | None = None
    tablets_taken: float | None = None
    unread: tuple[str, ...] = ()
    unread_concern: tuple[str, ...] = ()

    def present(self) -> set[str]:
        """The keys of symptoms mentioned and not negated."""
        return {m.key for m in self.mentions if not m.negated}

    def negated(self) -> set[str]:
        """The keys of symptoms only ever mentioned as absent."""
        return {m.key for m in self.mentions if m.negated} - self.present()


@dataclass(frozen=True)
class Lexicon:
    """The symptom lexicon with its English phrase index and vocabulary."""

    symptoms: dict[str, Symptom]
    source: str
    phrases: dict[str, list[tuple[tuple[str, ...], str]]]
    vocabulary: frozenset[str]
    zh_terms: tuple[tuple[str, str], ...]
    sites: tuple[Site, ...] = ()
    site_words: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)


def _en_tokens(text: str) -> list[tuple[str, int, int]]:
    """Word and punctuation tokens of text, apostrophes dropped ("can't" -> "cant"), with their offsets in text."""
    lowered = text.lower().replace("’", "'").replace("‘", "'")
    tokens = []
    for m in _EN_TOKEN.finditer(lowered):
        word = m.group().replace("'", "")
        if word:
            tokens.append((word, m.start(), m.end()))
    return tokens


def _en_words(text: str) -> list[str]:
    return [w for w, _, _ in _en_tokens(text) if w.isalnum() or "." in w]


def _merged_rows(rows: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The symptom rows of lexicon.yaml with those of the further files (lexicon_*.yaml) added: a further file may
    add symptoms (``symptoms``) and add words and patterns to a symptom defined before (``extend``: key, en, zh,
    patterns, and the flag pregnancy_common). A symptom key defined twice, or an extension of an unknown key, is an error.
    Every file's symptoms are defined before any extension applies, so a file may extend a symptom that a file later in
    name order defines."""
    merged = {row["key"]: dict(row) for row in rows}
    if len(merged) != len(rows):
        raise ValueError("lexicon: duplicate symptom key in lexicon.yaml")
    for doc in extra:
        for row in (doc or {}).get("symptoms") or ():
            if row["key"] in merged:
                raise ValueError(f"lexicon: duplicate symptom {row['key']}")
            merged[row["key"]] = dict(row)
    for doc in extra:
        for ext in (doc or {}).get("extend") or ():
            if ext["key"] not in merged:
                raise ValueError(f"lexicon: extension of unknown symptom {ext['key']}")
            row = merged[ext["key"]]
            for part in ("en", "zh", "patterns"):
                row[part] = [*row.get(part, ()), *(w for w in ext.get(part, ()) if w not in row.get(part, ()))]
            if "pregnancy_common" in ext:
                row["pregnancy_common"] = bool(ext["pregnancy_common"])
    return list(merged.values())


def check_explains(symptoms: Mapping[str, Symptom]) -> None:
    """A symptom's `explains` names only known keys that are not emergencies and explain nothing themselves: a harmless
    finding may explain away ordinary words, never a red-flag symptom's (ValueError otherwise)."""
    for s in symptoms.values():
        for key in s.explains:
            if key not in symptoms or symptoms[key].level == "emergency" or symptoms[key].explains:
                raise ValueError(f"lexicon: {s.key} explains {key}, which is unknown, an emergency or explains others")


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shipped symptom lexicon (loaded once; its Chinese words are added to rjieba's dictionary)."""
    raw = yaml.safe_load((DATA_DIR / "lexicon.yaml").read_text(encoding="utf-8"))
    rows = _merged_rows(raw["symptoms"], [yaml.safe_load(p.read_text(encoding="utf-8"))
                                          for p in sorted(DATA_DIR.glob("lexicon_*.yaml"))])
    symptoms: dict[str, Symptom] = {}
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    vocabulary: set[str] = set()
    zh_terms: list[tuple[str, str]] = []
    for row in rows:
        s = Symptom(key=row["key"], name_en=row["name_en"], name_zh=row["name_zh"], level=row["level"],
                    departments=tuple(row.get("departments", ())), pain=bool(row.get("pain")),
                    modifier=bool(row.get("modifier")),
                    en=tuple(row.get("en", ())), zh=tuple(row.get("zh", ())), covers=tuple(row.get("covers", ())),
                    patterns=tuple(re.compile(_ZH_GAP.sub(_ZH_GAP_CLASS, _FILLERS.sub(_FILLER, p)))
                                   for p in row.get("patterns", ())),
                    minor=bool(row.get("minor")), pregnancy_common=bool(row.get("pregnancy_common")),
                    harmless=bool(row.get("harmless")), explains=tuple(row.get("explains", ())))
        if s.key in symptoms:
            raise ValueError(f"lexicon: duplicate symptom {s.key}")
        symptoms[s.key] = s
        for phrase in s.en:
            words = tuple(_en_words(phrase))
            phrases.setdefault(words[0], []).append((words, s.key))
            vocabulary.update(words)
        for term in s.zh:
            zh_terms.append((term, s.key))
            rjieba.add_word(term, None, None)
    check_explains(symptoms)
    for entries in phrases.values():
        entries.sort(key=lambda e: -len(e[0]))
    zh_terms.sort(key=lambda t: -len(t[0]))
    kinds = {k: (tuple(v.get("en", ())), tuple(v.get("zh", ()))) for k, v in (raw.get("site_words") or {}).items()}
    sites = []
    for row in raw.get("sites") or ():
        if row["key"] not in symptoms or row["kind"] not in kinds:
            raise ValueError(f"lexicon: site {row['key']}/{row['kind']} is not a known symptom and kind")
        sites.append(Site(key=row["key"], kind=row["kind"], en=tuple(row.get("en", ())), zh=tuple(row.get("zh", ()))))
        for term in row.get("zh", ()):
            rjieba.add_word(term, None, None)
    return Lexicon(symptoms=symptoms, source=raw["source"], phrases=phrases, vocabulary=frozenset(vocabulary),
                   zh_terms=tuple(zh_terms), sites=tuple(sites), site_words=kinds)


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _colloquial_zh() -> tuple[re.Pattern[str], dict[str, str]]:
    """Cantonese and Taiwanese words with their Mandarin (the ``colloquial_zh`` maps of the lexicon files), as one
    alternation, longest first, and the map."""
    words: dict[str, str] = {}
    for path in [DATA_DIR / "lexicon.yaml", *sorted(DATA_DIR.glob("lexicon_*.yaml"))]:
        for source, mandarin in ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("colloquial_zh")
                                 or {}).items():
            if source in words:
                raise ValueError(f"lexicon: colloquial_zh {source} given twice")
            words[str(source)] = str(mandarin)
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"
    return re.compile(alternation), words


def normalise_chinese(text: str) -> str:
    """Text with its Chinese in simplified characters and Cantonese / Taiwanese words in Mandarin ("唔認得人" ->
    "不认得人"); text with no Chinese is returned as it is."""
    if not _HAN.search(text):
        return text
    pattern, words = _colloquial_zh()
    return pattern.sub(lambda m: words[m.group()], _t2s().convert(text))


def _patterns(text: str, found: list[Mention]) -> list[Mention]:
    """Symptoms told in looser wording: a lexicon pattern (a regular expression over the lowered text, with `~`
    standing for up to three filler words) such as "blood ~ spurting", "胳膊.{0,3}沉" - words in another order or with
    filler words between them. Negated as a term would be; never where the same symptom already stands."""
    lowered = text.lower().replace("’", "'").replace("‘", "'")
    out: list[Mention] = []
    spans = [(m.start, m.end) for m in found]
    tokens: list[tuple[str, int, int]] | None = None
    for s in lexicon().symptoms.values():
        for pattern in s.patterns:
            for m in pattern.finditer(lowered):
                if any(g and _EN_CUES & set(_en_words(g)) for g in m.groups()):
                    continue  # a negation among the filler words
                if m.end() <= m.start() or any(x.key == s.key and x.start < m.end() and m.start() < x.end
                                               for x in [*found, *out]):
                    continue
                if _HAN.search(m.group()):
                    negated = _zh_negated(text, m.start(), spans)
                else:
                    tokens = tokens if tokens is not None else _en_tokens(text)
                    at = next((i for i, (_, s0, _) in enumerate(tokens) if s0 >= m.start()), None)
                    negated = at is not None and _en_negated([w for w, _, _ in tokens], at)
                out.append(Mention(key=s.key, start=m.start(), end=m.end(), matched=text[m.start():m.end()],
                                   negated=negated))
    return out


def _allowed_slips(word: str) -> int:
    return 0 if len(word) < 5 else (1 if len(word) < 9 else 2)


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str | None:
    """The lexicon word a typed word means: itself, a plural's singular, or the one word a slip or two away."""
    vocab = lexicon().vocabulary
    if word in vocab:
        return word
    if word.endswith("s") and word[:-1] in vocab:
        return word[:-1]
    slips = _allowed_slips(word)
    if not slips or word in _EN_KEEP or word.isdigit():
        return None
    best: list[str] = []
    best_distance = slips + 1
    for candidate in vocab:
        if abs(len(candidate) - len(word)) > slips or len(candidate) < 5 or candidate[0] != word[0]:
            continue
        d = OSA.distance(word, candidate, score_cutoff=slips)
        if d < best_distance:
            best, best_distance = [candidate], d
        elif d == best_distance:
            best.append(candidate)
    return best[0] if len(best) == 1 else None


def _english(text: str) -> list[Mention]:
    lex = lexicon()
    spans = _en_tokens(text)
    words = [w for w, _, _ in spans]
    fixed = [_corrected(w) if w.isalnum() else w for w in words]
    found: list[Mention] = []
    i = 0
    while i < len(words):
        hit = None
        for phrase, key in lex.phrases.get(fixed[i] or words[i], ()):
            n = len(phrase)
            if tuple(fixed[i:i + n]) == phrase:
                hit = (phrase, key)
                break
        fuzzy = False
        if hit is None:
            hit = _near_phrase(words, i)
            fuzzy = hit is not None
        if hit is None:
            i += 1
            continue
        n = len(hit[0])
        fuzzy = fuzzy or any(fixed[j] != words[j] for j in range(i, i + n))
        start, end = spans[i][1], spans[i + n - 1][2]
        same = list(dict.fromkeys(key for phrase, key in lex.phrases[hit[0][0]] if phrase == hit[0]))
        negated = _en_negated(words, i)
        for key in same:
            found.append(Mention(key=key, start=start, end=end, matched=text[start:end], negated=negated, fuzzy=fuzzy))
        i += n
    return found


@lru_cache(maxsize=1)
def _phrases_by_letter() -> dict[tuple[str, int], list[tuple[tuple[str, ...], str, str]]]:
    """Multi-word phrases of 8 or more letters by (first letter, word count), for the typo fallback."""
    found: dict[tuple[str, int], list[tuple[tuple[str, ...], str, str]]] = {}
    for entries in lexicon().phrases.values():
        for phrase, key in entries:
            joined = " ".join(phrase)
            if len(phrase) >= 2 and len(joined) >= 8:
                found.setdefault((phrase[0][0], len(phrase)), []).append((phrase, key, joined))
    return found


def _near_phrase(words: list[str], i: int) -> tuple[tuple[str, ...], str] | None:
    """A multi-word phrase that the words at i spell with a slip or two ("sore throte", "runy nose"), or None."""
    if not words[i].isalpha() or words[i] in _EN_CUES:
        return None
    best, best_score = None, 90.0
    for n in range(4, 1, -1):
        window = words[i:i + n]
        if len(window) < n or any(not w.isalpha() or w in _EN_KEEP or w in _EN_CUES for w in window):
            continue
        joined = " ".join(window)
        for phrase, key, text in _phrases_by_letter().get((words[i][0], n), ()):
            if any(a[0] != b[0] or ((a in _EXACT or b in _EXACT) and a != b)
                   for a, b in zip(window, phrase, strict=True)):
                continue
            score = fuzz.ratio(joined, text)
            if score <= best_score and OSA.distance(joined, text) <= (1 if len(text) < 16 else 2):
                score = best_score + 0.5
            if score > best_score:
                best, best_score = (phrase, key), score
        if best:
            return best
    return None


def _en_negated(words: list[str], at: int) -> bool:
    """Whether a cue stands before words[at] in the same clause, at most six words back."""
    for j in range(at - 1, max(-1, at - 7), -1):
        w = words[j]
        if w in _EN_BREAK:
            return False
        if w in _EN_CUES and not (j + 1 < len(words) and words[j + 1] in _EN_PSEUDO):
            return True
    return False


def _chinese(text: str) -> list[Mention]:
    lex = lexicon()
    tokens: set[tuple[int, int]] = set()
    pos = 0
    for token in rjieba.cut(text):
        tokens.add((pos, pos + len(token)))
        pos += len(token)
    taken: list[tuple[int, int]] = []
    raw: list[tuple[int, int, str]] = []
    for term, key in lex.zh_terms:
        if term not in text:  # a plain substring test first: thousands of terms, few present
            continue
        for m in re.finditer(re.escape(term), text):
            start, end = m.span()
            if len(term) == 1 and (start, end) not in tokens:
                continue
            if any(s <= start and end <= e and (s, e) != (start, end) for s, e in taken):
                continue
            taken.append((start, end))
            raw.append((start, end, key))
    found = []
    for start, end, key in sorted(raw):
        negated = _zh_negated(text, start, [(s, e) for s, e, _ in raw])
        found.append(Mention(key=key, start=start, end=end, matched=text[start:end], negated=negated))
    return found


def _zh_negated(text: str, start: int, spans: list[tuple[int, int]]) -> bool:
    """Whether a negation cue precedes text[start:] within the clause (other terms and connectives may lie between)."""
    window_start = max(0, start - 12)
    before = text[window_start:start]
    for cue in _ZH_CUES:
        at = before.rfind(cue)
        while at >= 0:
            cue_start = window_start + at
            cue_end = cue_start + len(cue)
            if not any(s <= cue_start < e for s, e in spans) and _zh_cue_reaches(text, cue, cue_start, cue_end,
                                                                                 start, spans):
                return True
            at = before.rfind(cue, 0, at)
    return False


def _zh_cue_reaches(text: str, cue: str, cue_start: int, cue_end: int, start: int,
                    spans: list[tuple[int, int]]) -> bool:
    gap = text[cue_end:start]
    if _ZH_BREAK.search(gap):
        return False
    follower = text[cue_end:cue_end + 1]
    if cue in _ZH_PSEUDO and follower and follower in _ZH_PSEUDO[cue] and not any(
            s == cue_end for s, _ in spans):
        return False
    previous = text[cue_start - 1:cue_start] if cue_start else ""
    # "是不是", "有无", "有没有": a question, not a denial ("不知道有没有发烧" may well be a fever).
    if (cue == "不" and previous == "是") or (cue in ("无", "没", "没有") and previous == "有"):
        return False
    plain = "".join(ch for k, ch in enumerate(gap, start=cue_end) if not any(s <= k < e for s, e in spans))
    plain = _ZH_CONNECTIVES.sub("", plain)
    return len(plain) <= (0 if cue == "不" else 2)


def _cn_number(token: str) -> float | None:
    """A number written in digits or Chinese numerals (up to 99, 半 = 0.5, 几 = 3)."""
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", token):
        return float(token)
    if token == "半":
        return 0.5
    if token in ("几", "好几"):
        return 3.0
    if "十" in token:
        tens, _, units = token.partition("十")
        t = _CN_DIGITS.get(tens, 1) if tens else 1
        u = _CN_DIGITS.get(units, 0) if units else 0
        return float(t * 10 + u) if (not tens or tens in _CN_DIGITS) and (not units or units in _CN_DIGITS) else None
    if len(token) == 1 and token in _CN_DIGITS:
        return float(_CN_DIGITS[token])
    return None


def _temperature(text: str, lowered: str) -> tuple[float | None, str]:
    patterns = [
        (r"(\d{2}(?:\.\d{1,2})?)\s*(?:°|º|degrees?|deg)?\s*(?:c\b|celsius|℃)", 1.0),
        (r"(?:temp(?:erature)?|fever|pyrexia|\bt)\s*(?:of|is|was|at|up to|reached|:|=)?\s*"
         r"(?:(?:of )?(?:around|about|approximately|approx|roughly|over|above|nearly|almost|~|>)\s*)?"
         r"(\d{2,3}(?:\.\d{1,2})?)", 1.0),
        (r"(\d{3}(?:\.\d)?)\s*(?:°|degrees?)?\s*(?:f\b|fahrenheit)", 1.0),
        (r"(\d{2})\s*度\s*(\d)(?![0-9天个小])", 2.0),
        (r"(\d{2}(?:\.\d{1,2})?)\s*(?:度|℃|°)", 1.0),
        (r"(?:体温|烧到|发烧|发热|高烧|烧了)\D{0,3}?(\d{2}(?:\.\d{1,2})?)", 1.0),
        (r"([三四]十[一二三四五六七八九]?)度([一二三四五六七八九])?", 3.0),
        # A reading told by the thermometer or the place it was taken ("the thermometer says 38.3", "38.1 under the
        # arm", "腋下38.3", "耳温38.6"): NICE NG143 counts an underarm reading in a baby as measured.
        (r"\b(?:thermometers?|therm|temp gun|forehead scanner)\b[^.;!?\d]{0,24}?(\d{2}(?:\.\d{1,2})?)(?!\s*(?:min|hour|sec|time))",
         1.0),
        (r"(\d{2}(?:\.\d{1,2})?)\s*(?:°|degrees?)?\s*(?:under (?:the|his|her|my|their) (?:arm|armpit|tongue)|in (?:the|his|"
         r"her|my|their) (?:ear|armpit|mouth|bottom)|(?:from|on) (?:the|his|her|my) (?:ear|forehead)|axillary|tympanic|"
         r"orally|rectally)", 1.0),
        (r"(?:腋下|腋温|耳温|肛温|口温|额温|体温计|温度计|耳温枪|额温枪|量了一下|量了下|测了一下|测了下|一量)"
         r"[^，。；！？,.;!?\d]{0,6}?(\d{2}(?:\.\d{1,2})?)", 1.0),
    ]
    for pattern, how in patterns:
        m = re.search(pattern, lowered)
        if not m:
            continue
        if how == 2.0:
            value = float(f"{m.group(1)}.{m.group(2)}")
        elif how == 3.0:
            whole = _cn_number(m.group(1))
            if whole is None:
                continue
            value = whole + (_CN_DIGITS[m.group(2)] / 10 if m.group(2) else 0)
        else:
            value = float(m.group(1))
        if value >= 90:
            value = round((value - 32) * 5 / 9, 1)
        if 34 <= value <= 43.5:
            return value, text[m.start():m.end()]
    return None, ""


def _ages(text: str, lowered: str) -> tuple[float | None, list[tuple[int, int]], str]:
    """The age written in the text (years), the spans that were ages (not durations) and the words."""
    spans: list[tuple[int, int]] = []
    age: float | None = None
    words = ""
    patterns = [
        (r"(\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten)[\s-]*(year|yr|month|mo|week|wk|day)s?"
         r"[\s-]*old",
         "en"),
        (r"\baged?\s*(\d+(?:\.\d+)?)()", "en"),
        (r"(\d+(?:\.\d+)?)\s*(?:yo|y/o|y\.o\.|yrs?)\b()", "en"),
        (rf"({_CN_NUM})\s*(周岁|岁半|岁)", "zh"),
        (rf"({_CN_NUM})\s*(个多月|个月|天|周)\s*(?:大|的(?:宝宝|婴儿|孩子|小孩|宝|新生儿|男婴|女婴|男孩|女孩))", "zh"),
        (rf"(?:出生|生下来|刚出生)\s*({_CN_NUM})\s*(天|周|个月|个礼拜|礼拜|个星期|星期)", "zh"),
        (rf"(?:{_ZH_PERSON})(?:才|刚|刚满|已经|现在|今年|目前|快)?\s*({_CN_NUM})\s*(个多月|个月|周岁|岁半|岁)", "zh"),
        (r"(\d{1,2})\s*(月龄)", "zh"),
        (r"\b(\d{1,2})\s*(mo)s?\b(?!\s*ago)", "en-short"),
    ]
    unit_years = {"year": 1, "yr": 1, "month": 1 / 12, "mo": 1 / 12, "week": 7 / 365, "wk": 7 / 365, "day": 1 / 365,
                  "": 1, "周岁": 1, "岁": 1, "岁半": 1, "月龄": 1 / 12, "个月": 1 / 12, "个多月": 1 / 12, "天": 1 / 365, "周": 7 / 365,
                  "个礼拜": 7 / 365, "礼拜": 7 / 365, "个星期": 7 / 365, "星期": 7 / 365}
    for pattern, lang in patterns:
        for m in re.finditer(pattern, lowered):
            if lang == "en-short" and re.search(r"(?:\bfor|\bx|×|\bpast|\blast|\bover|\bsince)\s*$",
                                                lowered[:m.start()]):
                continue  # "for 6mo" is a duration
            n = _WORD_NUM.get(m.group(1)) if lang == "en" and not m.group(1)[0].isdigit() else _cn_number(m.group(1))
            if n is None:
                continue
            value = n * unit_years[m.group(2)] + (0.5 if m.group(2) == "岁半" else 0)
            spans.append(m.span())
            if age is None and 0 <= value <= 120:
                age, words = round(value, 3), text[m.start():m.end()]
    short = _SUMMARY_AGE_SEX.search(lowered)
    if short:
        spans.append(short.span(1))
        if age is None and int(short.group(1)) <= 120:
            age, words = float(short.group(1)), text[short.start(1):short.end(2)]
    if age is None and re.search(r"newborn|new born|新生儿|刚出生", lowered):
        age, words = 0.05, "newborn"
    return age, spans, words


# Travel context: a span of time in such a clause dates the journey, not the complaint ("back from Ghana a week ago").
_TRAVEL = re.compile(r"\b(?:back from|came back|got back|come back|returned|returning|flew|flight|trip|holiday|"
                     r"travell?(?:ed|ing)|visit(?:ed|ing))\b|回来|回国|旅游|旅行|出差|出国|飞回")
# Words that say the span that follows is how long the complaint has lasted.
_LASTING = re.compile(r"(?:\bfor|\bpast|\blast|\bover the|\blasting|\bsince)\s*(?:the\s*)?(?:past|last)?\s*$|"
                      r"(?:持续|已经|有|了|近)\s*$")


def _clause_at(lowered: str, at: int) -> str:
    """The clause (between punctuation marks) of the text around position at."""
    start = max(lowered.rfind(p, 0, at) for p in "，。；！？,.;!?\n") + 1
    ends = [e for e in (lowered.find(p, at) for p in "，。；！？,.;!?\n") if e >= 0]
    return lowered[start:min(ends) if ends else len(lowered)]


def _duration(text: str, lowered: str, ages: list[tuple[int, int]]) -> tuple[float | None, str]:
    patterns = [
        r"(\d+(?:\.\d+)?|a couple of|couple of|a few|few|several|an|a|one|two|three|four|five|six|seven|eight|nine|ten)"
        r"\s*(minute|min|hour|hr|day|week|wk|month|year)s?\b",
        rf"({_CN_NUM})\s*(?:多)?\s*(个月|个多月|小时|个小时|钟头|个钟头|分钟|天|日|周|星期|个星期|礼拜|个礼拜|月|年)",
    ]
    found: list[tuple[bool, float, str]] = []
    for pattern in patterns:
        for m in re.finditer(pattern, lowered):
            if any(s <= m.start() < e for s, e in ages) or lowered[max(0, m.start() - 1):m.start()] == "每":
                continue
            if re.match(r"\s*(?:[0-9一二两三四五六七八九十几]+\s*次|times|x\b)", lowered[m.end():]) or re.search(
                    r"(?:\btimes|\bonce|\btwice)\s*(?:a|per|/)?\s*$|\bx\s*(?:a|per|/)\s*$", lowered[:m.start()]):
                continue  # a frequency ("一天七八次", "3 times a day"), not how long it has lasted
            if _TRAVEL.search(_clause_at(lowered, m.start())):
                continue  # travel context ("back from Africa a week ago"), not how long the complaint has lasted
            n = _WORD_NUM.get(m.group(1)) if not _HAN.search(m.group(0)) and not m.group(1)[0].isdigit() \
                else _cn_number(m.group(1))
            unit = m.group(2).removeprefix("个").replace("多", "")
            if n is None or unit not in _UNIT_DAYS:
                continue
            lasting = bool(_LASTING.search(lowered[max(0, m.start() - 16):m.start()]))
            found.append((lasting, round(n * _UNIT_DAYS[unit], 3), text[m.start():m.end()]))
    if found:  # "for two days" / "持续两天" before any other span of time in the text
        _, days, words = next((f for f in found if f[0]), found[0])
        return days, words
    relative = [(r"since yesterday|yesterday|昨天|昨晚|昨日", 1.0), (r"前天", 2.0), (r"last night", 0.5),
                (r"this morning|today|tonight|今天|今早|今晨|早上|刚才|刚刚|just now|an hour ago|minutes ago|分钟前", 0.2)]
    for pattern, days in relative:
        m = re.search(pattern, lowered)
        if m:
            return days, text[m.start():m.end()]
    return None, ""


def _severity(text: str, lowered: str) -> tuple[int | None, str]:
    for pattern in (r"\b(\d{1,2})\s*(?:/|out of)\s*10\b", r"(?:疼|痛)\D{0,4}?(\d{1,2})\s*分(?!钟)",
                    r"(\d{1,2})\s*分(?!钟)\D{0,2}(?:疼|痛)"):
        m = re.search(pattern, lowered)
        if m and 0 <= int(m.group(1)) <= 10:
            return int(m.group(1)), text[m.start():m.end()]
    return None, ""


def _sex(lowered: str) -> str | None:
    male = re.search(r"\b(man|male|boy|gentleman|he|his|him|father|husband|son|grandfather|dad)\b|男|先生|他|老公|丈夫|"
                     r"爸爸|父亲|爷爷|外公|儿子", lowered)
    female = re.search(r"\b(woman|female|girl|lady|she|her|mother|wife|daughter|grandmother|mum|mom)\b|女|她|老婆|"
                       r"妻子|妈妈|母亲|奶奶|外婆|孕妇", lowered)
    if male and female:
        return "male" if male.start() < female.start() else "female"
    return "male" if male else ("female" if female else None)

_NOT_A_RATE = r"(?!\s*(?:/|\.\d|\d|%|岁|天|日|周|小时|分钟|个|年|days?|hours?|weeks?|months?|years?|yrs?|mins?|minutes?|times|次[^/每]))"
_VITALS = {
    "heart_rate": [
        r"(?:\bhr\b|heart rate|\bpulse(?: rate)?\b|\bp\s*[:=]|心率|脉搏|脉率|心跳)[^0-9/\n]{0,12}?(\d{2,3})" + _NOT_A_RATE,
        r"(\d{2,3})\s*(?:bpm|beats? (?:a|per) min(?:ute)?)",
    ],
    "resp_rate": [
        r"(?:\brr\b|resp(?:iratory)? rate|\bresps?\b|呼吸频率|呼吸次数)\s*(?:of|is|was|:|=)?\s*(\d{1,2})(?!\d|\.\d|\s*/\s*\d)",
        r"呼吸\D{0,4}?(\d{1,2})\s*次",
        r"(\d{1,2})\s*(?:breaths? (?:a|per) min(?:ute)?)",
    ],
    "spo2": [
        r"(?:spo2|sp02|sao2|\bo2 sats?\b|\bsats?\b|oxygen(?: saturation| sats?| level)?|saturation|血氧(?:饱和度)?|氧饱和度|指脉氧)"
        r"[^0-9\n]{0,12}?(\d{2,3})(?:\s*%)?(?!\d|\s*/)",
    ],
    "gcs": [r"\bgcs\s*(?:of|is|was|:|=)?\s*(\d{1,2})\b", r"格拉斯哥\D{0,6}(\d{1,2})"],
}
_VITAL_RANGES = {"heart_rate": (20, 300), "resp_rate": (4, 90), "spo2": (50, 100), "gcs": (3, 15)}
_BP = [re.compile(r"(?:\bbp\b|\bb/p\b|blood pressure|血压|\bnibp\b)[^0-9\n]{0,24}?(\d{2,3})\s*/\s*(\d{2,3})"),
       re.compile(r"(\d{2,3})\s*/\s*(\d{2,3})\s*(?:mm ?hg|毫米汞柱)")]
_GESTATION = [re.compile(r"(?:怀孕|孕)\s*([0-9一二两三四五六七八九十]+)\s*(周|个月)"),
              re.compile(r"(\d{1,2})(?:\+\d)?\s*(?:weeks?|wks?)\s*(?:pregnant|gestation|along|of pregnancy)"),
              re.compile(r"(?:pregnant|gestation|\bga)\s*(?:at|of|,|:)?\s*(\d{1,2})(?:\+\d)?\s*(?:weeks?|wks?|w\b)"),
              re.compile(r"(?<![\d/])(\d{2})(?:\+\d)?\s*/\s*40\b(?!\s*/)")]


def _vitals(text: str, lowered: str) -> tuple[dict[str, float], dict[str, str], list[tuple[int, int]]]:
    """Vital signs written in the text (HR, RR, SpO2, GCS, blood pressure), their words and spans."""
    found: dict[str, float] = {}
    words: dict[str, str] = {}
    spans: list[tuple[int, int]] = []
    for pattern in _BP:
        m = pattern.search(lowered)
        if m:
            systolic, diastolic = float(m.group(1)), float(m.group(2))
            if 50 <= systolic <= 300 and 20 <= diastolic <= 200 and systolic > diastolic:
                found["systolic_bp"], found["diastolic_bp"] = systolic, diastolic
                words["systolic_bp"] = words["diastolic_bp"] = text[m.start():m.end()]
                spans.append(m.span())
                break
    for name, patterns in _VITALS.items():
        low, high = _VITAL_RANGES[name]
        for pattern in patterns:
            m = next((m for m in re.finditer(pattern, lowered) if low <= float(m.group(1)) <= high
                      and not any(s <= m.start(1) < e for s, e in spans)), None)
            if m:
                found[name], words[name] = float(m.group(1)), text[m.start():m.end()]
                spans.append(m.span())
                break
    return found, words, spans


def _gestation(lowered: str) -> tuple[float | None, list[tuple[int, int]]]:
    """Weeks of pregnancy written in the text ("孕32周", "28 weeks pregnant", "28/40") and their spans."""
    weeks: float | None = None
    spans = []
    for pattern in _GESTATION:
        for m in pattern.finditer(lowered):
            n = _cn_number(m.group(1))
            if n is None:
                continue
            value = n * (4.3 if m.lastindex and m.lastindex >= 2 and m.group(2) == "个月" else 1)
            if 3 <= value <= 43:
                spans.append(m.span())
                weeks = weeks if weeks is not None else value
    return weeks, spans


# Tablets taken, counted for an overdose (TOXBASE / MHRA 2012: a paracetamol dose is judged in mg/kg over 24 hours,
# so the count is read per day: "took like 30 paracetomol", "2 packets of panadol", "吃了三十片扑热息痛", "一天吃了
# 二十片"). Only a past ingestion counts ("took", "swallowed", "been taking ... a day", 吃了), never a regimen ("I take
# 12 tablets a day for my heart"), and never a dose in a question ("how many can I take"). A pack, packet or box is
# counted as 16 tablets (the UK pharmacy pack of paracetamol), a 板 as 10, a 盒 as 20.
_EN_COUNT = r"(\d{1,3}|a dozen|dozens|twenty|thirty|forty|fifty|sixty|a hundred|ten|eleven|twelve|fifteen|sixteen|" \
            r"two|three|four|five|six|seven|eight|nine)"
_EN_COUNT_WORDS = {"a dozen": 12, "dozens": 24, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
                   "a hundred": 100, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "sixteen": 16}
_TAB_NOUN = (r"(?:tablets?|tabs?|pills?|capsules?|caps|paracet\w*|parac\w*mol\w*|parecet\w*|paricet\w*|paracemol\w*|"
             r"panadol\w*|panadeine|calpol|tylenol|acetaminophen|apap|pcm|paras|co-?codamol|cocodamol|solpadeine|"
             r"ibuprofen|ibuprofens|nurofen|advil|brufen|naproxen|aspirins?|codeine|tramadol|sertraline|citalopram|"
             r"fluoxetine|amitriptyline|diazepam|zopiclone|sleeping (?:tablets|pills)|quetiapine|iron tablets)")
_TAB_PACK = r"(?:packs?|packets?|boxes|box|strips?|blister packs?)"
_EN_TOOK = (r"\b(?:took|taken|had|swallowed|swallow|ate|eaten|downed|necked|popped|chewed|got through|been taking|"
            r"was taking|were taking|have taken|has taken|'ve taken|ve taken|overdosed on|od'?d on|od on)\b")
_EN_TABLETS = [
    (re.compile(_EN_TOOK + r"(?:\s+(?:like|about|around|roughly|maybe|over|at least|nearly|almost|approx|approximately|"
                           r"between|some|~|all|the|of|my|his|her|their|mums?|dads?|nans?|[a-z]+'s))*\s+" + _EN_COUNT +
                r"(?:\s*(?:-|to|or)\s*(\d{1,3}))?\s*(?:x\s*)?(?:\w+\s+){0,2}?" + _TAB_NOUN + r"\b"), 1),
    (re.compile(_EN_TOOK + r"(?:\s+(?:like|about|around|maybe|over|at least|nearly|almost|all))*\s+" + _EN_COUNT +
                r"\s+(?:whole\s+|full\s+)?" + _TAB_PACK + r"\b"), 16),
    (re.compile(r"\b" + _TAB_NOUN + r"\s*(?:x|×)\s*(\d{1,3})\b"), 1),
]
_ZH_TABLETS = [
    (re.compile(r"(?:吃|吞|服|喝|嗑)(?:了|下|掉|下去)?了?(?:大概|差不多|快|将近|至少|好像|约|估计|有)?"
                r"([0-9一二两三四五六七八九十几百]+)多?(片|粒|颗|板|盒)"), None),
]
_ZH_UNIT_TABLETS = {"片": 1, "粒": 1, "颗": 1, "板": 10, "盒": 20}
_OVER_DAYS = re.compile(r"\b(?:over|in|across|within|for)\s+(?:the\s+)?(?:last\s+|past\s+)?(\d{1,2}|two|three|four|"
                        r"five|six|seven|a few|few|several)\s+days?\b|([0-9一二两三四五六七八九十]+)\s*天(?:里|内|来|之内|下来|一共|总共|共)|"
                        r"\b(?:over|in|across|within|during)\s+(?:the|a|this|last)\s+(week)\b|(?:一|这|上)(?:周|个星期|个礼拜)(?:里|内|来|一共|总共)?()")


def _zh_count(token: str) -> float | None:
    """A Chinese count of tablets: digits, numerals, 十几 (read as 12), 几十 (30), 二十几 (22), 一百 (100)."""
    if token.endswith("几") and len(token) > 1 and "十" in token:
        base = _cn_number(token[:-1])
        return None if base is None else base + 2
    if token.startswith("几十"):
        return 30.0
    if token in ("一百", "百"):
        return 100.0
    return _cn_number(token)


def _tablets(text: str, lowered: str) -> tuple[float | None, str]:
    """The most tablets said to have been taken within a day (a count over several days is divided by the days)."""
    best: tuple[float, str] | None = None
    clauses = [(c.start(), c.end()) for c in re.finditer(r"[^。；！？.;!?\n]+", lowered)]
    for pattern, each in _EN_TABLETS + _ZH_TABLETS:
        for m in pattern.finditer(lowered):
            token = m.group(1)
            if each is None:
                n = _zh_count(token)
                per = _ZH_UNIT_TABLETS[m.group(2)]
            else:
                n = float(token) if token.isdigit() else _EN_COUNT_WORDS.get(token, _WORD_NUM.get(token))
                if m.lastindex and m.lastindex >= 2 and m.group(2) and n:  # "3 or 4", "20-30": the larger
                    n = max(n, float(m.group(2)))
                per = each
            if not n:
                continue
            before = lowered[max(0, m.start() - 30):m.start()]
            if re.search(r"\b(?:how many|can i|could i|should i|may i|is it ok|is it safe)\b[^.?!]*$|多少|能不能|可以吗|可不可以",
                         before):
                continue
            lo, hi = next(((s, e) for s, e in clauses if s <= m.start() < e), (m.start(), m.end()))
            days = _OVER_DAYS.search(lowered[lo:hi])
            divisor = 1.0
            if days:
                word = days.group(1) or days.group(2)
                d = _WORD_NUM.get(word) if word and not word[0].isdigit() and not _HAN.search(word) else (
                    _cn_number(word) if word else None)
                if days.group(3) or days.group(4) is not None:  # over a week
                    d = 7
                divisor = max(1.0, float(d)) if d else 1.0
            count = n * per / divisor
            if best is None or count > best[0]:
                best = (round(count, 1), text[m.start():m.end()])
    return (best[0], best[1]) if best else (None, "")


def _sites(text: str, found: list[Mention]) -> list[Mention]:
    """Symptoms told by a body site and a nearby word of a kind: "pain low down on one side of my belly",
    "一只眼睛突然又红又痛", "my face and hands have swollen up". Only in the same clause and where no lexicon term
    already stands."""
    lex = lexicon()
    if not lex.sites:
        return []
    lowered = text.lower()
    taken = [(m.start, m.end) for m in found]
    have = {m.key for m in found}
    clauses = [(c.start(), c.end()) for c in re.finditer(r"[^，。；！？,.;!?\n]+", lowered)]
    out: list[Mention] = []
    for site in lex.sites:
        if site.key in have or any(m.key == site.key for m in out):
            continue
        en_kind, zh_kind = lex.site_words[site.kind]
        for start, end in clauses:
            clause = lowered[start:end]
            hit = None  # (site start, site end, kind word position)
            for word in site.en:
                for m in re.finditer(rf"\b{re.escape(word)}\b(?!{_SITE_NOT})", clause):
                    lo = max(0, m.start() - 60)
                    near = [lo + k.start() for w in en_kind
                            for k in re.finditer(rf"\b{re.escape(w)}", clause[lo:m.end() + 60])]
                    if near:
                        hit = (start + m.start(), start + m.end(), start + min(near, key=lambda k: abs(k - m.start())))
                        break
                if hit:
                    break
            if not hit:
                for word in site.zh:
                    for m in re.finditer(re.escape(word), clause):
                        lo = max(0, m.start() - 3)
                        window = clause[lo:m.end() + 8]
                        near = [lo + window.find(k) for k in zh_kind if k in window]
                        if near:
                            hit = (start + m.start(), start + m.end(), start + min(near))
                            break
                    if hit:
                        break
            if hit and not any(s < hit[1] and hit[0] < e for s, e in taken):
                spans = [(m.start, m.end) for m in found]
                if _HAN.search(text[start:end]):
                    negated = _zh_negated(text, hit[2], spans) or _zh_negated(text, hit[0], spans)
                else:
                    tokens = _en_tokens(text)
                    words = [w for w, _, _ in tokens]
                    at = [i for i, (_, s0, _) in enumerate(tokens) if s0 >= min(hit[0], hit[2])]
                    negated = bool(at) and (_en_negated(words, at[0]) or _en_negated(
                        words, next((i for i, (_, s0, _) in enumerate(tokens) if s0 >= max(hit[0], hit[2])), at[0])))
                out.append(Mention(key=site.key, start=hit[0], end=hit[1], matched=text[start:end].strip()[:40],
                                   negated=negated))
                break
    return out


# Joining words at which a clause is split into parts to tell whether each part was read.
_UNREAD_JOIN = re.compile(r"\b(?:and|but|with|plus|also)\b|而且|并且|同时|还有", re.IGNORECASE)


# An unread part that names a body part or a bodily sense may be the serious part of the complaint ("an elephant
# sitting on my chest"); one that reassures ("playing normally", "能吃能喝", "血已经止住了") is not.
_CONCERN = re.compile(r"\b(?:chest|heart|arm|arms|jaw|neck|head|face|mouth|speech|words|talk\w*|speak\w*|breath\w*|"
                      r"belly|stomach|tummy|abdomen|baby|bump|blood|bleed\w*|legs?|eyes?|vision|throat|back(?! from| home)|side|"
                      r"weight|pressure|squeez\w*|crush\w*|numb\w*|weak\w*|faint\w*|dizz\w*|collaps\w*|fits?|"
                      r"jump\w*|die|dying|dead|goodbye|pills|tongue|lips?)\b|胸|心口|心脏|胳膊|手臂|下巴|脖子|头|脸|嘴|说话|呼吸|"
                      r"喘|气|肚子|孩子|宝宝|胎|血|腿|眼|喉咙|跳|死|遗书|后事|晕|麻|没劲|抽|舌|唇")
_REASSURE = re.compile(r"\b(?:normal\w*|fine|ok|okay|well|better|usual|as always|same as|up to date|cleaned|"
                       r"settled|stopped|gone)\b|正常|没问题|挺好|很好|好了|好一些|好多了|止住|已经好|跟以前一样|和以前一样|"
                       r"能吃|能喝|能玩|能睡|能走|精神好|不厉害|不严重|"
                       r"^\s*(?:没有|没|无|不|未|否认|(?:no|not|denies|without|never)\b)|^[\u3400-\u9fff]{1,3}(?:不|没)[\u3400-\u9fff]{1,2}$")


def _unread(text: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    """Clauses of the text in which nothing at all was read (no symptom, number or fact)."""
    unread = []
    for c in re.finditer(r"[^，。；！？,.;!?\n]+", text):
        # A clause is read part by part: "an elephant on my chest and I'm sweating" has an unread first part.
        cuts = [c.start(), *(c.start() + m.start() for m in _UNREAD_JOIN.finditer(c.group())), c.end()]
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            words = text[lo:hi].strip()
            size = len(_HAN.findall(words)) + len(re.findall(r"[A-Za-z]{2,}", words))
            if size < 3 or any(s < hi and lo < e for s, e in spans):
                continue
            unread.append(words)
    return tuple(unread)


def _post_negated(text: str, mentions: list[Mention]) -> tuple[list[Mention], list[tuple[int, int]]]:
    """The mentions with those a word of normality follows marked negated, and where those words stand."""
    starts = {m.start for m in mentions}
    out, spans = [], []
    for m in mentions:
        if m.negated or m.key in _NOT_POST_NEGATED:
            out.append(m)
            continue
        rest = text[m.end:]
        hit = (_ZH_POST_NORMAL.match(rest) if _HAN.match(text[m.end - 1:m.end] or " ") else None) \
            or _EN_POST_NORMAL.match(rest)
        if hit is None and text[m.start:m.end] in _ZH_FUNCTIONS:
            # A bodily function in a list that is normal: "喘气吞东西都正常", "呼吸、说话也没问题".
            hit = _ZH_LIST_NORMAL.match(rest)
            if hit is not None and not _ZH_LIST_NORMAL_NOT.search(hit.group(1)):
                out.append(replace(m, negated=True))
                spans.append((m.end, m.end + hit.end()))
                continue
            hit = None
        if hit is None or any(m.end < s < m.end + hit.end() for s in starts):
            out.append(m)
            continue
        out.append(replace(m, negated=True))
        spans.append((m.end, m.end + hit.end()))
    return out, spans


def _explained(mentions: list[Mention]) -> list[Mention]:
    """The mentions, those a harmless finding told in the same words explains marked `explained`: "sneezes" in "my 2
    week old sneezes after feeds" is no cold, "pink" in "my wee is pink after beetroot" no blood, the "red patch" on
    the white of an eye no red eye. The engine shows them but no rule or level counts them. Only mentions that overlap
    the finding's own words are explained, so a symptom told elsewhere in the text ("... and a runny nose") still
    stands; a negated finding explains nothing."""
    symptoms = lexicon().symptoms
    spans = {key: [(m.start, m.end) for m in mentions if not m.negated and key in symptoms[m.key].explains]
             for key in {k for m in mentions for k in symptoms[m.key].explains}}
    return [replace(m, explained=True) if not m.negated and any(s < m.end and m.start < e
                                                                 for s, e in spans.get(m.key, ())) else m
            for m in mentions]


def read(text: str) -> TextReading:
    """Read a chief complaint (English, Chinese or both mixed): symptoms with negation, and plain numbers. Chinese is
    read in simplified characters and Mandarin words (`normalise_chinese`); the words shown are those."""
    text = normalise_chinese(text)
    lowered = text.lower()
    mentions = _english(text) + (_chinese(text) if _HAN.search(text) else [])
    mentions += _sites(text, mentions)
    mentions += _patterns(text, mentions)
    weeks, weeks_spans = _gestation(lowered)
    weeks_pregnant = [m.span() for m in _PREGNANCY_WEEKS.finditer(lowered)] + weeks_spans
    mentions += [Mention(key="pregnancy", start=s, end=e, matched=text[s:e]) for s, e in weeks_pregnant]
    mentions, normal_spans = _post_negated(text, mentions)
    mentions = _explained(mentions)
    vitals, v_words, v_spans = _vitals(text, lowered)
    temperature, t_words = _temperature(text, lowered)
    age, age_spans, age_words = _ages(text, lowered)
    duration, d_words = _duration(text, lowered, age_spans + weeks_pregnant + v_spans)
    severity, s_words = _severity(text, lowered)
    tablets, tab_words = _tablets(text, lowered)
    numbers: dict[str, Any] = {k: v for k, v in (("temperature", t_words), ("age_years", age_words),
                                                  ("duration_days", d_words), ("severity", s_words)) if v}
    numbers.update(v_words)
    if tablets is not None:
        numbers["tablets_taken"] = tab_words
    if weeks is not None:
        numbers["gestation_weeks"] = f"{weeks:g}"
    infant = bool(re.search(r"\b(baby|babies|infant|newborn)\b|宝宝|婴儿|新生儿|月子里", lowered))
    short = _SUMMARY_AGE_SEX.search(lowered)
    sex = ("male" if short.group(2) == "m" else "female") if short else _sex(lowered)
    read_spans = [(m.start, m.end) for m in mentions] + v_spans + age_spans + weeks_pregnant + normal_spans
    for words in (t_words, d_words, s_words, tab_words):
        at = text.find(words) if words else -1
        if at >= 0:
            read_spans.append((at, at + len(words)))
    unread = _unread(text, read_spans)
    return TextReading(mentions=tuple(sorted(mentions, key=lambda m: m.start)), temperature=temperature,
                       duration_days=duration, age_years=age, severity=severity, sex=sex,
                       infant_mentioned=infant, numbers=numbers, gestation_weeks=weeks, tablets_taken=tablets,
                       unread=unread, unread_concern=tuple(u for u in unread if _CONCERN.search(u.lower())
                                                           and not _REASSURE.search(u.lower())), **vitals)
