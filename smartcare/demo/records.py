"""Renders a planned resident into FHIR R4 resources, in an order where every reference points backwards."""

import random
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from smartcare.demo import fhirtypes as ft
from smartcare.demo.facilities import Directory
from smartcare.demo.history import (
    ChronicCondition,
    Prescription,
    Relative,
    ResidentPlan,
    Visit,
    current_drugs,
)
from smartcare.demo.people import age_on
from smartcare.demo.physiology import Physiology
from smartcare.demo.reference import load
from smartcare.regional.chronic import form as chronic_form
from smartcare.regional.chronic import resources as chronic_resources

_ENCOUNTER_TYPES = {
    "checkup": ("185349003", "Encounter for check up", "健康体检"),
    "follow-up": ("390906007", "Follow-up encounter", "慢病随访"),
    "specialist": ("11429006", "Consultation", "专科门诊"),
    "acute": ("185345009", "Encounter for symptom", "门诊就诊"),
    "emergency": ("50849002", "Emergency room admission", "急诊就诊"),
    "admission": ("32485007", "Admission to hospital", "住院"),
    "screening": ("185349003", "Encounter for check up", "筛查"),
}
_CLASSES = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}
_DOSE_UNITS_ZH = {"mg": "mg", "g": "g", "ug": "μg", "[IU]": "单位", "{puff}": "吸"}
_INTERPRETATIONS = {"H": "High", "L": "Low", "N": "Normal"}


def _category(system: str, code: str, display: str) -> list[dict[str, Any]]:
    return [ft.concept(ft.TERMINOLOGY + system, code, display)]


def _active(system: str) -> dict[str, Any]:
    return ft.concept(ft.TERMINOLOGY + system, "active", "Active")


