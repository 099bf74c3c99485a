"""The access policy's decisions as SQL over the FHIR store: which rows a caller may see or touch.

A decision names the patients in reach; a resource is in reach when it is one of those Patient
resources or belongs to their Patient compartment (through the compartment's reference
parameters). Types outside the Patient compartment are directory records, not personal data.

Every part of a reach is answered from the search-index tables (reference, token and date rows,
each looked up by its leading (res_type, param, value) index) and the break-the-glass grants, at
the time the query runs: consents, care teams, referrals and grants take effect at once. The Consent shapes
read here are described in platform/security/policy.py.
"""

import dataclasses
from collections.abc import Callable
from functools import cache, lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables as t
from smartcare.fhir.errors import Forbidden, NotFound
from smartcare.fhir.search.extract import extract_index_rows
from smartcare.fhir.search.registry import patient_compartment_params
from smartcare.platform import clock
from smartcare.platform.security import break_glass, sensitivity
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import (
    ACCOUNT_SID,
    AWAITING_VERIFICATION,
    BED_KEEPERS,
    CONSENT_CATEGORY_SYSTEM,
    CONSENT_SCOPE_PRIVACY,
    CONSENT_SCOPE_SYSTEM,
    DIRECTORY_WRITERS,
    ENDED_TASK_STATUSES,
    INSTITUTION_TASK_CODES,
    OPEN_REFERRAL_STATUSES,
    PATIENT_ROLES,
    PROXY_ACCESS,
    REFERRAL_CATEGORY,
    REGIONAL_SHARING,
    TELECONSULT_SHARE,
    VERIFICATION_UPDATES,
    VERIFIED_STATUSES,
    WHOLE_RECORD_ROLES,
    AccessDenied,
    Decision,
    PatientReach,
    decide,
    patient_reach,
)
from smartcare.platform.settings import get_settings

R = t.resource


def _lightweight(table: sa.Table) -> sa.TableClause:
    """The same table as a lightweight clause: the policy's SQL takes dozens of aliases of the index tables, and
    an alias of a full Table costs 2.5 times the memory (its columns carry their schema), kept in the caches below.
    """
    return sa.table(table.name, *(sa.column(c.name, c.type) for c in table.c))


REF = _lightweight(t.idx_reference)
TOKEN = _lightweight(t.idx_token)
DATE = _lightweight(t.idx_date)

# How many of each kind of built condition a process keeps (least recently used go first). A clinician's whole
# condition for one resource type is about 0.7 MB of SQLAlchemy objects (measured with tracemalloc), so the caches
# below stay under about 300 MB at worst; a miss costs building it again (about 12 ms for a clinician's reach).
KEPT = 256

# Care relationships: (resource type, the parameter naming the practitioner, statuses that do not count).
CARE_LINKS = (
    ("Encounter", "practitioner", ("entered-in-error", "cancelled")),
    ("Appointment", "practitioner", ("entered-in-error", "cancelled")),
    ("ServiceRequest", "performer", ("entered-in-error", "revoked")),
)


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


def _refs(res_type: str, param: str, target_type: str, target: str | list[str]) -> sa.Select:
    """res_pk of res_type resources whose param refers to target_type/target (one id or a list of ids)."""
    match = REF.c.target_id == target if isinstance(target, str) else REF.c.target_id.in_(target)
    return sa.select(REF.c.res_pk).where(
        REF.c.res_type == res_type, REF.c.param == param, REF.c.target_type == target_type, match
    )


def _patients_of(res_type: str, pks: sa.Select) -> sa.Select:
    """The patient ids the `patient` parameter of the res_type resources pks names.

    Written as a join from pks so the planner walks the few linked resources through the res_pk
    index; as `res_pk IN (...)` SQLite scanned every patient reference of res_type instead.
    """
    linked = pks.subquery()
    named = REF.alias()
    return sa.select(named.c.target_id).select_from(linked).join(named, named.c.res_pk == linked.c[0]).where(
        named.c.res_type == res_type, named.c.param == "patient", named.c.target_type == "Patient"
    )


def _holds_token(pk: sa.ColumnElement, res_type: str, param: str, codes: tuple[str, ...],
                 system: str | None = None) -> sa.Exists:
    """The resource pk has a token param with one of codes (from system, if given)."""
    tok = TOKEN.alias()
    conds = [tok.c.res_pk == pk, tok.c.res_type == res_type, tok.c.param == param, tok.c.code.in_(codes)]
    if system is not None:
        conds.append(tok.c.system == system)
    return sa.exists().where(*conds)


def _cared_for(practitioner: str) -> list[sa.Select]:
    """Patients of the practitioner's encounters, appointments, referrals, active care teams, and of the open
    referrals to the departments they work in."""
    parts = []
    for res_type, param, void in CARE_LINKS:
        linked = _refs(res_type, param, "Practitioner", practitioner).where(
            ~_holds_token(REF.c.res_pk, res_type, "status", void)
        )
        parts.append(_patients_of(res_type, linked))
    teams = _refs("CareTeam", "participant", "Practitioner", practitioner).where(
        _holds_token(REF.c.res_pk, "CareTeam", "status", ("active",))
    )
    parts.append(_patients_of("CareTeam", teams))
    parts.append(_referred_to_department(practitioner))
    return parts


