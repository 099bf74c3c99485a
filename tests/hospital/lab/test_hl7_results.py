"""ORU^R01 results stored as preliminary DiagnosticReport + Observations, on SQLite and PostgreSQL."""


import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir.tables import resource
from smartcare.hospital.lab.hl7_results import ACCESSION, PLACER
from smartcare.hospital.lab.interface import receive
from smartcare.hospital.lab.interface_models import hl7_error_queue, hl7_received_message
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.support import need_shared

OWN = ("MSH|^~\\&|ANALYSER|LAB1|SMARTCARE|HOSP|20261126101500||ORU^R01|{cid}|P|2.5.1\r"
       "PID|1||MRN-77^^^HOSP^MR||Lee^Ann||19800101|F\r"
       "ORC|RE|PO-1001\r"
       "OBR|1|PO-1001|L26112600042|2345-7^Glucose^LN|||20261126090000\r"
       "NTE|1||Sample slightly lipaemic\r"
       "OBX|1|NM|GLU^Glucose^L||6.2|mmol/l|3.9-6.1|H|||F|||20261126100000\r"
       "NTE|1||Repeated and confirmed\r"
       "OBX|2|ST|2345-7^Comment^LN||fasting status unknown||||||F\r"
       "OBX|3|TX|2345-7^Narrative^LN||line one~line two||||||F\r"
       "OBX|4|CWE|882-1^ABO and Rh group^LN||A+^A Rh positive^L||||||F\r"
       "OBX|5|SN|CRP^C reactive protein^L||<^5|mg/L^^UCUM|<5|N|||F\r"
       "OBX|6|SN|CREA^Creatinine^L||^1^:^128|||||F\r")


def _patient_and_order(*, ident: str = "MRN-77", placer: str = "PO-1001", accession: str | None = None,
                       code: str = "2345-7") -> tuple[str, str]:
    with unit_of_work() as conn:
        patient = store.create(conn, SYSTEM, {"resourceType": "Patient", "identifier": [
            {"system": "https://smartcare.example/fhir/sid/mrn", "value": ident}], "name": [{"family": "Lee"}]})
        order = store.create(conn, SYSTEM, {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "identifier": [{"system": PLACER, "value": placer}],
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient.res_id}"}})
        if accession:
            store.create(conn, SYSTEM, {"resourceType": "Specimen", "identifier": [{"system": ACCESSION,
                                                                                    "value": accession}],
                                        "request": [{"reference": f"ServiceRequest/{order.res_id}"}],
                                        "subject": {"reference": f"Patient/{patient.res_id}"}})
    return patient.res_id, order.res_id


def _order_for(ident: str, placer: str) -> None:
    [patient] = [p for p in _resources("Patient") if p["identifier"][0]["value"] == ident]
    with unit_of_work() as conn:
        store.create(conn, SYSTEM, {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "identifier": [{"system": PLACER, "value": placer}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "24317-0"}]},
            "subject": {"reference": f"Patient/{patient['id']}"}})


def _resources(res_type: str) -> list[dict]:
    with unit_of_work() as conn:
        rows = conn.execute(sa.select(resource.c.content).where(resource.c.res_type == res_type,
                                                                 resource.c.deleted.is_(False))).all()
    return [r[0] for r in rows]


