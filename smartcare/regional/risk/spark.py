"""The region's risk run on Apache Spark: the same record reading and calculators as batch.py, for a whole province.

The embedded run (batch.assess_region) reads a region's store in chunks of residents on one machine, right up to a
few million residents. A province runs on a Spark cluster instead, over the FHIR Bulk Data export of its records
(NDJSON: one resource per line, `smartcare` `$export` or any FHIR server's), with exactly the code the embedded run
uses, so both reach the same outcomes and write the same RiskAssessments:

1. every resource is keyed by its resident (a Patient by its id, anything else by its subject or patient);
2. each resident's resources are brought together (one group per resident);
3. each group is read (inputs.read_record), its calculators prepared and decided (service.decide) where it lives,
   giving one row per resident and calculator: the outcome, and the RiskAssessment to write where inputs changed.

Usage (PySpark 4, Java 17; the `test` extras pin pyspark):

    from pyspark.sql import SparkSession
    from smartcare.regional.risk import spark

    session = SparkSession.builder.master("spark://cluster:7077").appName("risk").getOrCreate()
    lines = session.read.text("export/*.ndjson")                      # Patient, Observation, Condition, ...
    outcomes = spark.assess(session, lines, now=datetime.now(UTC))
    outcomes.where("status = 'assessed'").select("resource").write.text("risk-assessments/")

The RiskAssessments written out are then posted back as transaction Bundles (or `$import`ed) so the platform holds
them. The executors need the smartcare package installed, as the driver does. tests/regional/risk/test_risk_spark.py
runs a small region on `local[1]` and checks the rows are those of the embedded decision.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from smartcare.platform.clock import format_instant, parse_instant

SCHEMA = "patient string, calculator string, status string, detail string, resource string"


def resident_of(text: str) -> tuple[str, dict[str, Any]] | None:
    """A resource line keyed by its resident's id (None for a line that is not a resident's resource)."""
    try:
        resource = json.loads(text)
    except ValueError:
        return None
    if not isinstance(resource, dict):
        return None
    if resource.get("resourceType") == "Patient":
        return (str(resource.get("id", "")), resource) if resource.get("id") else None
    for field in ("subject", "patient"):
        reference = str((resource.get(field) or {}).get("reference", ""))
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/"), resource
    return None


def decide_resident(patient_id: str, resources: Iterable[dict[str, Any]], now_text: str) -> Iterator[tuple[str, ...]]:
    """One row per calculator for one resident: (patient, calculator, status, detail, RiskAssessment JSON or "")."""
    from smartcare.regional.risk import inputs, service

    now = parse_instant(now_text)
    held = list(resources)
    patient = next((r for r in held if r.get("resourceType") == "Patient"), None)
    if patient is None:
        return
    record = inputs.read_record(patient=patient, resources=held, today=now.date())
    current = [r for r in held if r.get("resourceType") == "RiskAssessment" and r.get("status") == "final"]
    for outcome, body in service.decide(patient_id, record, current, now=now):
        detail = outcome.reason or ",".join(outcome.missing)
        if outcome.result is not None:
            detail = f"{outcome.result.value:g} {outcome.result.category}"
        yield (patient_id, outcome.calculator, outcome.status, detail,
               json.dumps(body, ensure_ascii=False, sort_keys=True) if body else "")


def assess(session: Any, lines: Any, *, now: datetime) -> Any:
    """The outcome of every record-based calculator for every resident in a DataFrame of NDJSON lines (`value`)."""
    now_text = format_instant(now)
    keyed = lines.rdd.map(lambda row: resident_of(row[0])).filter(lambda pair: pair is not None)
    rows = keyed.groupByKey().flatMap(lambda group: decide_resident(group[0], group[1], now_text))
    return session.createDataFrame(rows, schema=SCHEMA)
