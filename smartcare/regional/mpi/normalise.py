"""Demographics made comparable: names to Latin letters (Chinese through pinyin), dates, sex, phones, addresses.

Every function takes what a person or a source system typed and returns a plain string, "" when the
value is missing or unusable, so that comparison never has to care where a record came from.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from smartcare.regional.mpi import national_id

# Compound (two-character) surnames: the first two characters of a full name are the family name.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐 端木 独孤 南宫 西门 万俟 "
    "闻人 轩辕 呼延 澹台 公冶 宗政 濮阳 太史 申屠 钟离 赫连 拓跋 百里 东郭 淳于 单于 羊舌".split()
)
# Characters read differently as a surname than pypinyin's most common reading (曾 zeng, not ceng).
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "区": "ou", "查": "zha", "朴": "piao", "乐": "yue",
    "盖": "ge", "覃": "qin", "翟": "zhai", "缪": "miao", "种": "chong", "秘": "bi", "召": "shao", "员": "yun",
    "长孙": "zhangsun", "尉迟": "yuchi", "万俟": "moqi", "单于": "chanyu", "澹台": "tantai",
}
SEX_CODES = {
    "m": "M", "male": "M", "man": "M", "男": "M", "1": "M",
    "f": "F", "female": "F", "woman": "F", "女": "F", "2": "F",
}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_LETTER = re.compile(r"[^a-z]")
_DATE_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_DMY = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4})$")
_ADDRESS_NOISE = re.compile(r"[^\w\u3400-\u9fff]+")


def has_chinese(text: str) -> bool:
    """Whether the text contains Chinese characters."""
    return bool(_CJK.search(text))


def fold_latin(text: str) -> str:
    """Lower-case letters a-z only: accents removed (é -> e, ü -> u), everything else dropped."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return _NOT_LETTER.sub("", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


@lru_cache(maxsize=65536)
def name_key(raw: str, *, family: bool = False) -> str:
    """One name part as unspaced Latin letters: 张 -> zhang, "Xiao-Ming" -> xiaoming, "Müller" -> muller."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return ""
    if has_chinese(text):
        if family and text[:2] in SURNAME_READINGS:
            head, rest = SURNAME_READINGS[text[:2]], text[2:]
        elif family and text[:1] in SURNAME_READINGS:
            head, rest = SURNAME_READINGS[text[:1]], text[1:]
        else:
            head, rest = "", text
        from pypinyin import lazy_pinyin  # its dictionaries take 0.2 s to load: only when a name needs them

        text = head + "".join(lazy_pinyin(rest, v_to_u=True))
    return fold_latin(text)


def split_full_name(raw: str) -> tuple[str, str]:
    """(family, given) from one full name: 欧阳娜娜 -> (欧阳, 娜娜); "Wei Zhang" -> (Zhang, Wei)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if has_chinese(text) and " " not in text:
        cut = 2 if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else 1
        return text[:cut], text[cut:]
    if "," in text:  # "Family, Given", as registries print names
        family, _, given = text.partition(",")
        return family.strip(), given.strip()
    parts = text.split()
    if len(parts) < 2:
        return text, ""
    return parts[-1], " ".join(parts[:-1])


def birth_date(raw: str) -> str:
    """A birth date as YYYYMMDD digits from the usual ways of writing it (day first when ambiguous), or ""."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = text.split("T", 1)[0].split(" ", 1)[0] if re.match(r"^\d{4}-\d\d-\d\dT", text) else text
    if len(text) == 8 and text.isascii() and text.isdigit():
        year, month, day = text[:4], text[4:6], text[6:]
    elif match := _DATE_YMD.match(text):
        year, month, day = match.groups()
    elif match := _DATE_DMY.match(text):
        day, month, year = match.groups()
        if int(month) > 12 >= int(day):  # 2/30/1980 can only be American month-first
            day, month = month, day
    else:
        return ""
    if not 1850 <= int(year) <= 2200:
        return ""
    # Kept even when not a real calendar date (19651332): a typo still resembles the right date.
    return f"{year}{int(month):02d}{int(day):02d}"


def sex(raw: str) -> str:
    """"M", "F", or "" for unknown, from English words, 男/女, or the GB/T 2261.1 codes 1 and 2."""
    return SEX_CODES.get(unicodedata.normalize("NFKC", raw).strip().lower(), "")


def phone(raw: str) -> str:
    """Phone digits without the China country code: "+86 138-0013-8000" -> 13800138000."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if ch.isascii() and ch.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11 and digits[len(prefix)] == "1":
            return digits[len(prefix):]
    return digits if len(digits) >= 6 else ""


def identity_number(raw: str) -> tuple[str, bool]:
    """(number, is a valid PRC identity number): valid ones in their 18-character form, others cleaned."""
    try:
        return national_id.parse(raw).number, True
    except national_id.InvalidNationalId:
        cleaned = national_id.clean(unicodedata.normalize("NFKC", raw))
        return "".join(ch for ch in cleaned if ch.isalnum()), False


def address(raw: str) -> str:
    """An address line lower-cased, punctuation turned into single spaces, full-width folded."""
    return " ".join(_ADDRESS_NOISE.sub(" ", unicodedata.normalize("NFKC", raw).lower()).split())


def postcode(raw: str) -> str:
    """A postcode without spaces, upper-cased."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


@dataclass(frozen=True, slots=True)
class Person:
    """One source record, normalised for matching; "" marks a missing value."""

    record_id: str
    given: str = ""
    family: str = ""
    birth: str = ""
    sex: str = ""
    phone: str = ""
    id_number: str = ""
    id_valid: bool = False
    address: str = ""
    city: str = ""
    postcode: str = ""


def person(
    record_id: str,
    *,
    given: str = "",
    family: str = "",
    full_name: str = "",
    birth: str = "",
    sex_code: str = "",
    phone_number: str = "",
    id_number: str = "",
    address_lines: tuple[str, ...] = (),
    city: str = "",
    postal_code: str = "",
) -> Person:
    """Normalise one record's raw fields; a valid identity number also fills a missing birth date and sex."""
    if full_name and not (given or family):
        family, given = split_full_name(full_name)
    number, valid = identity_number(id_number) if id_number.strip() else ("", False)
    birth_digits, sex_code_ = birth_date(birth), sex(sex_code)
    if valid:
        decoded = national_id.parse(number)
        birth_digits = birth_digits or decoded.birth_date.strftime("%Y%m%d")
        sex_code_ = sex_code_ or ("M" if decoded.sex == "male" else "F")
    return Person(
        record_id=record_id,
        given=name_key(given),
        family=name_key(family, family=True),
        birth=birth_digits,
        sex=sex_code_,
        phone=phone(phone_number),
        id_number=number,
        id_valid=valid,
        address=address(" ".join(line for line in address_lines if line)),
        city=address(city),
        postcode=postcode(postal_code),
    )
