"""The resident's basic public-health record (居民健康档案): the national basic data set read live from the store.

Demographics, past history (diseases, operations, injuries, transfusions), family history, lifestyle (smoking,
drinking, exercise, diet), disabilities and drug allergies, as the national specification lists them
(data/basic_record.json cites it). Nothing is copied: every item is read from the resident's FHIR records of
every institution the caller may see, so what the feeds send appears at once, beside what community doctors
recorded with the form (basic_form.py). Completeness says which items nobody has recorded yet.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text
from smartcare.regional.mpi.patients import national_id_of
from smartcare.regional.records import reconcile, service

DATA_FILE = Path(__file__).resolve().parent / "data" / "basic_record.json"
BASIC_TYPES = ("Patient", "Condition", "Procedure", "FamilyMemberHistory", "Observation", "AllergyIntolerance",
               "QuestionnaireResponse")
# Sections the form may answer "none" for (kept in the form's QuestionnaireResponse, as there is no record of
# a thing that did not happen).
NONE_SECTIONS = ("past", "surgery", "trauma", "transfusion", "family")
RETIRED = frozenset({"entered-in-error", "refuted", "not-done"})
ICD10_MARK = "icd-10"
COMMUNITY_PREFIX = "Organization/org-chc-"


@cache
def data() -> dict[str, Any]:
    """The national data set and its codes (data/basic_record.json), read once."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def is_community_doctor(*, role: str, organization: str | None) -> bool:
    """True for a doctor of a community health centre: the people who keep residents' basic records."""
    return role == "doctor" and bool(organization) and str(organization).startswith(COMMUNITY_PREFIX)


def form_key(resource: dict[str, Any]) -> str:
    """The form item a record was written for ("disease.hypertension"), or "" for records the feeds sent."""
    system = data()["identifier_system"]
    for identifier in resource.get("identifier") or [] if isinstance(resource.get("identifier"), list) else [
            resource.get("identifier") or {}]:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            return str(identifier.get("value") or "").partition("/")[2]
    return ""


def retired(resource: dict[str, Any]) -> bool:
    """True for a record withdrawn (entered in error, refuted, not done)."""
    if resource.get("status") in RETIRED:
        return True
    return any(code in RETIRED for _, code in reconcile.codings(resource.get("verificationStatus")))


def _icd10(concept: dict[str, Any] | None) -> list[str]:
    return [code for system, code in reconcile.codings(concept) if ICD10_MARK in system]


def disease_of(concept: dict[str, Any] | None) -> str:
    """The listed disease (its key) an ICD-10 coded concept falls under, or ""."""
    for code in _icd10(concept):
        for disease in data()["diseases"]:
            if any(code.startswith(prefix) for prefix in disease["prefixes"]):
                return disease["key"]
    return ""


def _item(resource: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**fields, "source": reconcile.source_of(resource), "form_key": form_key(resource)}


