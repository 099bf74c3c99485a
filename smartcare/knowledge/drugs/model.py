"""The shape of the drug knowledge: medicines, dose limits, allergy classes and interactions.

Plain frozen dataclasses filled from the YAML/CSV files under `data/` (and from licensed sets
loaded with `smartcare knowledge import`); the prescription audit reads nothing else.
Doses are in the unit named beside them (UCUM: mg, ug, g, [iU], mL, mmol); `per_kg` and `per_m2`
limits are per kilogram of body weight or per square metre of body surface area.
"""

from dataclasses import dataclass, field

SEVERITIES = ("contraindicated", "major", "moderate", "minor")
POPULATIONS = ("adult", "paediatric", "elderly")
BASES = ("fixed", "per_kg", "per_m2")
PREGNANCY_CATEGORIES = ("A", "B", "C", "D", "X")
LACTATION = ("compatible", "caution", "avoid")
ORGAN_ACTIONS = ("contraindicated", "avoid", "reduce", "caution")
HEPATIC_GRADES = ("mild", "moderate", "severe")
# Dosing frequency codes; QN is once at night, QW once a week, STAT a single immediate dose.
FREQUENCIES = ("QD", "BID", "TID", "QID", "Q4H", "Q6H", "Q8H", "Q12H", "QN", "QW", "PRN", "STAT")


@dataclass(frozen=True)
class Form:
    """A product form the formulary stocks: tablet 500 mg oral."""

    form: str
    strength: float
    unit: str
    route: str


@dataclass(frozen=True)
class DoseLimit:
    """The usual dose range of a drug for one population and route.

    For basis `per_kg`/`per_m2` the figures are per kg or per m2 and `cap_per_dose`/`cap_per_day`
    (in `unit` without the per-kg part) stop a heavy child's dose above the adult maximum.
    """

    population: str
    route: str
    unit: str
    basis: str = "fixed"
    per_dose_min: float | None = None
    per_dose_max: float | None = None
    per_day_max: float | None = None
    cap_per_dose: float | None = None
    cap_per_day: float | None = None
    min_age_years: float | None = None
    note: str = ""
    source: str = ""


@dataclass(frozen=True)
class OrganRule:
    """What to do with the drug when kidney or liver function is reduced.

    Renal rules apply when the latest eGFR (mL/min/1.73 m2) is below `below`; hepatic rules when the
    patient's hepatic impairment (Child-Pugh class A/B/C as 'mild'/'moderate'/'severe') is at least
    `at_least`. `max_per_day` (in the drug's adult dose unit) is the reduced ceiling where one exists.
    """

    action: str
    advice_en: str
    advice_zh: str
    source: str
    below: float | None = None
    at_least: str | None = None
    max_per_day: float | None = None


@dataclass(frozen=True)
class ConditionRule:
    """A condition (ICD-10 code prefixes) in which the drug is contraindicated or needs care."""

    icd10_prefixes: tuple[str, ...]
    severity: str
    reason_en: str
    reason_zh: str
    source: str


@dataclass(frozen=True)
class TypicalDose:
    """The usual dose for an indication: what the prescriber is offered as a suggestion."""

    indication_en: str
    indication_zh: str
    icd10_prefixes: tuple[str, ...]
    dose: float
    unit: str
    frequency: str
    route: str
    basis: str = "fixed"
    source: str = ""


@dataclass(frozen=True)
class Drug:
    """One medicine of the formulary, by generic name."""

    key: str
    name_en: str
    name_zh: str
    atc: tuple[str, ...]
    source: str
    aliases: tuple[str, ...] = ()
    forms: tuple[Form, ...] = ()
    doses: tuple[DoseLimit, ...] = ()
    renal: tuple[OrganRule, ...] = ()
    hepatic: tuple[OrganRule, ...] = ()
    pregnancy: str | None = None
    pregnancy_note: str = ""
    lactation: str | None = None
    lactation_note: str = ""
    conditions: tuple[ConditionRule, ...] = ()
    allergy_classes: tuple[str, ...] = ()
    typical: tuple[TypicalDose, ...] = ()
    ingredients: tuple[str, ...] = field(default=())

    @property
    def ingredient_keys(self) -> tuple[str, ...]:
        """The single ingredients this product contains (itself for a single-ingredient drug)."""
        return self.ingredients or (self.key,)


@dataclass(frozen=True)
class AllergyClass:
    """A class of allergen (penicillins, sulfonamide antibiotics ...) and what it cross-reacts with.

    `cross_sensitive` pairs another class's key with the risk in English (`cross_sensitive_zh`: the
    same pairs in Chinese); a class with no meaningful cross-reactivity is not listed there, and
    `note_en`/`note_zh` say so where prescribers commonly expect one.
    """

    key: str
    name_en: str
    name_zh: str
    snomed: tuple[str, ...]
    source: str
    cross_sensitive: tuple[tuple[str, str], ...] = ()
    cross_sensitive_zh: tuple[tuple[str, str], ...] = ()
    note_en: str = ""
    note_zh: str = ""


@dataclass(frozen=True)
class Interaction:
    """A drug-drug interaction between two drugs or drug classes.

    Each side is a formulary key (`warfarin`) or an ATC prefix written `ATC:B01AA` that stands for
    every drug whose ATC code starts with it (class-level rules).
    """

    a: str
    b: str
    severity: str
    mechanism_en: str
    mechanism_zh: str
    management_en: str
    management_zh: str
    source: str
    onc_high_priority: bool = False
