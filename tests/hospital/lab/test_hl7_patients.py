"""ADT^A01/A04/A08 keep patient demographics in step, matched by PID-3, without duplicates."""

import sqlalchemy as sa

from smartcare.fhir.tables import resource
from smartcare.hospital.lab.interface import receive
from smartcare.platform.db import unit_of_work
from tests.support import need_shared

A04 = ("MSH|^~\\&|HIS|HOSP|SMARTCARE|LIS|20261126080000||ADT^A04^ADT_A01|{cid}|P|2.5\r"
       "EVN|A04|20261126080000\r"
       "PID|1||{mrn}^^^HOSP^MR||Wang^Li^M||19750304|{sex}|||1 Main St^^Springfield^^12345^CN||555-0100\r")


def _patients() -> list[dict]:
    with unit_of_work() as conn:
        return [r[0] for r in conn.execute(sa.select(resource.c.content).where(resource.c.res_type == "Patient"))]


def test_a04_registers_a_new_patient_and_a08_updates_the_same_one(engine):
    assert receive(A04.format(cid="A1", mrn="M-1", sex="M")).ack_code == "AA"
    [patient] = _patients()
    assert patient["name"][0] == {"use": "official", "family": "Wang", "given": ["Li", "M"]}
    assert patient["birthDate"] == "1975-03-04" and patient["gender"] == "male"
    assert patient["address"][0]["city"] == "Springfield"
    update = A04.format(cid="A2", mrn="M-1", sex="F").replace("ADT^A04", "ADT^A08").replace("Wang^Li", "Wong^Li")
    assert receive(update).ack_code == "AA"
    [patient] = _patients()
    assert patient["name"][0]["family"] == "Wong" and patient["gender"] == "female"
    assert len(patient["identifier"]) == 1


def test_a01_for_a_known_identifier_does_not_create_a_duplicate(engine):
    receive(A04.format(cid="B1", mrn="M-2", sex="F"))
    admit = A04.format(cid="B2", mrn="M-2", sex="F").replace("ADT^A04", "ADT^A01")
    assert receive(admit).ack_code == "AA"
    assert len(_patients()) == 1


def test_a08_for_an_unknown_patient_is_answered_ae_with_unknown_key(engine):
    outcome = receive(A04.format(cid="C1", mrn="NOPE", sex="M").replace("ADT^A04", "ADT^A08"))
    assert outcome.ack_code == "AE" and "|204^Unknown key identifier^HL70357|" in outcome.ack
    assert "MSA|AE|C1" in outcome.ack and _patients() == []


def test_real_adt_samples_register_then_update(engine):
    for name in ("14_ADT_A01_v2.4_UHN.hl7", "15_ADT_A04_v2.5_VINAH.hl7"):
        raw = need_shared(f"hl7-samples/{name}").read_bytes().decode("ascii")
        assert receive(raw).ack_code == "AA", receive(raw).ack
    assert len(_patients()) == 2
    raw = need_shared("hl7-samples/18_ADT_A08_v2.8_full.hl7").read_bytes().decode("ascii")
    assert receive(raw).ack_code == "AE"  # an update for a patient this region has never registered
