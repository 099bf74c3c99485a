"""Patient/[id]/$everything: the patient, everything in their compartment, and what that refers to."""

from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import access, store
from smartcare.fhir import tables as t
from smartcare.fhir.errors import BadRequest, Forbidden, NotFound
from smartcare.fhir.history import instant_bound
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.operations import operation
from smartcare.fhir.search.registry import all_resource_types, patient_compartment_params
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

R = t.resource
REF = t.idx_reference


def _compartment_pairs() -> list[tuple[str, str]]:
    return [(rt, code) for rt in all_resource_types() for code in patient_compartment_params(rt)]


def _member_query(patient_id: str, types: set[str] | None) -> sa.Select:
    """pks of resources in the Patient compartment of patient_id."""
    pairs = [(rt, code) for rt, code in _compartment_pairs() if types is None or rt in types]
    if not pairs:
        return sa.select(REF.c.res_pk).where(sa.false())
    # The separate IN lists let the index (res_type, param, target_id) be seeked for each pair; the
    # tuple test alone made SQLite scan the whole index.
    return sa.select(REF.c.res_pk).where(
        REF.c.res_type.in_(sorted({rt for rt, _ in pairs})),
        REF.c.param.in_(sorted({code for _, code in pairs})),
        REF.c.target_id == patient_id,
        REF.c.target_type == "Patient",
        sa.tuple_(REF.c.res_type, REF.c.param).in_(pairs),
    )


def _visible(conn: Connection, ctx: AccessContext, patient_id: str, rows: list) -> set[int]:
    """The pks of rows ctx may see, asking the policy once per resource type on the page.

    The patient passed the policy already; their records are checked against the same rules for
    them alone (access.within_patient). Types the role does not see at all (a pharmacist and
    Encounters) are left out.
    """
    by_type: dict[str, list[int]] = {}
    for row in rows:
        by_type.setdefault(row.res_type, []).append(row.pk)
    visible: set[int] = set()
    for res_type, pks in by_type.items():
        try:
            reach = access.decision(ctx, "search", res_type).reach
        except (Forbidden, NotFound):
            continue
        limit = access.reach_condition(res_type, access.within_patient(reach, patient_id))
        if limit is None:
            visible.update(pks)
        else:
            visible.update(conn.execute(sa.select(R.c.pk).where(R.c.pk.in_(pks), limit)).scalars())
    return visible


@operation("everything")
def everything(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET Patient/[id]/$everything with optional _since, _type, _count and _offset."""
    if req.method not in ("GET", "POST") or len(target) != 2 or target[0] != "Patient":
        raise BadRequest("$everything is Patient/[id]/$everything")
    patient = store.read(conn, ctx, res_type="Patient", res_id=target[1])
    params = dict(req.query)
    types = None
    if params.get("_type"):
        types = {x.strip() for x in params["_type"].split(",") if x.strip()}
        unknown = types - set(all_resource_types())
        if unknown:
            raise BadRequest(f"_type names unknown resource types: {', '.join(sorted(unknown))[:200]}")
    since = instant_bound("_since", params.get("_since"))
    settings = get_settings()
    count = min(int(params["_count"]), settings.max_page_size) if params.get("_count", "").isdigit() else 100
    offset = int(params["_offset"]) if params.get("_offset", "").isdigit() else 0

    members = _member_query(patient.res_id, types)
    own = sa.select(R.c.pk).where(R.c.res_type == "Patient", R.c.res_id == patient.res_id)
    # What the patient and their records refer to: practitioners, organisations, locations ...
    referenced = sa.select(R.c.pk).join(
        REF, sa.and_(R.c.res_type == REF.c.target_type, R.c.res_id == REF.c.target_id)
    ).where(REF.c.res_pk.in_(sa.union(own, members)), REF.c.target_type != "Patient")
    if types is not None:
        referenced = referenced.where(R.c.res_type.in_(types))
    scope = sa.union(own, members, referenced).subquery()
    conds = [R.c.pk.in_(sa.select(scope.c[0])), R.c.deleted.is_(False)]
    if since:
        conds.append(R.c.last_updated >= since)
    rows = conn.execute(
        sa.select(R.c.pk, R.c.res_type, R.c.res_id, R.c.content, R.c.last_updated)
        .where(*conds)
        .order_by(R.c.res_type, R.c.last_updated, R.c.pk)
        .limit(count + 1)
        .offset(offset)
    ).all()
    visible = _visible(conn, ctx, patient.res_id, rows[:count])
    entries = [
        {"fullUrl": f"{req.base_url}/{row.res_type}/{row.res_id}", "resource": row.content, "search": {"mode": "match"}}
        for row in rows[:count] if row.pk in visible
    ]
    base = [(k, v) for k, v in req.query if k not in ("_count", "_offset")]
    link_base = f"{req.base_url}/Patient/{patient.res_id}/$everything?"
    links = [{"relation": "self", "url": link_base + urlencode([*base, ("_count", count), ("_offset", offset)])}]
    if len(rows) > count:
        links.append({"relation": "next", "url": link_base + urlencode([*base, ("_count", count), ("_offset", offset + count)])})
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    return FhirResponse(200, bundle)
