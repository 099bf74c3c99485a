"""Reconciling records from several institutions: the same medicine, allergy or problem sent twice is one item that
names every source; different doses, substances and codes stay apart."""

from smartcare.regional.records import reconcile

ATC, RXNORM, SNOMED = "http://www.whocc.no/atc", "http://www.nlm.nih.gov/research/umls/rxnorm", "http://snomed.info/sct"


def order(rid: str, org: str, codings: list[tuple[str, str, str]], mg: float | None, *, status: str = "active",
          authored: str = "2025-01-01", text: str | None = None) -> dict:
    concept: dict = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    if text:
        concept["text"] = text
    dosage = {"doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}]} if mg is not None else {}
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "meta": {"source": f"Organization/{org}"}, "authoredOn": authored,
            "medicationCodeableConcept": concept, "dosageInstruction": [dosage]}


def test_the_same_ingredient_and_dose_from_two_hospitals_is_one_medicine_naming_both():
    folded = reconcile.medications([
        order("m1", "hosp-a", [(ATC, "C08CA01", "Amlodipine")], 5, authored="2025-01-01"),
        order("m2", "hosp-b", [(ATC, "C08CA01", "amlodipine besilate")], 5.0, authored="2025-06-01"),
    ], [], zh=False)
    assert len(folded) == 1
    assert folded[0]["sources"] == ["Organization/hosp-b", "Organization/hosp-a"]
    assert folded[0]["records"] == ["MedicationRequest/m2", "MedicationRequest/m1"]
    assert folded[0]["dose"] == "5 mg" and folded[0]["date"] == "2025-06-01"


def test_another_dose_of_the_same_medicine_stays_a_separate_item():
    folded = reconcile.medications([
        order("m1", "hosp-a", [(ATC, "C08CA01", "Amlodipine")], 5),
        order("m2", "hosp-b", [(ATC, "C08CA01", "Amlodipine")], 10),
    ], [], zh=False)
    assert sorted(m["dose"] for m in folded) == ["10 mg", "5 mg"]
    assert all(len(m["sources"]) == 1 for m in folded)


def test_a_medicine_coded_in_atc_and_rxnorm_folds_with_one_coded_in_rxnorm_only():
    folded = reconcile.medications([
        order("m1", "hosp-a", [(ATC, "A10BA02", "Metformin"), (RXNORM, "6809", "metformin")], 500),
        order("m2", "hosp-b", [(RXNORM, "6809", "metformin")], 500),
        order("m3", "hosp-c", [(ATC, "A10BA02", "Metformin")], 500),
    ], [], zh=False)
    assert len(folded) == 1 and len(folded[0]["sources"]) == 3


def test_uncoded_medicines_fold_by_name_and_cancelled_orders_are_left_out():
    folded = reconcile.medications([
        order("m1", "hosp-a", [], 1, text="Aspirin"),
        order("m2", "hosp-b", [], 1, text="aspirin "),
        order("m3", "hosp-c", [(ATC, "N02BA01", "Aspirin")], 1, status="cancelled"),
    ], [], zh=False)
    assert len(folded) == 1 and folded[0]["sources"] == ["Organization/hosp-a", "Organization/hosp-b"]


def test_a_medicine_the_patient_reports_folds_with_the_order_for_it():
    statement = {"resourceType": "MedicationStatement", "id": "s1", "status": "active",
                 "meta": {"source": "Organization/chc"}, "effectiveDateTime": "2025-02-01",
                 "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "C08CA01"}]},
                 "dosage": [{"doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}]}
    folded = reconcile.medications([order("m1", "hosp-a", [(ATC, "C08CA01", "Amlodipine")], 5)], [statement],
                                   zh=False)
    assert len(folded) == 1 and set(folded[0]["sources"]) == {"Organization/chc", "Organization/hosp-a"}


def allergy(rid: str, org: str, code: str, name: str, *, criticality: str = "low", verification: str = "confirmed",
            reaction: str = "Rash") -> dict:
    return {"resourceType": "AllergyIntolerance", "id": rid, "meta": {"source": f"Organization/{org}"},
            "criticality": criticality,
            "verificationStatus": {"coding": [{"code": verification}]},
            "code": {"coding": [{"system": SNOMED, "code": code, "display": name}], "text": name},
            "reaction": [{"manifestation": [{"text": reaction}]}]}


def test_the_same_allergy_from_two_sources_is_one_item_with_the_higher_risk_and_every_reaction():
    folded = reconcile.allergies([
        allergy("a1", "hosp-a", "764146007", "Penicillin", reaction="Rash"),
        allergy("a2", "hosp-b", "764146007", "Penicillin", criticality="high", reaction="Anaphylaxis"),
        allergy("a3", "hosp-b", "387406002", "Sulfonamide"),
        allergy("a4", "hosp-c", "91935009", "Peanut", verification="refuted"),
    ], zh=False)
    assert [a["substance"] for a in folded] == ["Penicillin", "Sulfonamide"]
    assert folded[0]["criticality"] == "high" and folded[0]["reactions"] == ["Anaphylaxis", "Rash"]
    assert folded[0]["sources"] == ["Organization/hosp-a", "Organization/hosp-b"]


def test_labels_follow_the_readers_language():
    concept = {"coding": [{"system": ATC, "code": "C08CA01", "display": "Amlodipine"}], "text": "氨氯地平片"}
    assert reconcile.label(concept, zh=True) == "氨氯地平片"
    assert reconcile.label(concept, zh=False) == "Amlodipine"
    assert reconcile.label({"coding": [{"code": "X1"}]}, zh=False) == "X1"


def test_a_record_without_an_organisation_as_sender_has_no_institution():
    assert reconcile.source_of({"meta": {"source": "urn:device:123"}}) == ""
    assert reconcile.source_of({"meta": {"source": "Organization/hosp-a"}}) == "Organization/hosp-a"
    assert reconcile.source_of({}) == ""
