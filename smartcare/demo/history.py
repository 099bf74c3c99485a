"""Plans each demo resident: demographics and a two-year history of conditions, visits, tests and drugs."""

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from smartcare.demo.facilities import Directory, unique_resident_id
from smartcare.demo.people import (
    PersonName,
    age_on,
    mobile_number,
    sample_age_sex,
    sample_birth_date,
    sample_district,
    sample_home_address,
    sample_name,
    years_before,
)
from smartcare.demo.physiology import Findings
from smartcare.demo.reference import band_value, load

WINDOW_DAYS = 730
CHILD_AGE = 14  # under this age residents are seen in paediatrics


@dataclass(slots=True)
class ChronicCondition:
    """A long-term condition with its onset and treatment."""

    key: str
    icd10: str
    display: str
    zh: str
    onset: date
    treated: bool
    stage: int = 0
    drugs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AllergyPlan:
    """A recorded allergy: substance key (allergies.json), reaction key and recording date."""

    key: str
    reaction: str
    recorded: date


@dataclass(slots=True)
class Prescription:
    """A drug ordered for chronic conditions (their keys) or for the visit's acute episode."""

    drug: str
    reasons: list[str]
    acute: bool


@dataclass(slots=True)
class Relative:
    """A relative whose health the family doctor asked about: HL7 v3 RoleCode and the disease keys they have."""

    code: str
    diseases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Visit:
    """One encounter and what happens at it."""

    kind: str
    start: datetime
    end: datetime | None
    org_id: str
    dept: str
    doctor: str
    nurse: str | None
    encounter_class: str
    reasons: list[str] = field(default_factory=list)
    episode: dict[str, Any] | None = None
    findings: Findings = field(default_factory=Findings)
    vitals: list[str] = field(default_factory=list)
    discharge_vitals: list[str] = field(default_factory=list)
    singles: list[str] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    via_emergency: bool = False
    smoking: bool = False  # tobacco smoking status is asked and recorded
    relatives: list[Relative] = field(default_factory=list)  # family history taken at this visit

    def resource_count(self) -> int:
        """Number of resources this visit renders to."""
        panels = load("observations")["panels"]
        return (1 + (self.episode is not None and self.kind != "screening") + len(self.vitals) + self.smoking
                + len(self.relatives)
                + len(self.discharge_vitals) + len(self.singles) + len(self.prescriptions)
                + sum(len(panels[p]["tests"]) + 1 for p in self.panels) + len(self.follow_up_registries()))

    def follow_up_registries(self) -> list[str]:
        """The registries whose follow-up form this visit fills in (records.py): a follow-up visit with blood
        pressure and weight, for hypertension, and for diabetes when the fasting glucose was taken."""
        if self.kind != "follow-up" or "bp" not in self.vitals or "weight" not in self.vitals:
            return []
        return [r for r in ("hypertension", "diabetes")
                if r in self.reasons and (r != "diabetes" or "glucose" in self.singles)]


@dataclass(slots=True)
class Guardian:
    """A minor's parent, recorded as the patient's contact."""

    name: PersonName
    sex: str
    phone: str


@dataclass(slots=True)
class ResidentPlan:
    """Everything decided about one resident before rendering FHIR resources."""

    index: int
    sex: str
    birth: date
    national_id: str
    name: PersonName
    address: dict[str, Any]
    phone: str | None
    guardian: Guardian | None
    chc_id: str
    gp_id: str
    conditions: list[ChronicCondition] = field(default_factory=list)
    allergies: list[AllergyPlan] = field(default_factory=list)
    self_care: list[tuple[str, str, date]] = field(default_factory=list)
    unattached: list[tuple[Prescription, date]] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    smoking: str | None = None  # key of risk_factors.json smoking answers, for adults

    def resource_count(self) -> int:
        """Number of resources this resident renders to."""
        return (1 + len(self.conditions) + len(self.allergies) + len(self.self_care) + len(self.unattached)
                + sum(visit.resource_count() for visit in self.visits))


