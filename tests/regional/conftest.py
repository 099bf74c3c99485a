"""A small region for the research and public-health tests: people in two districts, their conditions and case reports.

Loaded through the FHIR API by the system client, as a hospital's feed would arrive. Counts by
week and district (ICD-10 J10.1 influenza, A09 gastroenteritis), weeks starting 2026-01-05 and
2026-01-12:

    week        Hedong District   Hexi District
    2026-01-05  7 (J10.1)         2 (J10.1)
    2026-01-12  6 (J10.1)         5 (A09) + 1 (J10.1, recorded date only)

plus records that must not count: one entered in error, one refuted, one outside the period and
one coded in SNOMED only.
"""

import os
import shutil
import sys
from typing import Any

import pytest

from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
WEEK_1, WEEK_2 = "2026-01-05", "2026-01-12"
HEDONG, HEXI = "Hedong District", "Hexi District"

# What identifies people in the test region: none of it may reach a researcher.
FAMILY_NAMES = ["Zhang", "Wang", "Li", "Zhao", "Chen", "Yang", "Huang", "Zhou"]
IDENTIFYING = ("Zhang", "Wang", "Li Na", "张", "Jiefang Road", "339100", "+86 139", "330199",
               "ph-pat-", "riverside.example")


def patient(n: int, district: str, *, born: str = "1980-04-17") -> dict[str, Any]:
    family = FAMILY_NAMES[n % len(FAMILY_NAMES)]
    return {
        "resourceType": "Patient", "id": f"ph-pat-{n}",
        "text": {"status": "generated", "div": f"<div xmlns=\"http://www.w3.org/1999/xhtml\">{family} Na</div>"},
        "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id", "value": f"330199{n:012d}"}],
        "name": [{"use": "official", "text": f"张{n}", "family": "张", "given": [str(n)]},
                 {"use": "usual", "family": family, "given": ["Li Na"]}],
        "telecom": [{"system": "phone", "value": f"+86 139 0000 {n:04d}"},
                    {"system": "email", "value": f"person{n}@riverside.example"}],
        "gender": "female" if n % 2 else "male",
        "birthDate": born,
        "address": [{"use": "home", "text": f"滨河市{district}解放路{n}号", "line": [f"{n} Jiefang Road"],
                     "city": "Riverside City", "district": district, "postalCode": "339100", "country": "CN"}],
        "contact": [{"name": {"family": "Wang", "given": ["Contact"]}, "telecom": [{"system": "phone", "value": "+86 139 1111 2222"}]}],
        "managingOrganization": {"reference": "Organization/ph-hosp"},
    }


def condition(cid: str, pat: str, code: str, *, onset: str | None = None, recorded: str | None = None,
              system: str = ICD10, verification: str = "confirmed") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": cid,
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
        "code": {"coding": [{"system": system, "code": code, "display": {"J10.1": "Influenza", "A09": "Gastroenteritis"}.get(code, code)}]},
        "subject": {"reference": f"Patient/{pat}"},
        "note": [{"text": f"seen by Dr Zhou at home of {pat}"}],
    }
    if onset:
        resource["onsetDateTime"] = onset
    if recorded:
        resource["recordedDate"] = recorded
    return resource


def heart_rate(oid: str, pat: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{pat}", "display": "Zhang Li Na"},
        "effectiveDateTime": "2026-01-06T09:30:00+08:00", "issued": "2026-01-06T09:31:00.000Z",
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        "note": [{"text": "patient Wang said she felt dizzy"}],
    }


def case_report(rid: str, pat: str, cond: str, date: str, *, code: str = "55751-2") -> dict[str, Any]:
    return {
        "resourceType": "Composition", "id": rid, "status": "final",
        "type": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pat}"}, "date": date,
        "author": [{"reference": "Organization/ph-hosp"}], "title": "Public health case report",
        "section": [{"title": "Reason for report", "entry": [{"reference": f"Condition/{cond}"}]}],
    }


