"""Risk pages: the region's risk stratification for the console, and the family doctor's high-risk patients.

The console page shows counts only (small cells hidden) and reads the store as the platform once the policy has given
the visitor the aggregates dataset. The doctor's list is read through the FHIR gateway as the doctor, so the access
policy decides what they see and each read is audited.
"""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.knowledge import scores
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard
from smartcare.platform.web.fhir_text import person_name
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.risk import stratify

router = APIRouter(include_in_schema=False)

CONSOLE_SURFACE = "console/risk"
WORKSTATION_SURFACE = "workstation"
PAGE = 500
MAX_PAGES = 40
_PRACTITIONER = re.compile(r"Practitioner/[A-Za-z0-9\-.]{1,64}")


def _zh(request: Request) -> bool:
    return current_locale(request).startswith("zh")


def _names(request: Request) -> dict[str, dict[str, Any]]:
    """Each calculator's title and category labels in the page's language."""
    zh = _zh(request)
    found = {}
    for name in stratify.CALCULATORS:
        calculator = scores.CALCULATORS[name]
        found[name] = {"title": calculator.title_zh if zh else calculator.title,
                       "categories": {key: calculator.label(key, zh=zh) for key in calculator.categories}}
    return found


def _chart(entry: dict[str, Any], dimension: str) -> dict[str, Any]:
    """One stacked bar chart's data: a series per category over the groups, None where a count is hidden."""
    rows = entry["tables"][dimension]
    return {
        "groups": [row["group"] for row in rows],
        "series": [{"category": cat, "high": cat in entry["high"],
                    "values": [row["counts"][i] if isinstance(row["counts"][i], int) else None for row in rows],
                    "shown": [row["counts"][i] if isinstance(row["counts"][i], int) else
                              ("*" if row["counts"][i] == "suppressed" else row["counts"][i]) for row in rows]}
                   for i, cat in enumerate(entry["categories"])],
    }


def _console(request: Request) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, CONSOLE_SURFACE)
        require_dataset(v.ctx, stratify.DATASET)
        try:
            result, error = stratify.stratification(conn, ctx=v.ctx, today=clock.now().date()), None
        except stratify.StratificationTooLarge:
            result, error = None, "too-large"
    charts = {entry["calculator"]: {dimension: _chart(entry, dimension) for dimension in ("district", "age")}
              for entry in (result or {}).get("calculators", [])}
    response = render(request, "risk/console.html", status_code=503 if error else 200, result=result, error=error,
                      names=_names(request), charts=charts)
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/console/risk", response_class=HTMLResponse)
async def risk_console(request: Request) -> Response:
    """Residents by latest risk category per calculator, by district, age band and sex, small cells hidden."""
    return await run_in_threadpool(_console, request)


def _all(ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every resource of a search the visitor may see, page by page (at most MAX_PAGES pages)."""
    found: list[dict[str, Any]] = []
    for _page in range(MAX_PAGES):
        page = [r for r in gateway.search(ctx, res_type, [*query, ("_count", str(PAGE)),
                                                          ("_offset", str(len(found)))])
                if r.get("resourceType") == res_type]
        found += page
        if len(page) < PAGE:
            break
    return found


def _value(latest: stratify.Latest) -> str:
    """The result as read: a score as its bare number, a percentage with %, other units without UCUM braces."""
    if latest.value is None:
        return "—"
    unit = latest.unit
    if unit in ("", "%") or (unit.startswith("{") and unit.endswith("}")):
        return f"{latest.value:g}{'%' if unit == '%' else ''}"
    return f"{latest.value:g} " + unit.replace("{", "").replace("}", "").replace("_", " ")


def _my_patients(request: Request) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, WORKSTATION_SURFACE)
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Only family doctors have a list of their own patients", ctx=v.ctx,
                                     surface="workstation/risk")
    chosen = request.query_params.get("calculator", "")
    chosen = chosen if chosen in stratify.HIGH else ""
    practitioner = v.ctx.fhir_user or ""
    rows: list[dict[str, Any]] = []
    if _PRACTITIONER.fullmatch(practitioner):
        chained = [("subject:Patient.general-practitioner", practitioner)]
        patients = _all(v.ctx, "Patient", [("general-practitioner", practitioner)])
        risks = _all(v.ctx, "RiskAssessment", chained)
        plans = _all(v.ctx, "CarePlan", [*chained, ("instantiates-uri", stratify.PROGRAMME_URI)])
        names = _names(request)
        for row in stratify.high_risk_rows(patients=patients, risks=risks, care_plans=plans,
                                           calculator=chosen or None):
            latest, patient = row["latest"], row["patient"]
            rows.append({"id": patient.get("id", ""), "name": person_name(patient), "sex": patient.get("gender", ""),
                         "age": stratify.age_on(patient.get("birthDate"), clock.now().date()),
                         "calculator": names[latest.calculator]["title"], "value": _value(latest),
                         "category": names[latest.calculator]["categories"].get(latest.category, latest.category),
                         "when": latest.when[:10], "programme": row["programme"]})
    response = render(request, "risk/my_patients.html", user=v.user, rows=rows, chosen=chosen,
                      names=_names(request), linked=bool(_PRACTITIONER.fullmatch(practitioner)))
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/workstation/risk", response_class=HTMLResponse)
async def my_high_risk_patients(request: Request) -> Response:
    """The signed-in family doctor's patients whose latest risk is in a high category, newest first."""
    return await run_in_threadpool(_my_patients, request)
