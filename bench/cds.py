"""Latency of the CDS Hooks order-sign service at the demo's size, with the prefetch sent and without it.

Loads the demo region (about 100k resources at 2,400 residents) into a fresh database, then, as the demo's
hospital doctor, calls POST /cds-services/order-sign through the whole app (ASGI, in process) for patients of
their hospital with two draft orders (ibuprofen and metformin): once with every prefetch template's result
in the request (the service reads nothing), once with none (the service reads the record through the FHIR
gateway, policy-checked and audited). Prints p50 and p95 in milliseconds; targets are p95 <= 50 ms with
prefetch and <= 150 ms without.

    .venv/bin/python bench/cds.py [--databases sqlite,postgresql] [--residents 2400] [--runs 100]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("SMARTCARE_TOKEN_KEY", "5c" * 32)
os.environ.setdefault("SMARTCARE_FIELD_KEY", "3a" * 32)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from smartcare.demo.accounts import ensure_demo_accounts  # noqa: E402
from smartcare.demo.loader import load_region  # noqa: E402
from smartcare.fhir import gateway  # noqa: E402
from smartcare.hospital.cds.services import ORDER_PREFETCH  # noqa: E402
from smartcare.hospital.pharmacy import records  # noqa: E402
from smartcare.platform.db import refresh_statistics, unit_of_work, use_engine  # noqa: E402
from smartcare.platform.security import users  # noqa: E402
from smartcare.platform.security.context import SYSTEM  # noqa: E402
from smartcare.platform.security.tokens import issue_access_token  # noqa: E402
from smartcare.platform.web.app import create_app  # noqa: E402

ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"


def draft(rid: str, atc: str, name: str, dose: float, frequency: str, patient: str) -> dict:
    """A draft oral MedicationRequest."""
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc, "display": name}]},
            "dosageInstruction": [{
                "timing": {"code": {"coding": [{"code": frequency}]}},
                "route": {"coding": [{"system": SNOMED, "code": "26643006"}]},
                "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg", "code": "mg"}}]}]}


def call(patient: str, prefetch: dict | None) -> dict:
    """An order-sign request for one patient."""
    body = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/x", "patientId": patient, "draftOrders": {
                "resourceType": "Bundle", "type": "collection", "entry": [
                    {"resource": draft("d1", "M01AE01", "ibuprofen", 400, "TID", patient)},
                    {"resource": draft("d2", "A10BA02", "metformin", 500, "BID", patient)}]}}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def prefetched(patient: str) -> dict:
    """The prefetch templates' results for a patient, as a CDS client would send them."""
    found = records.read(SYSTEM, patient)
    return {key: (found[key][0] if key == "patient" else
                  {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found[key]]})
            for key in ORDER_PREFETCH}


def timed(client: TestClient, headers: dict, bodies: list[dict]) -> tuple[float, float, int]:
    """p50 and p95 in ms of posting each body, and the cards returned in all."""
    times, cards = [], 0
    for body in bodies:
        start = time.perf_counter()
        r = client.post("/cds-services/order-sign", json=body, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"order-sign answered {r.status_code}: {r.text[:300]}")
        cards += len(r.json()["cards"])
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], cards


def run(kind: str, residents: int, runs: int, workdir: Path, console: Console) -> list[tuple]:
    from fhir_store import fresh_engine  # beside this file

    engine = fresh_engine(kind, workdir)
    use_engine(engine)
    with console.status(f"Loading {residents} residents into {kind}"):
        stats = load_region(engine=engine, residents=residents, seed=7)
    refresh_statistics(engine)
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        doctor = users.context_for(users.get_by_username(conn, username="doctor.demo"))
    patients = [p["id"] for p in gateway.search(doctor, "Patient", [("_count", str(runs)), ("_elements", "id")])]
    token, _ = issue_access_token(subject=doctor.subject, kind=doctor.kind, name=doctor.name, roles=doctor.roles,
                                  scopes=doctor.scopes, audience="http://testserver/fhir",
                                  organization=doctor.organization, fhir_user=doctor.fhir_user)
    headers = {"Authorization": f"Bearer {token}"}
    with console.status("Gathering prefetch"):
        with_prefetch = [call(p, prefetched(p)) for p in patients]
    without = [call(p, None) for p in patients]
    rows = []
    with TestClient(create_app(), base_url="http://testserver") as client:
        timed(client, headers, with_prefetch[:5] + without[:5])  # warm the caches and the knowledge
        for label, bodies, target in (("with prefetch", with_prefetch, 50), ("without prefetch", without, 150)):
            p50, p95, cards = timed(client, headers, bodies)
            rows.append((kind, f"{stats.resources:,}", label, len(bodies), p50, p95, target, cards))
    use_engine(None)
    engine.dispose()
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--residents", type=int, default=2400)
    parser.add_argument("--runs", type=int, default=100, help="Patients called for (one call each way).")
    args = parser.parse_args()
    console = Console()
    table = Table("database", "resources", "order-sign", "calls", "p50 ms", "p95 ms", "target p95", "cards")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            for db, size, label, n, p50, p95, target, cards in run(kind, args.residents, args.runs, Path(tmp), console):
                verdict = "met" if p95 <= target else "missed"
                table.add_row(db, size, label, str(n), f"{p50:.1f}", f"{p95:.1f}", f"<= {target} ({verdict})",
                              str(cards))
    console.print(table)


if __name__ == "__main__":
    main()
