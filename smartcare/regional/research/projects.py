"""Research projects and their data-use agreements, kept as FHIR ResearchStudy and Contract.

A project is a ResearchStudy (title, status). Its data-use agreement (DUA) is a Contract whose subject
is the study: `issued` is the signing date, `applies` the term, `authority` the research institution,
`signer` the institution's representative and every researcher allowed to extract (by user name, in
signer.party.identifier), and one `term` whose text is the purpose and whose `asset.type` lists the
record types the project may receive. An extract is given only under an executed DUA in force on the
day, and only to a researcher the DUA names.
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.research.service import DATASET_TYPES

LOCAL = "https://smartcare.example/fhir/"
DUA_SYSTEM = LOCAL + "sid/research-dua"
USER_SYSTEM = LOCAL + "sid/user"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
SIGNATURE_TYPE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.6",
                  "display": "Approval Signature"}
MAX_TEXT = 500
MAX_RESEARCHERS = 50
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class ProjectRefused(ValueError):
    """No extract for this project as asked; the message says why, and reason names the case for pages to translate.

    reason: no-project, no-agreement, not-in-force or not-named.
    """

    status = 403

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


class ProjectInvalid(ValueError):
    """A project or agreement that cannot be recorded as given; the message says what to change."""

    status = 400


@dataclass(frozen=True, slots=True)
class Agreement:
    """A project's data-use agreement as the extract needs it."""

    project: str
    title: str
    contract: str
    number: str
    institution: str
    purpose: str
    data_types: tuple[str, ...]
    researchers: tuple[str, ...]
    signed: str
    start: str
    end: str
    status: str

    def in_force(self, day: date) -> bool:
        """True when the agreement is executed and day falls within its term."""
        return self.status == "executed" and self.start <= day.isoformat() <= self.end


