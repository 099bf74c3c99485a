"""The access policy's decisions as SQL over the FHIR store: which rows a caller may see or touch.

A decision names the patients in reach; a resource is in reach when it is one of those Patient
resources or belongs to their Patient compartment (through the compartment's reference
parameters). Types outside the Patient compartment are directory records, not personal data.
"""

from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables as t
from smartcare.fhir.errors import Forbidden, NotFound
from smartcare.fhir.search.extract import extract_index_rows
from smartcare.fhir.search.registry import patient_compartment_params
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied, Decision, PatientReach, decide

R = t.resource
REF = t.idx_reference


@cache
def is_personal(res_type: str) -> bool:
    """True for Patient and every type in the Patient compartment (personal health data)."""
    return res_type == "Patient" or bool(patient_compartment_params(res_type))


def decision(ctx: AccessContext, interaction: str, res_type: str) -> Decision:
    """The policy's decision, or Forbidden (NotFound where existence must not leak)."""
    try:
        return decide(ctx, interaction, res_type, personal=is_personal(res_type))
    except AccessDenied as exc:
        if exc.reveal:
            raise Forbidden(str(exc)) from exc
        raise NotFound(f"{res_type} not found") from exc


def patients_in_reach(reach: PatientReach) -> sa.Select:
    """SQL for the ids of the patients a reach covers."""
    parts: list[sa.Select] = []
    if reach.patients:
        parts.append(sa.select(R.c.res_id).where(R.c.res_type == "Patient", R.c.res_id.in_(sorted(reach.patients))))
    if reach.organizations:
        managed = sa.select(REF.c.res_pk).where(
            REF.c.res_type == "Patient", REF.c.param == "organization", REF.c.target_type == "Organization",
            REF.c.target_id.in_(sorted(reach.organizations)),
        )
        parts.append(sa.select(R.c.res_id).where(R.c.pk.in_(managed)))
    if reach.practitioner:
        encounters = sa.select(REF.c.res_pk).where(
            REF.c.res_type == "Encounter", REF.c.param == "practitioner", REF.c.target_type == "Practitioner",
            REF.c.target_id == reach.practitioner,
        )
        subject = REF.alias("cared_for")
        parts.append(
            sa.select(subject.c.target_id).where(
                subject.c.res_pk.in_(encounters), subject.c.res_type == "Encounter",
                subject.c.param == "patient", subject.c.target_type == "Patient",
            )
        )
    if not parts:
        return sa.select(R.c.res_id).where(sa.false())
    return parts[0] if len(parts) == 1 else sa.union(*parts)


def reach_condition(res_type: str, reach: PatientReach | None, table: sa.FromClause = R) -> sa.ColumnElement | None:
    """A condition on fhir_resource rows of res_type limiting them to the reach (None: no limit)."""
    if reach is None or not is_personal(res_type):
        return None
    visible = patients_in_reach(reach)
    if res_type == "Patient":
        return table.c.res_id.in_(visible)
    members = sa.select(REF.c.res_pk).where(
        REF.c.res_type == res_type, REF.c.param.in_(patient_compartment_params(res_type)),
        REF.c.target_type == "Patient", REF.c.target_id.in_(visible),
    )
    return table.c.pk.in_(members)


def search_restriction(ctx: AccessContext, res_type: str, table: sa.FromClause = R) -> sa.ColumnElement | None:
    """What ctx may find of res_type, as SQL; Forbidden if nothing at all."""
    return reach_condition(res_type, decision(ctx, "search", res_type).reach, table)


def check_row(conn: Connection, ctx: AccessContext, interaction: str, res_type: str, pk: int) -> None:
    """Refuse (404, not to reveal it exists) unless the stored row pk is in ctx's reach."""
    condition = reach_condition(res_type, decision(ctx, interaction, res_type).reach)
    if condition is not None and conn.execute(sa.select(R.c.pk).where(R.c.pk == pk, condition)).first() is None:
        raise NotFound(f"{res_type} not found")


def check_write(conn: Connection, ctx: AccessContext, interaction: str, res_type: str, resource: dict | None,
                pk: int | None) -> None:
    """Refuse a write unless both the stored version (if any) and the new content are in reach."""
    reach = decision(ctx, interaction, res_type).reach
    if reach is None or not is_personal(res_type):
        return
    if pk is not None:
        check_row(conn, ctx, interaction, res_type, pk)
    if resource is None:
        return
    if res_type == "Patient":
        patients = {resource.get("id")} if pk is not None else set()
        if pk is None and not reach.organizations:
            raise Forbidden("Only staff of an organisation register new patients")
        if pk is None:
            managing = (resource.get("managingOrganization") or {}).get("reference", "")
            if managing.removeprefix("Organization/") not in reach.organizations:
                raise Forbidden("New patients must be managed by your own organisation")
            return
    else:
        params = set(patient_compartment_params(res_type))
        patients = {
            row["target_id"] for row in extract_index_rows(resource).get("reference", [])
            if row["param"] in params and row["target_type"] == "Patient" and row["target_id"]
        }
        if not patients:
            raise Forbidden(f"A {res_type} you write must belong to a patient in your care")
    visible = patients_in_reach(reach).subquery()
    found = conn.execute(sa.select(sa.func.count()).select_from(visible).where(visible.c[0].in_(sorted(patients))))
    if found.scalar_one() < len(patients):
        raise Forbidden(f"The {res_type} refers to a patient outside your care")
