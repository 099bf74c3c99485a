"""Patients and an imaging order for the PACS tests, written straight into the store as the platform."""

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

MRN = "https://smartcare.example/fhir/sid/mrn"
ACCESSION = "https://smartcare.example/fhir/sid/accession"


def write_patients_and_order(*, accession: str = "CT0001") -> None:
    """Mrs Wang (identifier P-1) with a CT chest order carrying accession, and Mr Zhao (identifier P-2)."""
    resources = [
        {"resourceType": "Patient", "id": "p-wang", "identifier": [{"system": MRN, "value": "P-1"}],
         "name": [{"family": "Wang", "given": ["Fang"]}], "gender": "female", "birthDate": "1950-03-04"},
        {"resourceType": "Patient", "id": "p-zhao", "identifier": [{"system": MRN, "value": "P-2"}],
         "name": [{"family": "Zhao", "given": ["Lei"]}], "gender": "male", "birthDate": "1961-07-01"},
        {"resourceType": "ServiceRequest", "id": "sr-ct", "status": "active", "intent": "order",
         "identifier": [{"system": ACCESSION, "value": accession}],
         "code": {"text": "CT chest"}, "subject": {"reference": "Patient/p-wang"}},
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