def _text(value: str, name: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_TEXT:
        raise ProjectInvalid(f"{name} is required, at most {MAX_TEXT} characters")
    return value


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ProjectInvalid(f"{name} must be a date written YYYY-MM-DD") from None


def register_project(conn: Connection, *, ctx: AccessContext, title: str, institution: str, purpose: str,
                     data_types: list[str], researchers: list[str], signed: str, start: str, end: str,
                     number: str) -> Agreement:
    """Record a research project and its signed data-use agreement; only a regional administrator (or the platform) may.

    Raises AccessDenied for anyone else, ProjectInvalid for an agreement that cannot be recorded as given.
    """
    if not ctx.is_system and "regional_admin" not in ctx.roles:
        raise AccessDenied("Only a regional administrator records research data-use agreements")
    title, institution, purpose = _text(title, "title"), _text(institution, "institution"), _text(purpose, "purpose")
    number = _text(number, "agreement number")[:64]
    unknown = [t for t in data_types if t not in DATASET_TYPES]
    if not data_types or unknown:
        raise ProjectInvalid(f"data types must be among {', '.join(DATASET_TYPES)}")
    if not researchers or len(researchers) > MAX_RESEARCHERS or not all(_NAME.fullmatch(r) for r in researchers):
        raise ProjectInvalid("name the researchers by their user names (letters, digits, . _ @ -)")
    signed_day, first, last = _day(signed, "signed"), _day(start, "start"), _day(end, "end")
    if not signed_day <= last or not first <= last:
        raise ProjectInvalid("the term must end after it starts and after the agreement is signed")
    study = store.create(conn, ctx, {"resourceType": "ResearchStudy", "status": "active", "title": title})
    signature = {"type": [SIGNATURE_TYPE], "when": f"{signed_day.isoformat()}T00:00:00Z",
                 "who": {"display": institution}}
    contract = {
        "resourceType": "Contract", "status": "executed",
        "identifier": [{"system": DUA_SYSTEM, "value": number}],
        "title": f"Data-use agreement: {title}"[:MAX_TEXT],
        "issued": signed_day.isoformat(), "applies": {"start": first.isoformat(), "end": last.isoformat()},
        "subject": [{"reference": f"ResearchStudy/{study.res_id}"}],
        "authority": [{"display": institution}],
        "signer": [{"type": {"code": "SPON", "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes"},
                    "party": {"display": institution}, "signature": [signature]}] + [
            {"type": {"code": "GRANTEE", "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes"},
             "party": {"identifier": {"system": USER_SYSTEM, "value": name}, "display": name},
             "signature": [{**signature, "who": {"display": name}}]} for name in researchers],
        "term": [{"text": purpose, "offer": {"text": "De-identified extract for the purpose stated"},
                  "asset": [{"type": [{"coding": [{"system": RESOURCE_TYPES, "code": t}]} for t in data_types]}]}],
    }
    stored = store.create(conn, ctx, contract)
    return agreement_of(stored.resource, {"id": study.res_id, "title": title})


def agreement_of(contract: dict[str, Any], study: dict[str, Any]) -> Agreement:
    """The Agreement a stored Contract (and its ResearchStudy) records."""
    term = (contract.get("term") or [{}])[0]
    types = tuple(c.get("code", "") for asset in term.get("asset", []) for concept in asset.get("type", [])
                  for c in concept.get("coding", []) if c.get("system") == RESOURCE_TYPES)
    researchers = tuple(s["party"]["identifier"]["value"] for s in contract.get("signer", [])
                        if ((s.get("party") or {}).get("identifier") or {}).get("system") == USER_SYSTEM)
    applies = contract.get("applies") or {}
    return Agreement(
        project=str(study.get("id", "")), title=str(study.get("title", "")), contract=str(contract.get("id", "")),
        number=str(((contract.get("identifier") or [{}])[0]).get("value", "")),
        institution=str(((contract.get("authority") or [{}])[0]).get("display", "")),
        purpose=str(term.get("text", "")), data_types=types, researchers=researchers,
        signed=str(contract.get("issued", ""))[:10], start=str(applies.get("start", ""))[:10],
        end=str(applies.get("end", ""))[:10], status=str(contract.get("status", "")),
    )


def _contracts(conn: Connection, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    request = QueryCompiler(strict=True).parse("Contract", params, default_count=200, max_count=200)
    request.total = "none"
    return [found.resource for found in run_search(conn, SYSTEM, request).matches]


def valid_id(project: str) -> bool:
    """True when project has the shape of a FHIR id."""
    return bool(_ID.fullmatch(project or ""))


def _study(conn: Connection, project: str) -> dict[str, Any] | None:
    if not valid_id(project):
        return None
    request = QueryCompiler(strict=True).parse("ResearchStudy", [("_id", project)], default_count=1, max_count=1)
    request.total = "none"
    found = run_search(conn, SYSTEM, request).matches
    return found[0].resource if found else None


def agreement_for(conn: Connection, *, ctx: AccessContext, project: str) -> Agreement:
    """The DUA under which ctx may extract project's data today; ProjectRefused (saying why) otherwise."""
    study = _study(conn, project)
    if study is None:
        raise ProjectRefused("There is no research project with this id", reason="no-project")
    contracts = _contracts(conn, [("subject", f"ResearchStudy/{study['id']}")])
    agreements = [agreement_of(c, study) for c in contracts]
    if not agreements:
        raise ProjectRefused("This project has no data-use agreement on record: no data can be released for it",
                             reason="no-agreement")
    today = clock.now().date()
    in_force = [a for a in agreements if a.in_force(today)]
    if not in_force:
        raise ProjectRefused("This project's data-use agreement is not in force today (not executed, or out of "
                             "its term): no data can be released for it", reason="not-in-force")
    named = [a for a in in_force if ctx.is_system or ctx.name in a.researchers]
    if not named:
        raise ProjectRefused("The data-use agreement of this project does not name you as a researcher",
                             reason="not-named")
    return named[0]


def agreements_of(conn: Connection, *, ctx: AccessContext) -> list[Agreement]:
    """Every agreement naming ctx's user as a researcher (in force or not), newest signing first."""
    if not ctx.name or not _NAME.fullmatch(ctx.name):
        return []
    found = []
    for contract in _contracts(conn, [("status", "executed")]):
        subject = ((contract.get("subject") or [{}])[0]).get("reference", "")
        if not subject.startswith("ResearchStudy/"):
            continue
        study = _study(conn, subject.split("/", 1)[1]) or {"id": subject.split("/", 1)[1]}
        agreement = agreement_of(contract, study)
        if ctx.name in agreement.researchers:
            found.append(agreement)
    return sorted(found, key=lambda a: a.signed, reverse=True)