def test_oru_with_every_value_type_becomes_one_preliminary_report_with_observations(engine):
    patient, order = _patient_and_order()
    outcome = receive(OWN.format(cid="C1"))
    assert outcome.ack_code == "AA", outcome.ack
    assert "MSA|AA|C1" in outcome.ack
    [report] = _resources("DiagnosticReport")
    assert report["status"] == "preliminary"
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{order}"}]
    assert report["category"][0]["coding"][0]["code"] == "LAB"
    assert report["conclusion"] == "Sample slightly lipaemic"
    observations = {o["id"]: o for o in _resources("Observation")}
    assert len(observations) == 6 == len(report["result"])
    by_value = {next(k for k in o if k.startswith("value")): o for o in observations.values()}
    glucose = next(o for o in observations.values() if o["code"]["coding"][0]["code"] == "2345-7"
                   and "valueQuantity" in o)
    assert glucose["code"]["coding"][0] == {"system": "http://loinc.org", "code": "2345-7",
                                            "display": "Glucose [Mass/volume] in Serum or Plasma"}
    assert glucose["valueQuantity"] == {"value": 6.2, "unit": "mmol/l", "system": "http://unitsofmeasure.org",
                                        "code": "mmol/L"}
    assert glucose["referenceRange"][0]["low"]["value"] == 3.9
    assert glucose["note"] == [{"text": "Repeated and confirmed"}]
    # 2345-7 is not among the laboratory's own ranges, so the analyzer's flag is the only one there is.
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert all(o["status"] == "preliminary" and o["subject"]["reference"] == f"Patient/{patient}"
               for o in observations.values())
    assert by_value["valueString"]["valueString"] in ("fasting status unknown", "line one\nline two")
    assert by_value["valueCodeableConcept"]["valueCodeableConcept"]["coding"][0]["code"] == "A+"
    crp = [o for o in observations.values() if o["code"]["coding"][0]["code"] == "1988-5"][0]
    assert crp["valueQuantity"] == {"value": 5, "comparator": "<", "unit": "mg/L",
                                    "system": "http://unitsofmeasure.org", "code": "mg/L"}
    ratio = [o for o in observations.values() if o["code"]["coding"][0]["code"] == "2160-0"][0]
    assert ratio["valueRatio"]["denominator"]["value"] == 128


def test_resent_message_is_acknowledged_again_with_the_same_ack_and_stored_once(engine):
    _patient_and_order()
    first = receive(OWN.format(cid="DUP-1"))
    again = receive(OWN.format(cid="DUP-1"))
    assert again.duplicate and again.ack == first.ack
    assert len(_resources("DiagnosticReport")) == 1 and len(_resources("Observation")) == 6
    with unit_of_work() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(hl7_received_message)).scalar() == 1


def test_order_is_found_by_accession_number_when_the_placer_number_is_unknown(engine):
    _, order = _patient_and_order(placer="OTHER", accession="L26112600042")
    outcome = receive(OWN.format(cid="ACC-1"))
    assert outcome.ack_code == "AA", outcome.ack
    [report] = _resources("DiagnosticReport")
    assert report["basedOn"][0]["reference"] == f"ServiceRequest/{order}"
    assert report["specimen"][0]["reference"].startswith("Specimen/")


@pytest.mark.parametrize(("change", "code", "where"), [
    (("MRN-77", "MRN-00"), "204", "PID^1^3"),
    (("PO-1001", "PO-9999"), "204", "OBR^1^2"),
    (("GLU^Glucose^L", "ZZZ^Mystery^L"), "103", "OBX^1^3"),
    (("|6.2|", "|six|"), "102", "OBX^1^5"),
])
def test_unknown_patient_order_code_or_bad_value_is_answered_ae_and_queued(engine, change, code, where):
    _patient_and_order()
    outcome = receive(OWN.format(cid="E1").replace(*change))
    assert outcome.ack_code == "AE"
    assert "MSA|AE|E1" in outcome.ack
    err = [s for s in outcome.ack.split("\r") if s.startswith("ERR")][0]
    assert f"|{code}^" in err and f"|{where}|" in err
    assert _resources("DiagnosticReport") == [] and _resources("Observation") == []
    with unit_of_work() as conn:
        [item] = conn.execute(sa.select(hl7_error_queue)).mappings().all()
    assert item["status"] == "open" and item["error_code"] == int(code) and "E1" in item["raw"]


