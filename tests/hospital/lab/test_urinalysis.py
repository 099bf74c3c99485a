"""The urinalysis strip end to end at the laboratory: grades entered from a choice list, refused when they are no
grade of the test, flagged N/A, received from analyzers in their own spellings over HL7, released and corrected."""

import random
import re

import pytest

from smartcare.fhir import gateway, store
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab import release, results, simulator
from smartcare.hospital.lab.accession import LabRefused
from smartcare.hospital.lab.interface import receive
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import browser, form_token, sign_in

PH, SG, PROTEIN, GLUCOSE, KETONES, BLOOD = "5803-2", "5811-5", "20454-5", "25428-4", "2514-8", "5794-3"
LEUKOCYTES, NITRITE, BILIRUBIN, UROBILINOGEN = "5799-2", "5802-4", "5770-3", "5818-0"
ORDINAL = "https://smartcare.example/fhir/CodeSystem/lab-ordinal"
SNOMED = "http://snomed.info/sct"


@pytest.fixture
def lab(engine, now):
    hospital = write_hospital(engine)
    # The analyzer names the patient by the hospital's record number (PID-3).
    patient = gateway.read(SYSTEM, "Patient/p-wang")
    patient["identifier"] = [{"system": "https://smartcare.example/fhir/sid/mrn", "value": "MRN-WANG"}]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang", patient)])
    return hospital


def _strip_observations() -> list[dict]:
    codes = (PH, SG, PROTEIN, GLUCOSE, KETONES, BLOOD, LEUKOCYTES, NITRITE, BILIRUBIN, UROBILINOGEN)
    return gateway.search(SYSTEM, "Observation", [("subject", "Patient/p-wang"),
                                                  ("code", ",".join(f"http://loinc.org|{c}" for c in codes))])


def _by_code(report: dict) -> dict[str, dict]:
    return {results.loinc_of(o): o for o in results.results_of(SYSTEM, report)}


def _flag(observation: dict) -> str | None:
    return results.flag_of(observation)


def _urinalysis(lab) -> dict:
    return received(lab["tech"], place(lab["doctor"], "urinalysis"))


def test_the_strip_is_entered_as_grades_and_numbers_and_flagged_normal_or_abnormal(lab):
    specimen = _urinalysis(lab)
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={
        LEUKOCYTES: "2+", NITRITE: "pos", PROTEIN: "neg", UROBILINOGEN: "normal", PH: "6.0", SG: "1.020",
        GLUCOSE: ""})
    found = _by_code(report)
    assert set(found) == {LEUKOCYTES, NITRITE, PROTEIN, UROBILINOGEN, PH, SG}
    assert found[LEUKOCYTES]["valueCodeableConcept"] == {
        "coding": [{"system": ORDINAL, "code": "2+", "display": "2+"}], "text": "2+"}
    assert _flag(found[LEUKOCYTES]) == "A" and found[LEUKOCYTES]["interpretation"][0]["coding"][0]["display"] == \
        "Abnormal"
    assert found[NITRITE]["valueCodeableConcept"]["coding"][1] == {"system": SNOMED, "code": "10828004",
                                                                   "display": "Positive"}
    assert found[NITRITE]["valueCodeableConcept"]["text"] == "Positive" and _flag(found[NITRITE]) == "A"
    assert found[PROTEIN]["valueCodeableConcept"]["coding"][1]["code"] == "260385009" and _flag(found[PROTEIN]) == "N"
    assert _flag(found[UROBILINOGEN]) == "N" and "valueQuantity" not in found[UROBILINOGEN]
    assert found[PH]["valueQuantity"]["value"] == 6.0 and _flag(found[PH]) == "N"
    assert found[SG]["valueQuantity"]["code"] == "1" and _flag(found[SG]) == "N"


