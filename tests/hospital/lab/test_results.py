"""Result entry, computed flags, the technician's review, release by an authorised person, corrections with history,
delta checks, and what the doctor's chart shows (released results, not preliminary ones)."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab import release, results
from smartcare.hospital.lab.accession import LabRefused
from smartcare.hospital.workstation import chart
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital

POTASSIUM, SODIUM, HAEMOGLOBIN, PLATELETS = "2823-3", "2951-2", "718-7", "777-3"


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def _entered(lab, key: str, values: dict[str, str]) -> tuple[dict, dict]:
    specimen = received(lab["tech"], place(lab["doctor"], key))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values=values)
    return specimen, report


def _flags(report: dict) -> dict[str, str | None]:
    return {results.loinc_of(o): results.flag_of(o) for o in results.results_of(SYSTEM, report)}


def test_entered_results_are_a_preliminary_report_with_flags_computed_for_the_patient(lab):
    _, report = _entered(lab, "cbc", {HAEMOGLOBIN: "98", PLATELETS: "210", "6690-2": ""})
    assert report["status"] == "preliminary" and report["code"]["coding"][0]["code"] == "58410-2"
    assert report["category"][0]["coding"][0]["code"] == "LAB"
    observations = results.results_of(SYSTEM, report)
    assert {o["status"] for o in observations} == {"preliminary"} and len(observations) == 2
    # Mrs Wang is a woman of 76: haemoglobin 115-150 g/L (WS/T 405-2012), so 98 is low.
    assert _flags(report) == {HAEMOGLOBIN: "L", PLATELETS: "N"}
    haemoglobin = next(o for o in observations if results.loinc_of(o) == HAEMOGLOBIN)
    assert haemoglobin["valueQuantity"] == {"value": 98.0, "unit": "g/L", "system": "http://unitsofmeasure.org",
                                            "code": "g/L"}
    assert haemoglobin["referenceRange"][0]["low"]["value"] == 115


def test_re_entry_before_release_replaces_values_and_clears_the_review(lab):
    specimen, report = _entered(lab, "potassium", {POTASSIUM: "4.0"})
    results.review(lab["tech"], report_id=report["id"])
    again = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: "4.4"})
    assert results.reviewed(again) is None and len(again["result"]) == 1
    assert results.results_of(SYSTEM, again)[0]["valueQuantity"]["value"] == 4.4


@pytest.mark.parametrize(("values", "words"), [
    ({POTASSIUM: "abc"}, "not a number"), ({POTASSIUM: "nan"}, "not a result"), ({POTASSIUM: "1e999"}, "not a result"),
    ({POTASSIUM: "4" * 25}, "at most"), ({POTASSIUM: ""}, "at least one"), ({"1234-5": "4"}, "not part of this order"),
    ({POTASSIUM: "<script>alert(1)</script>"}, "at most"),
])
def test_bad_result_values_are_refused_and_nothing_is_written(lab, values, words):
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    with pytest.raises(LabRefused, match=words):
        results.enter_results(lab["tech"], specimen_id=specimen["id"], values=values)
    assert gateway.search(SYSTEM, "Observation", [("subject", "Patient/p-wang"), ("code", f"http://loinc.org|{POTASSIUM}")]) == []


def test_results_wait_for_the_specimen_to_be_received(lab):
    from smartcare.hospital.lab.accession import accession

    specimen = accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    with pytest.raises(LabRefused, match="received"):
        results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: "4.0"})


def test_release_needs_the_review_and_the_authorisation(lab):
    _, report = _entered(lab, "potassium", {POTASSIUM: "4.0"})
    with pytest.raises(LabRefused, match="reviewed"):
        release.release(lab["tech"], report_id=report["id"])
    results.review(lab["junior"], report_id=report["id"])
    with pytest.raises(LabRefused, match="authorisation") as refused:
        release.release(lab["junior"], report_id=report["id"])
    assert refused.value.status == 403
    released = release.release(lab["tech"], report_id=report["id"])
    assert released["status"] == "final" and released["issued"]
    assert released["resultsInterpreter"] == [{"reference": "Practitioner/prac-lab"}]
    assert {o["status"] for o in results.results_of(SYSTEM, released)} == {"final"}
    order = gateway.read(SYSTEM, released["basedOn"][0]["reference"])
    assert order["status"] == "completed"
    with pytest.raises(LabRefused, match="preliminary"):
        release.release(lab["tech"], report_id=report["id"])


def test_the_chart_shows_released_results_and_not_preliminary_ones(lab, now):
    _, first = _entered(lab, "sodium", {SODIUM: "139"})
    labs = chart.patient_chart(ctx=lab["doctor"], patient_id="p-wang", today=now[0].date(), locale="en")["labs"]
    assert SODIUM not in {row["code"] for row in labs}
    results.review(lab["tech"], report_id=first["id"])
    release.release(lab["tech"], report_id=first["id"])
    labs = chart.patient_chart(ctx=lab["doctor"], patient_id="p-wang", today=now[0].date(), locale="en")["labs"]
    row = next(r for r in labs if r["code"] == SODIUM)
    assert row["value"].startswith("139") and row["flag"] == "N"


def test_a_correction_after_release_keeps_the_released_version_in_the_history(lab):
    _, report = _entered(lab, "potassium", {POTASSIUM: "4.0"})
    results.review(lab["tech"], report_id=report["id"])
    release.release(lab["tech"], report_id=report["id"])
    with pytest.raises(LabRefused, match="say why"):
        release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "3.1"}, reason=" ")
    with pytest.raises(LabRefused, match="no value differs"):
        release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "4.0"}, reason="re-run")
    with pytest.raises(LabRefused, match="authorisation"):
        release.correct(lab["junior"], report_id=report["id"], values={POTASSIUM: "3.1"}, reason="re-run")
    corrected = release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "3.1"},
                                reason="Sample mix-up on the analyser; re-run")
    assert corrected["status"] == "corrected"
    observation = results.results_of(SYSTEM, corrected)[0]
    assert observation["status"] == "corrected" and observation["valueQuantity"]["value"] == 3.1
    assert results.flag_of(observation) == "L" and "re-run" in observation["note"][-1]["text"]
    history = gateway.serve(SYSTEM, FhirRequest(method="GET", path=f"Observation/{observation['id']}/_history")).body
    values = [e["resource"]["valueQuantity"]["value"] for e in history["entry"]]
    statuses = [e["resource"]["status"] for e in history["entry"]]
    assert values[0] == 3.1 and 4.0 in values and "final" in statuses


def test_a_correction_before_release_is_refused(lab):
    _, report = _entered(lab, "potassium", {POTASSIUM: "4.0"})
    with pytest.raises(LabRefused, match="released report"):
        release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "3.1"}, reason="re-run")


def test_the_delta_check_compares_with_the_patients_previous_released_result(lab, now):
    _, first = _entered(lab, "potassium", {POTASSIUM: "4.0"})
    results.review(lab["tech"], report_id=first["id"])
    release.release(lab["tech"], report_id=first["id"])
    now[0] += timedelta(hours=24)
    _, second = _entered(lab, "potassium", {POTASSIUM: "5.2"})
    found = results.delta(lab["tech"], results.results_of(SYSTEM, second)[0])
    assert found["previous"] == 4.0 and found["finding"] is not None and found["finding"].change == pytest.approx(1.2)
    now[0] += timedelta(hours=24)
    _, third = _entered(lab, "sodium", {SODIUM: "140"})
    assert results.delta(lab["tech"], results.results_of(SYSTEM, third)[0]) is None


@pytest.mark.parametrize("report_id", ["", "../x", "x" * 65])
def test_hostile_report_ids_are_refused(lab, report_id):
    with pytest.raises(LabRefused):
        results.review(lab["tech"], report_id=report_id)
