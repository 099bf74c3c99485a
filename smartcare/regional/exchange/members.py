"""Member institutions: an Organization with its Endpoints (FHIR base, MLLP feed), a backend OAuth client, and what
it sends; the platform's credentials for pulling from its server are kept sealed.

For pulling, the platform holds its own signing key per member (made at registration, ES384): the member registers
its public half (a JWKS) with its server, and the platform signs a SMART Backend Services assertion for each token.
A client secret the member's server gave instead is kept too, and used when no key is registered there.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.validation import known_resource_types
from smartcare.platform import audit, clock
from smartcare.platform.security import assertions, clients, sealing
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.regional.exchange.tables import exchange_member

# What a member's own token may do on the FHIR API: write (create, update), never read the region's records.
MEMBER_SCOPES = "system/*.cu"
# What a submission may do in the store on the member's behalf: also search, for conditional creates and
# conditional references inside its own bundles.
SUBMISSION_SCOPES = "system/*.cus"
CONNECTION_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
FEED_CODES = "urn:smartcare:exchange:feed"
FEEDS = ("hl7v2:ADT", "hl7v2:ORU")
DEFAULT_SENDS = ("Patient", "Encounter", "Observation", "Condition")
_ORG_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_URL = re.compile(r"(https?|mllp)://[^\s]{1,480}")


class MemberError(ValueError):
    """A member that cannot be registered or found; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Member:
    """A registered member institution."""

    organization: str  # Organization/<id>
    name: str
    client_id: str
    sends: tuple[str, ...]
    hl7_facility: str | None = None
    pull_base: str | None = None
    pull_token_url: str | None = None
    pull_client_id: str | None = None
    pull_since: str | None = None
    registered: str = ""

    @property
    def org_id(self) -> str:
        """The Organization's logical id."""
        return self.organization.split("/", 1)[1]


@dataclass(slots=True)
class Registered:
    """A member just registered, with its client's secret (shown once, never stored)."""

    member: Member
    client_secret: str
    endpoints: list[str] = field(default_factory=list)
    # The public key set of the platform's pull key, for the member to register with its server.
    pull_jwks: dict[str, Any] = field(default_factory=dict)


def _member(row: sa.Row) -> Member:
    return Member(row.organization, row.name, row.client_id, tuple(orjson.loads(row.sends)), row.hl7_facility,
                  row.pull_base, row.pull_token_url, row.pull_client_id, row.pull_since, row.registered)


def parse_sends(text: str | list[str] | None) -> tuple[str, ...]:
    """The resource types and feeds a member sends, from "Patient,Observation,hl7v2:ADT" or a list; checked."""
    items = text if isinstance(text, list) else [p.strip() for p in (text or "").replace(" ", ",").split(",")]
    items = [i for i in items if i]
    if not items:
        return DEFAULT_SENDS
    known = known_resource_types()
    unknown = [i for i in items if i not in known and i not in FEEDS]
    if unknown:
        raise MemberError(f"Not a FHIR resource type or feed ({', '.join(FEEDS)}): {', '.join(unknown)[:200]}")
    return tuple(dict.fromkeys(items))


def _endpoint(org_id: str, kind: str, address: str, sends: tuple[str, ...], name: str) -> dict[str, Any]:
    if kind == "fhir":
        connection, payload = "hl7-fhir-rest", [s for s in sends if s not in FEEDS] or list(DEFAULT_SENDS)
        codes = [{"coding": [{"system": RESOURCE_TYPES, "code": s}]} for s in payload]
    else:
        connection = "hl7v2-mllp"
        feeds = [s for s in sends if s in FEEDS] or list(FEEDS)
        codes = [{"coding": [{"system": FEED_CODES, "code": s}]} for s in feeds]
    return {
        "resourceType": "Endpoint", "id": f"exchange-{org_id}-{kind}"[:64], "status": "active",
        "connectionType": {"system": CONNECTION_TYPES, "code": connection},
        "name": f"{name} ({'FHIR' if kind == 'fhir' else 'HL7 v2 MLLP'})"[:200],
        "managingOrganization": {"reference": f"Organization/{org_id}"},
        "payloadType": codes, "address": address,
    }


