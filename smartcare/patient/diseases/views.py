"""Public disease pages (/app/diseases) and the app's JSON search (/api/v1/knowledge/diseases).

No personal data is shown, so no sign-in is needed. Search shows consumer condition pages first, then
ICD-10-CM codes. A condition page links to booking in the departments that treat it.
"""

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.directory import service as directory
from smartcare.knowledge.diseases import consumer, icd10, icd10cm
from smartcare.platform import i18n
from smartcare.platform.web.pages import not_found, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])

MAX_QUERY = 100
PAGES_SHOWN = 10
CODES_SHOWN = 20
EMERGENCY_NUMBER = "120"
SECTIONS = ("symptoms", "see_doctor", "self_care", "prevention")


class ConditionHit(BaseModel):
    """A consumer condition page found by search."""

    key: str
    name: str
    icd10: list[str]
    url: str


class CodeHit(BaseModel):
    """An ICD-10-CM code found by search."""

    code: str
    title_en: str
    title_zh: str
    billable: bool
    url: str
    condition: str | None


class DiseaseSearch(BaseModel):
    """Condition pages first, then ICD-10-CM codes."""

    query: str
    conditions: list[ConditionHit]
    codes: list[CodeHit]


def _query(text: str | None) -> str:
    return " ".join((text or "").split())[:MAX_QUERY]


def _results(query: str, locale: str) -> dict[str, Any]:
    pages = consumer.search(query, limit=PAGES_SHOWN) if query else []
    codes = icd10cm.search(query, limit=CODES_SHOWN) if query else []
    return {
        "conditions": [{"key": m.page.key, "name": m.page.name(locale), "icd10": list(m.page.icd10),
                        "url": f"/app/diseases/{m.page.key}"} for m in pages],
        "codes": [{"code": c.code, "title_en": c.title_en, "title_zh": c.title_zh, "billable": c.billable,
                   "url": f"/app/diseases/icd10/{c.code}", "condition": consumer.consumer_page_for(c.code)}
                  for c in codes],
    }


def _search_page(request: Request) -> HTMLResponse:
    locale = i18n.current_locale(request)
    raw = request.query_params.get("q") or ""
    query = _query(raw)
    chapters = [{"id": c.id, "title": c.title_zh if locale == "zh-Hans" else c.title_en,
                 "pages": [{"key": p.key, "name": p.name(locale)} for p in pages]}
                for c, pages in consumer.by_chapter()]
    return render(request, "diseases/search.html", query=query, cut=len(raw.strip()) > MAX_QUERY,
                  chapters=chapters, searched=bool(query), **_results(query, locale))


@router.get("/app/diseases", response_class=HTMLResponse)
async def search_page(request: Request) -> HTMLResponse:
    """Search conditions and ICD-10 codes; browse condition pages by body system."""
    return await run_in_threadpool(_search_page, request)


def _booking_links(page: consumer.ConsumerPage, locale: str) -> list[dict[str, str]]:
    """Each department of the page with a link to its doctors in the first hospital that has it, else to booking."""
    services: dict[str, str] = {}
    for row in directory.departments():
        key = directory.department_key(row["service"])[0]
        services.setdefault(key, row["service"]["id"])
    links = []
    for key in page.departments:
        name_en, name_zh = consumer.DEPARTMENTS[key]
        href = f"/app/book/doctors?department={services[key]}" if key in services else "/app/book"
        links.append({"key": key, "name": name_zh if locale == "zh-Hans" else name_en, "href": href})
    return links


def _condition_page(request: Request, key: str) -> HTMLResponse:
    page = consumer.get(key)
    if page is None:
        return not_found(request)
    locale = i18n.current_locale(request)
    codes = [{"code": c, "title": _code_title(c, locale)} for c in page.icd10]
    return render(request, "diseases/condition.html", page=page, name=page.name(locale),
                  what=page.text("what", locale), emergency=page.text("emergency", locale),
                  sections={s: page.text(s, locale) for s in SECTIONS}, codes=codes,
                  departments=_booking_links(page, locale), emergency_number=EMERGENCY_NUMBER)


@router.get("/app/diseases/icd10/{code}", response_class=HTMLResponse)
async def code_page(request: Request, code: str) -> HTMLResponse:
    """An ICD-10-CM code: its title, the chapter and categories above it, the codes below, and the condition page."""
    return await run_in_threadpool(_code_page, request, code)


@router.get("/app/diseases/{key}", response_class=HTMLResponse)
async def condition_page(request: Request, key: str) -> HTMLResponse:
    """A condition page: what it is, symptoms, when to see a doctor, emergency signs, departments, self-care."""
    return await run_in_threadpool(_condition_page, request, key)


def _code_title(code: str, locale: str) -> str:
    found = icd10cm.find(code)
    if found is not None:
        return (found.title_zh or found.title_en) if locale == "zh-Hans" else found.title_en
    who = icd10.find(code)
    if who is not None:
        return who.title_zh if locale == "zh-Hans" else who.title_en
    return ""


def _code_page(request: Request, code: str) -> HTMLResponse:
    found = icd10cm.find(code[:16])
    if found is None:
        return not_found(request)
    locale = i18n.current_locale(request)
    page = consumer.by_icd10(found.code)
    return render(request, "diseases/code.html", item=found, parents=icd10cm.parents(found.code),
                  children=icd10cm.children(found.code), condition=page,
                  condition_name=page.name(locale) if page else "", source=icd10cm.SOURCE)


@api_router.get("/diseases", response_model=DiseaseSearch, summary="Search conditions and ICD-10-CM codes",
                responses={422: {"description": "The query is missing, empty or longer than 100 characters"}})
async def search_api(request: Request, q: str = Query(..., min_length=1, max_length=MAX_QUERY,
                                                      description="Name, synonym, pinyin or ICD-10 code")) -> Any:
    """Consumer condition pages (names in the caller's language; `?lang=zh-Hans` for Chinese) and ICD-10-CM codes
    matching q, best first. Public: no personal data."""
    query = _query(q)
    if not query:
        return JSONResponse({"error": "invalid", "message": "q must not be blank"}, status_code=422)
    found = await run_in_threadpool(_results, query, i18n.current_locale(request))
    return DiseaseSearch(query=query, **found)