class _Planner:
    """Draws one resident's plan; all randomness comes from the resident's own generator."""

    def __init__(self, rng: random.Random, as_of: date, directory: Directory) -> None:
        self.rng, self.as_of, self.directory = rng, as_of, directory

    def plan(self, index: int, used_ids: set[str]) -> ResidentPlan:
        rng = self.rng
        age, sex = sample_age_sex(rng)
        birth = sample_birth_date(rng, age, self.as_of)
        home = sample_district(rng)
        name = sample_name(rng, sex, birth.year)
        national_id = unique_resident_id(rng, used_ids, home["code"], birth, sex)
        address = sample_home_address(rng, home)
        phone = mobile_number(rng) if age >= 12 else None
        guardian = self._guardian(name, birth) if age < 18 else None
        gp_id = rng.choice(self.directory.department(home["chc"], "general-practice").staff["doctor"])
        plan = ResidentPlan(index, sex, birth, national_id, name, address, phone, guardian, home["chc"], gp_id)
        self.age, self.resident = age, plan
        self.first_day = max(self.as_of - timedelta(days=WINDOW_DAYS), birth + timedelta(days=1))
        self.last_day = self.as_of - timedelta(days=1)
        plan.allergies = self._allergies()
        plan.conditions = self._conditions()
        if self.first_day <= self.last_day:
            self._checkups()
            self._follow_ups()
            self._specialist_visits()
            self._acute_visits()
            self._admissions()
            self._screening()
        plan.visits.sort(key=lambda visit: visit.start)
        self._prescribe()
        self._risk_factors()
        return plan

    def _guardian(self, child: PersonName, birth: date) -> Guardian:
        rng = self.rng
        sex = "male" if rng.random() < 0.5 else "female"
        surname = (child.family_zh, child.family_pinyin) if sex == "male" else None
        parent = sample_name(rng, sex, birth.year - rng.randint(24, 36), surname)
        return Guardian(parent, sex, mobile_number(rng))

    # --- conditions and allergies -------------------------------------------------------------

    def _allergies(self) -> list[AllergyPlan]:
        rng, data = self.rng, load("allergies")
        group = "child" if self.age < CHILD_AGE else "adult"
        found = []
        for row in data["substances"]:
            if rng.random() < row["rate"][group]:
                reaction = _weighted(rng, row["reactions"])
                earliest = max(self.resident.birth + timedelta(days=180), years_before(self.as_of, 15))
                recorded = _random_day(rng, earliest, self.as_of - timedelta(days=1))
                found.append(AllergyPlan(row["key"], reaction, recorded))
        return found

    def _conditions(self) -> list[ChronicCondition]:
        rng, sex, age = self.rng, self.resident.sex, self.age
        column = 2 if sex == "male" else 3
        found = []
        for row in load("conditions")["chronic"]:
            if rng.random() >= band_value(row["prevalence"], age, column):
                continue
            first_age = row["prevalence"][0][0]
            low, high = row["onset_years"]
            onset = self.as_of - timedelta(days=rng.randint(max(low * 365, 30), high * 365))
            onset = max(onset, years_before(self.as_of, age - first_age) if age > first_age else self.resident.birth)
            condition = ChronicCondition(row["key"], row["icd10"], row["display"], row["zh"],
                                         min(onset, self.as_of - timedelta(days=30)), rng.random() < row["treated"])
            if row["key"] == "ckd":
                self._stage(condition, row)
            if condition.treated:
                condition.drugs = [self._allowed(drug) for drug in _weighted(rng, row["regimens"])]
            if "self_care" in row and rng.random() < row["self_care"]["share"]:
                drug = row["self_care"]["drug"]
                if drug not in condition.drugs:
                    self.resident.self_care.append((drug, row["key"], condition.onset + timedelta(days=rng.randint(0, 200))))
            found.append(condition)
        return found

    def _stage(self, condition: ChronicCondition, row: dict[str, Any]) -> None:
        if self.rng.random() < band_value(row["stage3_share"], self.age, 2):
            stage = 3
        else:
            stage = 1 if self.rng.random() < (0.6 if self.age < 50 else 0.25) else 2
        code, display, zh, _ = row["stages"][stage - 1]
        condition.stage, condition.icd10, condition.display, condition.zh = stage, code, display, zh

    def _allowed(self, drug: str) -> str:
        """Resolve a drug alias and swap drugs contraindicated by the resident's allergies."""
        meds = load("medications")
        drug = meds["aliases"].get(drug, drug)
        allergic = {allergy.key for allergy in self.resident.allergies}
        row = meds["drugs"][drug]
        while allergic & set(row.get("avoid_if_allergic", [])):
            drug = row["alternative"]
            row = meds["drugs"][drug]
        return drug

    def _condition(self, key: str) -> ChronicCondition | None:
        return next((c for c in self.resident.conditions if c.key == key), None)

    # --- visits --------------------------------------------------------------------------------

    def _years(self) -> list[tuple[date, date]]:
        """The two visit years of the window, clipped to the resident's lifetime (may be empty)."""
        years = []
        for offset in (0, 365):
            start = self.as_of - timedelta(days=WINDOW_DAYS - offset)
            first, last = max(start, self.first_day), min(start + timedelta(days=364), self.last_day)
            if first <= last:
                years.append((first, last))
        return years

    def _visit(self, kind: str, day: date, org_id: str, dept: str, *, encounter_class: str = "AMB",
               doctor: str | None = None, minutes: tuple[int, int] = (10, 25)) -> Visit:
        rng = self.rng
        department = self.directory.department(org_id, dept)
        start = datetime.combine(day, time(8)) + timedelta(minutes=rng.randint(0, 510))
        if encounter_class == "EMER":
            start = datetime.combine(day, time()) + timedelta(minutes=rng.randint(0, 1439))
        end = start + timedelta(minutes=rng.randint(*minutes))
        nurses = department.staff.get("nurse")
        return Visit(kind, start, end, org_id, dept, doctor or rng.choice(department.staff["doctor"]),
                     rng.choice(nurses) if nurses else None, encounter_class)

    def _hospital(self) -> str:
        return "org-hosp-1" if self.rng.random() < 0.62 else "org-hosp-2"

    def _age_at(self, day: date) -> int:
        return age_on(self.resident.birth, day)

    def _checkups(self) -> None:
        rng = self.rng
        # The basic public health service checks residents of 65 and over and those under hypertension or diabetes
        # management every year; the Chinese lipid guideline (2023) asks for lipids yearly from 40, which employers'
        # and the community's physicals often provide.
        managed = any(c.key in ("hypertension", "diabetes") for c in self.resident.conditions)
        share = (1.0 if self.age < 7 else 0.3 if self.age < 18 else 0.7 if self.age >= 65 or managed
                 else 0.25 if self.age < 40 else 0.45)
        for first, last in self._years():
            if rng.random() >= share:
                continue
            day = _random_day(rng, first, last)
            age = self._age_at(day)
            chc = self.resident.chc_id
            if age < CHILD_AGE:
                visit = self._visit("checkup", day, chc, "paediatrics")
            else:
                visit = self._visit("checkup", day, chc, "general-practice", doctor=self.resident.gp_id)
            visit.vitals = (_growth_vitals(age) if age < 18
                            else ["bp", "hr", "temp", "weight", "height", "bmi", "waist"])
            if age >= 18:
                visit.panels = ["cbc", "glucose", "lipid", "renal", "liver"] if age >= 65 else ["cbc", "glucose", "lipid"]
                if age < 65:
                    visit.panels += [p for p in ("renal", "liver") if rng.random() < 0.5]
                if rng.random() < 0.3:
                    visit.panels.append("hba1c")
            self.resident.visits.append(visit)

    def _follow_ups(self) -> None:
        """Quarterly hypertension/diabetes follow-ups by the family doctor (national basic public health service)."""
        rng = self.rng
        managed = [c for c in self.resident.conditions if c.key in ("hypertension", "diabetes")]
        if not managed:
            return
        day = self.as_of - timedelta(days=WINDOW_DAYS - rng.randint(0, 90))
        while day <= self.last_day:
            reasons = [c.key for c in managed if c.onset < day]
            if reasons and rng.random() < 0.85:
                visit = self._visit("follow-up", day, self.resident.chc_id, "general-practice",
                                    doctor=self.resident.gp_id)
                visit.reasons = reasons
                visit.vitals = ["bp", "hr", "weight", "bmi", "waist"]
                visit.singles = ["glucose"] if "diabetes" in reasons else []
                self.resident.visits.append(visit)
            day += timedelta(days=91 + rng.randint(-10, 10))

    def _specialist_visits(self) -> None:
        rng = self.rng
        rows = {row["key"]: row for row in load("conditions")["chronic"]}
        for first, last in self._years():
            booked: dict[str, Visit] = {}
            for condition in self.resident.conditions:
                row = rows[condition.key]
                if rng.random() >= row["specialist_visit"] or condition.onset >= last:
                    continue
                dept = "paediatrics" if self.age < CHILD_AGE else row["specialty"]
                visit = booked.get(dept)
                if visit is None:
                    day = _random_day(rng, max(first, condition.onset + timedelta(days=1)), last)
                    visit = booked[dept] = self._visit("specialist", day, self._hospital(), dept)
                    visit.vitals = ["bp", "hr"] if self.age >= 7 else ["weight", "hr"]
                    if dept == "respiratory":
                        visit.vitals.append("spo2")
                    if dept == "endocrinology":
                        visit.vitals.append("weight")
                    self.resident.visits.append(visit)
                visit.reasons.append(condition.key)
                if self._age_at(visit.start.date()) >= 18:
                    visit.panels += [p for p in row["panels"] if p not in visit.panels]

    def _acute_visits(self) -> None:
        rng = self.rng
        data = load("conditions")["acute_outpatient"]
        rate = band_value(data["annual_visits"], self.age, 2)
        group = "child" if self.age < CHILD_AGE else "adult"
        episodes = [(row["weights"][group], row) for row in data["episodes"] if row["weights"][group]]
        for first, last in self._years():
            for _ in range(_poisson(rng, rate)):
                self._acute_visit(_weighted(rng, episodes), _random_day(rng, first, last))

    def _acute_visit(self, episode: dict[str, Any], day: date) -> None:
        rng = self.rng
        age = self._age_at(day)
        where = rng.random()
        if age < CHILD_AGE:
            org = self.resident.chc_id if where < 0.6 else self._hospital()
            visit = self._visit("acute", day, org, "paediatrics")
        elif where < 0.6:
            visit = self._visit("acute", day, self.resident.chc_id, "general-practice", doctor=self.resident.gp_id)
        elif where < 0.85:
            visit = self._visit("acute", day, self._hospital(), "internal-medicine")
        else:
            visit = self._visit("acute", day, self._hospital(), "emergency", encounter_class="EMER",
                                minutes=(60, 240))
        visit.episode = episode
        visit.findings = Findings(fever=rng.random() < episode["fever"],
                                  infection=episode["key"] == "bronchitis" and rng.random() < 0.5)
        visit.vitals = ["temp", "hr"] + (["spo2"] if episode["respiratory"] else [])
        visit.vitals += ["bp"] if age >= 18 else ["weight"] if age < 12 else []
        if age >= 18 and visit.findings.fever and visit.org_id.startswith("org-hosp"):
            visit.panels = ["cbc"]
        for weight, drug in episode["drugs"]:
            if rng.random() < weight / 100:
                visit.prescriptions.append(Prescription(self._allowed(drug), [], True))
        self.resident.visits.append(visit)

    def _admissions(self) -> None:
        rng = self.rng
        for first, last in self._years():
            for reason in load("conditions")["admissions"]["reasons"]:
                if "requires" in reason and self._condition(reason["requires"]) is None:
                    continue
                if not reason.get("min_age", 0) <= self.age <= reason.get("max_age", 200):
                    continue
                if reason.get("sex", self.resident.sex) != self.resident.sex:
                    continue
                if rng.random() < reason["annual"]:
                    self._admission(reason, _random_day(rng, first, last))

    def _admission(self, reason: dict[str, Any], day: date) -> None:
        rng = self.rng
        via_emergency = rng.random() < reason["via_emergency"]
        visit = self._visit("admission", day, self._hospital(), reason["department"], encounter_class="IMP",
                            minutes=(0, 0))
        if via_emergency:
            visit.start = datetime.combine(day, time()) + timedelta(minutes=rng.randint(0, 1439))
        discharge = datetime.combine(day + timedelta(days=rng.randint(*reason["stay_days"])), time(9))
        visit.end = discharge + timedelta(minutes=rng.randint(0, 150))
        if visit.end >= datetime.combine(self.as_of, time()):
            visit.end = None
        visit.via_emergency = via_emergency
        visit.episode = reason
        infection = reason["key"] in ("aecopd", "pneumonia", "appendicitis")
        visit.findings = Findings(fever=infection and rng.random() < 0.6, infection=infection,
                                  hypoxia=reason["key"] in ("aecopd", "pneumonia"))
        visit.reasons = [c.key for c in self.resident.conditions]
        visit.vitals = ["bp", "hr", "rr", "temp", "spo2", "weight"]
        visit.discharge_vitals = ["bp", "hr", "temp"] if visit.end else []
        visit.panels = list(reason["panels"])
        visit.prescriptions = [Prescription(self._allowed(drug), [], True) for drug in reason["drugs"]]
        self.resident.visits.append(visit)

    def _screening(self) -> None:
        rng = self.rng
        row = load("conditions")["screening"]["cervical"]
        if self.resident.sex != "female" or not row["min_age"] <= self.age <= row["max_age"]:
            return
        if rng.random() < row["two_year_uptake"]:
            visit = self._visit("screening", _random_day(rng, self.first_day, self.last_day), self._hospital(),
                                row["department"])
            visit.episode = row
            visit.vitals = ["bp"]
            self.resident.visits.append(visit)

    # --- risk factors -----------------------------------------------------------------------

    def _risk_factors(self) -> None:
        """Smoking status at an adult's first visit and at most later checkups; family history at the first checkup
        or follow-up. Drawn after the rest of the plan, whose draws then do not shift with these."""
        data = load("risk_factors")
        smoking, family = data["smoking"], data["family_history"]
        adult_visits = [v for v in self.resident.visits if self._age_at(v.start.date()) >= smoking["min_age"]]
        if not adult_visits:
            return
        self.resident.smoking = self._smoking_status(smoking)
        adult_visits[0].smoking = True
        for visit in adult_visits[1:]:
            if visit.kind == "checkup" and self.rng.random() < smoking["recheck_at_checkup"]:
                visit.smoking = True
        history_visit = next((v for v in adult_visits if v.kind in ("checkup", "follow-up")
                              and self._age_at(v.start.date()) >= family["min_age"]), None)
        if history_visit is not None:
            history_visit.relatives = self._relatives(family)

    def _smoking_status(self, smoking: dict[str, Any]) -> str:
        male = self.resident.sex == "male"
        row = next(r for r in smoking["bands"] if r[0] <= self.age <= r[1])
        current, former = (row[2], row[3]) if male else (row[4], row[5])
        draw = self.rng.random()
        if draw < current:
            return "daily" if self.rng.random() < smoking["daily_share"] else "some_days"
        return "ex" if draw < current + former else "never"

    def _relatives(self, family: dict[str, Any]) -> list[Relative]:
        rng = self.rng
        relatives = []
        for relative in family["relatives"]:
            parent = relative["always"]
            found = Relative(relative["code"])
            for key, _, _, _, parent_share, sibling_share, if_own in family["diseases"]:
                share = (parent_share if parent else sibling_share) * (if_own if self._condition(key) else 1)
                if rng.random() < share:
                    found.diseases.append(key)
            if parent or found.diseases:
                relatives.append(found)
        return relatives

    # --- prescriptions ----------------------------------------------------------------------

    def _prescribe(self) -> None:
        """Attach each long-term drug (once, for all its reasons) to the first visit about one of its reasons."""
        drugs = load("medications")["drugs"]
        wanted: dict[str, list[str]] = {}
        for condition in self.resident.conditions:
            for drug in condition.drugs:
                drug_class = drugs[drug].get("class")
                same_class = [d for d in wanted if drug_class and drugs[d].get("class") == drug_class]
                wanted.setdefault(same_class[0] if same_class else drug, []).append(condition.key)
        for drug, reasons in wanted.items():
            prescription = Prescription(drug, reasons, False)
            visit = next((v for v in self.resident.visits if v.kind != "admission" and set(v.reasons) & set(reasons)),
                         None)
            if visit is not None:
                visit.prescriptions.append(prescription)
            else:
                onset = max(c.onset for c in self.resident.conditions if c.key in reasons)
                first = max(onset, self.as_of - timedelta(days=WINDOW_DAYS))
                self.resident.unattached.append((prescription, _random_day(self.rng, first, self.as_of - timedelta(days=1))))


def plan_resident(rng: random.Random, index: int, as_of: date, directory: Directory, used_ids: set[str]) -> ResidentPlan:
    """Draw resident number `index`'s demographics and two-year history."""
    return _Planner(rng, as_of, directory).plan(index, used_ids)


def current_drugs(plan: ResidentPlan) -> set[str]:
    """The long-term drugs a resident takes (they shift blood pressure, lipids and heart rate)."""
    return {drug for condition in plan.conditions for drug in condition.drugs}


def _growth_vitals(age: int) -> list[str]:
    if age < 2:
        return ["weight", "height"]
    if age < 7:
        return ["weight", "height", "bmi"]
    return ["bp", "hr", "weight", "height", "bmi"]


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max((last - first).days, 0)))


def _weighted(rng: random.Random, rows: list[Any]) -> Any:
    """Pick the second item of one of the [weight, item] rows, by weight."""
    cumulative = _cumulative(tuple(row[0] for row in rows))
    return rows[bisect.bisect(cumulative, rng.random() * cumulative[-1])][1]


@cache
def _cumulative(weights: tuple[float, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


def _poisson(rng: random.Random, rate: float) -> int:
    """Draw a Poisson count (Knuth's method; rates here are small)."""
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