def _referred_to_department(practitioner: str) -> sa.Select:
    """Patients of open referrals (ServiceRequests of the referral category) performed by a HealthcareService the
    practitioner has a role in (policy.py).

    From the practitioner's roles (reference index by practitioner) to their services (by res_pk), to the requests
    performed by those services (by target id), each request's status read by res_pk and its ended Tasks found
    through Task.focus (by target id): every step an index lookup, so the cost follows the practitioner's
    departments' referrals, not the size of the store.
    """
    role, service, performer, request, focus = REF.alias(), REF.alias(), REF.alias(), R.alias(), REF.alias()
    ended_task = sa.exists().where(
        focus.c.res_type == "Task", focus.c.param == "focus", focus.c.target_id == request.c.res_id,
        focus.c.target_type == "ServiceRequest",
        _holds_token(focus.c.res_pk, "Task", "status", ENDED_TASK_STATUSES))
    open_requests = (
        sa.select(performer.c.res_pk)
        .select_from(role)
        .join(service, sa.and_(service.c.res_pk == role.c.res_pk, service.c.res_type == "PractitionerRole",
                               service.c.param == "service", service.c.target_type == "HealthcareService"))
        .join(performer, sa.and_(performer.c.res_type == "ServiceRequest", performer.c.param == "performer",
                                 performer.c.target_id == service.c.target_id,
                                 performer.c.target_type == "HealthcareService"))
        .join(request, request.c.pk == performer.c.res_pk)
        .where(role.c.res_type == "PractitionerRole", role.c.param == "practitioner",
               role.c.target_id == practitioner, role.c.target_type == "Practitioner",
               ~_holds_token(role.c.res_pk, "PractitionerRole", "active", ("false",)),
               _holds_token(performer.c.res_pk, "ServiceRequest", "status", OPEN_REFERRAL_STATUSES),
               _holds_token(performer.c.res_pk, "ServiceRequest", "category", (REFERRAL_CATEGORY[1],),
                            REFERRAL_CATEGORY[0]),
               ~ended_task)
    )
    return _patients_of("ServiceRequest", open_requests)


def _now_timestamp() -> sa.BindParameter:
    """The time a statement runs, as the date index stores it (epoch seconds), read when it is executed.

    Not when the statement is built: conditions with it can then be built once and kept (see reach_condition).
    """
    return sa.bindparam("consent_now", callable_=lambda: clock.now().timestamp(), type_=sa.Float, unique=True)


def _now_instant() -> sa.BindParameter:
    """The time a statement runs as an instant (how grants store it), read when it is executed."""
    return sa.bindparam("grant_now", callable_=lambda: clock.format_instant(clock.now()), type_=sa.String,
                        unique=True)


def _in_force(kind: str, pk: sa.ColumnElement, provision: str | None = "permit") -> list[sa.ColumnElement]:
    """Conditions on a Consent's pk: a Consent of kind (proxy-access, regional-sharing) in force now, whose
    provision.type is provision (permit, or deny for a resident's regional-sharing refusals; None: either).

    Each is checked on the Consent rows already chosen by patient, through the index tables'
    res_pk index, so the cost follows the patients asked about and not every Consent there is.
    """
    now = _now_timestamp()
    period = DATE.alias()
    conditions = [
        _holds_token(pk, "Consent", "category", (kind,), CONSENT_CATEGORY_SYSTEM),
        _holds_token(pk, "Consent", "status", ("active",)),
        _holds_token(pk, "Consent", "scope", (CONSENT_SCOPE_PRIVACY,), CONSENT_SCOPE_SYSTEM),
        ~sa.exists().where(period.c.res_pk == pk, period.c.res_type == "Consent", period.c.param == "period",
                           sa.or_(period.c.low > now, period.c.high < now)),
    ]
    if provision is not None:
        # provision.type has no search parameter; it is read from the Consent row itself.
        row = R.alias()
        conditions.append(sa.exists().where(row.c.pk == pk, row.c.deleted.is_(False),
                                            row.c.content[("provision", "type")].as_string() == provision))
    return conditions


def _booked_at(organizations: list[str]) -> sa.Select:
    """Patients with a standing Appointment at a department (HealthcareService) of one of the organisations.

    Whoever books a visit at a hospital is in its care from then on: the registration desk takes
    their fee and checks them in, the nurses triage them. A cancelled or entered-in-error booking
    does not count, so cancelling ends this reach at once.
    """
    departments = sa.select(R.c.res_id).where(R.c.pk.in_(
        _refs("HealthcareService", "organization", "Organization", organizations)))
    booked = _refs("Appointment", "actor", "HealthcareService", departments).where(
        ~_holds_token(REF.c.res_pk, "Appointment", "status", ("cancelled", "entered-in-error")))
    return _patients_of("Appointment", booked)


