"""k-anonymity for research extracts: generalise age and place until every quasi-identifier class holds k people, and measure the risk left.

Quasi-identifiers (what an outsider may already know about a person and could match on): the age
band (from the birth date, as of the extract day), administrative sex (Patient.gender) and the place
of residence (district of the home address, generalised to the city). Names, identifiers, contact
details and exact dates are removed before (deidentify.py), so these three are what is left to link on.

Generalisation is full-domain (every record at the same level), the method of Samarati (2001) and
Sweeney (2002): the levels in GENERALISATION are tried from the least to the most coarse, and the
first at which the records in classes smaller than k are no more than MAX_SUPPRESSED_SHARE of all is
chosen; at the coarsest level whatever still breaks k is suppressed whatever its share. Records in
classes smaller than k at the chosen level are suppressed (left out of the extract with all their records).
Ages are top-coded at 90 ("90+"), which also meets Safe Harbor's rule on ages over 89.

Re-identification risk, as defined by El Emam and Dankar (2008) and El Emam (2013), for a released
data set of n records in equivalence classes of sizes f_j (records sharing the same quasi-identifiers),
drawn from a population in which the same classes have sizes F_j:

- prosecutor risk (the attacker knows the person is in the extract): a record's risk is 1/f_j;
  the maximum is 1/min f_j and the average over records is J/n (J classes);
- records at risk: those whose prosecutor risk exceeds 0.2, i.e. in a class smaller than 5 (k = 5);
- journalist risk (the attacker does not know whether the person is in the extract, and matches
  against a population register): the maximum is 1/min F_j over the classes released;
- marketer risk (the attacker tries to re-identify as many records as possible): (1/n) * sum f_j / F_j,
  which equals J/n when the extract is the whole population.

Here the population is every resident of the region's record (every Patient in the store), generalised
at the same level as the extract.

Sources:
- Sweeney L. k-anonymity: a model for protecting privacy. Int J Uncertain Fuzziness Knowl-Based Syst.
  2002;10(5):557-570.
- Samarati P. Protecting respondents' identities in microdata release. IEEE Trans Knowl Data Eng.
  2001;13(6):1010-1027.
- El Emam K, Dankar FK. Protecting privacy using k-anonymity. J Am Med Inform Assoc. 2008;15(5):627-637.
- El Emam K. Guide to the De-Identification of Personal Health Information. CRC Press; 2013 (prosecutor,
  journalist and marketer risk).
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

K = 5
RISK_THRESHOLD = 1 / K  # a record whose prosecutor risk is above this is "at risk"
TOP_AGE = 90
MAX_SUPPRESSED_SHARE = 0.05
UNKNOWN = "unknown"
QUASI_IDENTIFIERS = ("age band", "sex", "location")


@dataclass(frozen=True, slots=True)
class Level:
    """One generalisation level: the width of age bands in years, and whether the district is kept (else the city)."""

    age_width: int
    district: bool

    @property
    def label(self) -> str:
        """A short name of the level, as the risk report shows it."""
        return f"{self.age_width}-year age bands, {'district' if self.district else 'city'}"


GENERALISATION = (Level(5, True), Level(10, True), Level(10, False), Level(20, False))


@dataclass(frozen=True, slots=True)
class Person:
    """What a patient's quasi-identifiers are made from: age in years, sex, district and city (None when unknown)."""

    key: str
    age: int | None
    sex: str | None
    district: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class Risk:
    """The measured re-identification risk of a released data set (see the module docstring)."""

    records: int
    classes: int
    smallest_class: int | None
    prosecutor_max: float
    prosecutor_average: float
    records_at_risk: int
    journalist_max: float | None
    marketer: float | None

    @property
    def share_at_risk(self) -> float:
        """The share of records whose prosecutor risk is above RISK_THRESHOLD."""
        return self.records_at_risk / self.records if self.records else 0.0


@dataclass(frozen=True, slots=True)
class Generalised:
    """The outcome of generalisation: the level chosen, each kept person's class, and who was suppressed."""

    level: Level
    classes: dict[str, tuple[str, str, str]]
    suppressed: list[str]


