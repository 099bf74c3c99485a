"""Nursing observations at the bedside: the form's checks, the vital-signs Observations and the NEWS2 score.

A charted set is written as one transaction: blood pressure, heart rate, respiratory rate, temperature
and SpO2 as FHIR vital-signs Observations (LOINC, UCUM), consciousness (ACVPU) and air or oxygen as
SmartCare-coded Observations, and, for adults, the NEWS2 score derived from them with its points per
parameter and clinical response band.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.fhir import gateway
from smartcare.hospital.wards import admissions, beds, codes
from smartcare.knowledge.scores import news2
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext

NEWS2_TOTAL = "news2-total"
CONSCIOUSNESS_LABELS = {
    "A": (_("Alert"), "Alert"), "C": (_("New confusion"), "New confusion"), "V": (_("Responds to voice"), "Voice"),
    "P": (_("Responds to pain"), "Pain"), "U": (_("Unresponsive"), "Unresponsive"),
}
_FIELD_NAMES = {
    "systolic": _("Systolic blood pressure"), "diastolic": _("Diastolic blood pressure"), "pulse": _("Heart rate"),
    "respiratory_rate": _("Respiratory rate"), "temperature": _("Temperature"), "spo2": _("SpO2"),
}
OUT_OF_RANGE = _("{what} must be a number from {low} to {high} {unit}.")
MAX_FIELD = 8
TREND_POINTS = 200


@dataclass(frozen=True, slots=True)
class Readings:
    """A nurse's charted set, checked and in chart units."""

    systolic: int
    diastolic: int
    pulse: int
    respiratory_rate: int
    temperature: float
    spo2: int
    spo2_scale: int
    on_oxygen: bool
    consciousness: str

    def vital_set(self) -> news2.VitalSet:
        """The readings NEWS2 scores."""
        return news2.VitalSet(respiratory_rate=self.respiratory_rate, spo2=self.spo2, spo2_scale=self.spo2_scale,
                              on_oxygen=self.on_oxygen, systolic_bp=self.systolic, pulse=self.pulse,
                              consciousness=self.consciousness, temperature=self.temperature)


class VitalsInvalid(Exception):
    """The form has mistakes: field -> (English msgid, values for it)."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@cache
def definitions() -> dict[str, Any]:
    """The charted vital signs: codes, units and accepted ranges (data/vital_signs.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "vital_signs.yaml").read_text(encoding="utf-8"))


def _number(key: str, text: str, errors: dict[str, tuple[str, dict[str, Any]]]) -> float:
    spec = definitions()["vitals"][key]
    values = {"what": _FIELD_NAMES[key], "low": spec["low"], "high": spec["high"], "unit": spec["shown"]}
    text = (text or "").strip().replace(",", ".")
    try:
        value = float(text) if 0 < len(text) <= MAX_FIELD else None
    except ValueError:
        value = None
    if value is None or value != value or not spec["low"] <= value <= spec["high"]:
        errors[key] = (OUT_OF_RANGE, values)
        return 0.0
    return round(value, spec.get("decimals", 0)) if spec.get("decimals") else float(round(value))