def _performed_by(organizations: list[str]) -> sa.Select:
    """Patients with an order (ServiceRequest) performed by a department of one of the organisations.

    A laboratory or radiology department works for every patient whose order it performs, whoever manages
    them: health centres send their samples to the district hospital's laboratory. The department is a
    HealthcareService provided by the organisation or by one of its departments (Organization.partOf).
    A revoked or entered-in-error order does not count; a completed one does (results are corrected later).
    """
    # Joins rather than nested IN subqueries: inside a search's whole reach, SQLite's parser runs out of depth.
    performer, service, provider, department, part_of = REF.alias(), R.alias(), REF.alias(), R.alias(), REF.alias()
    ordered = (
        sa.select(performer.c.res_pk)
        .join(service, sa.and_(service.c.res_type == "HealthcareService", service.c.res_id == performer.c.target_id))
        .join(provider, sa.and_(provider.c.res_pk == service.c.pk, provider.c.res_type == "HealthcareService",
                                provider.c.param == "organization", provider.c.target_type == "Organization"))
        .outerjoin(department, sa.and_(department.c.res_type == "Organization",
                                       department.c.res_id == provider.c.target_id))
        .outerjoin(part_of, sa.and_(part_of.c.res_pk == department.c.pk, part_of.c.res_type == "Organization",
                                    part_of.c.param == "partof"))
        .where(performer.c.res_type == "ServiceRequest", performer.c.param == "performer",
               performer.c.target_type == "HealthcareService",
               sa.or_(provider.c.target_id.in_(organizations), part_of.c.target_id.in_(organizations)),
               ~_holds_token(performer.c.res_pk, "ServiceRequest", "status", ("revoked", "entered-in-error")))
    )
    return _patients_of("ServiceRequest", ordered)


def _consenting(kind: str, patients: sa.Select | sa.CompoundSelect, actor: tuple[str, str] | None = None) -> sa.Select:
    """Those of patients who have a Consent of kind in force (naming actor (type, id) among its actors, if given)."""
    consent = REF.alias()
    conds = [consent.c.res_type == "Consent", consent.c.param == "patient", consent.c.target_type == "Patient",
             consent.c.target_id.in_(patients), *_in_force(kind, consent.c.res_pk)]
    if actor is not None:
        named = REF.alias()
        conds.append(sa.exists().where(
            named.c.res_pk == consent.c.res_pk, named.c.res_type == "Consent", named.c.param == "actor",
            named.c.target_type == actor[0], named.c.target_id == actor[1],
        ))
    return sa.select(consent.c.target_id).where(*conds)


@lru_cache(maxsize=KEPT)
def _proxied(related_person: str) -> sa.Select:
    """Patients the RelatedPerson is about who have a proxy Consent in force naming it."""
    row = R.alias()
    person = sa.select(row.c.pk).where(
        row.c.res_type == "RelatedPerson", row.c.res_id == related_person, row.c.deleted.is_(False),
        ~_holds_token(row.c.pk, "RelatedPerson", "active", ("false",)),
    )
    about = _patients_of("RelatedPerson", person)
    return _consenting(PROXY_ACCESS, about, ("RelatedPerson", related_person))


@lru_cache(maxsize=KEPT)
def _proxied_account(user_id: str) -> sa.Select:
    """Patients who made the account their proxy: a RelatedPerson about them whose identifier (ACCOUNT_SID) is
    user_id, not inactive, that a proxy Consent of theirs in force names."""
    person, about, consent, actor = R.alias(), REF.alias(), REF.alias(), REF.alias()
    tok = TOKEN.alias()
    return (
        sa.select(about.c.target_id)
        .select_from(tok)
        .join(person, person.c.pk == tok.c.res_pk)
        .join(about, about.c.res_pk == person.c.pk)
        .join(consent, consent.c.target_id == about.c.target_id)
        .join(actor, actor.c.res_pk == consent.c.res_pk)
        .where(
            tok.c.res_type == "RelatedPerson", tok.c.param == "identifier", tok.c.system == ACCOUNT_SID,
            tok.c.code == user_id,
            person.c.res_type == "RelatedPerson", person.c.deleted.is_(False),
            ~_holds_token(person.c.pk, "RelatedPerson", "active", ("false",)),
            about.c.res_type == "RelatedPerson", about.c.param == "patient", about.c.target_type == "Patient",
            consent.c.res_type == "Consent", consent.c.param == "patient", consent.c.target_type == "Patient",
            *_in_force(PROXY_ACCESS, consent.c.res_pk),
            actor.c.res_type == "Consent", actor.c.param == "actor", actor.c.target_type == "RelatedPerson",
            actor.c.target_id == person.c.res_id,
        )
    )


@lru_cache(maxsize=KEPT)
def _granted(user_id: str) -> sa.Select:
    """Patients of the user's break-the-glass grants that have not expired or been closed."""
    grant = break_glass.break_glass_grant
    return sa.select(grant.c.patient_id).where(
        grant.c.user_id == user_id, grant.c.ended.is_(None),
        grant.c.expires > _now_instant(),
    )


def _linked(patients: sa.Select | sa.CompoundSelect | sa.ColumnElement) -> sa.Select:
    """Patients the region's master patient index links to one of patients as the same person (policy.py).

    The MPI keeps each golden identity as a FHIR Person whose link.target names every source Patient record
    (an institution's registration) it holds; only the platform writes Person resources (check_write), so a
    clinician cannot join two records to widen their reach. patients may be a statement or one id column.
    """
    named, other = REF.alias(), REF.alias()
    match = named.c.target_id == patients if isinstance(patients, sa.ColumnElement) else named.c.target_id.in_(patients)
    return sa.select(other.c.target_id).select_from(named).join(other, other.c.res_pk == named.c.res_pk).where(
        named.c.res_type == "Person", named.c.param == "patient", named.c.target_type == "Patient", match,
        other.c.res_type == "Person", other.c.param == "patient", other.c.target_type == "Patient")


