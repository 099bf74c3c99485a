"""Patient/[id]/$summary: the patient's International Patient Summary as a FHIR document Bundle.

The records are read as the caller, through the access policy, so a summary holds exactly what the
caller could read one by one; the gateway audits the answer like any other read of the record.
"""

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import BadRequest, Forbidden, NotFound, PreconditionFailed
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.interactions import search_unique
from smartcare.fhir.ips.build import build_document
from smartcare.fhir.ips.gather import gather_summary
from smartcare.fhir.operations import operation
from smartcare.platform.i18n import locale_from_accept_language
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import PATIENT_ROLES

MAX_IDENTIFIER = 200


def summary_locale(req: FhirRequest) -> str:
    """'zh-Hans' or 'en': from _lang (e.g. zh, zh-CN), else Accept-Language, else English."""
    asked = dict(req.query).get("_lang")
    if asked:
        return locale_from_accept_language(asked) or "en"
    return locale_from_accept_language(req.header("accept-language")) or "en"


def _patient_by_identifier(conn: Connection, ctx: AccessContext, req: FhirRequest) -> str:
    identifier = dict(req.query).get("identifier", "")
    if not identifier or len(identifier) > MAX_IDENTIFIER:
        raise BadRequest(f"Patient/$summary needs identifier=system|value (at most {MAX_IDENTIFIER} characters)")
    found = search_unique(conn, ctx, "Patient", f"identifier={identifier}", req.base_url)
    if len(found) > 1:
        raise PreconditionFailed("The identifier names more than one patient")
    if not found:
        raise NotFound("No patient you may see has that identifier")
    return found[0].res_id


def _refuse_other_person(ctx: AccessContext, exc: NotFound) -> None:
    """Patients and caregivers asking for someone they do not stand for get 403, whether that record exists or not.

    The answer is the same for a record that does not exist, so it reveals nothing; staff keep the
    policy's 404 for records out of their reach.
    """
    if ctx.kind == "user" and ctx.roles & PATIENT_ROLES:
        raise Forbidden("You may have the summary of your own record, or of those you are a proxy for") from exc


@operation("summary")
def summary(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET Patient/[id]/$summary or Patient/$summary?identifier=...: an IPS document Bundle."""
    if req.method != "GET" or not target or target[0] != "Patient" or len(target) > 2:
        raise BadRequest("$summary is GET Patient/[id]/$summary or GET Patient/$summary?identifier=system|value")
    try:
        if len(target) == 2:
            store.check_id(target[1])
            patient_id = target[1]
        else:
            patient_id = _patient_by_identifier(conn, ctx, req)
        gathered = gather_summary(conn, ctx, patient_id, locale=summary_locale(req))
    except NotFound as exc:
        _refuse_other_person(ctx, exc)
        raise
    return FhirResponse(200, build_document(gathered))
