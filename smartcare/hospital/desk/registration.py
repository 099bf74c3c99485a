"""Registering a walk-in at the desk: the form's details checked, and the Patient resource made from them.

Plain functions over plain data. The resident ID number, names and phone number are checked by the
same rules as a patient's own sign-up (platform/security/signup.py), so a person the desk registers
can later sign themselves up and be linked to this record; on top of those the desk checks the sex
the number carries and that the birth date is not in the future. The Patient is written the way the
demo region writes its residents (smartcare/demo/records.py): the resident ID under the region's
identifier system, and a Chinese name with its pinyin beside it.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from pypinyin import Style, lazy_pinyin

from smartcare.platform.security import signup
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM

FIELDS = ("family", "given", "sex", "birth_date", "resident_id", "phone", "address")
SEXES = ("male", "female")
MAX_ADDRESS = 200
LIMITS = {"family": signup.MAX_NAME, "given": signup.MAX_NAME, "resident_id": 18 + 6, "phone": 20,
          "address": MAX_ADDRESS}
EARLIEST_BIRTH = date(1900, 1, 1)
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
IDENTIFIER_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI",
                               "display": "National unique individual identifier"}]}
# Surnames whose reading differs from the character's everyday one (GB/T 28039-2011 spells names by
# their reading as a name); pypinyin gives the everyday one, e.g. 曾 "ceng" where the surname is Zeng.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao", "查": "zha", "乐": "yue",
    "盖": "ge", "缪": "miao", "覃": "qin", "翟": "zhai", "秘": "bi", "召": "shao", "繁": "po", "句": "gou",
    "种": "chong", "员": "yun", "黑": "he", "折": "she", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
}
_PINYIN_SEPARATORS = "·・"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@dataclass(frozen=True, slots=True)
class WalkIn:
    """A person to register, as checked: names, sex, birth date, resident ID, mobile number and home address."""

    family: str
    given: str
    sex: str
    birth_date: date
    resident_id: str
    phone: str
    address: str


class WalkInInvalid(ValueError):
    """Fields of the registration form are wrong; problems maps each field to a stable message key."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("Some registration details are not valid: " + ", ".join(f"{k}={v}" for k, v in problems.items()))
        self.problems = problems


def form_values(form: dict[str, str]) -> dict[str, str]:
    """The form's fields as typed (missing ones empty), each cut to a few times its limit so hostile input stays small."""
    return {name: (form.get(name) or "")[: 4 * LIMITS.get(name, 16)] for name in FIELDS}


def clean_address(value: str) -> str:
    """An address as free text: control and invisible characters dropped, runs of spaces made one."""
    visible = "".join(ch if ch.isprintable() else " " for ch in unicodedata.normalize("NFC", value))
    return " ".join(visible.split())


def sex_of_resident_id(resident_id: str) -> str:
    """The sex a valid 18-character resident ID records: its 17th digit is odd for men and even for women."""
    return "male" if int(resident_id[16]) % 2 else "female"


def _birth_date(text: str) -> date | None:
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def check_walk_in(values: dict[str, str], today: date) -> WalkIn:
    """The registration details, checked and normalised; WalkInInvalid names every field that is wrong."""
    problems: dict[str, str] = {}
    phone, resident_id = values["phone"].strip(), values["resident_id"].strip()
    details = None
    try:
        details = signup.check_details(contact=phone, resident_id=resident_id, family=values["family"],
                                       given=values["given"], birth_date=values["birth_date"].strip())
    except signup.SignupInvalid as exc:
        problems |= {name: problem for name, problem in exc.problems.items() if name != "contact"}
    contact = signup.parse_contact(phone)
    if not phone:
        problems["phone"] = "phone_missing"
    elif contact is None or contact.channel != "sms":
        problems["phone"] = "phone_invalid"
    born = _birth_date(values["birth_date"].strip())
    if not values["birth_date"].strip():
        problems["birth_date"] = "birth_date_missing"
    elif born is not None and born > today:
        problems["birth_date"] = "birth_date_future"
    elif born is not None and born < EARLIEST_BIRTH:
        problems["birth_date"] = "birth_date_invalid"
    sex = values["sex"]
    parsed = signup.parse_resident_id(resident_id)
    if sex not in SEXES:
        problems["sex"] = "sex_missing"
    elif parsed is not None and sex_of_resident_id(parsed[0]) != sex:
        problems["sex"] = "sex_mismatch"
    address = clean_address(values["address"])
    if len(address) > MAX_ADDRESS:
        problems["address"] = "address_too_long"
    if problems or details is None or contact is None:
        raise WalkInInvalid(problems)
    return WalkIn(family=details.family, given=details.given, sex=sex, birth_date=details.birth_date,
                  resident_id=details.resident_id, phone=contact.address, address=address)