@pytest.mark.parametrize(("values", "words"), [
    ({PROTEIN: "5+"}, "not a grade of Protein"), ({NITRITE: "2+"}, "not a grade of Nitrite"),
    ({LEUKOCYTES: "1.5"}, "choose one of Negative, Trace, 1\\+"), ({PROTEIN: "<script>alert(1)</script>"}, "at most"),
    ({PH: "pos"}, "not a number"),
])
def test_a_bad_grade_is_refused_and_nothing_is_written(lab, values, words):
    specimen = _urinalysis(lab)
    with pytest.raises(LabRefused, match=words):
        results.enter_results(lab["tech"], specimen_id=specimen["id"], values=values)
    assert _strip_observations() == []


def test_a_released_grade_is_corrected_by_its_code_and_the_history_keeps_the_released_one(lab):
    specimen = _urinalysis(lab)
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={LEUKOCYTES: "2+", NITRITE: "neg"})
    results.review(lab["tech"], report_id=report["id"])
    released = release.release(lab["tech"], report_id=report["id"])
    assert {o["status"] for o in results.results_of(SYSTEM, released)} == {"final"}
    with pytest.raises(LabRefused, match="no value differs"):
        release.correct(lab["tech"], report_id=report["id"], values={LEUKOCYTES: "++", NITRITE: "neg"},
                        reason="re-read")
    with pytest.raises(LabRefused, match="not a grade"):
        release.correct(lab["tech"], report_id=report["id"], values={LEUKOCYTES: "7+"}, reason="re-read")
    corrected = release.correct(lab["tech"], report_id=report["id"], values={LEUKOCYTES: "neg", NITRITE: "neg"},
                                reason="Strip read against the wrong chart")
    assert corrected["status"] == "corrected"
    leukocytes = _by_code(corrected)[LEUKOCYTES]
    assert leukocytes["status"] == "corrected" and results.grade_of(leukocytes) == "neg" and _flag(leukocytes) == "N"
    assert leukocytes["note"][-1]["text"] == "Corrected from 2+: Strip read against the wrong chart"
    assert _by_code(corrected)[NITRITE]["status"] == "final"
    history = gateway.serve(SYSTEM, FhirRequest(method="GET", path=f"Observation/{leukocytes['id']}/_history")).body
    grades = [results.grade_of(e["resource"]) for e in history["entry"]]
    assert grades[0] == "neg" and "2+" in grades


def _oru(lab, specimen: dict, lines: list[str]) -> str:
    order = gateway.read(SYSTEM, specimen["request"][0]["reference"])
    placer = next(i["value"] for i in order["identifier"] if i["system"].endswith("placer-order"))
    pid = gateway.read(SYSTEM, "Patient/p-wang")["identifier"][0]["value"]
    obx = "".join(f"OBX|{n}|{line}|||||F\r" for n, line in enumerate(lines, start=1))
    return (f"MSH|^~\\&|URINE-ANALYZER|LAB|SMARTCARE|HOSP|20261126101500||ORU^R01|UA-{placer}|P|2.5.1\r"
            f"PID|1||{pid}\rORC|RE|{placer}\rOBR|1|{placer}\r{obx}")


