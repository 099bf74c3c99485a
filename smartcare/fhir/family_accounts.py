"""The SmartCare accounts that RelatedPersons stand for (family accounts, security/policy.ACCOUNT_SID).

A caregiver's own account is linked to its RelatedPerson the old way (user_account.fhir_ref); a family member's
account that a patient made their proxy (patient/family_access) is named instead by the RelatedPerson's identifier
in ACCOUNT_SID, since one account may look after several people. Notices meant for a RelatedPerson (a fall alert,
a missed dose) go to either.
"""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables as t
from smartcare.platform.security.policy import ACCOUNT_SID


def account_ids(conn: Connection, references: Iterable[str]) -> list[str]:
    """The user ids the RelatedPersons at references (others are ignored) name in ACCOUNT_SID, if not deleted."""
    ids = sorted({r.removeprefix("RelatedPerson/") for r in references if r.startswith("RelatedPerson/")})
    if not ids:
        return []
    token, row = t.idx_token, t.resource
    query = (sa.select(token.c.code).select_from(token).join(row, row.c.pk == token.c.res_pk)
             .where(token.c.res_type == "RelatedPerson", token.c.param == "identifier", token.c.system == ACCOUNT_SID,
                    row.c.res_type == "RelatedPerson", row.c.res_id.in_(ids), row.c.deleted.is_(False))
             .distinct())
    return sorted(str(code) for (code,) in conn.execute(query) if code)