@lru_cache(maxsize=KEPT)
def _standing_parts(organizations: frozenset[str], practitioner: str | None,
                    performing: frozenset[str] = frozenset()) -> tuple[sa.Select, ...]:
    """The parts of a reach that do not depend on the time of day (organisations, care relationships).

    Built once per organisation set and practitioner: composing these statements cost more Python time than
    PostgreSQL took to run them. SQLAlchemy statements are immutable, so sharing them between requests is safe.
    """
    parts: list[sa.Select] = []
    if organizations:
        managed = _refs("Patient", "organization", "Organization", sorted(organizations))
        parts.append(sa.select(R.c.res_id).where(R.c.pk.in_(managed)))
        parts.append(_booked_at(sorted(organizations)))
    if practitioner:
        parts.extend(_cared_for(practitioner))
    if performing:
        parts.append(_performed_by(sorted(performing)))
    return tuple(parts)


def _reach_parts(reach: PatientReach) -> list[sa.Select]:
    """One SELECT of patient ids per way the reach covers patients."""
    parts: list[sa.Select] = []
    if reach.patients:
        parts.append(sa.select(R.c.res_id).where(R.c.res_type == "Patient", R.c.res_id.in_(sorted(reach.patients))))
    parts.extend(_standing_parts(reach.organizations, reach.practitioner, reach.performing))
    if reach.related_person:
        parts.append(_proxied(reach.related_person))
    if reach.account:
        parts.append(_proxied_account(reach.account))
    if reach.grantee:
        parts.append(_granted(reach.grantee))
    return parts


def patients_in_reach(reach: PatientReach) -> sa.Select | sa.CompoundSelect:
    """SQL for the ids of the patients a reach covers."""
    parts = _reach_parts(reach)
    if not parts:
        return sa.select(R.c.res_id).where(sa.false())
    direct = (parts[0] if len(parts) == 1 else sa.union(*parts)).cte()
    # The same person's records at other institutions (the MPI's links); what they hold still follows consent.
    return sa.union(sa.select(direct.c[0]), _linked(sa.select(direct.c[0])))


def _members(res_type: str, patients: sa.Select | sa.CompoundSelect) -> sa.Select:
    return sa.select(REF.c.res_pk).where(
        REF.c.res_type == res_type, REF.c.param.in_(patient_compartment_params(res_type)),
        REF.c.target_type == "Patient", REF.c.target_id.in_(patients),
    )


@lru_cache(maxsize=KEPT)
def _shared_records(res_type: str, practitioner: str) -> sa.Select:
    """Ids of the res_type records that teleconsult shares in force name for the practitioner (policy.py)."""
    actor, data = REF.alias(), REF.alias()
    return sa.select(data.c.target_id).select_from(actor).join(data, data.c.res_pk == actor.c.res_pk).where(
        actor.c.res_type == "Consent", actor.c.param == "actor", actor.c.target_type == "Practitioner",
        actor.c.target_id == practitioner, data.c.res_type == "Consent", data.c.param == "data",
        data.c.target_type == res_type, *_in_force(TELECONSULT_SHARE, actor.c.res_pk))


def _shared_condition(res_type: str, reach: PatientReach, table: sa.FromClause) -> sa.ColumnElement | None:
    if not reach.shared_with:
        return None
    return sa.and_(table.c.res_type == res_type, table.c.res_id.in_(_shared_records(res_type, reach.shared_with)))


@lru_cache(maxsize=KEPT)
def _owned_tasks(organization: str) -> sa.Select:
    """res_pk of the Tasks the organisation owns (Task.owner) with a code of INSTITUTION_TASK_CODES (policy.py)."""
    owner = REF.alias()
    return sa.select(owner.c.res_pk).where(
        owner.c.res_type == "Task", owner.c.param == "owner", owner.c.target_type == "Organization",
        owner.c.target_id == organization,
        sa.or_(*(_holds_token(owner.c.res_pk, "Task", "code", (code,), system)
                 for system, code in INSTITUTION_TASK_CODES)))


def _owned_condition(res_type: str, reach: PatientReach, table: sa.FromClause) -> sa.ColumnElement | None:
    if res_type != "Task" or not reach.owned_tasks:
        return None
    return sa.and_(table.c.res_type == res_type, table.c.pk.in_(_owned_tasks(reach.owned_tasks)))


def _with_addressed(usual: sa.ColumnElement, res_type: str, reach: PatientReach,
                    table: sa.FromClause) -> sa.ColumnElement:
    """usual, or a record in reach one by one: shared with the practitioner, or a Task addressed to the institution."""
    extra = [c for c in (_shared_condition(res_type, reach, table), _owned_condition(res_type, reach, table))
             if c is not None]
    return sa.or_(usual, *extra) if extra else usual


def reach_condition(res_type: str, reach: PatientReach | None, table: sa.FromClause = R) -> sa.ColumnElement | None:
    """A condition on fhir_resource rows of res_type limiting them to the reach (None: no limit).

    The condition holds only for rows of res_type (searches rely on it in place of a type test).
    """
    if reach is None or not is_personal(res_type):
        return None
    settings = get_settings()
    return _reach_condition(res_type, reach, table, settings.regional_sharing, settings.regional_withheld_categories)


@lru_cache(maxsize=KEPT)
def _reach_condition(res_type: str, reach: PatientReach, table: sa.FromClause, sharing: str,
                     withheld: tuple[str, ...]) -> sa.ColumnElement:
    """reach_condition, built once per caller's reach and kept: the statement is the same from one request to
    the next (its times are read when it runs), and composing it took a family doctor's search longer than
    running it (about 30 ms of 36 for one patient's results at 300 residents)."""
    return _with_addressed(_usual_condition(res_type, reach, table, sharing, withheld), res_type, reach, table)


