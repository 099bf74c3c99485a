"""Two nurses admitting different patients to the same free bed at the same moment: exactly one gets it."""

import threading

from smartcare.fhir import gateway
from smartcare.hospital.wards import admissions, beds
from smartcare.hospital.wards.errors import WardRefused
from smartcare.platform.security.context import SYSTEM

CALLERS = 8
PATIENTS = ["p-wang", "p-li"]


def test_concurrent_admissions_to_one_bed_give_it_to_exactly_one_patient(hospital):
    nurse = hospital["nurse"]
    start = threading.Barrier(CALLERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        start.wait()
        try:
            admissions.admit(nurse, hospital="Organization/org-h", ward_id="ward-med", bed_id="bed-m3",
                             patient_id=PATIENTS[n % 2], reason_code="I10", admit_source="outp",
                             attending_id="prac-doc")
            result = "admitted"
        except WardRefused as exc:
            result = "refused" if exc.status == 409 else f"refused {exc.status}: {exc.message}"
        except Exception as exc:  # noqa: BLE001  (any other outcome is what this test must catch)
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["admitted", "refused"], outcomes
    assert outcomes.count("admitted") == 1
    stays = gateway.search(SYSTEM, "Encounter", [("location", "Location/bed-m3")])
    assert len(stays) == 1
    assert len(gateway.search(SYSTEM, "CareTeam", [])) == 1
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m3")) == "O"