def age_on(born: str | None, day: date) -> int | None:
    """Whole years from a FHIR birth date (year, year-month or full date) to day; None when unknown.

    A birth date known only to the year or month is taken at its start, so the age may be a year high.
    """
    if not isinstance(born, str) or len(born) < 4 or not born[:4].isdigit():
        return None
    year = int(born[:4])
    month = int(born[5:7]) if len(born) >= 7 and born[5:7].isdigit() else 1
    dd = int(born[8:10]) if len(born) >= 10 and born[8:10].isdigit() else 1
    age = day.year - year - ((day.month, day.day) < (month, dd))
    return age if 0 <= age < 150 else None


def person_of(patient: dict[str, Any], *, day: date) -> Person:
    """A Patient resource's quasi-identifier facts as of day (home address first, old addresses ignored)."""
    addresses = [a for a in patient.get("address") or [] if isinstance(a, dict) and a.get("use") != "old"]
    addresses.sort(key=lambda a: a.get("use") != "home")
    home = addresses[0] if addresses else {}

    def text(value: Any) -> str | None:
        return value.strip()[:64] if isinstance(value, str) and value.strip() else None

    gender = patient.get("gender")
    return Person(str(patient.get("id", "")), age_on(patient.get("birthDate"), day),
                  gender if gender in ("male", "female", "other") else None,
                  text(home.get("district")), text(home.get("city")))


def age_band(age: int | None, width: int) -> str:
    """The band an age falls in ("45-49" for width 5), "90+" from TOP_AGE, "unknown" without an age."""
    if age is None:
        return UNKNOWN
    if age >= TOP_AGE:
        return f"{TOP_AGE}+"
    low = age // width * width
    return f"{low}-{min(low + width - 1, TOP_AGE - 1)}"


def quasi_identifiers(person: Person, level: Level) -> tuple[str, str, str]:
    """(age band, sex, location) of a person at a generalisation level."""
    place = (person.district if level.district else None) or person.city
    if level.district and person.district and person.city:
        place = f"{person.district}, {person.city}"
    return age_band(person.age, level.age_width), person.sex or UNKNOWN, place or UNKNOWN


def class_sizes(people: Iterable[Person], level: Level) -> Counter:
    """How many people share each quasi-identifier class at level."""
    return Counter(quasi_identifiers(p, level) for p in people)


def generalise(people: list[Person], *, k: int = K, levels: tuple[Level, ...] = GENERALISATION,
               max_suppressed_share: float = MAX_SUPPRESSED_SHARE) -> Generalised:
    """The least coarse level whose small classes hold at most max_suppressed_share of people, and who to suppress there."""
    chosen = levels[-1]
    for level in levels:
        sizes = class_sizes(people, level)
        small = sum(size for size in sizes.values() if size < k)
        if not people or small <= max_suppressed_share * len(people):
            chosen = level
            break
    sizes = class_sizes(people, chosen)
    classes, suppressed = {}, []
    for person in people:
        qi = quasi_identifiers(person, chosen)
        if sizes[qi] < k:
            suppressed.append(person.key)
        else:
            classes[person.key] = qi
    return Generalised(chosen, classes, suppressed)


def measure(released: Iterable[tuple[str, ...]], population: Counter | None = None, *, k: int = K) -> Risk:
    """The re-identification risk of released records given as their quasi-identifier tuples (one per record).

    population gives the class sizes F_j in the population; without it journalist and marketer risk are None.
    A released class missing from the population is counted as the records released (F_j >= f_j).
    """
    sizes = Counter(released)
    n = sum(sizes.values())
    if not n:
        return Risk(0, 0, None, 0.0, 0.0, 0, 0.0 if population is not None else None,
                    0.0 if population is not None else None)
    smallest = min(sizes.values())
    journalist = marketer = None
    if population is not None:
        pop = {qi: max(population.get(qi, 0), f) for qi, f in sizes.items()}
        journalist = 1 / min(pop.values())
        marketer = sum(f / pop[qi] for qi, f in sizes.items()) / n
    return Risk(
        records=n, classes=len(sizes), smallest_class=smallest, prosecutor_max=1 / smallest,
        prosecutor_average=len(sizes) / n, records_at_risk=sum(f for f in sizes.values() if f < k),
        journalist_max=journalist, marketer=marketer,
    )