def _usual_condition(res_type: str, reach: PatientReach, table: sa.FromClause, sharing: str,
                     withheld: tuple[str, ...]) -> sa.ColumnElement:
    # A CTE: the consent tests below look into the same patients again, and the database lists them once.
    visible = patients_in_reach(reach).cte()
    in_reach = sa.select(visible.c[0])
    if res_type == "Patient":
        # By pk, like every other condition on the search: with `res_id IN (...)` next to the search's
        # own `pk IN (...)`, SQLite paired every id with every match (100 ms for a name at 100k).
        patient = R.alias()
        return table.c.pk.in_(sa.select(patient.c.pk).where(patient.c.res_type == "Patient",
                                                            patient.c.res_id.in_(in_reach)))
    condition = table.c.pk.in_(_members(res_type, in_reach))
    if not reach.consent_for_others:
        return condition
    own = [table.c.source.is_(None)]
    if reach.own_source:
        own.append(table.c.source == reach.own_source)
    others = [_regionally_shared(res_type, visible, reach.own_source, table, sharing, withheld)]
    if reach.grantee:  # break-the-glass opens everything of the granted patients, whatever they chose
        others.append(table.c.pk.in_(_members(res_type, _granted(reach.grantee))))
    return sa.and_(condition, sa.or_(*own, *others))


def _regionally_shared(res_type: str, visible: sa.CTE, own_source: str | None, table: sa.FromClause, sharing: str,
                       withheld: tuple[str, ...]) -> sa.ColumnElement:
    """Another institution's record of a patient in reach (visible), shown to own_source under the patient's consent.

    Shown when the patient shares regionally (a regional-sharing permit Consent in force; with the region's
    opt-out default, also every patient without one), unless a regional-sharing deny Consent of theirs in force
    covers it (_refused), or, under opt-out, it carries a label the region withholds by default (withheld
    categories) and the patient has not chosen (no permit Consent). A choice made on any of the person's records
    (the MPI's Person links) counts for all of them.

    The Consents are looked up for the patients in reach only, once per statement, not once per row: per row,
    each database at some size began from every regional-sharing Consent in the region (a family doctor's
    Observation search took 4.8 s on SQLite and 1.1 s on PostgreSQL at 300 residents).
    """
    choices = _choices(visible)
    chose = table.c.pk.in_(_members(res_type, _choosing(choices, "permit")))
    refused = _refused(res_type, own_source, table, choices)
    if sharing != "opt-out":
        return sa.and_(chose, ~refused)
    conditions = [~refused]
    labels = sensitivity.labels_of(withheld)
    if labels:
        conditions.append(sa.or_(~_labelled(res_type, table, labels), chose))
    return sa.and_(*conditions)


def _choices(visible: sa.CTE) -> sa.CTE:
    """(Consent pk, patient, provision type) of the regional-sharing Consents in force that patients in reach hold.

    Every record the MPI links to a patient in reach is in reach too (policy.py), so this also finds a choice
    made on another record of the same person.
    """
    consent, row = REF.alias(), R.alias()
    provision = row.c.content[("provision", "type")].as_string()
    return sa.select(consent.c.res_pk, consent.c.target_id, provision.label("provision")).join_from(
        consent, row, row.c.pk == consent.c.res_pk).where(
        consent.c.res_type == "Consent", consent.c.param == "patient", consent.c.target_type == "Patient",
        consent.c.target_id.in_(sa.select(visible.c[0])), row.c.deleted.is_(False),
        *_in_force(REGIONAL_SHARING, consent.c.res_pk, None)).cte()


def _choosing(choices: sa.CTE, provision: str) -> sa.CompoundSelect:
    """The patients holding one of choices of the provision type, and every record the MPI links to them: a
    choice counts for all of the person's records."""
    holders = sa.select(choices.c.target_id).where(choices.c.provision == provision)
    return sa.union(holders, _linked(holders))


def _labelled(res_type: str, table: sa.FromClause, labels: list[str]) -> sa.Exists:
    """The row carries one of the sensitivity labels (meta.security, through the _security index)."""
    tok = TOKEN.alias()
    # Everything but tok comes from the enclosing query, so SQLAlchemy's auto-correlation does not bring its
    # own fhir_resource into the FROM list.
    return sa.exists().where(tok.c.res_pk == table.c.pk, tok.c.res_type == res_type, tok.c.param == "_security",
                             tok.c.system == sensitivity.label_system(), tok.c.code.in_(labels)).correlate_except(tok)


