"""The medication record of one patient, read and written through the FHIR gateway as the caller (policy + audit)."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.family.medication import schedule
from smartcare.fhir import gateway
from smartcare.fhir.family_accounts import account_ids
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.prescribing import facts
from smartcare.knowledge.prescribing.audit import PatientFacts
from smartcare.platform.clock import format_instant
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account
from smartcare.platform.settings import get_settings

PAGE = "1000"
# The Observations the prescription audit reads facts from (eGFR, creatinine, weight, height, pregnancy and
# breastfeeding status); the newest FACT_READINGS of them are enough, since only the latest of each code counts.
FACT_CODES = ",".join(sorted(facts.EGFR_CODES | set(facts.CREATININE_CODES) | facts.WEIGHT_CODES
                             | facts.HEIGHT_CODES | {facts.PREGNANCY_STATUS, facts.BREASTFEEDING_STATUS}))
FACT_READINGS = "100"


class MedicationProblem(Exception):
    """A medication action that cannot be done as asked: a message and the HTTP status it answers with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Record:
    """What the medication pages and jobs need of one patient's record."""

    patient: dict[str, Any]
    tz: ZoneInfo
    requests: list[dict[str, Any]] = field(default_factory=list)
    administrations: list[dict[str, Any]] = field(default_factory=list)
    dispenses: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def active(self) -> list[dict[str, Any]]:
        """The active orders."""
        return [r for r in self.requests if schedule.is_active(r)]

    def recorded(self) -> dict[str, dict[str, Any]]:
        """The patient's recorded intakes by dose key (the newest when one dose was recorded twice)."""
        found: dict[str, dict[str, Any]] = {}
        for administration in sorted(self.administrations, key=lambda a: a.get("meta", {}).get("lastUpdated", "")):
            for identifier in administration.get("identifier", []):
                if identifier.get("system") == schedule.DOSE_SYSTEM and identifier.get("value"):
                    found[identifier["value"]] = administration
        return found


def search(conn: Connection, ctx: AccessContext, res_type: str, query: list[tuple[str, str]], *,
           count: str = PAGE) -> list[dict[str, Any]]:
    """The resources of res_type ctx may see matching query (the first `count`), inside the caller's transaction."""
    body = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type,
                                                       query=[*query, ("_count", count)])).body or {}
    return [e["resource"] for e in body.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def read(conn: Connection, ctx: AccessContext, reference: str) -> dict[str, Any]:
    """The resource at reference if ctx may see it (FhirError otherwise)."""
    return gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=reference)).body or {}


def create(conn: Connection, ctx: AccessContext, resource: dict[str, Any]) -> dict[str, Any]:
    """Create resource as ctx (policy-checked and audited); the stored resource."""
    return gateway.serve_within(conn, ctx, FhirRequest(method="POST", path=resource["resourceType"],
                                                       body=resource)).body or {}


def update(conn: Connection, ctx: AccessContext, resource: dict[str, Any]) -> dict[str, Any]:
    """Update resource as ctx (policy-checked and audited); the stored resource."""
    path = f"{resource['resourceType']}/{resource['id']}"
    return gateway.serve_within(conn, ctx, FhirRequest(method="PUT", path=path, body=resource)).body or {}


def gather(conn: Connection, ctx: AccessContext, *, patient_id: str, since: datetime | None = None) -> Record:
    """One patient's medication record as ctx may see it; intakes and dispenses since `since` when given."""
    patient = read(conn, ctx, f"Patient/{patient_id}")
    reference = f"Patient/{patient_id}"
    tz = schedule.patient_zone(patient, get_settings().region_timezone)
    administrations = [("patient", reference)]
    if since is not None:
        administrations.append(("effective-time", f"ge{format_instant(since)}"))
    return Record(
        patient=patient, tz=tz,
        requests=search(conn, ctx, "MedicationRequest", [("patient", reference)]),
        administrations=search(conn, ctx, "MedicationAdministration", administrations),
        dispenses=search(conn, ctx, "MedicationDispense", [("patient", reference)]),
        statements=search(conn, ctx, "MedicationStatement", [("patient", reference)]),
    )


def read_facts(conn: Connection, ctx: AccessContext, *, patient_id: str, today: date,
               leave_out: str | None = None) -> PatientFacts:
    """What the prescription audit needs to know of the patient, from their record as ctx may see it: age, sex,
    kidney and liver function, pregnancy, allergies, conditions, and as current medicines both the active orders and
    what the patient reports taking; leave_out: a "Type/id" medicine not to count as current (the one under review)."""
    reference = f"Patient/{patient_id}"
    of_patient = [("patient", reference), ("_total", "none")]

    def kept(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in resources if f"{r.get('resourceType')}/{r.get('id')}" != leave_out]

    orders = kept(search(conn, ctx, "MedicationRequest", [*of_patient, ("status", "active")]))
    reported = kept(search(conn, ctx, "MedicationStatement", of_patient))
    readings = search(conn, ctx, "Observation", [*of_patient, ("code", FACT_CODES), ("_sort", "-date")],
                      count=FACT_READINGS)
    found, _how = facts.patient_facts(
        patient=read(conn, ctx, reference), observations=readings,
        conditions=search(conn, ctx, "Condition", of_patient),
        allergies=search(conn, ctx, "AllergyIntolerance", of_patient),
        medications=facts.current_medicines(orders, reported), today=today)
    return found


def own_patient(ctx: AccessContext, asked: str | None) -> str:
    """The patient a patient or caregiver acts for: the one asked (checked by the policy on every read), else their
    own record; MedicationProblem when there is none."""
    if asked:
        if len(asked) > 64 or not all(c.isalnum() or c in "-." for c in asked):
            raise MedicationProblem("patient: a Patient id", status=422)
        return asked
    if (ctx.fhir_user or "").startswith("Patient/"):
        return ctx.fhir_user.removeprefix("Patient/")
    raise MedicationProblem("Say whose medicines: ?patient=<Patient id>", status=422)


def accounts_of(conn: Connection, reference: str) -> list[Any]:
    """The user accounts linked to a FHIR Patient, RelatedPerson or Practitioner (id, locale), and the family
    account a RelatedPerson stands for."""
    named = account_ids(conn, [reference])  # the family account a RelatedPerson stands for, if any
    return conn.execute(sa.select(user_account.c.id, user_account.c.locale)
                        .where(sa.or_(user_account.c.fhir_ref == reference, user_account.c.id.in_(named)))).all()
