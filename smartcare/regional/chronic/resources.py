"""The FHIR resources of a follow-up visit: the codes used, writing the visit's records and reading them back."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.knowledge.chronic import followup
from smartcare.platform.settings import get_settings
from smartcare.regional.chronic.form import Form

LOCAL = "https://smartcare.example/fhir/"
QUESTIONNAIRE = LOCAL + "Questionnaire/bphs-chronic-follow-up"
ENCOUNTER_TYPE = LOCAL + "CodeSystem/encounter-type"
FOLLOW_UP = "chronic-follow-up"
ANSWERS = LOCAL + "CodeSystem/bphs-follow-up"
REGISTRY_SYSTEM = LOCAL + "CodeSystem/chronic-registry"
CLASS_SYSTEM = LOCAL + "CodeSystem/follow-up-classification"
ACTION_SYSTEM = LOCAL + "CodeSystem/follow-up-action"
REASON_SYSTEM = LOCAL + "CodeSystem/follow-up-reason"
SYMPTOM_SYSTEM = LOCAL + "CodeSystem/follow-up-symptom"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
CHECKUP = SNOMED + "|185349003"  # Encounter for check up: the yearly health check


@dataclass(frozen=True, slots=True)
class Visit:
    """One recorded follow-up visit, read back from its QuestionnaireResponse."""

    response_id: str
    patient_id: str
    registry: str
    day: date
    classification: str
    at_target: bool | None
    next_due: date | None
    answers: dict[str, Any]


def local_day(text: str | None) -> date | None:
    """The region's calendar day of a FHIR date or instant (None when missing or unreadable)."""
    if not text:
        return None
    try:
        if len(text) <= 10:
            return date.fromisoformat(text[:10]) if len(text) == 10 else None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).date()


def birth_of(patient: Mapping[str, Any]) -> date | None:
    """The Patient's full birth date (None when missing or only partly known)."""
    text = patient.get("birthDate") or ""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


# --- reading the visit back -------------------------------------------------------------------------------------

# Items whose answers form a list (every other item keeps its first answer).
LISTS = frozenset({"symptoms", "actions", "reason_rules", "reasons", "reasons_zh"})


def visit_of(response: Mapping[str, Any]) -> Visit | None:
    """A follow-up visit from its QuestionnaireResponse (None for any other response)."""
    if response.get("questionnaire") != QUESTIONNAIRE:
        return None
    answers: dict[str, Any] = {}
    for item in response.get("item", []):
        values = [_answer_value(a) for a in item.get("answer", [])]
        if item.get("linkId") in LISTS:
            answers[item["linkId"]] = values
        elif values:
            answers[item.get("linkId", "")] = values[0]
    day = local_day(response.get("authored"))
    registry = answers.get("registry")
    classification = answers.get("classification")
    if day is None or registry not in followup.REGISTRIES or classification not in followup.CLASSES:
        return None
    next_due = answers.get("next_due")
    return Visit(response_id=response.get("id", ""),
                 patient_id=(response.get("subject") or {}).get("reference", "").removeprefix("Patient/"),
                 registry=registry, day=day, classification=classification, at_target=answers.get("at_target"),
                 next_due=date.fromisoformat(next_due) if isinstance(next_due, str) else None, answers=answers)


def _answer_value(answer: Mapping[str, Any]) -> Any:
    for key, value in answer.items():
        if key == "valueCoding":
            return value.get("code")
        if key.startswith("value"):
            return value
    return None


# --- writing the visit ------------------------------------------------------------------------------------------

def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(LOINC, code, display)], "text": display}


def _observation(base: dict[str, Any], category: str, code: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [_coding(TERMINOLOGY + "observation-category", category)]}],
            "code": code, **base, **values}