def _row_choice(res_type: str, table: sa.FromClause, choices: sa.CTE, provision: str,
                rules: Callable[[sa.ColumnElement], list[sa.ColumnElement]]) -> sa.ColumnElement:
    """One of choices (Consents of patients in reach) of the provision type, held by the row's patient or by a
    record the MPI links to them, for which rules(consent pk) hold.

    Asked only of rows of patients who hold such a choice (a list made once), then as nested EXISTS, each
    correlated on the one before, so every database walks them in the same order: the row's own compartment
    references (by its pk), then the choices and Person links of those patients.
    """
    def choice_of(patient: sa.ColumnElement) -> sa.Exists:
        return sa.exists().where(choices.c.target_id == patient, choices.c.provision == provision,
                                 *rules(choices.c.res_pk)).correlate_except(choices)

    def linked_choice(patient: sa.ColumnElement) -> sa.Exists:
        named, other = REF.alias(), REF.alias()
        held = sa.exists().where(
            other.c.res_pk == named.c.res_pk, other.c.res_type == "Person", other.c.param == "patient",
            other.c.target_type == "Patient", choice_of(other.c.target_id),
        ).correlate_except(other)
        return sa.exists().where(
            named.c.res_type == "Person", named.c.param == "patient", named.c.target_type == "Patient",
            named.c.target_id == patient, held,
        ).correlate_except(named)

    member = REF.alias()
    return sa.and_(table.c.pk.in_(_members(res_type, _choosing(choices, provision))), sa.exists().where(
        member.c.res_pk == table.c.pk, member.c.res_type == res_type,
        member.c.param.in_(patient_compartment_params(res_type)), member.c.target_type == "Patient",
        sa.or_(choice_of(member.c.target_id), linked_choice(member.c.target_id)),
    ).correlate_except(member))


def _refused(res_type: str, own_source: str | None, table: sa.FromClause, choices: sa.CTE) -> sa.ColumnElement:
    """One of choices (the regional-sharing Consents in force of patients in reach) of the row's patient, a deny,
    covers the row for own_source.

    A deny Consent covers a record when each of its restrictions is absent or matches: `provision.actor` (the
    institutions that may not see; absent: every other institution), `provision.data` with meaning `authoredby`
    (the institutions whose records are held back; absent: every sender) and `provision.securityLabel` (the
    sensitive categories held back; absent: every record). A deny with none of them withholds everything.
    The row's patient comes from its compartment references, the Consent's restrictions from its own index rows.
    """
    own_id = (own_source or "").removeprefix("Organization/")

    def restrictions(pk: sa.ColumnElement) -> list[sa.ColumnElement]:
        recipient, sender, label, tok = REF.alias(), REF.alias(), TOKEN.alias(), TOKEN.alias()

        def absent_or(alias: sa.FromClause, param: str, *match: sa.ColumnElement,
                      joined: tuple[sa.FromClause, ...] = ()) -> sa.ColumnElement:
            on = [alias.c.res_pk == pk, alias.c.res_type == "Consent", alias.c.param == param]
            return sa.or_(~sa.exists().where(*on).correlate_except(alias),
                          sa.exists().where(*on, *match).correlate_except(alias, *joined))

        return [
            absent_or(recipient, "actor", recipient.c.target_type == "Organization", recipient.c.target_id == own_id),
            absent_or(sender, "data", sender.c.target_type == "Organization",
                      sa.literal("Organization/").concat(sender.c.target_id) == table.c.source),
            # The row's own label joined in, not a further EXISTS: SQLite's parser has a fixed depth, and this
            # sits five subqueries down inside a search.
            absent_or(label, "security-label", label.c.system == sensitivity.label_system(),
                      tok.c.res_pk == table.c.pk, tok.c.res_type == res_type, tok.c.param == "_security",
                      tok.c.system == sensitivity.label_system(), tok.c.code == label.c.code, joined=(tok,)),
        ]

    return _row_choice(res_type, table, choices, "deny", restrictions)


def within_patient(reach: PatientReach | None, patient_id: str) -> PatientReach | None:
    """The reach as it applies to one patient already found in it: the same rules for that patient only.

    Checking a record of that patient against this narrow reach gives the same answer as against
    the whole reach, without building the list of every patient in it.
    """
    if reach is None:
        return None
    return dataclasses.replace(reach, patients=frozenset({patient_id}), organizations=frozenset(),
                               practitioner=None, related_person=None, account=None,
                               performing=frozenset(), owned_tasks=None)


def _reaches(reach: PatientReach, patient_id: str) -> sa.ColumnElement:
    """SQL true when patient_id is among the patients in reach.

    One EXISTS per part of the reach, each filtered to the patient, rather than one over their UNION: the
    database then looks the patient up in each part by index instead of listing every patient in reach
    (at the demo's size, 230 ms down to a few for a hospital doctor's Condition?patient= search on SQLite).
    """
    if patient_id in reach.patients:
        return sa.true()
    checks = []
    same_person = _linked(sa.literal(patient_id)).subquery()
    for part in _reach_parts(reach):
        ids = part.subquery()
        checks.append(sa.exists().where(ids.c[0] == patient_id))
        # Or a record of the same person that is in reach (through the MPI's Person links).
        checks.append(sa.exists().where(ids.c[0].in_(sa.select(same_person.c[0]))))
    if reach.patients:
        checks.append(sa.exists().where(same_person.c[0].in_(sorted(reach.patients))))
    return sa.or_(*checks) if checks else sa.false()


def search_restriction(ctx: AccessContext, res_type: str, table: sa.FromClause = R, *,
                       patient: str | None = None) -> sa.ColumnElement | None:
    """What ctx may find of res_type, as SQL; Forbidden if nothing at all.

    patient is the one patient the search itself is limited to (Observation?subject=Patient/1), if
    any: then only that patient is checked against the reach and their records against the rules,
    instead of gathering the records of every patient in reach. (A record shared with a second
    patient in reach is then shown only if the named patient is in reach: stricter, never wider.)
    """
    reach = decision(ctx, "search", res_type).reach
    if patient and reach is not None and res_type != "Patient" and is_personal(res_type):
        settings = get_settings()
        return _patient_restriction(res_type, reach, table, patient, settings.regional_sharing,
                                    settings.regional_withheld_categories)
    return reach_condition(res_type, reach, table)