def _newest(resources: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(resources, key=lambda r: str(r.get(key) or (r.get("meta") or {}).get("lastUpdated") or ""),
                  reverse=True)


def _past(conditions: list[dict[str, Any]], procedures: list[dict[str, Any]], zh: bool) -> dict[str, Any]:
    transfusion = data()["transfusion"]["code"]
    diseases: dict[str, list[dict[str, Any]]] = {}
    trauma, surgery, transfusions = [], [], []
    for condition in conditions:
        when = reconcile.day(condition.get("onsetDateTime") or condition.get("recordedDate"))
        key = form_key(condition)
        if key.startswith("trauma.") or any(c[:1] in ("S", "T") for c in _icd10(condition.get("code"))):
            trauma.append(_item(condition, name=str((condition.get("code") or {}).get("text") or "")
                                or reconcile.label(condition.get("code"), zh), date=when))
        elif disease := disease_of(condition.get("code")):
            diseases.setdefault(disease, []).append(_item(condition, date=when))
    for procedure in procedures:
        when = reconcile.day(procedure.get("performedDateTime") or (procedure.get("performedPeriod") or {}).get("start"))
        if transfusion in {code for _, code in reconcile.codings(procedure.get("code"))}:
            reason = next((str(r.get("text") or "") for r in procedure.get("reasonCode") or [] if isinstance(r, dict)),
                          "")
            transfusions.append(_item(procedure, name=reason, date=when))
        else:
            surgery.append(_item(procedure, name=reconcile.label(procedure.get("code"), zh), date=when))
    return {"diseases": diseases, "trauma": trauma, "surgery": surgery, "transfusion": transfusions}


def _family(histories: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_code = {r["code"]: r["key"] for r in data()["relatives"]}
    found: dict[str, dict[str, Any]] = {}
    for history in histories:
        relative = next((by_code[c] for _, c in reconcile.codings(history.get("relationship")) if c in by_code), "")
        if not relative:
            continue
        diseases = {disease_of(c.get("code")) for c in history.get("condition") or [] if isinstance(c, dict)} - {""}
        entry = found.setdefault(relative, {"diseases": set(), "sources": set(), "form_key": ""})
        entry["diseases"] |= diseases
        entry["sources"].add(reconcile.source_of(history))
        entry["form_key"] = entry["form_key"] or form_key(history)
    return {k: {**v, "diseases": sorted(v["diseases"]), "sources": sorted(v["sources"])} for k, v in found.items()}


def _answer_keys(observation: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """The answers (keys) an Observation of a lifestyle item holds, by its value or its components."""
    system = data()["answer_system"]
    concepts = [observation.get("valueCodeableConcept")] + [
        c.get("code") for c in observation.get("component") or [] if isinstance(c, dict) and c.get("valueBoolean")]
    keys = []
    for concept in concepts:
        for coding_system, code in reconcile.codings(concept):
            for answer in spec["answers"]:
                if (answer.get("system"), answer.get("code")) == (coding_system, code) or (
                        coding_system == answer.get("system") and code in answer.get("also", ())) or (
                        coding_system == system and code == answer["key"]):
                    keys.append(answer["key"])
    return keys


def observation_code(item: str) -> tuple[str, str]:
    """(system, code) of the Observation that holds a lifestyle or disability item."""
    spec = data()[item]
    return ("http://loinc.org", spec["loinc"]) if "loinc" in spec else (data()["answer_system"], spec["code"])


def _lifestyle(observations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in ("smoking", "drinking", "exercise", "diet", "disability"):
        wanted = observation_code(item)
        matching = [o for o in observations if wanted in reconcile.codings(o.get("code"))]
        for observation in _newest(matching, "effectiveDateTime"):
            keys = _answer_keys(observation, data()[item])
            if keys:
                found[item] = _item(observation, answers=keys, date=reconcile.day(observation.get("effectiveDateTime")))
                break
    return found


def _allergies(records: list[dict[str, Any]], zh: bool) -> dict[str, Any]:
    listed = {(a["system"], a["code"]): a["key"] for a in data()["drug_allergies"]}
    none_code = data()["no_known_drug_allergy"]["code"]
    found: dict[str, Any] = {"keys": {}, "other": [], "none": []}
    for allergy in records:
        codes = reconcile.codings(allergy.get("code"))
        key = next((listed[c] for c in codes if c in listed), "")
        if key:
            found["keys"].setdefault(key, []).append(_item(allergy))
        elif none_code in {c for _, c in codes}:
            found["none"].append(_item(allergy))
        else:
            found["other"].append(_item(allergy, name=reconcile.label(allergy.get("code"), zh)))
    return found


def _answered_none(responses: list[dict[str, Any]]) -> set[str]:
    """The sections the newest form answered "none"."""
    for response in _newest([r for r in responses if r.get("questionnaire") == data()["questionnaire"]], "authored"):
        return {item.get("linkId", "").removesuffix(".none") for item in response.get("item") or []
                if isinstance(item, dict) and any(a.get("valueBoolean") for a in item.get("answer") or [])}
    return set()


def _demographics(patients: list[dict[str, Any]]) -> dict[str, str]:
    """Each demographic item from the first linked Patient record that has it."""
    getters = {
        "name": fhir_text.person_name,
        "gender": lambda p: str(p.get("gender") or ""),
        "birth_date": lambda p: str(p.get("birthDate") or ""),
        "resident_id": national_id_of,
        "phone": lambda p: next((str(t.get("value")) for t in p.get("telecom") or []
                                 if isinstance(t, dict) and t.get("system") in ("phone", "sms") and t.get("value")), ""),
        "address": lambda p: next((str(a.get("text") or " ".join([*(a.get("line") or []), a.get("city") or ""])).strip()
                                   for a in p.get("address") or [] if isinstance(a, dict)), ""),
    }
    shown = {}
    for key, getter in getters.items():
        shown[key] = next((value for p in patients if (value := getter(p)) and value != p.get("id")), "")
    return shown


def _mask(resident_id: str) -> str:
    return "•" * max(len(resident_id) - 4, 0) + resident_id[-4:] if resident_id else ""


def completeness(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each item of the national data set with whether it is recorded; missing ones are what the doctor asks."""
    none = record["none"]
    past, life = record["past"], record["lifestyle"]
    checks = [(f"demographics.{d['key']}", d, bool(record["demographics"][d["key"]]))
              for d in data()["demographics"]]
    sections = {
        "past": ("Past diseases", "既往疾病史", bool(past["diseases"])),
        "surgery": ("Operations", "手术史", bool(past["surgery"])),
        "trauma": ("Injuries", "外伤史", bool(past["trauma"])),
        "transfusion": ("Blood transfusions", "输血史", bool(past["transfusion"])),
        "family": ("Family history", "家族史", bool(record["family"])),
    }
    for key, (en, zh, found) in sections.items():
        checks.append((key, {"en": en, "zh": zh}, found or key in none))
    for key, en, zh in (("smoking", "Smoking", "吸烟情况"), ("drinking", "Drinking", "饮酒情况"),
                        ("exercise", "Physical exercise", "体育锻炼"), ("diet", "Dietary habits", "饮食习惯"),
                        ("disability", "Disability", "残疾情况")):
        checks.append((key, {"en": en, "zh": zh}, key in life))
    allergies = record["allergies"]
    checks.append(("allergy", {"en": "Drug allergies", "zh": "药物过敏史"},
                   bool(allergies["keys"] or allergies["other"] or allergies["none"])))
    return [{"key": key, "en": names["en"], "zh": names["zh"], "recorded": found} for key, names, found in checks]


def read(*, ctx: AccessContext, patient_id: str, locale: str) -> dict[str, Any]:
    """The resident's basic record as ctx may see it, from every linked institution's records, with its
    completeness; service.RecordError when the patient cannot be shown."""
    by_type = service.gather(ctx=ctx, patient_id=patient_id, types=BASIC_TYPES)
    zh = locale == "zh-Hans"
    live = {t: [r for r in by_type.get(t, []) if not retired(r)] for t in BASIC_TYPES}
    asked = next(p for p in live["Patient"] if p.get("id") == patient_id)
    patients = [asked, *(p for p in live["Patient"] if p is not asked)]
    record = {
        "id": patient_id,
        "demographics": _demographics(patients),
        "past": _past(live["Condition"], live["Procedure"], zh),
        "family": _family(live["FamilyMemberHistory"]),
        "lifestyle": _lifestyle(live["Observation"]),
        "allergies": _allergies(live["AllergyIntolerance"], zh),
        "none": _answered_none(live["QuestionnaireResponse"]),
        "hidden": sorted(t for t in BASIC_TYPES if not service.may_read(ctx, t)),
    }
    record["completeness"] = completeness(record)
    record["missing"] = [c for c in record["completeness"] if not c["recorded"]]
    record["demographics"]["resident_id"] = _mask(record["demographics"]["resident_id"])
    sources = {i["source"] for items in record["past"]["diseases"].values() for i in items}
    sources |= {i["source"] for key in ("surgery", "trauma", "transfusion") for i in record["past"][key]}
    sources |= {s for entry in record["family"].values() for s in entry["sources"]}
    sources |= {entry["source"] for entry in record["lifestyle"].values()}
    record["names"] = service.organisation_names(ctx, sources - {""})
    return record


def form_values(record: dict[str, Any]) -> dict[str, str]:
    """The form's fields as the record stands: what the form wrote before, and lifestyle answers from any source."""
    values: dict[str, str] = {}
    for key, items in record["past"]["diseases"].items():
        mine = [i for i in items if i["form_key"] == f"disease.{key}"]
        if mine:
            values[f"disease.{key}"] = "on"
            values[f"disease.{key}.date"] = mine[0]["date"]
    for section in ("surgery", "trauma", "transfusion"):
        for item in record["past"][section]:
            if item["form_key"].startswith(f"{section}."):
                n = item["form_key"].partition(".")[2]
                values[f"{section}.{n}.name"], values[f"{section}.{n}.date"] = item["name"], item["date"]
    for relative, entry in record["family"].items():
        if entry["form_key"]:
            values.update({f"family.{relative}.{d}": "on" for d in entry["diseases"]})
    for item, entry in record["lifestyle"].items():
        if item in ("diet", "disability"):
            values.update({f"{item}.{a}": "on" for a in entry["answers"]})
        else:
            values[item] = entry["answers"][0]
    allergies = record["allergies"]
    for key, items in allergies["keys"].items():
        if any(i["form_key"] == f"allergy.{key}" for i in items):
            values[f"allergy.{key}"] = "on"
    other = next((i for i in allergies["other"] if i["form_key"] == "allergy.other"), None)
    if other:
        values["allergy.other"] = other["name"]
    if any(i["form_key"] == "allergy.none" for i in allergies["none"]):
        values["allergy.none"] = "on"
    values.update({f"{s}.none": "on" for s in record["none"]})
    return values