def parse_form(form: dict[str, str]) -> Readings:
    """Check a vitals form and return its readings; VitalsInvalid names every mistake at once."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    numbers = {key: _number(key, form.get(key, ""), errors) for key in _FIELD_NAMES}
    if not errors.keys() & {"systolic", "diastolic"} and numbers["diastolic"] >= numbers["systolic"]:
        errors["diastolic"] = (_("The diastolic pressure must be lower than the systolic."), {})
    scale = form.get("spo2_scale", "1")
    if scale not in ("1", "2"):
        errors["spo2_scale"] = (_("Choose SpO2 scale 1 or 2."), {})
    oxygen = form.get("oxygen", "")
    if oxygen not in ("air", "oxygen"):
        errors["oxygen"] = (_("Say whether the patient breathes air or oxygen."), {})
    consciousness = form.get("consciousness", "")
    if consciousness not in news2.CONSCIOUSNESS:
        errors["consciousness"] = (_("Choose the level of consciousness (ACVPU)."), {})
    if errors:
        raise VitalsInvalid(errors)
    return Readings(systolic=int(numbers["systolic"]), diastolic=int(numbers["diastolic"]),
                    pulse=int(numbers["pulse"]), respiratory_rate=int(numbers["respiratory_rate"]),
                    temperature=numbers["temperature"], spo2=int(numbers["spo2"]), spo2_scale=int(scale),
                    on_oxygen=oxygen == "oxygen", consciousness=consciousness)


def _quantity(key: str, value: float) -> dict[str, Any]:
    spec = definitions()["vitals"][key]
    return {"value": value, "unit": spec["shown"], "system": codes.UCUM, "code": spec["unit"]}


def _loinc(key: str) -> dict[str, Any]:
    spec = definitions()["vitals"][key]
    codings = [{"system": codes.LOINC, "code": spec["loinc"], "display": spec["display"]}]
    if spec.get("also"):
        codings.append({"system": codes.LOINC, "code": spec["also"]})
    return {"coding": codings, "text": spec["display"]}


def _observation(base: dict[str, Any], code: dict[str, Any], category: str, **values: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [codes.concept(codes.OBSERVATION_CATEGORY, category, category.replace("-", " ").title())],
            "code": code, **base, **values}


def _local(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.WARD_OBSERVATION, "code": code, "display": display}], "text": display}


def observations(readings: Readings, *, patient: str, encounter: str, performer: str | None, when: str,
                 adult: bool, key: str = "") -> list[dict[str, Any]]:
    """The Observations of one charted set (and its NEWS2 score for adults), as transaction entries.

    key makes the entries' urn:uuid names unique when several sets share one transaction.
    """
    base: dict[str, Any] = {"subject": {"reference": patient}, "encounter": {"reference": encounter},
                            "effectiveDateTime": when}
    if performer:
        base["performer"] = [{"reference": performer}]
    panel = definitions()["blood_pressure_panel"]
    made = [
        _observation(base, {"coding": [{"system": codes.LOINC, "code": panel["loinc"], "display": panel["display"]}],
                            "text": "Blood pressure"}, "vital-signs",
                     component=[{"code": _loinc("systolic"), "valueQuantity": _quantity("systolic", readings.systolic)},
                                {"code": _loinc("diastolic"),
                                 "valueQuantity": _quantity("diastolic", readings.diastolic)}]),
        *(_observation(base, _loinc(key), "vital-signs", valueQuantity=_quantity(key, getattr(readings, key)))
          for key in ("pulse", "respiratory_rate", "temperature", "spo2")),
        _observation(base, _local("acvpu", "Level of consciousness (ACVPU)"), "exam", valueCodeableConcept={
            "coding": [{"system": codes.ACVPU, "code": readings.consciousness,
                        "display": CONSCIOUSNESS_LABELS[readings.consciousness][1]}]}),
        _observation(base, _local("air-or-oxygen", "Breathing air or supplemental oxygen"), "vital-signs",
                     valueCodeableConcept=_local("oxygen" if readings.on_oxygen else "air",
                                                 "Supplemental oxygen" if readings.on_oxygen else "Air")),
    ]
    entries = [{"fullUrl": f"urn:uuid:{key}vital-{i}", "resource": o, "request": {"method": "POST", "url": "Observation"}}
               for i, o in enumerate(made)]
    if adult:
        entries.append({"fullUrl": f"urn:uuid:{key}news2", "request": {"method": "POST", "url": "Observation"},
                        "resource": news2_observation(readings, base, [e["fullUrl"] for e in entries])})
    return entries


def news2_observation(readings: Readings, base: dict[str, Any], derived_from: list[str]) -> dict[str, Any]:
    """The NEWS2 score of readings as an Observation: total, points per parameter, scale and band."""
    result = news2.score(readings.vital_set())
    components = [{"code": _local(f"news2-{key.replace('_', '-')}", f"NEWS2 points: {key.replace('_', ' ')}"),
                   "valueInteger": points} for key, points in result.points.items()]
    components.append({"code": _local("news2-spo2-scale", "NEWS2 SpO2 scale"), "valueInteger": readings.spo2_scale})
    return _observation(
        base, _local(NEWS2_TOTAL, "National Early Warning Score 2 (NEWS2) total"), "survey",
        valueInteger=result.total,
        interpretation=[{"coding": [{"system": codes.NEWS2_BAND, "code": result.band}], "text": result.response}],
        method={"text": "NEWS2, Royal College of Physicians 2017"},
        derivedFrom=[{"reference": ref} for ref in derived_from], component=components,
        note=[{"text": "SmartCare code: LOINC holds no NEWS2 total code we could confirm."}],
    )


def record(ctx: AccessContext, *, hospital: str, encounter_id: str, readings: Readings,
           adult: bool) -> news2.Score | None:
    """Chart a set of observations for a current stay; returns its NEWS2 score (None for children)."""
    encounter = admissions.stay(ctx, hospital=hospital, encounter_id=encounter_id)
    performer = ctx.fhir_user if (ctx.fhir_user or "").startswith("Practitioner/") else None
    entries = observations(readings, patient=encounter["subject"]["reference"],
                           encounter=f"Encounter/{encounter['id']}", performer=performer,
                           when=clock.format_instant(clock.now()), adult=adult)
    admissions.run(ctx, entries)
    return news2.score(readings.vital_set()) if adult else None


def latest_scores(ctx: AccessContext, encounter_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest NEWS2 Observation of each stay the caller may see, by Encounter id."""
    if not encounter_ids:
        return {}
    found = beds.search_any(ctx, "Observation", "encounter", [f"Encounter/{i}" for i in encounter_ids], [
        ("code", f"{codes.WARD_OBSERVATION}|{NEWS2_TOTAL}"), ("_sort", "-date"), ("_count", "1000")])
    latest: dict[str, dict[str, Any]] = {}
    for observation in found:
        encounter = (observation.get("encounter") or {}).get("reference", "").removeprefix("Encounter/")
        latest.setdefault(encounter, observation)
    return latest