def test_an_analyzers_strip_in_its_own_spellings_is_read_as_grades_and_flagged_by_the_laboratory(lab):
    specimen = _urinalysis(lab)
    message = _oru(lab, specimen, [
        f"CWE|{PROTEIN}^Protein^LN||NEG^Negative^99LAB|",
        f"ST|{GLUCOSE}^Glucose^LN||+-|",
        f"ST|{LEUKOCYTES}^Leukocyte esterase^LN||++|",
        f"CWE|{NITRITE}^Nitrite^LN||POS^Positive^99LAB|",
        f"ST|{UROBILINOGEN}^Urobilinogen^LN||Normal|",
        f"ST|{KETONES}^Ketones^LN||neg|||A",
        f"ST|{BLOOD}^Blood^LN||3+|",
        f"ST|{BILIRUBIN}^Bilirubin^LN||weakly pos?|",
        f"NM|{PH}^pH^LN||6.5|",
        f"NM|{SG}^Specific gravity^LN||1.034|"])
    assert receive(message).ack_code == "AA"
    report = results.report_for(lab["tech"], specimen["request"][0]["reference"].split("/")[1])
    found = _by_code(report)
    grades = {code: (results.grade_of(o), _flag(o)) for code, o in found.items()}
    assert grades[PROTEIN] == ("neg", "N") and grades[GLUCOSE] == ("trace", "A")
    assert grades[LEUKOCYTES] == ("2+", "A") and grades[NITRITE] == ("pos", "A")
    assert grades[UROBILINOGEN] == ("normal", "N") and grades[BLOOD] == ("3+", "A")
    # The analyzer's own coding is kept beside the laboratory's grade.
    assert [c["code"] for c in found[NITRITE]["valueCodeableConcept"]["coding"]] == ["pos", "10828004", "POS"]
    # The analyzer's "abnormal" for a negative ketone pad is not trusted; it is noted for the technician.
    assert grades[KETONES] == ("neg", "N") and "The analyzer flagged A" in found[KETONES]["note"][-1]["text"]
    # Text that is no grade is kept as sent, without a flag, with a note saying so.
    assert found[BILIRUBIN]["valueString"] == "weakly pos?" and _flag(found[BILIRUBIN]) is None
    assert "not a grade of Urine bilirubin" in found[BILIRUBIN]["note"][-1]["text"]
    assert found[PH]["valueQuantity"]["value"] == 6.5 and _flag(found[PH]) == "N" and _flag(found[SG]) == "H"


def test_the_simulated_analyzer_sends_the_strip_coded_and_as_text_and_every_pad_is_read(lab):
    specimen = _urinalysis(lab)
    order = gateway.read(SYSTEM, specimen["request"][0]["reference"])
    patient = gateway.read(SYSTEM, "Patient/p-wang")
    messages = [simulator.result_message(order, patient, rng=random.Random(seed), number=1) for seed in range(30)]
    assert all(re.search(r"OBX\|\d+\|CWE\|5799-2", m) or re.search(r"OBX\|\d+\|ST\|5799-2", m) for m in messages)
    assert any("POS" in m or "Positive" in m for m in messages), "some strips show a positive nitrite"
    assert receive(messages[0]).ack_code == "AA"
    found = _by_code(results.report_for(lab["tech"], order["id"]))
    assert len(found) == 10
    assert all(results.grade_of(o) for code, o in found.items() if code not in (PH, SG))


@pytest.fixture
def pages(lab):
    tech = browser()
    sign_in(tech, "lab.tech")
    return lab, tech, f"/workstation/lab/specimens/{_urinalysis(lab)['id']}/results"


def test_the_entry_page_offers_the_grades_as_a_choice_and_refuses_a_bad_one_with_a_message(pages):
    _, tech, path = pages
    page = tech.get(path)
    assert page.status_code == 200
    assert re.search(rf'<select id="v-{LEUKOCYTES}" name="value-{LEUKOCYTES}">', page.text)
    assert '<option value="trace">Trace</option>' in page.text and f'name="value-{PH}" inputmode="decimal"' in page.text
    refused = tech.post(f"{path}/enter", data={"csrf_token": form_token(page), f"value-{PROTEIN}": "9+"})
    assert refused.status_code == 400 and "not a grade of Protein" in refused.text
    saved = tech.post(f"{path}/enter", data={"csrf_token": form_token(page), f"value-{LEUKOCYTES}": "2+",
                                             f"value-{NITRITE}": "neg"})
    assert saved.status_code == 303
    shown = tech.get(path).text
    assert '<option value="2+" selected>2+</option>' in shown and "A Abnormal" in shown and "Negative" in shown
    chinese = tech.get(path, params={"lang": "zh-Hans"}).text
    assert '<option value="neg" selected>阴性</option>' in chinese and "尿白细胞酯酶" in chinese and "A 异常" in chinese