def _check_url(value: str | None, what: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not _URL.fullmatch(value):
        raise MemberError(f"The {what} must be an http(s) or mllp URL of at most 480 characters")
    return value


def register_member(conn: Connection, ctx: AccessContext, *, org_id: str, name: str | None = None,
                    sends: str | list[str] | None = None, fhir_base: str | None = None,
                    mllp_address: str | None = None, hl7_facility: str | None = None) -> Registered:
    """Register an institution as a member: its Endpoints, its backend client (secret returned once) and its row."""
    if not _ORG_ID.fullmatch(org_id or ""):
        raise MemberError("An organisation id is 1-64 letters, digits, '-' or '.'")
    organization = f"Organization/{org_id}"
    if conn.execute(sa.select(exchange_member.c.organization)
                    .where(exchange_member.c.organization == organization)).first():
        raise MemberError(f"{organization} is already a member")
    try:
        org = store.read(conn, SYSTEM, res_type="Organization", res_id=org_id).resource or {}
    except FhirError:
        org = None
    if org is None:
        if not (name or "").strip():
            raise MemberError(f"{organization} is not in the directory: give its name to create it")
        org = {"resourceType": "Organization", "id": org_id, "name": name.strip()[:200], "active": True}
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Organization", org_id, org)])
    shown = (name or "").strip()[:200] or str(org.get("name") or org_id)[:200]
    kinds = parse_sends(sends)
    endpoints = []
    for kind, address in (("fhir", _check_url(fhir_base, "FHIR base URL")),
                          ("mllp", _check_url(mllp_address, "MLLP address"))):
        if address:
            resource = _endpoint(org_id, kind, address, kinds, shown)
            store.write_batch(conn, SYSTEM, [store.Write("PUT", "Endpoint", resource["id"], resource)])
            endpoints.append(f"Endpoint/{resource['id']}")
    if endpoints:
        with_endpoints = {**org, "endpoint": [{"reference": e} for e in endpoints]}
        with_endpoints.pop("meta", None)
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Organization", org_id, with_endpoints)])
    client, secret = clients.register_client(conn, name=f"Exchange {org_id}"[:100], kind="system",
                                             scopes=MEMBER_SCOPES, organization=organization)
    facility = (hl7_facility or "").strip()[:227] or None
    now = clock.format_instant(clock.now())
    conn.execute(exchange_member.insert().values(
        organization=organization, name=shown, client_id=client.client_id, sends=orjson.dumps(list(kinds)).decode(),
        hl7_facility=facility, pull_base=_check_url(fhir_base, "FHIR base URL"), registered=now))
    jwks = new_pull_key(conn, organization=organization)
    audit.record(conn, ctx=ctx, action="C", subtype="security-config", entities=[organization, *endpoints],
                 description=f"registered {organization} as an exchange member")
    return Registered(get_member(conn, organization=organization), secret or "", endpoints, jwks)


def _key_binding(organization: str) -> str:
    return f"exchange-pull-key:{organization}"


def new_pull_key(conn: Connection, *, organization: str, algorithm: str = "ES384") -> dict[str, Any]:
    """Make the platform a new signing key for pulling from a member (replacing any); returns its public JWKS."""
    private_pem = assertions.new_private_key(algorithm)
    done = conn.execute(exchange_member.update().where(exchange_member.c.organization == organization)
                        .values(pull_key=sealing.seal(private_pem, bound_to=_key_binding(organization))))
    if done.rowcount == 0:
        raise MemberError(f"{organization[:140]} is not a member")
    return assertions.public_key_set(private_pem)


def pull_key(conn: Connection, *, organization: str) -> str | None:
    """The platform's private signing key (PEM) for pulling from the member, unsealed; None when it has none."""
    sealed = conn.execute(sa.select(exchange_member.c.pull_key)
                          .where(exchange_member.c.organization == organization)).scalar()
    return sealing.unseal(sealed, bound_to=_key_binding(organization)) if sealed else None


def pull_key_set(conn: Connection, *, organization: str) -> dict[str, Any] | None:
    """The public JWKS of the platform's pull key for the member (to register on its server); None without one."""
    private_pem = pull_key(conn, organization=organization)
    return assertions.public_key_set(private_pem) if private_pem else None


def set_pull_credentials(conn: Connection, *, organization: str, base_url: str, token_url: str, client_id: str,
                         client_secret: str | None = None) -> None:
    """Keep the client id (and any secret, sealed) the platform uses to pull from the member's FHIR server.

    Without a secret the platform authenticates with its pull key alone (a signed assertion).
    """
    base = _check_url(base_url, "FHIR base URL")
    token = _check_url(token_url, "token URL")
    if not base or not token or not client_id.strip():
        raise MemberError("Pulling needs the FHIR base URL, the token URL and a client id")
    row = conn.execute(sa.select(exchange_member.c.pull_key)
                       .where(exchange_member.c.organization == organization)).first()
    if row is None:
        raise MemberError(f"{organization[:140]} is not a member")
    if not client_secret and not row.pull_key:
        raise MemberError("Pulling needs a client secret or the platform's pull key (smartcare exchange member "
                          "pull-key)")
    sealed = sealing.seal(client_secret, bound_to=f"exchange-pull:{organization}") if client_secret else None
    conn.execute(exchange_member.update().where(exchange_member.c.organization == organization).values(
        pull_base=base.rstrip("/"), pull_token_url=token, pull_client_id=client_id.strip()[:200],
        pull_secret=sealed))


def pull_secret(conn: Connection, *, organization: str) -> str | None:
    """The member server's client secret for pulling, unsealed; None when none is kept."""
    sealed = conn.execute(sa.select(exchange_member.c.pull_secret)
                          .where(exchange_member.c.organization == organization)).scalar()
    return sealing.unseal(sealed, bound_to=f"exchange-pull:{organization}") if sealed else None


def set_pull_since(conn: Connection, *, organization: str, since: str) -> None:
    """Remember the newest lastUpdated pulled from the member, where the next pull starts."""
    conn.execute(exchange_member.update().where(exchange_member.c.organization == organization)
                 .values(pull_since=since[:40]))


def get_member(conn: Connection, *, organization: str) -> Member:
    """The member registered as organization (Organization/<id> or the bare id); MemberError if none."""
    ref = organization if organization.startswith("Organization/") else f"Organization/{organization}"
    row = conn.execute(sa.select(exchange_member).where(exchange_member.c.organization == ref[:128])).first()
    if row is None:
        raise MemberError(f"{ref[:140]} is not a member")
    return _member(row)


def list_members(conn: Connection) -> list[Member]:
    """Every member, by name."""
    return [_member(r) for r in conn.execute(sa.select(exchange_member).order_by(exchange_member.c.name))]


def member_of_client(conn: Connection, *, client_id: str | None, organization: str | None) -> Member | None:
    """The member a backend client's token stands for: its client and organisation must both be the member's."""
    if not client_id or not organization:
        return None
    row = conn.execute(sa.select(exchange_member).where(exchange_member.c.client_id == client_id[:64])).first()
    if row is None or row.organization != organization:
        return None
    client = clients.get_client(conn, client_id=client_id)
    if client is None or client.disabled:
        return None
    return _member(row)


def member_of_facility(conn: Connection, *, facility: str) -> Member | None:
    """The member whose HL7 v2 feed names this sending facility (MSH-4), if any."""
    row = conn.execute(sa.select(exchange_member).where(exchange_member.c.hl7_facility == facility[:227])).first()
    return _member(row) if row else None


def submission_context(member: Member, *, remote_addr: str | None = None) -> AccessContext:
    """The store context a member's submission is written under: a backend client acting for its organisation,
    so the store stamps every resource's meta.source with it."""
    return AccessContext(kind="client", name=f"exchange {member.org_id}", roles=frozenset({"system"}),
                         organization=member.organization, remote_addr=remote_addr, subject=member.client_id,
                         scopes=parse_scopes(SUBMISSION_SCOPES))
