"""The chart's banner: who the patient is and the facts a prescriber must see first (allergies, weight,
kidney function, pregnancy), each with the date and the record it comes from."""

from datetime import date
from typing import Any

from smartcare.hospital.workstation.codes import (
    chart_codes,
    codes_of,
    effective,
    has_code,
    icd10,
    label,
    local_day,
    parse_moment,
    quantity_text,
)
from smartcare.knowledge import calculators

_OFF_LIST = {"refuted", "entered-in-error"}
_ACTIVE = {"active", "recurrence", "relapse"}
# Pregnancy status is shown, even when not recorded, for women of these ages.
CHILDBEARING_AGES = (12, 55)


def _status(resource: dict[str, Any], key: str) -> str:
    return next(iter(sorted(codes_of(resource.get(key)))), "")


def is_active_condition(condition: dict[str, Any]) -> bool:
    """An active, not refuted Condition (one with no clinical status counts: nothing says it ended)."""
    if _status(condition, "verificationStatus") in _OFF_LIST:
        return False
    clinical = _status(condition, "clinicalStatus")
    return not clinical or clinical in _ACTIVE


def is_current_allergy(allergy: dict[str, Any]) -> bool:
    """An AllergyIntolerance that still stands: active (or without status) and not refuted."""
    if _status(allergy, "verificationStatus") in _OFF_LIST:
        return False
    return _status(allergy, "clinicalStatus") in ("", "active")


def latest(observations: list[dict[str, Any]], codes: list[str] | set[str]) -> dict[str, Any] | None:
    """The most recent observation with one of codes and a value."""
    found = [o for o in observations if has_code(o.get("code"), codes)
             and ("valueQuantity" in o or "valueCodeableConcept" in o or "component" in o)]
    return max(found, key=lambda o: parse_moment(effective(o)) or parse_moment("0001-01-01"), default=None)


def _birth(patient: dict[str, Any]) -> date | None:
    moment = parse_moment(patient.get("birthDate"))
    return moment.date() if moment else None


def age_on(patient: dict[str, Any], day: date) -> int | None:
    """Completed years of age on day, or None when the birth date is unknown."""
    birth = _birth(patient)
    return calculators.age_in_years(birth, day) if birth else None


def _masked(value: str) -> str:
    return "•" * max(len(value) - 4, 0) + value[-4:]


def identifiers(patient: dict[str, Any], locale: str) -> list[dict[str, Any]]:
    """The patient's identifiers; national ID numbers with all but the last 4 characters masked."""
    rules = chart_codes()["national_id"]
    shown = []
    for identifier in patient.get("identifier", []):
        value = str(identifier.get("value") or "")
        if not value:
            continue
        national = identifier.get("system") in rules["systems"] or has_code(identifier.get("type"), rules["types"])
        shown.append({"kind": "national" if national else label(identifier.get("type"), locale),
                      "value": _masked(value) if national else value})
    return shown


def allergy_summary(allergies: list[dict[str, Any]], locale: str) -> dict[str, Any]:
    """The banner's allergy chips: the substances, else a recorded "no known allergy", else not recorded."""
    no_known = chart_codes()["no_known_allergy"]["codes"]
    standing = [a for a in allergies if is_current_allergy(a)]
    real = [a for a in standing if not has_code(a.get("code"), no_known)]
    if real:
        chips = [{"name": label(a.get("code"), locale) or label(_first_substance(a), locale),
                  "high": a.get("criticality") == "high"} for a in real]
        return {"state": "allergies", "chips": chips}
    denial = next((a for a in standing if has_code(a.get("code"), no_known)), None)
    if denial is not None:
        kind = no_known[sorted(codes_of(denial.get("code")) & set(no_known))[0]]
        return {"state": "none-known", "kind": kind, "date": local_day(denial.get("recordedDate"))}
    return {"state": "not-recorded"}


def _first_substance(allergy: dict[str, Any]) -> dict[str, Any] | None:
    for reaction in allergy.get("reaction", []):
        if reaction.get("substance"):
            return reaction["substance"]
    return None


