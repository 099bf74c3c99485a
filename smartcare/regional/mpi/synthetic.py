"""A synthetic Chinese population as FHIR Patients, some registered again at another institution with the usual
differences (pinyin instead of characters, typos, names in Western order, a missing phone or identity number).

Used to train the shipped model (`python -m smartcare.regional.mpi.synthetic data/model.json`), by the tests
and by bench/mpi_realtime.py. Deterministic for a given seed.
"""

import dataclasses
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi.national_id import check_character

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文辉晓燕玉志海红梅小婷雪春子涵浩然宇轩欣怡"
STREETS = ("解放路", "延安路", "文三路", "凤起路", "庆春路", "南山路", "体育场路", "湖墅南路", "中山北路", "建设大街")
AREA_CODES = ("330102", "330103", "330104", "330105", "330106", "330108", "330109", "330110")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Resident:
    """One synthetic person: who they are, for generating their records."""

    key: str
    family: str
    given: str
    birth: str  # YYYY-MM-DD
    gender: str
    phone: str
    id_number: str
    street: str
    postcode: str


def identity_number(rng: random.Random, birth: str, gender: str) -> str:
    """A valid 18-character identity number for the birth date and sex."""
    sequence = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if gender == "male" else (0, 2, 4, 6, 8))
    first17 = f"{rng.choice(AREA_CODES)}{birth.replace('-', '')}{sequence:03d}"
    return first17 + check_character(first17)


def resident(rng: random.Random, key: str) -> Resident:
    """A random resident of the synthetic city."""
    family = "欧阳" if rng.random() < 0.01 else rng.choice(SURNAMES[:-2])
    birth = f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    gender = rng.choice(("male", "female"))
    return Resident(
        key=key, family=family, given="".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))),
        birth=birth, gender=gender, phone=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
        id_number=identity_number(rng, birth, gender),
        street=f"{rng.choice(STREETS)}{rng.randint(1, 300)}号", postcode=str(310000 + rng.randrange(60)),
    )


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    at = rng.randrange(1, len(text) - 1)
    change = rng.randrange(3)
    if change == 0:  # transposition
        return text[:at] + text[at + 1] + text[at] + text[at + 2:]
    if change == 1:  # substitution
        return text[:at] + rng.choice(LETTERS) + text[at + 1:]
    return text[:at] + text[at + 1:]  # deletion


def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).capitalize()


def patient(person: Resident, res_id: str, *, with_id: bool = True) -> dict[str, Any]:
    """The resident as one institution registers them: Chinese name, identity number, phone, address."""
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": res_id,
        "name": [{"use": "official", "text": person.family + person.given, "family": person.family,
                  "given": [person.given]}],
        "gender": person.gender, "birthDate": person.birth,
        "telecom": [{"system": "phone", "value": person.phone}],
        "address": [{"use": "home", "line": [person.street], "city": "杭州市", "postalCode": person.postcode}],
    }
    if with_id:
        resource["identifier"] = [{"system": RESIDENT_ID_SYSTEM, "value": person.id_number}]
    return resource


def variant(rng: random.Random, person: Resident, res_id: str) -> dict[str, Any]:
    """The same resident registered elsewhere: mostly without the identity number, and some of pinyin, typos, a
    birth date mistyped, a phone or address missing."""
    resource = patient(person, res_id, with_id=rng.random() < 0.3)
    if rng.random() < 0.5:
        family, given = _pinyin(person.family), _pinyin(person.given)
        if rng.random() < 0.3:
            given = _typo(rng, given)
        name: dict[str, Any] = {"use": "official", "family": family, "given": [given]}
        if rng.random() < 0.2:  # written in Western order by a clerk: "Family" holds the given name
            name = {"use": "official", "family": given, "given": [family]}
        resource["name"] = [name]
    if rng.random() < 0.15:
        year, month, day = person.birth.split("-")
        swapped = int(day) <= 12 and rng.random() < 0.5
        resource["birthDate"] = f"{year}-{day}-{month}" if swapped else f"{year}-{month}-{day[0]}{int(day[1]) % 8 + 1}"
    if rng.random() < 0.3:
        del resource["telecom"]
    elif rng.random() < 0.1:
        resource["telecom"][0]["value"] = person.phone[:-1] + str((int(person.phone[-1]) + 1) % 10)
    if rng.random() < 0.2:
        del resource["address"]
    return resource


def population(count: int, *, duplicates: float = 0.1, seed: int = 7) -> tuple[list[dict], list[dict], dict[str, str]]:
    """count residents' first records, the second records of a share of them, and each record id's resident."""
    rng = random.Random(seed)
    people = [resident(rng, f"r{n}") for n in range(count)]
    first = [patient(p, f"syn-{n}", with_id=rng.random() < 0.7) for n, p in enumerate(people)]
    truth = {f"syn-{n}": p.key for n, p in enumerate(people)}
    second = []
    for n in range(int(count * duplicates)):
        who = people[rng.randrange(count)]
        second.append(variant(rng, who, f"dup-{n}"))
        truth[f"dup-{n}"] = who.key
    return first, second, truth


def surname_frequencies() -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """The family-name term frequencies of data/surname_shares.yaml, by normalised name (徐 and 许 are both xu)."""
    import yaml

    from smartcare.regional.mpi.normalise import name_key

    data = yaml.safe_load((Path(__file__).parent / "data" / "surname_shares.yaml").read_text(encoding="utf-8"))
    shares: dict[str, float] = {}
    for surname, percent in data["percent"].items():
        key = name_key(str(surname), family=True)
        shares[key] = shares.get(key, 0.0) + float(percent) / 100
    return {"family_name": shares}, {"family_name": " ".join(str(data["source"]).split())}


def train_model(out: Path, *, count: int = 20_000, seed: int = 7) -> None:
    """Train the Fellegi-Sunter model on a synthetic population and save it with how it was made."""
    from smartcare.regional.mpi.patients import person_of
    from smartcare.regional.mpi.training import train

    first, second, _ = population(count, seed=seed)
    model = train([person_of(r) for r in first + second], seed=seed)
    # The synthetic city draws names uniformly, so its own name frequencies mean nothing: the shipped model
    # weighs family names by the cited national shares and leaves given names unadjusted.
    tables, sources = surname_frequencies()
    model = dataclasses.replace(model, term_frequencies=tables, term_frequency_sources=sources)
    model.training["how"] = (
        f"smartcare.regional.mpi.training.train (unsupervised: u from random pairs, m by EM in blocks) on "
        f"smartcare.regional.mpi.synthetic.population({count}, duplicates=0.1, seed={seed}): {count} synthetic "
        "residents of a Chinese city, 70% with a PRC identity number, 10% registered again at another institution "
        "(30% with it; half in pinyin, with typos, Western name order, swapped or mistyped birth dates, missing phones and addresses). "
        f"Regenerate: python -m smartcare.regional.mpi.synthetic {out.name}"
    )
    model.save(out)


if __name__ == "__main__":
    train_model(Path(__file__).parent / "data" / (sys.argv[1] if len(sys.argv) > 1 else "model.json"))
