"""The register of supervised facilities and their licences: register a facility (linking a hospital or clinic to its
FHIR Organization), add, renew and revoke licences, and read them with each licence's status as of today.

Every read and write is audited (purpose HOPERAT); no person's data is in these records. Writes need a health
inspector or a regional administrator (access.require_writer); the caller's transaction commits them.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.public_health.districts import region_districts
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision import rules
from smartcare.regional.supervision.access import PURPOSE, require_reader, require_writer, today
from smartcare.regional.supervision.checklists import KINDS, checklists
from smartcare.regional.supervision.rules import SupervisionInvalid, SupervisionNotFound

LINKED_KINDS = ("hospital", "clinic")  # the kinds that are healthcare Organizations in the FHIR store
ORGANIZATIONS_LISTED = 200


def district_codes() -> tuple[str, ...]:
    """The codes of the region's districts, in the map file's order."""
    return tuple(d.code for d in region_districts())


def district_names(lang: str) -> dict[str, str]:
    """Each district's name in lang, by code."""
    return {d.code: d.name(lang) for d in region_districts()}


def _audit(conn: Connection, ctx: AccessContext, action: str, subtype: str, entity: str, description: str) -> None:
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, purpose=PURPOSE, entities=[entity],
                 description=f"health supervision: {description}"[:1000])


def _organization(conn: Connection, reference: str) -> dict[str, Any] | None:
    try:
        found = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=reference)).body
    except FhirError:
        return None
    return found if isinstance(found, dict) and found.get("resourceType") == "Organization" else None


def unregistered_organizations(conn: Connection, *, ctx: AccessContext) -> list[dict[str, str]]:
    """The healthcare providers of the directory (hospitals and health centres) not registered yet: id and name."""
    require_writer(ctx)
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="Organization", query=[
        ("type", "http://terminology.hl7.org/CodeSystem/organization-type|prov"), ("_sort", "name"),
        ("_count", str(ORGANIZATIONS_LISTED))])).body or {}
    found = [e["resource"] for e in bundle.get("entry", []) if (e.get("resource") or {}).get("id")]
    return [{"ref": f"Organization/{o['id']}", "name": str(o.get("name") or o["id"])[:200]} for o in found
            if repo.facility_of_organization(conn, f"Organization/{o['id']}") is None]


def register_facility(conn: Connection, *, ctx: AccessContext, kind: str, name: str, address: str = "",
                      district: str, organization_ref: str | None = None, beds: str | int | None = None
                      ) -> dict[str, Any]:
    """Register a facility for supervision; a hospital or clinic may name its FHIR Organization (once)."""
    require_writer(ctx)
    row = {
        "id": str(uuid.uuid4()), "kind": rules.choice(kind, KINDS, field="kind"),
        "name": rules.text(name, field="name", limit=rules.MAX_NAME),
        "address": rules.text(address, field="address", limit=rules.MAX_ADDRESS, required=False),
        "district": rules.choice(district, district_codes(), field="district"),
        "organization_ref": rules.organization_ref(organization_ref),
        "beds": rules.beds(beds),
        "status": "active", "created": clock.format_instant(clock.now()), "created_by": ctx.name[:255],
    }
    if row["organization_ref"]:
        if row["kind"] not in LINKED_KINDS:
            raise SupervisionInvalid(_("Only hospitals and clinics are linked to an organisation of the directory."),
                                     field="organization_ref")
        if _organization(conn, row["organization_ref"]) is None:
            raise SupervisionInvalid(_("Choose the organisation from the list."), field="organization_ref")
        if repo.facility_of_organization(conn, row["organization_ref"]) is not None:
            raise SupervisionInvalid(_("This organisation is registered already."), field="organization_ref")
    repo.insert_facility(conn, row)
    _audit(conn, ctx, "C", "create", f"SupervisedFacility/{row['id']}", f"registered a {row['kind']} facility")
    return row


def required_licence(kind: str) -> str | None:
    """The licence kind a facility of kind needs (None for schools)."""
    return checklists().kind(kind).licence


def current_licence(facility: dict[str, Any], licences: list[dict[str, Any]], on: date) -> dict[str, Any] | None:
    """The facility's newest licence of the kind it needs, with its status; None when it needs none or has none."""
    needed = required_licence(facility["kind"])
    found = next((lic for lic in licences if lic["facility_id"] == facility["id"] and lic["kind"] == needed), None)
    return with_status(found, on) if found else None


def with_status(licence: dict[str, Any], on: date) -> dict[str, Any]:
    """A licence row with its status as of on."""
    revoked = date.fromisoformat(licence["revoked_on"]) if licence.get("revoked_on") else None
    return {**licence, "status": rules.licence_status(expires=date.fromisoformat(licence["expires"]),
                                                      revoked_on=revoked, today=on)}


