"""Samples demo residents' and staff's demographics: age, sex, Chinese names, phone numbers, home addresses."""

import bisect
import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from smartcare.demo.reference import load


@dataclass(frozen=True, slots=True)
class PersonName:
    """A Chinese personal name with its pinyin spelling."""

    family_zh: str
    given_zh: str
    family_pinyin: str
    given_pinyin: str


@cache
def _age_sex_table() -> tuple[list[tuple[int, int, str]], list[float]]:
    """Return (from_age, to_age, sex) cells and their cumulative census weights."""
    cells: list[tuple[int, int, str]] = []
    weights: list[float] = []
    for band in load("population")["bands"]:
        male = band["millions"] * band["sex_ratio"] / (100 + band["sex_ratio"])
        cells += [(band["from"], band["to"], "male"), (band["from"], band["to"], "female")]
        weights += [male, band["millions"] - male]
    return cells, list(itertools.accumulate(weights))


def sample_age_sex(rng: random.Random) -> tuple[int, str]:
    """Draw an age in whole years and a sex ("male"/"female") from the 2020 census pyramid."""
    cells, cumulative = _age_sex_table()
    low, high, sex = cells[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
    return rng.randint(low, high), sex


def years_before(moment: date, years: int) -> date:
    """Return the same calendar day `years` earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def age_on(birth: date, moment: date) -> int:
    """Return the age in completed years on `moment`."""
    return moment.year - birth.year - ((moment.month, moment.day) < (birth.month, birth.day))


def sample_birth_date(rng: random.Random, age: int, as_of: date) -> date:
    """Draw a birth date that makes the person exactly `age` on `as_of` (a newborn is at least a day old)."""
    latest = years_before(as_of, age)
    earliest = years_before(as_of, age + 1) + timedelta(days=1)
    if age == 0:
        latest -= timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def _cohort(birth_year: int) -> str:
    if birth_year < 1965:
        return "born_before_1965"
    if birth_year < 1990:
        return "born_1965_1989"
    if birth_year < 2010:
        return "born_1990_2009"
    return "born_2010_or_later"


@cache
def _surnames() -> tuple[list[list[Any]], list[float]]:
    rows = load("names")["surnames"]
    return rows, list(itertools.accumulate(row[2] for row in rows))


def sample_surname(rng: random.Random) -> tuple[str, str]:
    """Draw a surname (hanzi, pinyin) by its frequency."""
    rows, cumulative = _surnames()
    row = rows[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
    return row[0], row[1]


def sample_name(rng: random.Random, sex: str, birth_year: int, surname: tuple[str, str] | None = None) -> PersonName:
    """Draw a name typical of the person's sex and birth cohort, optionally with a given surname."""
    family_zh, family_pinyin = surname or sample_surname(rng)
    given_zh, given_pinyin = rng.choice(load("names")["given_names"][_cohort(birth_year)][sex])
    return PersonName(family_zh, given_zh, family_pinyin, given_pinyin)


def mobile_number(rng: random.Random) -> str:
    """Draw an 11-digit PRC mobile number."""
    return rng.choice(load("region")["mobile_prefixes"]) + f"{rng.randrange(10**8):08d}"


@cache
def _district_weights() -> tuple[list[dict[str, Any]], list[float]]:
    districts = load("region")["districts"]
    return districts, list(itertools.accumulate(d["weight"] for d in districts))


def sample_district(rng: random.Random) -> dict[str, Any]:
    """Draw a home district in proportion to the districts' populations."""
    districts, cumulative = _district_weights()
    return districts[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def district(key: str) -> dict[str, Any]:
    """Return the region's district with the given key."""
    return next(d for d in load("region")["districts"] if d["key"] == key)


def street_address(district_row: dict[str, Any], street: list[str], number: int, *, use: str,
                   unit: tuple[str, str] | None = None) -> dict[str, Any]:
    """Return an Address: Chinese full address in `text`, pinyin/English parts in the structured fields."""
    city = load("region")["city"]
    zh = f"{city['name_zh']}{district_row['name_zh']}{street[0]}{number}号"
    line = f"{number} {street[1]}"
    lines = [line]
    if unit:
        zh += unit[0]
        lines.insert(0, unit[1])
    return {
        "use": use,
        "type": "physical",
        "text": zh,
        "line": lines,
        "city": city["name_en"],
        "district": district_row["name_en"],
        "postalCode": district_row["postal_code"],
        "country": "CN",
    }


def sample_home_address(rng: random.Random, district_row: dict[str, Any]) -> dict[str, Any]:
    """Draw a flat in a residential compound on one of the district's streets."""
    compound_zh, compound_en = rng.choice(load("region")["residential_compounds"])
    building, floor, flat = rng.randint(1, 24), rng.randint(1, 18), rng.randint(1, 4)
    unit = (f"{compound_zh}{building}栋{floor}{flat:02d}室", f"Flat {floor}{flat:02d}, Building {building}, {compound_en}")
    return street_address(district_row, rng.choice(district_row["streets"]), rng.randint(1, 399), use="home", unit=unit)