def test_fixed_message_reprocessed_from_the_queue_is_stored_and_the_item_closed(engine):
    from smartcare.hospital.lab.interface import error_item, reprocess

    _patient_and_order()
    failed = receive(OWN.format(cid="FIX-1").replace("PO-1001", "PO-9"))
    again = receive(OWN.format(cid="FIX-1").replace("PO-1001", "PO-9"))
    assert again.queue_id == failed.queue_id
    done = reprocess(item_id=failed.queue_id, raw=OWN.format(cid="FIX-1"), actor="user/admin")
    assert done.ack_code == "AA"
    with unit_of_work() as conn:
        item = error_item(conn, item_id=failed.queue_id)
    assert item["status"] == "reprocessed" and item["attempts"] == 2 and item["resolved_by"] == "user/admin"
    assert len(_resources("DiagnosticReport")) == 1


def test_released_report_is_not_overwritten_by_a_late_message(engine):
    _patient_and_order()
    assert receive(OWN.format(cid="R1")).ack_code == "AA"
    [report] = _resources("DiagnosticReport")
    with unit_of_work() as conn:
        store.update(conn, SYSTEM, {**report, "status": "final"}, res_type="DiagnosticReport", res_id=report["id"])
    late = receive(OWN.format(cid="R2"))
    assert late.ack_code == "AE" and "|206^" in late.ack


def _sample(name: str) -> str:
    return need_shared(f"hl7-samples/{name}").read_bytes().decode("ascii")


@pytest.mark.parametrize(("name", "results"), [
    ("01_ORU_R01_v2.4_glucose_HL7std.hl7", [1]),
    ("02_ORU_R01_v2.5_CBC_hemogram.hl7", [5, 5]),
    ("03_ORU_R01_v2.5_WBC_differential.hl7", [5, 5]),
    ("04_ORU_R01_v2.5.1_NIST_LRI_CBC.hl7", [28]),
])
def test_real_sample_results_are_stored_for_the_matching_orders(engine, name, results):
    text = _sample(name)
    segments = [s.split("|") for s in text.split("\r")]
    ident = next(s for s in segments if s[0] == "PID")[3].split("^")[0]
    placers = [s[2].split("^")[0] for s in segments if s[0] == "OBR"]
    _patient_and_order(ident=ident, placer=placers[0])
    for placer in placers[1:]:
        _order_for(ident, placer)
    outcome = receive(text)
    assert outcome.ack_code == "AA", outcome.ack
    reports = _resources("DiagnosticReport")
    assert sorted(len(r["result"]) for r in reports) == sorted(results)
    assert len(_resources("Observation")) == sum(results)


def test_the_laboratory_flags_results_by_its_own_ranges_and_notes_an_analyzer_flag_that_disagrees(engine):
    _patient_and_order(code="2823-3")
    message = ("MSH|^~\\&|ANALYSER|LAB1|SMARTCARE|HOSP|20261126101500||ORU^R01|K1|P|2.5.1\r"
               "PID|1||MRN-77^^^HOSP^MR\rORC|RE|PO-1001\rOBR|1|PO-1001||2823-3^Potassium^LN\r"
               "OBX|1|NM|2823-3^Potassium^LN||4.1|mmol/L^^UCUM||H|||F\r"
               "OBX|2|NM|2951-2^Sodium^LN||118|mmol/L^^UCUM||N|||F\r")
    assert receive(message).ack_code == "AA"
    by_code = {o["code"]["coding"][0]["code"]: o for o in _resources("Observation")}
    potassium, sodium = by_code["2823-3"], by_code["2951-2"]
    assert potassium["interpretation"][0]["coding"][0]["code"] == "N"
    assert "The analyzer flagged H" in potassium["note"][-1]["text"]
    # Without a range from the analyzer, the laboratory's own range (and its source) is recorded.
    assert potassium["referenceRange"][0]["low"]["value"] == 3.5 and potassium["referenceRange"][0]["text"]
    # 118 mmol/L sodium is below the critical limit: the analyzer's "normal" does not hide it.
    assert sodium["interpretation"][0]["coding"][0]["code"] == "LL"