def weight(observations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest body weight and its date."""
    rows = next(r for r in chart_codes()["vitals"] if r["key"] == "weight")
    found = latest(observations, rows["loinc"])
    if found is None or "valueQuantity" not in found:
        return None
    return {"value": quantity_text(found["valueQuantity"]), "date": local_day(effective(found))}


def kidney_function(patient: dict[str, Any], observations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest eGFR with its KDIGO stage: as reported, or computed (CKD-EPI 2021) from a newer creatinine.

    A reported eGFR is used unless a later serum creatinine exists, since the newer sample tells more;
    the computed value is labelled as such and is not computed for children or without a recorded sex.
    """
    codes = chart_codes()
    reported = latest(observations, codes["egfr"]["loinc"])
    creatinine = latest(observations, codes["creatinine"]["loinc"])
    reported_at = parse_moment(effective(reported)) if reported else None
    creatinine_at = parse_moment(effective(creatinine)) if creatinine else None
    if reported is not None and "valueQuantity" in reported and reported["valueQuantity"].get("value") is not None \
            and (creatinine_at is None or (reported_at and reported_at >= creatinine_at)):
        value = float(reported["valueQuantity"]["value"])
        return {"computed": False, "value": round(value), "unit": "mL/min/1.73 m²",
                "stage": calculators.ckd_stage(value), "date": local_day(effective(reported))}
    if creatinine is None or creatinine_at is None:
        return None
    return _computed(patient, creatinine, creatinine_at.date())


def _computed(patient: dict[str, Any], creatinine: dict[str, Any], drawn: date) -> dict[str, Any]:
    found = {"computed": True, "creatinine": quantity_text(creatinine.get("valueQuantity")),
             "date": local_day(effective(creatinine))}
    quantity = creatinine.get("valueQuantity") or {}
    age = age_on(patient, drawn)
    if age is None or age < 18:
        return {**found, "not_computed": "child" if age is not None else "no-birth-date"}
    if patient.get("gender") not in ("male", "female"):
        return {**found, "not_computed": "no-sex"}
    try:
        unit = quantity.get("code") or quantity.get("unit") or ""
        mg_dl = calculators.creatinine_mg_dl(float(quantity.get("value")), unit)
    except (TypeError, ValueError):
        return {**found, "not_computed": "unit"}
    value = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=mg_dl, age_years=age,
                                          female=patient["gender"] == "female")
    return {**found, "value": round(value), "unit": "mL/min/1.73 m²", "stage": calculators.ckd_stage(value)}


def pregnancy(patient: dict[str, Any], observations: list[dict[str, Any]], conditions: list[dict[str, Any]],
              *, today: date, locale: str) -> dict[str, Any] | None:
    """Pregnancy status and where it comes from: a pregnancy status Observation (LOINC 82810-3) or an active
    pregnancy Condition (ICD-10 O or Z33-Z35), whichever is newer; None when it does not apply."""
    rules = chart_codes()["pregnancy"]
    status = latest(observations, [rules["status_loinc"]])
    condition = max((c for c in conditions if is_active_condition(c) and icd10(c.get("code")).startswith(
        tuple(rules["icd10_prefixes"]))), key=lambda c: c.get("onsetDateTime") or c.get("recordedDate") or "",
                    default=None)
    status_at = parse_moment(effective(status)) if status else None
    condition_at = parse_moment(condition.get("onsetDateTime") or condition.get("recordedDate")) if condition else None
    if status is not None and (condition is None or (status_at and condition_at and status_at >= condition_at)):
        answer = codes_of(status.get("valueCodeableConcept"))
        state = ("pregnant" if answer & set(rules["pregnant"]) else
                 "not-pregnant" if answer & set(rules["not_pregnant"]) else "unknown")
        return {"state": state, "source": "observation", "date": local_day(effective(status))}
    if condition is not None:
        code = icd10(condition.get("code"))
        return {"state": "pregnant", "source": "condition", "code": code,
                "condition": label(condition.get("code"), locale),
                "date": local_day(condition.get("onsetDateTime") or condition.get("recordedDate"))}
    age = age_on(patient, today)
    if patient.get("gender") == "female" and age is not None and CHILDBEARING_AGES[0] <= age <= CHILDBEARING_AGES[1]:
        return {"state": "not-recorded"}
    return None


def banner(patient: dict[str, Any], by_type: dict[str, list[dict[str, Any]]], *, today: date,
           locale: str) -> dict[str, Any]:
    """Everything the banner shows, from the patient and their records."""
    observations = by_type.get("Observation", [])
    birth = _birth(patient)
    months = None
    if birth is not None:
        months = (today.year - birth.year) * 12 + today.month - birth.month - (today.day < birth.day)
    return {
        "name": _names(patient)[0], "other_names": _names(patient)[1:],
        "gender": patient.get("gender", "unknown"), "birth_date": patient.get("birthDate", ""),
        "age": age_on(patient, today), "months": months,
        "identifiers": identifiers(patient, locale),
        "allergies": allergy_summary(by_type.get("AllergyIntolerance", []), locale),
        "weight": weight(observations),
        "kidney": kidney_function(patient, observations),
        "pregnancy": pregnancy(patient, observations, by_type.get("Condition", []), today=today, locale=locale),
        "deceased": bool(patient.get("deceasedBoolean") or patient.get("deceasedDateTime")),
    }


def _names(patient: dict[str, Any]) -> list[str]:
    """The patient's official names, each once (the Chinese name and its pinyin), else any name, else the id."""
    names = [n for n in patient.get("name", []) if n.get("use") in (None, "official", "usual")] or patient.get(
        "name", [])
    shown: list[str] = []
    for name in names:
        text = name.get("text") or _joined(name)
        if text and text not in shown:
            shown.append(text)
    return shown or [str(patient.get("id", ""))]


def _joined(name: dict[str, Any]) -> str:
    family, given = name.get("family", ""), name.get("given", [])
    if any("\u4e00" <= ch <= "\u9fff" for ch in family + "".join(given)):
        return family + "".join(given)
    return " ".join([*given, family]).strip()
