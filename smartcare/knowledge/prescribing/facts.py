"""What the prescription audit needs to know about a patient, read from their FHIR resources.

Age and sex from the Patient; weight, height, eGFR (recorded, or computed with CKD-EPI 2021 from the
latest creatinine when that is newer) and pregnancy or breastfeeding status from Observations;
allergies, active conditions and current medicines from their resources. Pure functions over resource
dicts, so the CDS Hooks prefetch, the API and the workstation all derive the same facts.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from smartcare.knowledge import calculators
from smartcare.knowledge.prescribing.audit import MedicineOrder, PatientFacts

ATC = "http://www.whocc.no/atc"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

# LOINC codes read for the facts (loinc.org): eGFR by the MDRD/CKD-EPI equations, serum creatinine in mass
# and substance units, body weight and height, pregnancy and breastfeeding status.
EGFR_CODES = frozenset({"62238-1", "98979-8", "33914-3", "48642-3", "48643-1", "50044-7", "69405-9", "77147-7"})
CREATININE_CODES = {"2160-0": "mg/dL", "38483-4": "mg/dL", "14682-9": "umol/L", "59826-8": "umol/L"}
WEIGHT_CODES = frozenset({"29463-7", "3141-9"})
HEIGHT_CODES = frozenset({"8302-2", "8306-3"})
PREGNANCY_STATUS = "82810-3"
BREASTFEEDING_STATUS = "63895-7"
PREGNANT_ANSWERS = frozenset({"LA15173-0", "77386006"})  # LOINC answer "Pregnant"; SNOMED "Pregnancy"
BREASTFEEDING_ANSWERS = frozenset({"LA29253-4", "169750002", "LA33-6"})  # "Currently breastfeeding", "Yes"

# Hepatic impairment inferred from recorded diagnoses (ICD-10), as a Child-Pugh-like class: hepatic failure
# counts as severe, cirrhosis and portal hypertension as moderate, other chronic liver disease as mild.
_HEPATIC_BY_PREFIX = (
    ("K72", "severe"), ("K70.4", "severe"), ("K71.1", "severe"),
    ("K70.3", "moderate"), ("K74.3", "moderate"), ("K74.4", "moderate"), ("K74.5", "moderate"),
    ("K74.6", "moderate"), ("K76.6", "moderate"), ("I85", "moderate"),
    ("K70", "mild"), ("K71", "mild"), ("K73", "mild"), ("K74", "mild"), ("K75", "mild"), ("K76", "mild"),
    ("K77", "mild"), ("B18", "mild"),
)
_HEPATIC_ORDER = {"mild": 1, "moderate": 2, "severe": 3}
# Active pregnancy (ICD-10 O00-O9A, Z33 pregnant state, Z34-Z36 supervision of pregnancy) and lactation (Z39.1).
_PREGNANCY_PREFIXES = ("O", "Z33", "Z34", "Z35", "Z36")
_LACTATION_PREFIXES = ("Z39.1",)
# Routes by SNOMED CT route code (the demo and the workstation write these).
ROUTES_BY_SNOMED = {
    "26643006": "oral", "447694001": "inhaled", "18679011000001101": "inhaled", "37839007": "sublingual",
    "34206005": "subcutaneous", "47625008": "intravenous", "78421000": "intramuscular", "6064005": "topical",
    "37161004": "rectal", "54485002": "ophthalmic", "10547007": "otic", "46713006": "nasal",
    "16857009": "vaginal", "45890007": "transdermal",
}
_PERIOD_UNITS = {"h": 1 / 24, "d": 1.0, "wk": 7.0}
_INACTIVE_CLINICAL = frozenset({"inactive", "resolved", "remission"})
_REFUTED = frozenset({"refuted", "entered-in-error"})


@dataclass(frozen=True)
class Measured:
    """A value with the day it was measured and where it came from (shown beside the finding)."""

    value: float
    day: str
    how: str


def _codes(concept: dict | None, system: str | None = None) -> list[str]:
    return [c.get("code", "") for c in (concept or {}).get("coding", []) if system is None or c.get("system") == system]


def _when(resource: dict) -> str:
    return str(resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
               or resource.get("issued") or "")


def _quantity(observation: dict) -> tuple[float, str] | None:
    q = observation.get("valueQuantity") or {}
    value = q.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value), str(q.get("code") or q.get("unit") or "")


def _latest(observations: Iterable[dict], codes: Iterable[str]) -> tuple[dict, str] | None:
    wanted = set(codes)
    found = [(o, c) for o in observations if o.get("status") not in ("entered-in-error", "cancelled")
             for c in _codes(o.get("code"), LOINC) if c in wanted]
    return max(found, key=lambda pair: _when(pair[0]), default=None)


def _age(patient: dict | None, today: date) -> float | None:
    born = str((patient or {}).get("birthDate") or "")
    try:
        birth = date.fromisoformat(born if len(born) == 10 else f"{born[:4]}-07-01")
    except ValueError:
        return None
    return float(calculators.age_in_years(birth, today))


def kidney_function(observations: list[dict], *, age: float | None, female: bool | None) -> Measured | None:
    """The latest eGFR: recorded, or computed with CKD-EPI 2021 from a newer serum creatinine (adults only)."""
    recorded = _latest(observations, EGFR_CODES)
    creatinine = _latest(observations, CREATININE_CODES)
    best = None
    if recorded is not None and (q := _quantity(recorded[0])) is not None:
        best = Measured(q[0], _when(recorded[0])[:10], "recorded")
    if creatinine is not None and age is not None and age >= 18 and female is not None:
        q = _quantity(creatinine[0])
        when = _when(creatinine[0])[:10]
        if q is not None and q[0] > 0 and (best is None or when > best.day):
            unit = q[1] or CREATININE_CODES[creatinine[1]]
            try:
                mg_dl = calculators.creatinine_mg_dl(q[0], unit)
            except ValueError:
                return best
            egfr = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=mg_dl, age_years=age, female=female)
            best = Measured(round(egfr, 1), when, "CKD-EPI 2021 from creatinine")
    return best


def _measure(observations: list[dict], codes: Iterable[str], unit_scale: dict[str, float]) -> float | None:
    latest = _latest(observations, codes)
    if latest is None or (q := _quantity(latest[0])) is None:
        return None
    return q[0] * unit_scale.get(q[1], 1.0)


def _answer_is(observations: list[dict], code: str, yes: frozenset[str]) -> bool | None:
    latest = _latest(observations, [code])
    if latest is None:
        return None
    return bool(set(_codes(latest[0].get("valueCodeableConcept"))) & yes)


def _active(resource: dict, status_field: str = "clinicalStatus") -> bool:
    status = set(_codes(resource.get(status_field)))
    verification = set(_codes(resource.get("verificationStatus")))
    return not (status & _INACTIVE_CLINICAL) and not (verification & _REFUTED)


def condition_codes(conditions: Iterable[dict]) -> tuple[str, ...]:
    """The ICD-10 codes of the active, unrefuted conditions."""
    codes = {code for c in conditions if _active(c) for code in _codes(c.get("code"), ICD10) if code}
    return tuple(sorted(codes))


def hepatic_impairment(codes: Iterable[str]) -> str | None:
    """mild, moderate or severe hepatic impairment inferred from ICD-10 codes, or None."""
    worst = None
    for code in codes:
        for prefix, grade in _HEPATIC_BY_PREFIX:
            if code.startswith(prefix):
                if worst is None or _HEPATIC_ORDER[grade] > _HEPATIC_ORDER[worst]:
                    worst = grade
                break
    return worst


def allergy_substances(allergies: Iterable[dict]) -> tuple[str, ...]:
    """What the patient is allergic to: SNOMED codes where coded, else the text, of active allergies."""
    found: list[str] = []
    for allergy in allergies:
        if not _active(allergy):
            continue
        codes = _codes(allergy.get("code"), SNOMED)
        found.extend(codes or [c.get("display", "") for c in (allergy.get("code") or {}).get("coding", [])])
        text = (allergy.get("code") or {}).get("text")
        if text and not codes:
            found.append(text)
    return tuple(dict.fromkeys(s for s in found if s))


def _frequency(timing: dict) -> str | None:
    code = next(iter(_codes(timing.get("code"))), None)
    if code:
        return code
    repeat = timing.get("repeat") or {}
    freq, period, unit = repeat.get("frequency"), repeat.get("period"), repeat.get("periodUnit")
    if not isinstance(freq, int) or not isinstance(period, int | float) or unit not in _PERIOD_UNITS:
        return None
    if unit == "h" and freq == 1:
        return f"Q{int(period)}H"
    if unit == "wk" and freq == 1 and period == 1:
        return "QW"
    per_day = freq / (period * _PERIOD_UNITS[unit])
    if "HS" in (repeat.get("when") or []) and per_day == 1:
        return "QN"
    return {1.0: "QD", 2.0: "BID", 3.0: "TID", 4.0: "QID"}.get(per_day)


def medicine_text(resource: dict) -> str:
    """How a medication resource names its drug: the ATC code if coded, else the display or text."""
    concept = resource.get("medicationCodeableConcept") or {}
    atc = _codes(concept, ATC)
    if atc and atc[0]:
        return atc[0]
    for coding in concept.get("coding", []):
        if coding.get("display"):
            return str(coding["display"])
    return str(concept.get("text") or "")


def order_from_request(resource: dict, *, ref: str | None = None) -> MedicineOrder:
    """A MedicationRequest (or MedicationStatement) as an order line for the audit."""
    dosage = ((resource.get("dosageInstruction") or resource.get("dosage") or [{}]) or [{}])[0]
    quantity = ((dosage.get("doseAndRate") or [{}])[0] or {}).get("doseQuantity") or {}
    route_codes = _codes(dosage.get("route"), SNOMED)
    route = ROUTES_BY_SNOMED.get(route_codes[0]) if route_codes else None
    if route is None and dosage.get("route"):
        route = (dosage["route"].get("text") or None)
    frequency = "PRN" if dosage.get("asNeededBoolean") and not dosage.get("timing") else _frequency(
        dosage.get("timing") or {})
    value = quantity.get("value")
    unit = quantity.get("code") or quantity.get("unit")
    return MedicineOrder(
        medicine=medicine_text(resource),
        dose=float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None,
        unit={"[IU]": "[iU]", "U": "[iU]"}.get(unit, unit) if unit else None,
        frequency=frequency, route=route,
        ref=ref if ref is not None else f"{resource.get('resourceType', 'MedicationRequest')}/{resource.get('id', '')}",
        indication=next(iter(c for r in resource.get("reasonCode", []) for c in _codes(r, ICD10)), None),
    )


def current_medicines(requests: Iterable[dict], statements: Iterable[dict] = ()) -> tuple[MedicineOrder, ...]:
    """The medicines the patient is taking: active MedicationRequests and MedicationStatements."""
    lines = [order_from_request(r) for r in requests if r.get("status") in ("active", "on-hold")]
    lines += [order_from_request(s) for s in statements if s.get("status") in ("active", "intended")]
    return tuple(line for line in lines if line.medicine)


def patient_facts(*, patient: dict | None, observations: list[dict], conditions: list[dict],
                  allergies: list[dict], medications: Iterable[MedicineOrder], today: date) -> tuple[PatientFacts, dict[str, Any]]:
    """The audit's facts about a patient, and how each was found (to show the prescriber)."""
    age = _age(patient, today)
    gender = (patient or {}).get("gender")
    sex = gender if gender in ("female", "male") else None
    codes = condition_codes(conditions)
    kidney = kidney_function(observations, age=age, female=None if sex is None else sex == "female")
    weight = _measure(observations, WEIGHT_CODES, {"g": 0.001, "[lb_av]": 0.45359237})
    height = _measure(observations, HEIGHT_CODES, {"m": 100.0, "[in_i]": 2.54})
    pregnant = _answer_is(observations, PREGNANCY_STATUS, PREGNANT_ANSWERS)
    if pregnant is None:
        pregnant = sex == "female" and any(c.startswith(_PREGNANCY_PREFIXES) for c in codes)
    lactating = _answer_is(observations, BREASTFEEDING_STATUS, BREASTFEEDING_ANSWERS)
    if lactating is None:
        lactating = any(c.startswith(_LACTATION_PREFIXES) for c in codes)
    facts = PatientFacts(
        age_years=age, sex=sex, weight_kg=weight, height_cm=height,
        egfr=kidney.value if kidney else None, hepatic=hepatic_impairment(codes),
        pregnant=bool(pregnant), lactating=bool(lactating), allergies=allergy_substances(allergies),
        conditions=codes, current=tuple(medications),
    )
    how = {"egfr": {"value": kidney.value, "day": kidney.day, "how": kidney.how} if kidney else None}
    return facts, how