def observations(form: Form, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The visit's vital-signs Observations (and fasting glucose), linked to its Encounter through base."""
    made = [
        _observation(base, "vital-signs", _loinc("85354-9", "Blood pressure panel with all children optional"),
                     component=[
                         {"code": _loinc("8480-6", "Systolic blood pressure"),
                          "valueQuantity": _quantity(form.systolic, "mmHg", "mm[Hg]")},
                         {"code": _loinc("8462-4", "Diastolic blood pressure"),
                          "valueQuantity": _quantity(form.diastolic, "mmHg", "mm[Hg]")}]),
        _observation(base, "vital-signs", _loinc("8867-4", "Heart rate"),
                     valueQuantity=_quantity(form.heart_rate, "/min", "/min")),
        _observation(base, "vital-signs", _loinc("29463-7", "Body weight"),
                     valueQuantity=_quantity(form.weight, "kg", "kg")),
        _observation(base, "vital-signs", _loinc("8302-2", "Body height"),
                     valueQuantity=_quantity(form.height, "cm", "cm")),
        _observation(base, "vital-signs", _loinc("39156-5", "Body mass index (BMI) [Ratio]"),
                     valueQuantity=_quantity(form.bmi, "kg/m2", "kg/m2")),
    ]
    if form.fasting_glucose is not None:
        # 14771-0 is fasting glucose in moles per volume (mmol/L); 1558-6 is the same in mass per volume (mg/dL).
        made.append(_observation(base, "laboratory", _loinc("14771-0", "Fasting glucose [Moles/volume] in Serum or "
                                                                     "Plasma"),
                                 valueQuantity=_quantity(form.fasting_glucose, "mmol/L", "mmol/L")))
    return made


def _item(link: str, text: str, *answers: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": link, "text": text}
    if answers:
        item["answer"] = list(answers)
    return item


def questionnaire_items(form: Form, result: followup.Classification, next_due: date,
                        previous: str | None = None) -> list[dict[str, Any]]:
    """The whole form with the classification, next due date, actions and reasons as QuestionnaireResponse items."""
    def number(link: str, text: str, value: float | int | None) -> list[dict[str, Any]]:
        if value is None:
            return []
        key = "valueInteger" if isinstance(value, int) else "valueDecimal"
        return [_item(link, text, {key: value})]

    def choice(link: str, text: str, code: str) -> dict[str, Any]:
        return _item(link, text, {"valueCoding": _coding(ANSWERS, code)})

    items = [
        _item("registry", "Registry", {"valueCoding": _coding(REGISTRY_SYSTEM, form.registry)}),
        _item("symptoms", "Symptoms", *({"valueCoding": _coding(SYMPTOM_SYSTEM, s)} for s in form.symptoms)),
        *number("systolic", "Systolic blood pressure (mmHg)", form.systolic),
        *number("diastolic", "Diastolic blood pressure (mmHg)", form.diastolic),
        *number("heart_rate", "Heart rate (/min)", form.heart_rate),
        *number("fasting_glucose", "Fasting blood glucose (mmol/L)", form.fasting_glucose),
        *number("weight", "Weight (kg)", form.weight),
        *number("height", "Height (cm)", form.height),
        *number("bmi", "Body mass index (kg/m2)", form.bmi),
        *number("cigarettes", "Cigarettes per day", form.cigarettes),
        *number("alcohol", "Alcohol per day (liang)", form.alcohol),
        *number("exercise_sessions", "Exercise sessions per week", form.exercise_sessions),
        *number("exercise_minutes", "Minutes per session", form.exercise_minutes),
        choice("salt", "Salt intake", form.salt),
        choice("psychology", "Psychological adjustment", form.psychology),
        choice("adherence", "Medication adherence", form.adherence),
        _item("adverse_reaction", "Adverse drug reaction", {"valueBoolean": form.adverse_reaction}),
        _item("adverse_reaction_unmanageable", "Adverse reaction hard to control",
              {"valueBoolean": form.adverse_reaction_unmanageable}),
        _item("new_complication", "New or worsened complication", {"valueBoolean": form.new_complication}),
        _item("classification", "Classification", {"valueCoding": _coding(CLASS_SYSTEM, result.key)}),
        _item("next_due", "Next follow-up due", {"valueDate": next_due.isoformat()}),
        _item("actions", "Actions", *({"valueCoding": _coding(ACTION_SYSTEM, a)} for a in result.actions)),
        _item("reason_rules", "Rules applied", *({"valueCoding": _coding(REASON_SYSTEM, r.rule)}
                                                 for r in result.reasons)),
        _item("reasons", "Reasons", *({"valueString": r.text_en} for r in result.reasons)),
        _item("reasons_zh", "Reasons (Chinese)", *({"valueString": r.text_zh} for r in result.reasons)),
    ]
    if previous:
        items.append(_item("previous_classification", "Previous classification",
                           {"valueCoding": _coding(CLASS_SYSTEM, previous)}))
    if form.adverse_reaction_text:
        items.append(_item("adverse_reaction_text", "Adverse reaction", {"valueString": form.adverse_reaction_text}))
    if form.complication_text:
        items.append(_item("complication_text", "Complication", {"valueString": form.complication_text}))
    if result.at_target is not None:
        items.append(_item("at_target", "Reading at target", {"valueBoolean": result.at_target}))
    return items


def response_resource(*, patient_ref: str, encounter_ref: str, when: str, form: Form,
                      result: followup.Classification, next_due: date, previous: str | None,
                      doctor: str | None) -> dict[str, Any]:
    """The filled-in follow-up form as a QuestionnaireResponse of the visit's Encounter."""
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE, "status": "completed",
        "subject": {"reference": patient_ref}, "encounter": {"reference": encounter_ref}, "authored": when,
        "item": questionnaire_items(form, result, next_due, previous),
    }
    if doctor:
        response["author"] = {"reference": doctor}
    return response


def visit_bundle(*, patient_id: str, when: str, form: Form, result: followup.Classification, next_due: date,
                 previous: str | None, codings: list[dict[str, Any]], doctor: str | None,
                 centre: str | None) -> dict[str, Any]:
    """The visit as one transaction: its Encounter, Observations and the filled-in QuestionnaireResponse."""
    patient_ref = f"Patient/{patient_id}"
    names = {"hypertension": "Hypertension", "diabetes": "Type 2 diabetes mellitus"}
    reason = {"coding": codings[:1], "text": names[form.registry]} if codings else {
        "text": f"{names[form.registry]} (registered on treatment; diagnosis to confirm)"}
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "status": "finished",
        "class": _coding(TERMINOLOGY + "v3-ActCode", "AMB", "ambulatory"),
        "type": [{"coding": [_coding(ENCOUNTER_TYPE, FOLLOW_UP, "Chronic disease follow-up")],
                  "text": "Chronic disease follow-up"}],
        "subject": {"reference": patient_ref}, "period": {"start": when, "end": when},
        "reasonCode": [reason],
    }
    if doctor:
        encounter["participant"] = [{"type": [{"coding": [_coding(TERMINOLOGY + "v3-ParticipationType", "ATND",
                                                                  "attender")]}],
                                     "individual": {"reference": doctor}}]
    if centre:
        encounter["serviceProvider"] = {"reference": centre}
    base: dict[str, Any] = {"subject": {"reference": patient_ref}, "encounter": {"reference": "urn:uuid:visit"},
                            "effectiveDateTime": when}
    if doctor:
        base["performer"] = [{"reference": doctor}]
    made = observations(form, base)
    bmi = next(o for o in made if o["code"]["coding"][0]["code"] == "39156-5")
    # obs-2 and obs-3 are the weight and height, in the order observations() makes them.
    bmi["derivedFrom"] = [{"reference": "urn:uuid:obs-2"}, {"reference": "urn:uuid:obs-3"}]
    response = response_resource(patient_ref=patient_ref, encounter_ref="urn:uuid:visit", when=when, form=form,
                                 result=result, next_due=next_due, previous=previous, doctor=doctor)
    entries = [{"fullUrl": "urn:uuid:visit", "resource": encounter, "request": {"method": "POST", "url": "Encounter"}},
               *({"fullUrl": f"urn:uuid:obs-{i}", "resource": o, "request": {"method": "POST", "url": "Observation"}}
                 for i, o in enumerate(made)),
               {"fullUrl": "urn:uuid:form", "resource": response,
                "request": {"method": "POST", "url": "QuestionnaireResponse"}}]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def created_id(entry: Mapping[str, Any]) -> str:
    """The id the server gave a created resource, from its entry in the transaction's answer."""
    if entry.get("resource", {}).get("id"):
        return entry["resource"]["id"]
    location = (entry.get("response") or {}).get("location", "")
    parts = location.split("/")
    return parts[1] if len(parts) > 1 else ""
