"""Building an IPS document from records, and the structural checker that judges it (no database)."""

import copy
from datetime import date

from smartcare.fhir.ips.build import SummaryInput, build_document, platform_organization, select_entries
from smartcare.fhir.ips.check import check_document
from smartcare.fhir.ips.references import Resolver, walk_references
from smartcare.fhir.ips.sections import Fill
from smartcare.fhir.validation import validate_resource

PATIENT = {"resourceType": "Patient", "id": "alice", "name": [{"family": "Wang", "given": ["Alice"]}],
           "birthDate": "1970-05-01", "managingOrganization": {"reference": "Organization/org1"}}
ORG = {"resourceType": "Organization", "id": "org1", "name": "Riverside CHC"}
HOSTILE = "<script>alert('x')</script> & \"quotes\""


def condition(cid: str, text: str = "Hypertension") -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/alice"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"text": text}, "asserter": {"reference": "Practitioner/doc1"},
            "encounter": {"reference": "Encounter/e1", "display": "Visit of 2 March"}}


def statement() -> dict:
    return {"resourceType": "MedicationStatement", "id": "ms1", "status": "active",
            "medicationReference": {"reference": "Medication/med1"}, "subject": {"reference": "Patient/alice"},
            "dosage": [{"text": "5 mg once a day"}]}


MEDICATION = {"resourceType": "Medication", "id": "med1", "code": {"text": "amlodipine 5 mg tablet"}}


def summary(sections: dict, *, locale: str = "en", supporting: list | None = None) -> dict:
    return build_document(SummaryInput(patient=PATIENT, sections=sections, author=ORG, now="2026-03-02T08:00:00Z",
                                       locale=locale, supporting=supporting or []))


def section(doc: dict, loinc: str) -> dict:
    composition = doc["entry"][0]["resource"]
    return next(s for s in composition["section"] if s["code"]["coding"][0]["code"] == loinc)


