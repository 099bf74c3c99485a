"""Pulling from a member's FHIR server: a backend-services client (client credentials) asking only for what is new.

The member's server gave the platform a client. The platform authenticates as SMART Backend Services do: a JWT
assertion signed with its own pull key for that member (private_key_jwt), whose public half the member registered.
A secret the member's server gave instead (client_secret_basic, kept sealed) is the fallback: used when no key is
kept, or when the member's server refuses the assertion (its keys not registered yet). Each resource type the
member sends is searched with
`_lastUpdated=gt<newest pulled so far>`, page by page, and what comes back is submitted like any batch (entry by
entry, stamped with the member, with a Provenance). Every hour a job does this for every member with credentials.
"""

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.security import assertions
from smartcare.regional.exchange import members, submissions

log = logging.getLogger(__name__)
PULL_ALL_JOB = "exchange.pull"
PULL_MEMBER_JOB = "exchange.pull-member"
PAGE_SIZE = 100
MAX_RESOURCES = submissions.MAX_ENTRIES
TIMEOUT_SECONDS = 30.0


class PullFailed(Exception):
    """A pull that could not be done (no credentials, the member's server refused or answered nonsense)."""


def _pull_scope(member: members.Member) -> str:
    """Read and search access to the resource types the member sends, and nothing more."""
    return " ".join(f"system/{t}.rs" for t in member.sends if t not in members.FEEDS)


def token_for(http: httpx.Client, member: members.Member, secret: str | None,
              private_key: str | None = None) -> str:
    """An access token from the member's token endpoint for the platform's client (client credentials).

    With a private key the platform signs an assertion (private_key_jwt) and asks for the scopes of what the member
    sends, as Backend Services do; when there is no key, or the member's server refuses the assertion with 401 and
    a secret is kept, it authenticates with the secret (Basic) as before.
    """
    if private_key:
        scope = {"scope": _pull_scope(member)} if _pull_scope(member) else {}
        assertion = assertions.sign_assertion(private_key, client_id=member.pull_client_id or "",
                                              token_url=member.pull_token_url or "", now=clock.now())
        answer = _ask_token(http, member, data={"grant_type": "client_credentials", **scope,
                                                "client_assertion_type": assertions.ASSERTION_TYPE,
                                                "client_assertion": assertion})
        if answer.status_code != 401 or not secret:
            return _access_token(answer)
        log.warning("%s refused the platform's signed assertion (%s); using the client secret instead",
                    member.organization, answer.text[:200])
    answer = _ask_token(http, member, data={"grant_type": "client_credentials"},
                        auth=(member.pull_client_id or "", secret or ""))
    return _access_token(answer)


def _ask_token(http: httpx.Client, member: members.Member, **request: Any) -> httpx.Response:
    try:
        return http.post(member.pull_token_url or "", **request)
    except httpx.HTTPError as exc:
        raise PullFailed(f"The member's token endpoint could not be reached: {exc}") from exc


def _access_token(answer: httpx.Response) -> str:
    if answer.status_code != 200:
        raise PullFailed(f"The member's token endpoint answered {answer.status_code}: {answer.text[:200]}")
    try:
        token = answer.json().get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise PullFailed("The member's token endpoint gave no access_token")
    return token


def same_server(url: str, base: str) -> bool:
    """True when url is on the same scheme and host (and port) as base."""
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def fetch_new(http: httpx.Client, member: members.Member, token: str) -> list[dict[str, Any]]:
    """Every resource of the types the member sends that changed after its pull_since, oldest first per type."""
    base = (member.pull_base or "").rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    found: list[dict[str, Any]] = []
    for res_type in [s for s in member.sends if s not in members.FEEDS]:
        url: str | None = f"{base}/{res_type}"
        params: dict[str, str] | None = {"_count": str(PAGE_SIZE), "_sort": "_lastUpdated"}
        if member.pull_since:
            params["_lastUpdated"] = f"gt{member.pull_since}"
        while url:
            try:
                answer = http.get(url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise PullFailed(f"{res_type} search failed: {exc}") from exc
            if answer.status_code != 200:
                raise PullFailed(f"{res_type} search answered {answer.status_code}: {answer.text[:200]}")
            page = answer.json()
            if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                raise PullFailed(f"{res_type} search did not answer with a Bundle")
            for entry in page.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") == res_type:
                    found.append(resource)
            if len(found) > MAX_RESOURCES:
                raise PullFailed(f"More than {MAX_RESOURCES} new resources: pull more often")
            nxt = next((link.get("url") for link in page.get("link") or [] if link.get("relation") == "next"), None)
            url = nxt if isinstance(nxt, str) and same_server(nxt, base) else None
            params = None
    return found


def _as_sent(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without the member server's own bookkeeping (version, lastUpdated, source): ours replace them."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated", "source")}
    out = {k: v for k, v in resource.items() if k != "meta"}
    return {**out, "meta": meta} if meta else out


def pull_member(*, organization: str, engine: Engine | None = None,
                transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Pull what is new on one member's server and submit it; returns the submission report."""
    with unit_of_work(engine) as conn:
        member = members.get_member(conn, organization=organization)
        secret = members.pull_secret(conn, organization=member.organization)
        private_key = members.pull_key(conn, organization=member.organization)
    if not member.pull_base or not member.pull_token_url or not member.pull_client_id or not (secret or private_key):
        raise PullFailed(f"{member.organization} has no pull credentials (smartcare exchange member pull-from)")
    with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport, follow_redirects=False) as http:
        resources = fetch_new(http, member, token_for(http, member, secret, private_key))
    if not resources:
        return {"member": member.organization, "kind": "pull", "status": "accepted", "submission": None,
                "received": clock.format_instant(clock.now()),
                "counts": {"entries": 0, "accepted": 0, "rejected": 0, "warnings": 0},
                "accepted": [], "rejected": [], "warnings": [], "provenance": None, "duplicate": False}
    newest = max(str((r.get("meta") or {}).get("lastUpdated") or "") for r in resources)
    resources = [_as_sent(r) for r in resources]
    with unit_of_work(engine) as conn:
        report = submissions.submit_resources(conn, member=member, kind="pull", resources=resources)
        if newest:
            members.set_pull_since(conn, organization=member.organization, since=newest)
    return report


@handler(PULL_ALL_JOB)
def pull_everyone(conn, _job: Job) -> None:
    """Queue a pull of every member whose server the platform has credentials for (one job each, retried alone)."""
    stamp = clock.format_instant(clock.now())[:13]
    for member in members.list_members(conn):
        if member.pull_base and member.pull_token_url and member.pull_client_id:
            enqueue(conn, kind=PULL_MEMBER_JOB, payload={"organization": member.organization},
                    key=f"exchange:pull:{member.organization}:{stamp}"[:200])


@handler(PULL_MEMBER_JOB, in_transaction=False)
def pull_one(engine: Engine, job: Job) -> None:
    """Pull one member (talks to its server outside any transaction)."""
    report = pull_member(organization=str(job.payload.get("organization", "")), engine=engine)
    log.info("pulled %s: %s", job.payload.get("organization"), report["counts"])


periodic(PULL_ALL_JOB, kind=PULL_ALL_JOB, every_minutes=60)