class _Renderer:
    """Turns one ResidentPlan into resources; measured values come from the resident's value generator."""

    def __init__(self, plan: ResidentPlan, rng: random.Random, directory: Directory, as_of: date,
                 width: int) -> None:
        self.plan, self.rng, self.directory, self.as_of = plan, rng, directory, as_of
        self.tag = f"{plan.index:0{width}d}"
        self.counters: dict[str, int] = {}
        self.condition_ids: dict[str, str] = {}
        self.follow_up_classes: dict[str, str] = {}  # registry -> class of the last follow-up form
        self.body = Physiology(rng, sex=plan.sex, birth=plan.birth,
                               conditions={c.key: c for c in plan.conditions}, drugs=current_drugs(plan))
        self.out: list[dict[str, Any]] = []

    def _patient_ref(self) -> dict[str, str]:
        return ft.reference("Patient", f"pat-{self.tag}")

    def _id(self, prefix: str, digits: int) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}-{self.tag}-{self.counters[prefix]:0{digits}d}"

    def render(self) -> list[dict[str, Any]]:
        plan = self.plan
        self.out.append(self._patient())
        for condition in plan.conditions:
            self.out.append(self._chronic_condition(condition))
        for allergy in plan.allergies:
            self.out.append(self._allergy(allergy.key, allergy.reaction, allergy.recorded))
        for drug, reason, start in plan.self_care:
            self.out.append(self._statement(drug, reason, start))
        for prescription, day in plan.unattached:
            self.out.append(self._request(prescription, datetime.combine(day, time(9)), None, plan.gp_id))
        for visit in plan.visits:
            self._visit(visit)
        return self.out

    # --- person ---------------------------------------------------------------------------------

    def _patient(self) -> dict[str, Any]:
        plan = self.plan
        name = plan.name
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": f"pat-{self.tag}",
            "identifier": [{
                "use": "official",
                "type": ft.concept(ft.V2_0203, "NI", "National unique individual identifier"),
                "system": ft.RESIDENT_ID_SYSTEM,
                "value": plan.national_id,
            }],
            "active": True,
            "name": ft.human_names(name.family_zh, name.given_zh, name.family_pinyin, name.given_pinyin),
        }
        if plan.phone:
            patient["telecom"] = [{"system": "phone", "value": plan.phone, "use": "mobile"}]
        patient |= {"gender": plan.sex, "birthDate": ft.day(plan.birth), "address": [plan.address]}
        if plan.guardian:
            guardian = plan.guardian
            father = guardian.sex == "male"
            patient["contact"] = [{
                "relationship": [{
                    "coding": [ft.coding(ft.TERMINOLOGY + "v2-0131", "N", "Next-of-Kin"),
                               ft.coding(ft.V3_ROLE_CODE, "FTH" if father else "MTH", "father" if father else "mother")],
                    "text": "父亲" if father else "母亲",
                }],
                "name": ft.human_names(guardian.name.family_zh, guardian.name.given_zh,
                                       guardian.name.family_pinyin, guardian.name.given_pinyin)[0],
                "telecom": [{"system": "phone", "value": guardian.phone, "use": "mobile"}],
                "gender": guardian.sex,
            }]
        patient |= {
            "communication": [{"language": ft.concept(ft.BCP47, "zh-CN", "Chinese (China)", "中文"), "preferred": True}],
            "generalPractitioner": [ft.reference("Practitioner", plan.gp_id)],
            "managingOrganization": ft.reference("Organization", plan.chc_id),
        }
        return patient

    def _chronic_condition(self, condition: ChronicCondition) -> dict[str, Any]:
        cond_id = self._id("cond", 2)
        self.condition_ids[condition.key] = cond_id
        recorded = min(condition.onset + timedelta(days=self.rng.randint(0, 30)), self.as_of - timedelta(days=1))
        return {
            "resourceType": "Condition",
            "id": cond_id,
            "clinicalStatus": _active("condition-clinical"),
            "verificationStatus": ft.concept(ft.TERMINOLOGY + "condition-ver-status", "confirmed", "Confirmed"),
            "category": _category("condition-category", "problem-list-item", "Problem List Item"),
            "code": ft.concept(ft.ICD10, condition.icd10, condition.display, condition.zh),
            "subject": self._patient_ref(),
            "onsetDateTime": ft.day(condition.onset),
            "recordedDate": ft.day(recorded),
            "recorder": ft.reference("Practitioner", self.plan.gp_id),
        }

    def _allergy(self, key: str, reaction_key: str, recorded: date) -> dict[str, Any]:
        data = load("allergies")
        row = next(r for r in data["substances"] if r["key"] == key)
        reaction = data["reactions"][reaction_key]
        return {
            "resourceType": "AllergyIntolerance",
            "id": self._id("allergy", 1),
            "clinicalStatus": _active("allergyintolerance-clinical"),
            "verificationStatus": ft.concept(ft.TERMINOLOGY + "allergyintolerance-verification", "confirmed",
                                             "Confirmed"),
            "type": "allergy",
            "category": [row["category"]],
            "criticality": "high" if reaction["severity"] == "severe" else "low",
            "code": ft.concept(ft.SNOMED, row["code"], row["display"], row["zh"]),
            "patient": self._patient_ref(),
            "recordedDate": ft.day(recorded),
            "recorder": ft.reference("Practitioner", self.plan.gp_id),
            "reaction": [{
                "manifestation": [ft.concept(ft.SNOMED, reaction["code"], reaction["display"], reaction["zh"])],
                "severity": reaction["severity"],
            }],
        }

    # --- medication -------------------------------------------------------------------------------

    def _dosage(self, drug: str, day: date, acute: bool) -> dict[str, Any]:
        meds = load("medications")
        row = meds["drugs"][drug]
        freq = meds["frequencies"][row["freq"]]
        route_code, route_display, route_zh = meds["routes"][row["route"]]
        value, unit = row["dose"]
        per_kg = row.get("paediatric_mg_per_kg")
        if per_kg and unit == "mg" and age_on(self.plan.birth, day) < 12:
            value = min(value, max(10, round(self.body.weight(day) * per_kg / 10) * 10))
        repeat: dict[str, Any] = {"frequency": freq["frequency"], "period": freq["period"], "periodUnit": freq["unit"]}
        if "when" in freq:
            repeat["when"] = [freq["when"]]
        if acute and "days" in row:
            repeat = {"boundsDuration": ft.quantity(row["days"], "d", "days")} | repeat
        timing: dict[str, Any] = {"repeat": repeat}
        if row["freq"] in ("QD", "BID", "TID"):
            timing["code"] = ft.concept(ft.TERMINOLOGY + "v3-GTSAbbreviation", row["freq"], row["freq"])
        dosage: dict[str, Any] = {
            "sequence": 1,
            "text": f"{route_zh}，每次{value}{_DOSE_UNITS_ZH[unit]}，{freq['zh']}",
            "timing": timing,
        }
        if freq.get("as_needed"):
            dosage["asNeededBoolean"] = True
        dosage["route"] = ft.concept(ft.SNOMED, route_code, route_display, route_zh)
        dosage["doseAndRate"] = [{
            "type": ft.concept(ft.TERMINOLOGY + "dose-rate-type", "ordered", "Ordered"),
            "doseQuantity": ft.quantity(value, unit, {"[IU]": "U", "{puff}": "puff"}.get(unit, unit)),
        }]
        return dosage

    def _medication(self, drug: str) -> dict[str, Any]:
        row = load("medications")["drugs"][drug]
        return ft.concept(ft.ATC, row["atc"], row["display"], row["zh"])

    def _request(self, prescription: Prescription, moment: datetime, visit: Visit | None, requester: str,
                 encounter_id: str | None = None) -> dict[str, Any]:
        row = load("medications")["drugs"][prescription.drug]
        days = row.get("days", 30) if prescription.acute else 30
        finished = prescription.acute and moment.date() + timedelta(days=days) < self.as_of
        setting = ("community" if visit is None or visit.org_id.startswith("org-chc")
                   else "inpatient" if visit.kind == "admission" else "outpatient")
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": self._id("medreq", 2),
            "status": "completed" if finished else "active",
            "intent": "order",
            "category": [ft.concept(ft.TERMINOLOGY + "medicationrequest-category", setting, setting.capitalize())],
            "medicationCodeableConcept": self._medication(prescription.drug),
            "subject": self._patient_ref(),
        }
        if encounter_id:
            request["encounter"] = ft.reference("Encounter", encounter_id)
        request |= {"authoredOn": ft.instant(moment), "requester": ft.reference("Practitioner", requester)}
        if prescription.reasons:
            request["reasonReference"] = [ft.reference("Condition", self.condition_ids[key])
                                          for key in prescription.reasons]
        elif visit is not None and visit.episode is not None:
            episode = visit.episode
            request["reasonCode"] = [ft.concept(ft.ICD10, episode["icd10"], episode["display"], episode["zh"])]
        request["dosageInstruction"] = [self._dosage(prescription.drug, moment.date(), prescription.acute)]
        supply = {"expectedSupplyDuration": ft.quantity(days, "d", "days")}
        request["dispenseRequest"] = supply if prescription.acute else {"numberOfRepeatsAllowed": 5} | supply
        return request

    def _statement(self, drug: str, reason: str, start: date) -> dict[str, Any]:
        return {
            "resourceType": "MedicationStatement",
            "id": self._id("medstmt", 1),
            "status": "active",
            "medicationCodeableConcept": self._medication(drug),
            "subject": self._patient_ref(),
            "effectivePeriod": {"start": ft.day(min(start, self.as_of - timedelta(days=1)))},
            "dateAsserted": ft.day(self.as_of - timedelta(days=1)),
            "informationSource": self._patient_ref(),
            "reasonReference": [ft.reference("Condition", self.condition_ids[reason])],
            "dosage": [self._dosage(drug, start, False)],
        }

    # --- encounters -----------------------------------------------------------------------------

    def _visit(self, visit: Visit) -> None:
        encounter_id = self._id("enc", 3)
        self.out.append(self._encounter(visit, encounter_id))
        if visit.episode is not None and visit.kind != "screening":
            self.out.append(self._episode_condition(visit, encounter_id))
        performer = visit.nurse or visit.doctor
        taken = visit.start + timedelta(minutes=3)
        vitals = self._vitals(visit.vitals, taken, encounter_id, visit, performer)
        if visit.smoking:
            self.out.append(self._smoking(visit.start + timedelta(minutes=5), encounter_id, visit.doctor))
        for relative in visit.relatives:
            self.out.append(self._family_member(relative, visit.start.date()))
        lab = self.directory.laboratory_for(visit.org_id)
        technician = self.rng.choice(lab.staff["lab-technician"])
        drawn = visit.start + timedelta(minutes=15)
        singles = self.body.labs(visit.singles, drawn.date(), visit.findings)
        for test, value in singles.items():
            self.out.append(self._lab(test, value, drawn, drawn + timedelta(minutes=30), encounter_id, technician))
        self.out.extend(self._follow_up_forms(visit, vitals, singles, encounter_id))
        for panel in visit.panels:
            self._panel(panel, drawn, encounter_id, visit, lab.dept_org_id, technician)
        if visit.discharge_vitals and visit.end is not None:
            self._vitals(visit.discharge_vitals, visit.end - timedelta(minutes=60), encounter_id, visit, performer)
        for prescription in visit.prescriptions:
            moment = visit.start + timedelta(minutes=8)
            self.out.append(self._request(prescription, moment, visit, visit.doctor, encounter_id))

    def _follow_up_forms(self, visit: Visit, vitals: dict[str, Any], labs: dict[str, Any],
                         encounter_id: str) -> list[dict[str, Any]]:
        """The family doctor's filled-in follow-up form (national basic public health service) for each registry the
        visit followed up, classified by the specification's rules from the visit's readings (no random draws, so the
        rest of the region stays as it was)."""
        day = visit.start.date()
        registries = visit.follow_up_registries()
        if not registries:
            return []
        systolic, diastolic = vitals["bp"]
        weight, height = vitals["weight"], self.body.height(day)  # height draws nothing; weight would
        forms = []
        for registry in registries:
            glucose = labs["glucose"] if registry == "diabetes" else None
            form = chronic_form.Form(
                registry=registry, symptoms=(), systolic=int(systolic), diastolic=int(diastolic),
                heart_rate=int(vitals.get("hr", 76)), fasting_glucose=glucose, weight=weight, height=height,
                bmi=round(weight / (height / 100) ** 2, 1), cigarettes=None, alcohol=None, exercise_sessions=None,
                exercise_minutes=None, salt="moderate", psychology="good", adherence="regular",
                adverse_reaction=False, adverse_reaction_text="", adverse_reaction_unmanageable=False,
                new_complication=False, complication_text="")
            previous = self.follow_up_classes.get(registry)
            result = chronic_form.classify(form, age=int(self.body.age_at(day)), previous=previous)
            self.follow_up_classes[registry] = result.key
            forms.append(chronic_resources.response_resource(
                patient_ref=f"Patient/pat-{self.tag}", encounter_ref=f"Encounter/{encounter_id}",
                when=ft.instant(visit.start + timedelta(minutes=10)), form=form, result=result,
                next_due=day + timedelta(days=result.next_due_in_days), previous=previous,
                doctor=f"Practitioner/{visit.doctor}"))
        for response in forms:
            response["id"] = self._id("bphs", 3)
        return forms

    def _encounter(self, visit: Visit, encounter_id: str) -> dict[str, Any]:
        dept = self.directory.department(visit.org_id, visit.dept)
        kind = "emergency" if visit.encounter_class == "EMER" else visit.kind
        code, display, zh = _ENCOUNTER_TYPES[kind]
        participants = [{"type": [ft.concept(ft.V3_PARTICIPATION, "ATND", "attender")],
                         "individual": ft.reference("Practitioner", visit.doctor)}]
        if visit.kind == "admission" and visit.nurse:
            participants.append({"type": [ft.concept(ft.V3_PARTICIPATION, "PART", "Participation")],
                                 "individual": ft.reference("Practitioner", visit.nurse)})
        period = {"start": ft.instant(visit.start)}
        if visit.end is not None:
            period["end"] = ft.instant(visit.end)
        encounter: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": encounter_id,
            "status": "finished" if visit.end is not None else "in-progress",
            "class": ft.coding(ft.V3_ACT_CODE, visit.encounter_class, _CLASSES[visit.encounter_class]),
            "type": [ft.concept(ft.SNOMED, code, display, zh)],
        }
        specialty = _department_rows()[visit.dept].get("specialty")
        if specialty:
            encounter["serviceType"] = ft.concept(ft.SNOMED, specialty[0], specialty[1],
                                                  _department_rows()[visit.dept]["name_zh"])
        encounter |= {"subject": self._patient_ref(), "participant": participants, "period": period}
        if visit.episode is not None:
            episode = visit.episode
            encounter["reasonCode"] = [ft.concept(ft.ICD10, episode["icd10"], episode["display"], episode["zh"])]
        elif visit.reasons:
            encounter["reasonReference"] = [ft.reference("Condition", self.condition_ids[k]) for k in visit.reasons]
        if visit.kind == "admission":
            self._admission_details(encounter, visit, dept.ward_id)
        encounter["serviceProvider"] = ft.reference("Organization", dept.dept_org_id)
        return encounter

    def _admission_details(self, encounter: dict[str, Any], visit: Visit, ward_id: str | None) -> None:
        if visit.reasons:
            encounter["diagnosis"] = [{
                "condition": ft.reference("Condition", self.condition_ids[key]),
                "use": ft.concept(ft.TERMINOLOGY + "diagnosis-role", "CM", "Comorbidity diagnosis"),
                "rank": rank,
            } for rank, key in enumerate(visit.reasons, start=1)]
        source = ("emd", "From accident/emergency department") if visit.via_emergency else (
            "outp", "From outpatient department")
        hospitalization: dict[str, Any] = {"admitSource": ft.concept(ft.TERMINOLOGY + "admit-source", *source)}
        if visit.end is not None:
            hospitalization["dischargeDisposition"] = ft.concept(ft.TERMINOLOGY + "discharge-disposition", "home",
                                                                 "Home")
        encounter["hospitalization"] = hospitalization
        if ward_id:
            encounter["location"] = [{"location": ft.reference("Location", ward_id),
                                      "status": "completed" if visit.end is not None else "active",
                                      "period": dict(encounter["period"])}]

    def _episode_condition(self, visit: Visit, encounter_id: str) -> dict[str, Any]:
        episode = visit.episode or {}
        if visit.kind == "admission":
            settled = visit.end
        else:
            settled = datetime.combine(visit.start.date() + timedelta(days=self.rng.randint(5, 14)), time(12))
        resolved = settled is not None and settled.date() < self.as_of
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "id": self._id("cond", 2),
            "clinicalStatus": ft.concept(ft.TERMINOLOGY + "condition-clinical", "resolved", "Resolved") if resolved
            else _active("condition-clinical"),
            "verificationStatus": ft.concept(ft.TERMINOLOGY + "condition-ver-status", "confirmed", "Confirmed"),
            "category": _category("condition-category", "encounter-diagnosis", "Encounter Diagnosis"),
            "code": ft.concept(ft.ICD10, episode["icd10"], episode["display"], episode["zh"]),
            "subject": self._patient_ref(),
            "encounter": ft.reference("Encounter", encounter_id),
            "onsetDateTime": ft.day(visit.start.date()),
        }
        if resolved and settled is not None:
            condition["abatementDateTime"] = ft.day(settled.date())
        condition |= {"recordedDate": ft.instant(visit.start + timedelta(minutes=5)),
                      "recorder": ft.reference("Practitioner", visit.doctor)}
        return condition

    # --- observations -----------------------------------------------------------------------------

    def _vitals(self, keys: list[str], moment: datetime, encounter_id: str, visit: Visit,
                performer: str) -> dict[str, Any]:
        day = moment.date()
        values = {key: self.body.vital(key, day, visit.findings) for key in keys if key != "bmi"}
        if "bmi" in keys:
            weight = values.get("weight", self.body.weight(day))
            values["bmi"] = round(weight / (self.body.height(day) / 100) ** 2, 1)
        for key in keys:
            self.out.append(self._vital(key, values[key], moment, encounter_id, performer))
        return values

    def _vital(self, key: str, value: Any, moment: datetime, encounter_id: str, performer: str) -> dict[str, Any]:
        row = load("observations")["vital_signs"][key]
        code = ft.concept(ft.LOINC, row["loinc"], row["display"], row["zh"])
        for extra_code, extra_display in row.get("extra_codings", []):
            code["coding"].append(ft.coding(ft.LOINC, extra_code, extra_display))
        observation = self._observation("vital-signs", "Vital Signs", code, moment, encounter_id, performer)
        ucum, unit = row["unit"]
        if key == "bp":
            observation["component"] = [
                {"code": ft.concept(ft.LOINC, *row["components"][part]), "valueQuantity": ft.quantity(v, ucum, unit)}
                for part, v in zip(("systolic", "diastolic"), value, strict=True)
            ]
        else:
            observation["valueQuantity"] = ft.quantity(value, ucum, unit)
        return observation

    def _smoking(self, moment: datetime, encounter_id: str, doctor: str) -> dict[str, Any]:
        row = load("risk_factors")["smoking"]
        code = ft.concept(ft.LOINC, row["loinc"], row["display"], row["zh"])
        observation = self._observation("social-history", "Social History", code, moment, encounter_id, doctor)
        answer, display, zh = row["answers"][self.plan.smoking or "never"]
        observation["valueCodeableConcept"] = ft.concept(ft.SNOMED, answer, display, zh)
        return observation

    def _family_member(self, relative: Relative, day: date) -> dict[str, Any]:
        """A relative's history; one with no conditions records that the family doctor asked about them."""
        family = load("risk_factors")["family_history"]
        row = next(r for r in family["relatives"] if r["code"] == relative.code)
        diseases = {d[0]: d for d in family["diseases"]}
        history: dict[str, Any] = {
            "resourceType": "FamilyMemberHistory",
            "id": self._id("fmh", 1),
            "status": "completed",
            "patient": self._patient_ref(),
            "date": ft.day(day),
            "relationship": ft.concept(ft.V3_ROLE_CODE, row["code"], row["display"], row["zh"]),
            "sex": ft.concept("http://hl7.org/fhir/administrative-gender", row["sex"], row["sex"].capitalize()),
        }
        if relative.diseases:
            history["condition"] = [{"code": ft.concept(ft.ICD10, *diseases[key][1:4])} for key in relative.diseases]
        return history

    def _observation(self, category: str, display: str, code: dict[str, Any], moment: datetime, encounter_id: str,
                     performer: str, issued: datetime | None = None) -> dict[str, Any]:
        observation = {
            "resourceType": "Observation",
            "id": self._id("obs", 4),
            "status": "final",
            "category": _category("observation-category", category, display),
            "code": code,
            "subject": self._patient_ref(),
            "encounter": ft.reference("Encounter", encounter_id),
            "effectiveDateTime": ft.instant(moment),
        }
        if issued is not None:
            observation["issued"] = ft.instant(issued)
        observation["performer"] = [ft.reference("Practitioner", performer)]
        return observation

    def _lab(self, test: str, value: float | int, drawn: datetime, issued: datetime, encounter_id: str,
             technician: str) -> dict[str, Any]:
        row = load("observations")["labs"][test]
        code = ft.concept(ft.LOINC, row["loinc"], row["display"], row["zh"])
        observation = self._observation("laboratory", "Laboratory", code, drawn, encounter_id, technician, issued)
        ucum, unit = row["unit"]
        observation["valueQuantity"] = ft.quantity(value, ucum, unit)
        limits = reference_range(test, self.plan.sex, age_on(self.plan.birth, drawn.date()))
        flag = interpretation(value, limits)
        observation["interpretation"] = [ft.concept(ft.V3_INTERPRETATION, flag, _INTERPRETATIONS[flag])]
        limit_range = {side: ft.quantity(limits[side], ucum, unit) for side in ("low", "high") if side in limits}
        limit_range["type"] = ft.concept(ft.TERMINOLOGY + "referencerange-meaning", "normal", "Normal Range")
        observation["referenceRange"] = [limit_range]
        return observation

    def _panel(self, panel: str, drawn: datetime, encounter_id: str, visit: Visit, lab_org: str,
               technician: str) -> None:
        row = load("observations")["panels"][panel]
        issued = drawn + timedelta(minutes=self.rng.randint(90, 240))
        results = []
        for test, value in self.body.labs(row["tests"], drawn.date(), visit.findings).items():
            observation = self._lab(test, value, drawn, issued, encounter_id, technician)
            results.append(ft.reference("Observation", observation["id"]))
            self.out.append(observation)
        self.out.append({
            "resourceType": "DiagnosticReport",
            "id": self._id("report", 3),
            "status": "final",
            "category": [ft.concept(ft.TERMINOLOGY + "v2-0074", "LAB", "Laboratory")],
            "code": ft.concept(ft.LOINC, row["loinc"], row["display"], row["zh"]),
            "subject": self._patient_ref(),
            "encounter": ft.reference("Encounter", encounter_id),
            "effectiveDateTime": ft.instant(drawn),
            "issued": ft.instant(issued),
            "performer": [ft.reference("Organization", lab_org), ft.reference("Practitioner", technician)],
            "result": results,
        })


@cache
def _department_rows() -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in load("facilities")["departments"]}


def reference_range(test: str, sex: str, age: int) -> dict[str, float]:
    """Return the {low, high} reference limits of a lab test for a person of this sex and age."""
    for limits in load("observations")["labs"][test]["ranges"]:
        if limits.get("sex", sex) == sex and limits.get("min_age", 0) <= age <= limits.get("max_age", 200):
            return {side: limits[side] for side in ("low", "high") if side in limits}
    raise LookupError(f"no reference range for {test} ({sex}, {age})")


def interpretation(value: float, limits: dict[str, float]) -> str:
    """Flag a value against its reference limits: "H" above high, "L" below low, else "N"."""
    if "high" in limits and value > limits["high"]:
        return "H"
    if "low" in limits and value < limits["low"]:
        return "L"
    return "N"


def render_resident(plan: ResidentPlan, rng: random.Random, directory: Directory, as_of: date,
                    width: int) -> list[dict[str, Any]]:
    """Render a resident's plan into FHIR resources (Patient first, then history in time order)."""
    return _Renderer(plan, rng, directory, as_of, width).render()