@lru_cache(maxsize=4 * KEPT)
def _patient_restriction(res_type: str, reach: PatientReach, table: sa.FromClause, patient: str, sharing: str,
                         withheld: tuple[str, ...]) -> sa.ColumnElement:
    """search_restriction of a search limited to one patient, built once per reach and patient and kept, like
    _reach_condition (the statement reads its times when it runs): a patient's own pages search their record
    by patient, a dozen times a page."""
    narrow = _reach_condition(res_type, within_patient(reach, patient), table, sharing, withheld)
    return _with_addressed(sa.and_(_reaches(reach, patient), narrow), res_type, reach, table)


def check_row(conn: Connection, ctx: AccessContext, interaction: str, res_type: str, pk: int, *,
              res_id: str | None = None) -> None:
    """Refuse (404, not to reveal it exists) unless the stored row pk (res_id, if the caller knows it) is in reach."""
    reach = decision(ctx, interaction, res_type).reach
    if reach is not None and res_type == "Patient" and res_id is not None and res_id in reach.patients:
        return  # a stored Patient the reach names by id: what the SQL below would answer, without asking
    if reach is not None and res_type == "Patient" and res_id is not None:
        # That one patient looked up in each part of the reach, not every patient in reach listed.
        condition = _reaches(reach, res_id)
    else:
        condition = reach_condition(res_type, reach)
    if condition is not None and conn.execute(sa.select(R.c.pk).where(R.c.pk == pk, condition)).first() is None:
        raise NotFound(f"{res_type} not found")


def _compartment_patients(resource: dict) -> set[str]:
    params = set(patient_compartment_params(str(resource.get("resourceType"))))
    return {
        row["target_id"] for row in extract_index_rows(resource).get("reference", [])
        if row["param"] in params and row["target_type"] == "Patient" and row["target_id"]
    }


_BED_STATUS_ONLY = frozenset({"operationalStatus", "meta", "text"})
_LOCATION_HOPS = 6


def _stored(conn: Connection, res_type: str, res_id: str) -> dict | None:
    row = conn.execute(sa.select(R.c.content).where(R.c.res_type == res_type, R.c.res_id == res_id,
                                                    R.c.deleted.is_(False))).first()
    return row.content if row else None


def _location_of_organisation(conn: Connection, location: dict, organization: str) -> bool:
    """True when the Location (or a Location it is part of) is managed by the organisation or one of its
    departments (an Organization partOf it)."""
    for _ in range(_LOCATION_HOPS):
        managing = (location.get("managingOrganization") or {}).get("reference", "")
        if managing == organization:
            return True
        if managing.startswith("Organization/"):
            owner = _stored(conn, "Organization", managing.removeprefix("Organization/")) or {}
            if (owner.get("partOf") or {}).get("reference") == organization:
                return True
        parent = (location.get("partOf") or {}).get("reference", "")
        if not parent.startswith("Location/"):
            return False
        location = _stored(conn, "Location", parent.removeprefix("Location/")) or {}
    return False


def _check_bed_status_change(conn: Connection, ctx: AccessContext, resource: dict | None, pk: int | None) -> None:
    """Ward staff (not administrators) change only a Location's operational status, and only in their hospital."""
    stored = conn.execute(sa.select(R.c.content).where(R.c.pk == pk)).scalar_one_or_none() if pk is not None else None
    if stored is None or resource is None:
        raise Forbidden("Ward staff only update the status of existing beds")
    changed = {k for k in set(stored) | set(resource) if stored.get(k) != resource.get(k)}
    if changed - _BED_STATUS_ONLY:
        raise Forbidden(f"Ward staff change only a bed's operational status, not {sorted(changed - _BED_STATUS_ONLY)[0]}")
    if not ctx.organization or not _location_of_organisation(conn, stored, ctx.organization):
        raise Forbidden("That bed is not in your hospital")


def _consent_kind(resource: dict, kind: str) -> bool:
    return any(c.get("code") == kind for cat in resource.get("category") or () if isinstance(cat, dict)
               for c in cat.get("coding") or () if isinstance(c, dict))


def _is_teleconsult_share(resource: dict) -> bool:
    return _consent_kind(resource, TELECONSULT_SHARE)


