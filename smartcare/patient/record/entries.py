"""The person's own entries: a home reading, a symptom diary entry, a medicine or an allergy they report.

Each form is checked whole (required fields, length limits, plausible values, no future dates) and becomes one
FHIR resource about the person, marked patient-reported (meta.tag) and naming who reported it (the Patient, or
the caregiver's RelatedPerson) as its performer, information source or asserter. It is written through the
gateway as the signed-in person, so the access policy decides and the write is audited.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.patient.record import shape
from smartcare.patient.record.trends import CATEGORY_SYSTEM, readings
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

KINDS = ("reading", "symptom", "medicine", "allergy")
MAX_NAME, MAX_DETAIL, MAX_DIARY, MAX_NUMBER = 120, 200, 1000, 12
# A reading a few minutes ahead is a clock slip between phone and server, not a reading from the future.
CLOCK_SLACK = timedelta(minutes=10)
MAX_AGE = timedelta(days=366 * 120)
TAG = {"system": shape.ORIGIN_SYSTEM, "code": shape.PATIENT_REPORTED, "display": "Patient reported"}
CRITICALITIES = ("low", "high", "unable-to-assess")


def _(message: str) -> str:
    """Mark a message for the catalog; the page translates it into the reader's language."""
    return message


REQUIRED = _("Fill this in.")
TOO_LONG = _("At most %(limit)s characters.")
NOT_NUMBER = _("Enter a number, for example 120 or 36.8.")
OUT_OF_RANGE = _("Enter a value between %(low)s and %(high)s.")
BAD_TIME = _("Enter the date and time, for example 2026-03-02 08:30.")
FUTURE = _("The date and time cannot be in the future.")
CHOOSE = _("Choose one of the options.")


@dataclass
class EntryInvalid(Exception):
    """What is wrong with a form: field -> (message id, values to put in it)."""

    problems: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


