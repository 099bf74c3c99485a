"""The SmartCare accounts that open a patient's record in the app: the patient's own, and those of the people who
look after them (a caregiver's account linked to a RelatedPerson, a family account a RelatedPerson names in
policy.ACCOUNT_SID), each only while the access policy lets it reach the patient (the RelatedPerson active, a
proxy Consent in force naming it). Notices about a patient's care go to these accounts.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables as t
from smartcare.fhir.access import patients_in_reach
from smartcare.fhir.family_accounts import account_ids
from smartcare.platform.security.policy import PatientReach
from smartcare.platform.security.tables import user_account


@dataclass(frozen=True, slots=True)
class Account:
    """An account that reads the patient's record: its id, its language, and whether it is the patient's own."""

    id: str
    locale: str
    own: bool


def _related_people(conn: Connection, patient_id: str) -> list[str]:
    """The ids of the RelatedPersons about the patient (not deleted)."""
    ref, row = t.idx_reference, t.resource
    query = (sa.select(row.c.res_id).select_from(ref).join(row, row.c.pk == ref.c.res_pk)
             .where(ref.c.res_type == "RelatedPerson", ref.c.param == "patient", ref.c.target_type == "Patient",
                    ref.c.target_id == patient_id, row.c.res_type == "RelatedPerson", row.c.deleted.is_(False))
             .distinct())
    return sorted(conn.execute(query).scalars())


def _reaches(conn: Connection, reach: PatientReach, patient_id: str) -> bool:
    patients = patients_in_reach(reach).subquery()
    return bool(conn.execute(sa.select(sa.exists().where(patients.c[0] == patient_id))).scalar())


def accounts_for(conn: Connection, patient_id: str) -> list[Account]:
    """The unlocked accounts that open the patient's record: their own first, then those who look after them now,
    each once, in a stable order."""
    people = _related_people(conn, patient_id)
    references = [f"RelatedPerson/{p}" for p in people]
    family = account_ids(conn, references)
    wanted = [user_account.c.fhir_ref == f"Patient/{patient_id}"]
    if references:
        wanted.append(user_account.c.fhir_ref.in_(references))
    if family:
        wanted.append(user_account.c.id.in_(family))
    rows = conn.execute(sa.select(user_account.c.id, user_account.c.locale, user_account.c.fhir_ref)
                        .where(sa.or_(*wanted), user_account.c.locked.is_(False)).order_by(user_account.c.id)).all()
    found: list[Account] = []
    for row in rows:
        own = row.fhir_ref == f"Patient/{patient_id}"
        if not own:
            linked = (row.fhir_ref or "").removeprefix("RelatedPerson/") if (row.fhir_ref or "").startswith(
                "RelatedPerson/") else None
            if not _reaches(conn, PatientReach(related_person=linked, account=row.id), patient_id):
                continue
        found.append(Account(id=row.id, locale=row.locale or "en", own=own))
    return sorted(found, key=lambda a: not a.own)