def check_write(conn: Connection, ctx: AccessContext, interaction: str, res_type: str, resource: dict | None,
                pk: int | None) -> None:
    """Refuse a write unless both the stored version (if any) and the new content are in reach."""
    reach = decision(ctx, interaction, res_type).reach
    if res_type == "Consent" and not ctx.is_system and resource is not None and _is_teleconsult_share(resource):
        # A share opens records to the practitioners it names; only the remote consultation service, which
        # checks what the requester may share, writes one (otherwise anyone could list any record for themselves).
        raise Forbidden("Teleconsult shares are written by the remote consultation service only")
    if (res_type == "Consent" and ctx.kind == "user" and not ctx.roles & PATIENT_ROLES and resource is not None
            and _consent_kind(resource, REGIONAL_SHARING)):
        # Sharing decides what other institutions' staff see: only the resident (or their proxy) chooses it, in the
        # app; staff could otherwise open another institution's records by writing a consent for the patient.
        raise Forbidden("Only the resident (or their proxy) chooses what is shared across the region")
    if res_type == "Person" and not ctx.is_system and ctx.kind != "client":
        # A Person joins patient records as one person, and so widens whose records reach whom: only the master
        # patient index (the platform) and backend systems, which reach every patient already, write them.
        raise Forbidden("Person records (the region's identities) are kept by the master patient index only")
    if res_type == "Location" and ctx.roles & BED_KEEPERS and not ctx.roles & DIRECTORY_WRITERS and not ctx.is_system:
        _check_bed_status_change(conn, ctx, resource, pk)
    if reach is None or not is_personal(res_type):
        return
    if res_type == "MedicationRequest" and _verifier_only(ctx):
        _check_verification(conn, resource, pk)
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
        patients = _compartment_patients(resource)
        if not patients:
            raise Forbidden(f"A {res_type} you write must belong to a patient in your care")
    if res_type == "Task" and pk is not None and _keeps_addressed_task(conn, reach, resource, pk):
        return
    if patients <= reach.patients:
        # Only patients the reach names by id (the caller's own record, from their token): the SQL below
        # would find each of them among the stored Patients; a token is only issued for a stored one.
        return
    # Each patient looked up in the parts of the reach, rather than every patient in reach listed.
    for patient in sorted(patients):
        if not conn.execute(sa.select(_reaches(reach, patient))).scalar():
            raise Forbidden(f"The {res_type} refers to a patient outside your care")


def _verifier_only(ctx: AccessContext) -> bool:
    """A caller who writes a MedicationRequest only to record a pharmacist's check of it (policy.py)."""
    return (ctx.kind == "user" and not ctx.roles & WHOLE_RECORD_ROLES
            and any(("MedicationRequest", "update") in VERIFICATION_UPDATES.get(r, ()) for r in ctx.roles))


def _awaiting_verification(order: dict) -> bool:
    system, code = AWAITING_VERIFICATION
    return order.get("status") == "draft" and any(
        c.get("system") == system and c.get("code") == code
        for c in (order.get("statusReason") or {}).get("coding") or [] if isinstance(c, dict))


def _check_verification(conn: Connection, resource: dict | None, pk: int | None) -> None:
    """Refuse a pharmacist's write of a prescription unless it is their check of one that waits for it: from draft
    (awaiting the pharmacist) to active or cancelled, the status reason aside, everything else as it was."""
    refused = Forbidden("A pharmacist may read but not write MedicationRequest records")
    if pk is None or resource is None:
        raise refused
    stored = conn.execute(sa.select(R.c.content).where(R.c.pk == pk)).scalar_one_or_none()
    if not isinstance(stored, dict) or not _awaiting_verification(stored):
        raise refused
    if resource.get("status") not in VERIFIED_STATUSES:
        raise refused
    unchanged = ("meta", "status", "statusReason", "text")
    if {k: v for k, v in resource.items() if k not in unchanged} != {k: v for k, v in stored.items()
                                                                     if k not in unchanged}:
        raise refused


def _keeps_addressed_task(conn: Connection, reach: PatientReach, resource: dict, pk: int) -> bool:
    """The stored Task pk is addressed to the reach's institution (owned_tasks) and the new content keeps it so: the
    same owner, an institution code and the same patients (an administrator answers it, whoever the patient is)."""
    if not reach.owned_tasks:
        return False
    stored = conn.execute(sa.select(R.c.content).where(R.c.pk == pk, R.c.pk.in_(_owned_tasks(reach.owned_tasks)))
                          ).scalar_one_or_none()
    if stored is None:
        return False
    code, owner = resource.get("code"), resource.get("owner")
    codings = code.get("coding") if isinstance(code, dict) else None
    codes = {(c.get("system"), c.get("code")) for c in codings or () if isinstance(c, dict)}
    return (isinstance(owner, dict) and owner.get("reference") == f"Organization/{reach.owned_tasks}"
            and bool(codes & set(INSTITUTION_TASK_CODES))
            and _compartment_patients(resource) == _compartment_patients(stored))


def reached_through_grant(conn: Connection, ctx: AccessContext, touched: dict[str, list[str]]) -> set[str]:
    """The patients of touched (patient id -> "Type/id" refs served) that ctx reached only through a grant.

    That is a patient ctx holds an open break-the-glass grant for, and who, or one of whose
    served records, would be out of ctx's reach without it.
    """
    if ctx.kind != "user" or not touched:
        return set()
    try:
        reach = patient_reach(ctx)
    except AccessDenied:
        return set()
    if not reach.grantee:
        return set()
    granted = {row[0] for row in conn.execute(_granted(reach.grantee).where(
        break_glass.break_glass_grant.c.patient_id.in_(sorted(touched))))}
    if not granted:
        return set()
    usual = dataclasses.replace(reach, grantee=None)
    flagged = set()
    for patient in sorted(granted):
        by_type: dict[str, set[str]] = {"Patient": {patient}}
        for ref in touched[patient]:
            res_type, _, res_id = ref.partition("/")
            by_type.setdefault(res_type, set()).add(res_id)
        for res_type, ids in by_type.items():
            condition = reach_condition(res_type, usual)
            if condition is None:
                continue
            seen = conn.execute(sa.select(sa.func.count()).select_from(R).where(
                R.c.res_type == res_type, R.c.res_id.in_(sorted(ids)), R.c.deleted.is_(False), condition,
            )).scalar_one()
            if seen < len(ids):
                flagged.add(patient)
                break
    return flagged