def _syllables(text: str) -> str:
    """Toneless pinyin of Chinese characters run together, with ü written yu after l and n as on passports."""
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
    return "".join(re.sub(r"^([ln])v", r"\1yu", s).replace("v", "u") for s in syllables)


def pinyin_of(name: str, *, surname: bool = False) -> str:
    """A name part in Chinese characters spelt in pinyin, capitalised ("张" -> "Zhang", "小明" -> "Xiaoming");
    the parts of a name joined by a middle dot are spelt one by one and separated by a space."""
    parts = []
    for part in re.split(f"[{_PINYIN_SEPARATORS}]", name):
        reading = SURNAME_READINGS.get(part) if surname and not parts else None
        spelt = reading or _syllables(part)
        if spelt:
            parts.append(spelt.capitalize())
    return " ".join(parts)


def is_chinese(name: str) -> bool:
    """Whether a name part is written in Chinese characters (with at most the middle dots of transliterated names)."""
    letters = [ch for ch in name if ch not in _PINYIN_SEPARATORS and not ch.isspace()]
    return bool(letters) and all(_HAN.fullmatch(ch) for ch in letters)


def human_names(family: str, given: str) -> list[dict[str, Any]]:
    """The official names: a Chinese one with its pinyin beside it (as the region writes them), or the name as typed."""
    if not (is_chinese(family) and is_chinese(given)):
        return [{"use": "official", "text": f"{given} {family}", "family": family, "given": [given]}]
    family_pinyin, given_pinyin = pinyin_of(family, surname=True), pinyin_of(given)
    return [
        {"extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}], "use": "official", "text": family + given,
         "family": family, "given": [given]},
        {"extension": [{"url": EN_REPRESENTATION, "valueCode": "ABC"}], "use": "official",
         "text": f"{family_pinyin} {given_pinyin}", "family": family_pinyin, "given": [given_pinyin]},
    ]


def patient_resource(walk_in: WalkIn, *, organization: str) -> dict[str, Any]:
    """The Patient to create for walk_in, managed by the registering hospital (organization: its id)."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "type": IDENTIFIER_TYPE, "system": RESIDENT_ID_SYSTEM,
                        "value": walk_in.resident_id}],
        "active": True,
        "name": human_names(walk_in.family, walk_in.given),
        "telecom": [{"system": "phone", "value": walk_in.phone, "use": "mobile"}],
        "gender": walk_in.sex,
        "birthDate": walk_in.birth_date.isoformat(),
    }
    if walk_in.address:
        patient["address"] = [{"use": "home", "type": "physical", "text": walk_in.address, "country": "CN"}]
    patient["managingOrganization"] = {"reference": f"Organization/{organization}"}
    return patient


def identifier_search(resident_id: str) -> tuple[str, str]:
    """The FHIR search parameter that finds the Patient holding resident_id."""
    return "identifier", f"{RESIDENT_ID_SYSTEM}|{resident_id}"


def prefill(query: str) -> dict[str, str]:
    """Form fields to start from when the desk's search found nobody: what was typed, if it was an ID or phone number."""
    compact = query.replace(" ", "").upper()
    if re.fullmatch(r"\d{17}[\dX]", compact):
        return {"resident_id": compact}
    contact = signup.parse_contact(query)
    if contact is not None and contact.channel == "sms":
        return {"phone": contact.address}
    return {}
