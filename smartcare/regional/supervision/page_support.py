"""What every health supervision page shares: the guard, rendering with the names pages show, and refusals said in
the reader's language."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection

from smartcare.platform import i18n
from smartcare.platform.i18n import _
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.supervision import registry
from smartcare.regional.supervision.access import SupervisionForbidden, may_write
from smartcare.regional.supervision.checklists import KINDS, checklists
from smartcare.regional.supervision.rules import SupervisionInvalid

SURFACE = "console/supervision"
BASE = "/console/supervision"
MAX_QUERY = 100  # no query parameter of these pages is longer
LICENCE_STATE_NAMES = {"valid": _("Valid"), "expiring": _("Expiring within 90 days"), "expired": _("Expired"),
                       "revoked": _("Revoked"), "none": _("No licence recorded")}
FINDING_STATE_NAMES = {"open": _("Awaiting rectification"), "overdue": _("Past the rectification deadline"), "rectified": _("Rectified"),
                       "escalated": _("Escalated for enforcement")}
OUTCOME_NAMES = {"pass": _("Passed"), "conditional": _("Minor findings"), "fail": _("Failed")}
SEVERITY_NAMES = {"minor": _("Minor"), "major": _("Major"), "critical": _("Critical")}
INSPECTION_KIND_NAMES = {"routine": _("Routine inspection"), "follow-up": _("Follow-up inspection"), "complaint": _("Inspection on a complaint")}
RESULT_NAMES = {"pass": _("Pass"), "fail": _("Fail"), "not_applicable": _("Not applicable")}
DECISION_NAMES = {"open": _("Still open"), "rectified": _("Rectified"), "escalated": _("Escalate")}


def visitor(conn: Connection, request: Request) -> guard.Visitor:
    """The signed-in reader of the supervision pages (the surface's roles), else the guard's refusal."""
    return guard.visitor(conn, request, SURFACE)


def refuse(v: guard.Visitor, refused: SupervisionForbidden) -> guard.SurfaceForbidden:
    """A service refusal as the guard's, so the 403 page is shown and the refusal audited."""
    return guard.SurfaceForbidden(refused.message, ctx=v.ctx, surface=SURFACE)


def said(request: Request, invalid: SupervisionInvalid) -> str:
    """A refusal's message in the reader's language."""
    t = i18n.translator(request)
    return t.gettext(invalid.message) % invalid.values if invalid.values else t.gettext(invalid.message)


def query(request: Request, name: str) -> str:
    """A query parameter, stripped and cut to MAX_QUERY characters."""
    return request.query_params.get(name, "").strip()[:MAX_QUERY]


def names(lang: str) -> dict[str, Any]:
    """The names pages show for kinds, districts and states, in lang."""
    spec = checklists()
    return {"kind_names": {kind: spec.kind(kind).name(lang) for kind in KINDS},
            "district_names": registry.district_names(lang),
            "licence_names": {key: (value.zh if lang.startswith("zh") else value.en)
                              for key, value in spec.licences.items()},
            "licence_states": LICENCE_STATE_NAMES, "finding_states": FINDING_STATE_NAMES,
            "outcome_names": OUTCOME_NAMES, "severity_names": SEVERITY_NAMES,
            "inspection_kinds": INSPECTION_KIND_NAMES, "result_names": RESULT_NAMES,
            "decision_names": DECISION_NAMES}


def page(request: Request, v: guard.Visitor, template: str, *, status_code: int = 200,
         **values: Any) -> HTMLResponse:
    """A supervision page in the reader's language, never stored, with the shared names and whether the reader may
    change the records (forms are shown only then)."""
    lang = i18n.current_locale(request)
    return render_private(request, template, status_code=status_code, lang=lang, zh=lang.startswith("zh"),
                          may_write=may_write(v.ctx), kinds=KINDS, spec=checklists(), **names(lang), **values)