class _Form:
    """The posted fields of one form and the problems found in them so far."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields, self.problems = fields, {}

    def text(self, name: str, limit: int, *, required: bool = True) -> str:
        value = str(self.fields.get(name) or "").strip()
        if len(value) > limit:
            self.problems[name] = (TOO_LONG, {"limit": limit})
        elif required and not value:
            self.problems[name] = (REQUIRED, {})
        return value[:limit]

    def number(self, name: str, bounds: list[float]) -> float:
        raw = self.text(name, MAX_NUMBER)
        if name in self.problems:
            return math.nan
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            self.problems[name] = (NOT_NUMBER, {})
            return math.nan
        if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
            self.problems[name] = (OUT_OF_RANGE, {"low": bounds[0], "high": bounds[1]})
        return value

    def when(self, name: str = "when") -> str:
        """The typed local date and time as a FHIR dateTime; now when left empty."""
        raw = self.text(name, 25, required=False)
        if not raw:
            return clock.format_instant(clock.now())
        try:
            moment = datetime.fromisoformat(raw.replace(" ", "T"))
        except ValueError:
            self.problems[name] = (BAD_TIME, {})
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(get_settings().region_timezone))
        if moment > clock.now() + CLOCK_SLACK:
            self.problems[name] = (FUTURE, {})
        elif moment < clock.now() - MAX_AGE:
            self.problems[name] = (BAD_TIME, {})
        return moment.isoformat(timespec="seconds")

    def choice(self, name: str, options: tuple[str, ...] | list[str], *, required: bool = True) -> str:
        value = str(self.fields.get(name) or "")
        if value not in options and (required or value):
            self.problems[name] = (CHOOSE, {})
        return value if value in options else ""

    def done(self) -> None:
        if self.problems:
            raise EntryInvalid(self.problems)


def _coded(code: dict[str, str]) -> dict[str, Any]:
    return {"coding": [dict(code)], "text": code["display"]}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": round(value, 2), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def _observation(patient: str, author: str, when: str, category: str, code: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Observation", "meta": {"tag": [TAG]}, "status": "final",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}], "code": code,
            "subject": {"reference": patient}, "effectiveDateTime": when, "performer": [{"reference": author}]}


def reading(fields: dict[str, str], *, patient: str, author: str) -> dict[str, Any]:
    """A home reading (blood pressure, glucose, weight or temperature) as an Observation; EntryInvalid if wrong."""
    form = _Form(fields)
    home = [key for key, spec in readings()["readings"].items() if spec.get("home", True)]
    kind = form.choice("measure", home)
    when = form.when()
    spec = readings()["readings"].get(kind) or {}
    if "parts" in spec:
        values = {name: form.number(name, part["plausible"]) for name, part in spec["parts"].items()}
        if not form.problems and values["diastolic"] >= values["systolic"]:
            form.problems["diastolic"] = (OUT_OF_RANGE, {"low": spec["parts"]["diastolic"]["plausible"][0],
                                                         "high": values["systolic"]})
        form.done()
        resource = _observation(patient, author, when, spec["category"], _coded(spec["panel"]))
        resource["component"] = [{"code": _coded(part["code"]), "valueQuantity": _quantity(values[name], spec["unit"])}
                                 for name, part in spec["parts"].items()]
        return resource
    value = form.number("value", spec["plausible"]) if spec else math.nan
    form.done()
    resource = _observation(patient, author, when, spec["category"], _coded(spec["code"]))
    resource["valueQuantity"] = _quantity(value, spec["unit"])
    return resource


def symptom(fields: dict[str, str], *, patient: str, author: str) -> dict[str, Any]:
    """A symptom diary entry (what, how bad, when) as an Observation; EntryInvalid if wrong."""
    form = _Form(fields)
    spec = readings()["symptom"]
    what = form.text("what", MAX_DIARY)
    severity = form.choice("severity", spec["severities"], required=False)
    when = form.when()
    form.done()
    resource = _observation(patient, author, when, "survey", _coded(spec["code"]))
    resource["valueString"] = what
    if severity:
        resource["interpretation"] = [{"text": severity}]
    return resource


def medicine(fields: dict[str, str], *, patient: str, author: str) -> dict[str, Any]:
    """A medicine the person takes, as a MedicationStatement they report; EntryInvalid if wrong."""
    form = _Form(fields)
    name = form.text("name", MAX_NAME)
    how = form.text("how", MAX_DETAIL, required=False)
    form.done()
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement", "meta": {"tag": [TAG]}, "status": "active",
        "medicationCodeableConcept": {"text": name}, "subject": {"reference": patient},
        "dateAsserted": clock.format_instant(clock.now()), "informationSource": {"reference": author}}
    if how:
        resource["dosage"] = [{"text": how}]
    return resource


def allergy(fields: dict[str, str], *, patient: str, author: str) -> dict[str, Any]:
    """An allergy the person reports, as an AllergyIntolerance (unconfirmed until a clinician checks it)."""
    form = _Form(fields)
    name = form.text("substance", MAX_NAME)
    reaction = form.text("reaction", MAX_DETAIL, required=False)
    criticality = form.choice("criticality", CRITICALITIES, required=False)
    form.done()
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance", "meta": {"tag": [TAG]},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "unconfirmed"}]},
        "code": {"text": name}, "patient": {"reference": patient},
        "recordedDate": clock.format_instant(clock.now()), "asserter": {"reference": author}}
    if criticality:
        resource["criticality"] = criticality
    if reaction:
        resource["reaction"] = [{"manifestation": [{"text": reaction}]}]
    return resource


BUILDERS = {"reading": reading, "symptom": symptom, "medicine": medicine, "allergy": allergy}


def add(ctx: AccessContext, kind: str, fields: dict[str, str], *, patient_id: str, author: str) -> dict[str, Any]:
    """Check the form of kind and write its resource as ctx; EntryInvalid when the form is wrong."""
    resource = BUILDERS[kind](fields, patient=f"Patient/{patient_id}", author=author)
    return gateway.serve(ctx, FhirRequest(method="POST", path=resource["resourceType"], body=resource)).body or {}
