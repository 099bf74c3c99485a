"""Bulk Data imports: a member posts the manifest of an export its server made, and the platform fetches the files.

The manifest is the one a Bulk Data `$export` status request answers with (`output`: one NDJSON file per resource
type, each with its `type` and `url`). Files are fetched only from the member's registered FHIR server (its scheme
and host), with the platform's pull credentials when the manifest says `requiresAccessToken`, and each file is
submitted like a posted NDJSON file: entry by entry, stamped with the member, idempotent on its content.
"""

from typing import Any

import httpx
from sqlalchemy.engine import Engine

from smartcare.fhir.errors import FhirError
from smartcare.platform.db import unit_of_work
from smartcare.regional.exchange import members, submissions
from smartcare.regional.exchange.pull import TIMEOUT_SECONDS, PullFailed, same_server, token_for

MAX_FILES = 100
MAX_FILE_BYTES = 256 * 1024 * 1024


def _files(manifest: Any, member: members.Member) -> list[tuple[str, str]]:
    """(type, url) of each output file, checked: a list of objects, URLs on the member's own server."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list) or not manifest["output"]:
        raise submissions.SubmissionInvalid("The manifest needs an 'output' list of files (type and url), as a Bulk "
                                            "Data export's status answer has")
    if len(manifest["output"]) > MAX_FILES:
        raise submissions.SubmissionInvalid(f"A manifest lists at most {MAX_FILES} files")
    if not member.pull_base:
        raise submissions.SubmissionInvalid(f"{member.organization} has no FHIR server registered to fetch files from")
    files = []
    for n, item in enumerate(manifest["output"]):
        res_type = item.get("type") if isinstance(item, dict) else None
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(res_type, str) or not isinstance(url, str):
            raise submissions.SubmissionInvalid(f"output[{n}] needs a type and a url")
        if not same_server(url, member.pull_base):
            raise submissions.SubmissionInvalid(f"output[{n}].url is not on {member.organization}'s registered server")
        files.append((res_type[:64], url[:2000]))
    return files


def import_manifest(*, member: members.Member, manifest: Any, engine: Engine | None = None,
                    transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Fetch and take every file a member's export manifest lists; one report per file, and their totals."""
    files = _files(manifest, member)
    with unit_of_work(engine) as conn:
        secret = members.pull_secret(conn, organization=member.organization)
        private_key = members.pull_key(conn, organization=member.organization)
    reports: list[dict[str, Any]] = []
    with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport, follow_redirects=False) as http:
        headers = {"Accept": "application/fhir+ndjson"}
        if manifest.get("requiresAccessToken"):
            if not (secret or private_key) or not member.pull_token_url or not member.pull_client_id:
                raise PullFailed(f"The files need a token and {member.organization} has no pull credentials")
            headers["Authorization"] = f"Bearer {token_for(http, member, secret, private_key)}"
        for res_type, url in files:
            try:
                answer = http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                raise PullFailed(f"The {res_type} file could not be fetched: {exc}") from exc
            if answer.status_code != 200:
                raise PullFailed(f"The {res_type} file answered {answer.status_code}: {answer.text[:200]}")
            if len(answer.content) > MAX_FILE_BYTES:
                raise PullFailed(f"The {res_type} file is larger than 256 MiB")
            with unit_of_work(engine) as conn:
                try:
                    reports.append(submissions.submit_ndjson(conn, member=member, res_type=res_type,
                                                             text=answer.text))
                except FhirError as exc:
                    raise submissions.SubmissionInvalid(f"{res_type}: {exc.message}") from exc
    totals = {key: sum(r["counts"][key] for r in reports) for key in ("entries", "accepted", "rejected", "warnings")}
    status = "rejected" if not totals["accepted"] and totals["rejected"] else (
        "partial" if totals["rejected"] else "accepted")
    return {"member": member.organization, "kind": "import", "status": status, "counts": totals, "files": reports}