def region_resources() -> list[dict[str, Any]]:
    """Every resource of the test region."""
    people: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    n = 0

    def cases(count: int, district: str, code: str, day: str, **kw) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            people.append(patient(n, district))
            conditions.append(condition(f"ph-cond-{n}", f"ph-pat-{n}", code, **({"onset": day} | kw)))

    cases(7, HEDONG, "J10.1", "2026-01-06T10:00:00+08:00")
    cases(2, HEXI, "J10.1", "2026-01-09")
    cases(6, HEDONG, "J10.1", "2026-01-13")
    cases(5, HEXI, "A09", "2026-01-18T23:30:00+08:00")
    n += 1
    people.append(patient(n, HEXI, born="1931-02-01"))
    conditions.append(condition(f"ph-cond-{n}", f"ph-pat-{n}", "J10.1", recorded="2026-01-14"))
    conditions += [
        condition("ph-cond-error", "ph-pat-1", "J10.1", onset="2026-01-07", verification="entered-in-error"),
        condition("ph-cond-refuted", "ph-pat-2", "J10.1", onset="2026-01-07", verification="refuted"),
        condition("ph-cond-before", "ph-pat-3", "J10.1", onset="2025-12-20"),
        condition("ph-cond-snomed", "ph-pat-4", "6142004", onset="2026-01-07", system="http://snomed.info/sct"),
    ]
    observations = [heart_rate("ph-hr-1", "ph-pat-1", 72), heart_rate("ph-hr-2", "ph-pat-2", 88)]
    observations.append({**heart_rate("ph-bp-1", "ph-pat-1", 120),
                         "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]}})
    reports = [
        case_report("ph-report-1", "ph-pat-1", "ph-cond-1", "2026-01-07T08:00:00+08:00"),
        case_report("ph-report-2", "ph-pat-20", "ph-cond-20", "2026-01-19T08:00:00+08:00"),
        case_report("ph-discharge-1", "ph-pat-3", "ph-cond-3", "2026-01-10", code="18842-5"),
    ]
    organization = {"resourceType": "Organization", "id": "ph-hosp", "name": "Riverside First Hospital"}
    return [organization, *people, *conditions, *observations, *reports]


@pytest.fixture
def region(client) -> list[dict[str, Any]]:
    """The test region, loaded through the FHIR API; returns its resources."""
    resources = region_resources()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    answer = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text[:500]
    return resources


# The scopes a user of each role usually holds (see ROLE_SCOPE_CEILING in platform/security/users.py).
ROLE_SCOPES = {"patient": "patient/*.rs", "researcher": "user/*.rs", "public_health_officer": "user/*.rs"}


def user_token(role: str, name: str | None = None, **claims: Any) -> dict[str, str]:
    """A bearer token for a user of role, with that role's usual scopes; a patient is ph-pat-1."""
    if role == "patient":
        claims = {"fhir_user": "Patient/ph-pat-1", "patient": "Patient/ph-pat-1", **claims}
    return bearer(ROLE_SCOPES.get(role, "user/*.cruds"), kind="user", name=name or role.replace("_", "."),
                  roles={role}, subject=f"u-{role}", **claims)


@pytest.fixture(scope="module")
def spark_session():
    """A local[1] PySpark session whose Python workers are this virtual environment's interpreter (Java 17 needed)."""
    pytest.importorskip("pyspark", reason="pyspark is a test dependency (requirements-test.lock)")
    from pyspark.sql import SparkSession

    from tests.support import IN_CI

    if shutil.which("java") is None:
        message = "Spark needs Java 17 (Debian's openjdk-17-jre-headless, in scripts/test-packages.txt)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    before = {name: os.environ.get(name) for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    spark = (SparkSession.builder.master("local[1]").appName("smartcare-test")
             .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
             .config("spark.pyspark.python", sys.executable).config("spark.pyspark.driver.python", sys.executable)
             .getOrCreate())
    yield spark
    spark.stop()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