def licence_state(facility: dict[str, Any], licences: list[dict[str, Any]], on: date) -> str | None:
    """valid, expiring, expired, revoked, none (needed but never recorded) or None (no licence needed)."""
    if required_licence(facility["kind"]) is None:
        return None
    current = current_licence(facility, licences, on)
    return current["status"] if current else "none"


def get_facility(conn: Connection, *, ctx: AccessContext, facility_id: str, audited: bool = True) -> dict[str, Any]:
    """One facility (SupervisionNotFound if none), read with an audit entry unless the caller audits it."""
    require_reader(ctx)
    found = repo.facility(conn, str(facility_id)[:36])
    if found is None:
        raise SupervisionNotFound(facility_id)
    if audited:
        _audit(conn, ctx, "R", "read", f"SupervisedFacility/{found['id']}", "facility read")
    return found


def list_facilities(conn: Connection, *, ctx: AccessContext, kind: str = "", district: str = "",
                    licence: str = "", search: str = "") -> list[dict[str, Any]]:
    """Facilities narrowed by kind, district, licence state and a piece of the name, each with its licence state."""
    require_reader(ctx)
    kind = rules.choice(kind, ("", *KINDS), field="kind")
    district = rules.choice(district, ("", *district_codes()), field="district")
    licence = rules.choice(licence, ("", *rules.LICENCE_STATES), field="licence")
    search = rules.text(search, field="q", limit=rules.MAX_SEARCH, required=False)
    on = today()
    found = repo.facilities(conn, kind=kind or None, district=district or None, name_contains=search or None)
    held = repo.licences(conn, [f["id"] for f in found]) if found else []
    rows = [{**f, "licence_state": licence_state(f, held, on), "licence": current_licence(f, held, on)}
            for f in found]
    if licence:
        rows = [r for r in rows if r["licence_state"] == licence]
    _audit(conn, ctx, "R", "search", f"SupervisedFacility?kind={kind}&district={district}&licence={licence}",
           f"facilities listed: {len(rows)}")
    return rows


def add_licence(conn: Connection, *, ctx: AccessContext, facility_id: str, number: str, issued: str | date,
                expires: str | date | None = None) -> dict[str, Any]:
    """Record a licence (a new one or its renewal) of the kind the facility needs; the expiry defaults to the
    validity the rules give the facility (by its beds for a medical institution)."""
    require_writer(ctx)
    facility = get_facility(conn, ctx=ctx, facility_id=facility_id, audited=False)
    kind = required_licence(facility["kind"])
    if kind is None:
        raise SupervisionInvalid(_("This kind of facility needs no health licence."), field="number")
    number = rules.text(number, field="number", limit=rules.MAX_NUMBER)
    issued_on = rules.day(issued, field="issued")
    if issued_on > today():
        raise SupervisionInvalid(_("A licence cannot be issued in the future."), field="issued")
    years = checklists().licences[kind].years_for(facility["beds"])
    ends = rules.day(expires, field="expires") if expires else rules.add_years(issued_on, years)
    if ends <= issued_on:
        raise SupervisionInvalid(_("The expiry date must be after the issue date."), field="expires")
    row = {"id": str(uuid.uuid4()), "facility_id": facility["id"], "kind": kind, "number": number,
           "issued": issued_on.isoformat(), "expires": ends.isoformat(), "revoked_on": None, "revoked_reason": None,
           "created": clock.format_instant(clock.now()), "created_by": ctx.name[:255]}
    repo.insert_licence(conn, row)
    _audit(conn, ctx, "C", "create", f"FacilityLicence/{row['id']}", f"licence recorded for facility {facility['id']}")
    return with_status(row, today())


def revoke_licence(conn: Connection, *, ctx: AccessContext, licence_id: str, reason: str,
                   facility_id: str | None = None) -> dict[str, Any]:
    """Revoke a licence (of facility_id, when given) from today, with the reason."""
    require_writer(ctx)
    found = repo.licence(conn, str(licence_id)[:36])
    if found is None or (facility_id is not None and found["facility_id"] != facility_id):
        raise SupervisionNotFound(licence_id)
    if found["revoked_on"]:
        raise SupervisionInvalid(_("This licence is revoked already."), field="reason")
    reason = rules.text(reason, field="reason", limit=rules.MAX_REASON)
    on = today().isoformat()
    repo.revoke_licence(conn, found["id"], on=on, reason=reason)
    _audit(conn, ctx, "U", "update", f"FacilityLicence/{found['id']}", "licence revoked")
    return with_status({**found, "revoked_on": on, "revoked_reason": reason}, today())