def test_a_full_summary_passes_the_checker_and_r4_validation():
    doc = summary({"problems": [condition("c1")], "medications": [statement()]}, supporting=[MEDICATION])
    assert check_document(doc) == []
    assert [i for i in validate_resource(doc) if i.severity == "error"] == []
    assert doc["type"] == "document" and doc["identifier"]["system"] == "urn:ietf:rfc:3986"
    assert doc["identifier"]["value"].startswith("urn:uuid:") and doc["timestamp"] == "2026-03-02T08:00:00Z"
    composition = doc["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    assert composition["title"] == "International Patient Summary"


def test_required_sections_without_records_say_no_information_and_optional_ones_are_left_out():
    doc = summary({})
    assert check_document(doc) == []
    codes = [s["code"]["coding"][0]["code"] for s in doc["entry"][0]["resource"]["section"]]
    assert codes == ["11450-4", "48765-2", "10160-0"]
    for loinc in codes:
        empty = section(doc, loinc)
        assert empty["emptyReason"]["coding"][0]["code"] == "unavailable"
        assert "No information" in empty["text"]["div"] and "entry" not in empty


def test_every_reference_resolves_inside_the_bundle_and_each_record_appears_once():
    doc = summary({"problems": [condition("c1"), condition("c1")], "medications": [statement()]},
                  supporting=[MEDICATION])
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert len(urls) == len(set(urls)) and all(u.startswith("urn:uuid:") for u in urls)
    kinds = [e["resource"]["resourceType"] for e in doc["entry"]]
    assert kinds.count("Condition") == 1
    resolver = Resolver(doc["entry"])
    for entry in doc["entry"]:
        for _path, ref in walk_references(entry["resource"]):
            assert resolver.resolve(ref["reference"], entry["fullUrl"]) is not None, ref
    cond = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Condition")
    # The practitioner and the encounter are not in the document: only their words remain.
    assert cond["asserter"] == {"display": "Practitioner not included in this summary"}
    assert cond["encounter"] == {"display": "Visit of 2 March"}
    assert cond["subject"]["reference"] == doc["entry"][0]["resource"]["subject"]["reference"]


def test_a_statement_shows_the_name_of_the_medication_it_refers_to():
    doc = summary({"medications": [statement()]}, supporting=[MEDICATION])
    assert "amlodipine 5 mg tablet" in section(doc, "10160-0")["text"]["div"]


def test_hostile_record_text_is_escaped_in_the_narrative():
    doc = summary({"problems": [condition("c1", HOSTILE)]})
    div = section(doc, "11450-4")["text"]["div"]
    assert "<script>" not in div
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in div


def test_chinese_titles_and_no_information_text():
    doc = summary({"problems": [condition("c1")]}, locale="zh-Hans")
    assert section(doc, "11450-4")["title"] == "当前问题"
    assert section(doc, "48765-2")["title"] == "过敏与不耐受"
    assert "无相关信息" in section(doc, "10160-0")["text"]["div"]
    assert doc["entry"][0]["resource"]["language"] == "zh-CN"


def test_without_a_managing_organisation_the_platform_authors_the_summary():
    alone = {k: v for k, v in PATIENT.items() if k != "managingOrganization"}
    doc = build_document(SummaryInput(patient=alone, sections={},
                                      author=platform_organization(), now="2026-03-02T08:00:00Z"))
    assert check_document(doc) == []
    author = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Organization")
    assert author["name"] == "SmartCare Regional Health Platform"


def test_the_checker_names_what_is_wrong():
    good = summary({"problems": [condition("c1")]})
    broken = copy.deepcopy(good)
    broken["type"] = "collection"
    del broken["identifier"]
    composition = broken["entry"][0]["resource"]
    composition["section"] = [s for s in composition["section"] if s["code"]["coding"][0]["code"] != "48765-2"]
    problems = next(s for s in composition["section"] if s["code"]["coding"][0]["code"] == "11450-4")
    problems["emptyReason"] = {"text": "No information"}
    broken["entry"][1]["fullUrl"] = "not a url"
    text = " ".join(i["diagnostics"] for i in check_document(broken))
    assert "Bundle.type" in text and "Bundle.identifier" in text
    assert "Allergies and Intolerances section (LOINC 48765-2) is missing" in text
    assert "only an empty section has an emptyReason" in text
    assert "fullUrl" in text and "does not resolve" in text


def test_the_checker_wants_the_composition_first():
    doc = summary({})
    doc["entry"] = doc["entry"][1:] + doc["entry"][:1]
    assert any("first entry" in i["diagnostics"] for i in check_document(doc))
    assert check_document({"resourceType": "Patient"})[0]["code"] == "structure"


def obs(oid: str, code: str, when: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}


def test_results_keep_the_last_twelve_months_and_the_latest_of_older_tests():
    records = [obs("a-old", "2345-7", "2024-01-01"), obs("a-older", "2345-7", "2023-01-01"),
               obs("b-new", "718-7", "2026-02-01"), obs("b-mid", "718-7", "2025-06-01"),
               obs("b-old", "718-7", "2024-06-01")]
    fill = Fill(type="Observation", search=(), exclude=(), keep="recent_or_latest_per_code", months=12)
    kept = [r["id"] for r in select_entries(records, fill, date(2026, 3, 2))]
    assert kept == ["b-new", "b-mid", "a-old"]
    latest = Fill(type="Observation", search=(), exclude=(), keep="latest_per_code", months=None)
    assert [r["id"] for r in select_entries(records, latest, date(2026, 3, 2))] == ["b-new", "a-old"]


def test_entered_in_error_records_are_left_out():
    wrong = {**condition("c2"), "verificationStatus": {"coding": [{"code": "entered-in-error"}]}}
    fill = Fill(type="Condition", search=(), exclude=(("verificationStatus", frozenset({"entered-in-error"})),),
                keep="all", months=None)
    assert [r["id"] for r in select_entries([condition("c1"), wrong], fill, date(2026, 3, 2))] == ["c1"]
