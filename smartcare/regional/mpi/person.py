"""Each golden identity as a FHIR Person, so the rest of the platform knows which records are one resident's.

The MPI's own tables (tables.py) hold identities, links, history and reviews; the FHIR store holds, for every
identity that joins two or more source records, a `Person/<identity>` whose `link.target` names each source
Patient (an institution's registration), with the assurance of the link (level4 for a checked national identity
number or a person's decision, level3 for the model's automatic link). The access policy reads those links
(fhir/access.py `_linked`): a clinician who reaches one of a resident's records reaches the resident's records
at the other institutions, under the resident's regional-sharing consent, and a resident sees all of theirs;
the regional record gathers a resident's records through them.

`sync` is called after every change of the index (identities._event), inside the same transaction, so the Person
and the index never disagree. A merged identity's Person keeps no links and is marked inactive (the identity it
was merged into now names them); an unmerge restores both. Only the platform writes Person resources.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir import tables as t
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.mpi.tables import mpi_identity, mpi_link

ASSURANCE = {"national-id": "level4", "manual": "level4"}  # others (probabilistic, new): level3
MPI_TAG = {"system": "https://smartcare.example/fhir/CodeSystem/mpi", "code": "golden-identity"}


def person_id(identity_id: str) -> str:
    """The FHIR id of an identity's Person (identity ids are already valid FHIR ids)."""
    return identity_id


def _stored(conn: Connection, pid: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(t.resource.c.content).where(
        t.resource.c.res_type == "Person", t.resource.c.res_id == pid, t.resource.c.deleted.is_(False))).first()
    return row.content if row else None


def resource_for(identity_id: str, active: bool, links: list[tuple[str, str]]) -> dict[str, Any]:
    """The Person of an identity: links are (Patient/<id>, method) pairs, in a stable order."""
    made: dict[str, Any] = {"resourceType": "Person", "id": person_id(identity_id), "meta": {"tag": [MPI_TAG]},
                            "active": active}
    if links:
        made["link"] = [{"target": {"reference": source}, "assurance": ASSURANCE.get(method, "level3")}
                        for source, method in sorted(links)]
    return made


def sync(conn: Connection, identity_ids: set[str]) -> None:
    """Write the Person of each identity (and of the identity each was merged into) as the index has it now."""
    from smartcare.regional.mpi import identities  # identities calls sync after each change

    wanted = {i for i in identity_ids if i}
    wanted |= set(identities.effective(conn, wanted).values())
    writes = []
    for identity_id in sorted(wanted):
        row = conn.execute(sa.select(mpi_identity.c.status).where(
            mpi_identity.c.identity_id == identity_id)).first()
        if row is None:
            continue
        active = row.status == identities.ACTIVE
        sources = identities.sources_of(conn, identity_id) if active else []
        methods = dict(conn.execute(sa.select(mpi_link.c.source, mpi_link.c.method).where(
            mpi_link.c.source.in_(sources))).all()) if sources else {}
        links = [(s, methods.get(s, "")) for s in sources]
        before = _stored(conn, person_id(identity_id))
        if before is None and len(links) < 2:
            continue  # one record alone needs no Person: nothing to join
        made = resource_for(identity_id, active, links)
        if before is not None and {k: v for k, v in before.items() if k != "meta"} == \
                {k: v for k, v in made.items() if k != "meta"}:
            continue
        writes.append(store.Write("PUT", "Person", person_id(identity_id), made))
    if writes:
        store.write_batch(conn, SYSTEM, writes)
