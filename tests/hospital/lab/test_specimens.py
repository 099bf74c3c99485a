"""Accessioning lab orders into specimens, collection, receipt, rejection with a reason, and turnaround times."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.lab import accession as acc
from smartcare.hospital.lab import specimens
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, write_hospital


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def test_accessioning_gives_a_specimen_with_the_days_accession_number_and_a_placer_number(lab):
    request_id = place(lab["doctor"], "potassium")
    specimen = acc.accession(lab["tech"], request_id=request_id)
    number = specimens.accession_of(specimen)
    assert number == "L26030200001"  # the clock stands at 2 March 2026, 16:00 in the region
    assert specimen["accessionIdentifier"]["value"] == number and specimen["status"] == "unavailable"
    assert specimen["request"] == [{"reference": f"ServiceRequest/{request_id}"}]
    assert specimen["type"]["coding"][0]["code"] == "119364003"  # serum
    order = gateway.read(SYSTEM, f"ServiceRequest/{request_id}")
    assert acc.identifier(order, acc.PLACER_SYSTEM) == number
    assert order["specimen"] == [{"reference": f"Specimen/{specimen['id']}"}]
    assert specimens.stage(specimen) == specimens.TO_COLLECT


def test_accessioning_twice_keeps_one_specimen_and_the_next_order_gets_the_next_number(lab):
    first = place(lab["doctor"], "potassium")
    again = acc.accession(lab["tech"], request_id=first)
    assert acc.accession(lab["tech"], request_id=first)["id"] == again["id"]
    second = acc.accession(lab["tech"], request_id=place(lab["doctor"], "cbc"))
    assert specimens.accession_of(second) == "L26030200002"
    assert len(gateway.search(SYSTEM, "Specimen", [("subject", "Patient/p-wang")])) == 2


def test_collect_then_receive_records_who_and_when_and_the_turnaround(lab, now):
    request_id = place(lab["doctor"], "potassium")
    specimen = acc.accession(lab["tech"], request_id=request_id)
    now[0] += timedelta(minutes=20)
    collected = specimens.collect(lab["tech"], specimen_id=specimen["id"])
    assert collected["collection"]["collector"] == {"reference": "Practitioner/prac-lab"}
    assert specimens.stage(collected) == specimens.TO_RECEIVE
    now[0] += timedelta(minutes=25)
    received = specimens.receive(lab["tech"], specimen_id=specimen["id"])
    assert received["status"] == "available" and specimens.stage(received) == specimens.RECEIVED
    times = specimens.turnaround(gateway.read(SYSTEM, f"ServiceRequest/{request_id}"), received, None)
    assert times["collected"]["minutes"] == 20 and times["received"]["minutes"] == 45
    assert times["released"] == {"at": None, "minutes": None}


def test_a_specimen_is_received_only_after_collection_and_only_once(lab):
    specimen = acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    with pytest.raises(LabRefused, match="not been collected"):
        specimens.receive(lab["tech"], specimen_id=specimen["id"])
    specimens.collect(lab["tech"], specimen_id=specimen["id"])
    with pytest.raises(LabRefused, match="already collected"):
        specimens.collect(lab["tech"], specimen_id=specimen["id"])
    specimens.receive(lab["tech"], specimen_id=specimen["id"])
    with pytest.raises(LabRefused, match="already received"):
        specimens.receive(lab["tech"], specimen_id=specimen["id"])


@pytest.mark.parametrize(("reason", "code"), [("haemolysed", "RH"), ("clotted", "RC"), ("insufficient", "QS"),
                                              ("mislabelled", "RM"), ("wrong-container", "wrong-container"),
                                              ("too-old", "EX")])
def test_a_rejected_specimen_is_unsatisfactory_with_its_coded_reason_and_a_new_one_can_be_taken(lab, reason, code):
    request_id = place(lab["doctor"], "potassium")
    specimen = acc.accession(lab["tech"], request_id=request_id)
    specimens.collect(lab["tech"], specimen_id=specimen["id"])
    rejected = specimens.reject(lab["tech"], specimen_id=specimen["id"], reason=reason, note="pink serum")
    assert rejected["status"] == "unsatisfactory" and rejected["condition"][0]["coding"][0]["code"] == code
    assert rejected["note"][-1]["text"].endswith("pink serum") and rejected["note"][-1]["time"]
    again = acc.accession(lab["tech"], request_id=request_id)
    assert again["id"] != specimen["id"] and specimens.accession_of(again) == "L26030200002"
    order = gateway.read(SYSTEM, f"ServiceRequest/{request_id}")
    assert [s["reference"] for s in order["specimen"]] == [f"Specimen/{specimen['id']}", f"Specimen/{again['id']}"]
    history = gateway.serve(SYSTEM, acc.FhirRequest(method="GET", path=f"Specimen/{specimen['id']}/_history")).body
    assert history["total"] == 3  # accessioned, collected, rejected: each a version


def test_rejection_needs_a_listed_reason_and_a_short_note(lab):
    specimen = acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    with pytest.raises(LabRefused, match="reason"):
        specimens.reject(lab["tech"], specimen_id=specimen["id"], reason="<script>", note="")
    with pytest.raises(LabRefused, match="at most"):
        specimens.reject(lab["tech"], specimen_id=specimen["id"], reason="clotted", note="x" * 501)
    assert gateway.read(SYSTEM, f"Specimen/{specimen['id']}")["status"] == "unavailable"


@pytest.mark.parametrize("request_id", ["", "../Patient/p-wang", "x" * 65, "' OR 1=1 --"])
def test_hostile_order_ids_are_refused(lab, request_id):
    with pytest.raises(LabRefused):
        acc.accession(lab["tech"], request_id=request_id)


def test_an_imaging_order_is_not_accessioned(lab):
    scan = place(lab["doctor"], acc.catalogue.imaging_procedures()[0].key)
    with pytest.raises(LabRefused, match="not a laboratory order"):
        acc.accession(lab["tech"], request_id=scan)


def test_accession_numbers_are_the_date_and_a_five_digit_sequence():
    from datetime import date

    assert acc.accession_number(date(2026, 11, 26), 42) == "L26112600042"
    with pytest.raises(LabRefused):
        acc.accession_number(date(2026, 11, 26), 100_000)
