"""Exports (the IPS, the full record as a Bundle and NDJSON, the PDF in the reader's language) and the import of a
summary from elsewhere, with its refusals in words and its size limit."""

import json

from smartcare.fhir.ips.check import check_document
from smartcare.patient.record import exports
from tests.web_support import form_token


def test_the_ips_download_is_a_valid_document_bundle(li_na):
    answer = li_na.get("/app/record/export/summary.json")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/fhir+json")
    assert "attachment" in answer.headers["content-disposition"]
    bundle = answer.json()
    assert bundle["type"] == "document" and check_document(bundle) == []


def test_the_full_record_as_bundle_and_ndjson_holds_both_registrations_and_no_stranger(li_na):
    bundle = li_na.get("/app/record/export/everything.json").json()
    ids = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}
    assert {("Immunization", "ph-flu"), ("Observation", "ph-glu"), ("Patient", "ph-b")} <= ids
    assert ("Condition", "ph-x-asthma") not in ids
    lines = li_na.get("/app/record/export/everything.ndjson").text.strip().splitlines()
    assert len(lines) == len(bundle["entry"]) and all(json.loads(line)["resourceType"] for line in lines)


def test_the_pdf_is_made_in_english_and_in_chinese_with_the_cjk_font(li_na):
    english = li_na.get("/app/record/export/summary.pdf")
    assert english.status_code == 200 and english.content.startswith(b"%PDF")
    chinese = li_na.get("/app/record/export/summary.pdf?lang=zh-Hans")
    assert chinese.content.startswith(b"%PDF") and b"STSong-Light" in chinese.content


def _upload(web, content: bytes, name: str = "summary.json"):
    token = form_token(web.get("/app/record/export"))
    return web.post("/app/record/import", data={"csrf_token": token}, files={"bundle": (name, content,
                                                                                       "application/json")})


def test_an_exported_summary_of_someone_else_is_refused_with_its_issues_in_chinese(li_na, carer):
    other = carer.get("/app/record/export/summary.json").content
    li_na.get("/app/record?lang=zh-Hans")
    refused = _upload(li_na, other)
    assert refused.status_code == 400 and "未导入" in refused.text


def test_a_collection_bundle_of_her_own_records_is_imported_and_marked(li_na):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "Hepatitis B vaccine"},
        "patient": {"reference": "Patient/ph-a"}, "occurrenceDateTime": "2020-05-01"}}]}
    done = _upload(li_na, json.dumps(bundle).encode())
    assert done.status_code == 200 and "Imported 1 records" in done.text
    page = li_na.get("/app/record?kind=vaccination")
    assert "Hepatitis B vaccine" in page.text and exports.IMPORT_SOURCE in page.text


def test_not_json_and_too_large_uploads_are_refused_in_words(li_na):
    assert "not FHIR JSON" in _upload(li_na, b"<Bundle/>").text
    big = _upload(li_na, b" " * (exports.MAX_UPLOAD + 10))
    assert big.status_code == 413 and "larger than 2 MB" in big.text


def test_an_unknown_download_is_404_and_strangers_are_sent_to_sign_in(li_na, anonymous):
    assert li_na.get("/app/record/export/passwords.txt").status_code == 404
    answer = anonymous.get("/app/record/export/passwords.txt", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