def latest_charted(ctx: AccessContext, encounter_ids: list[str]) -> dict[str, str]:
    """When each stay last had a heart rate charted (the mark of a charted set), by Encounter id."""
    if not encounter_ids:
        return {}
    found = beds.search_any(ctx, "Observation", "encounter", [f"Encounter/{i}" for i in encounter_ids], [
        ("code", f"{codes.LOINC}|{definitions()['vitals']['pulse']['loinc']}"), ("_sort", "-date"),
        ("_count", "1000")])
    latest: dict[str, str] = {}
    for observation in found:
        encounter = (observation.get("encounter") or {}).get("reference", "").removeprefix("Encounter/")
        latest.setdefault(encounter, observation.get("effectiveDateTime", ""))
    return latest


def trend(ctx: AccessContext, encounter_id: str) -> dict[str, list[list[Any]]]:
    """The stay's charted observations as time-ordered points per series, for the bedside chart."""
    found = gateway.search(ctx, "Observation", [("encounter", f"Encounter/{encounter_id}"), ("_sort", "date"),
                                                ("_count", str(TREND_POINTS * 8))])
    by_loinc = {spec["loinc"]: key for key, spec in definitions()["vitals"].items()}
    series: dict[str, list[list[Any]]] = {"bp": [], "pulse": [], "respiratory_rate": [], "temperature": [],
                                          "spo2": [], "news2": []}
    for observation in found:
        when = observation.get("effectiveDateTime")
        codings = (observation.get("code") or {}).get("coding", [])
        key = next((by_loinc[c["code"]] for c in codings if c.get("system") == codes.LOINC
                    and c.get("code") in by_loinc), None)
        if not when:
            continue
        if key in series:
            series[key].append([when, (observation.get("valueQuantity") or {}).get("value")])
        elif any(c.get("code") == definitions()["blood_pressure_panel"]["loinc"] for c in codings):
            parts = {codes.coding_of(c.get("code"), codes.LOINC): (c.get("valueQuantity") or {}).get("value")
                     for c in observation.get("component", [])}
            series["bp"].append([when, parts.get("8480-6"), parts.get("8462-4")])
        elif codes.coding_of(observation.get("code"), codes.WARD_OBSERVATION) == NEWS2_TOTAL:
            series["news2"].append([when, observation.get("valueInteger")])
    return {key: points[-TREND_POINTS:] for key, points in series.items()}
