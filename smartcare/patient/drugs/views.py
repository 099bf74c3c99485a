"""Public drug information: search and browse, a page per medicine, and "is it safe to take these together?".

No sign-in and no personal data: the pages and the JSON API read only the formulary, the consumer
text and the interaction table (smartcare.knowledge.drugs.consumer). The checker is a GET form so it
needs no session and works without JavaScript; HTMX only adds suggestions while typing.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from smartcare.knowledge.drugs import consumer
from smartcare.knowledge.drugs.consumer import ATC_GROUPS, MAX_CHECKED, Finding, UnknownDrugs
from smartcare.knowledge.drugs.formulary import MAX_QUERY
from smartcare.knowledge.drugs.model import Drug, Interaction
from smartcare.platform import i18n
from smartcare.platform.web.pages import render

router = APIRouter()

_SUGGESTIONS = 8
_RESULTS = 30


def _zh(request: Request) -> bool:
    return i18n.current_locale(request) == "zh-Hans"


def _pick(pair: tuple[str, str], zh: bool) -> str:
    return pair[1] if zh else pair[0]


def _name(drug: Drug, zh: bool) -> str:
    return drug.name_zh if zh else drug.name_en


def _text(value: str | None) -> str:
    return (value or "").strip()[:MAX_QUERY]


def _group_names(zh: bool) -> list[dict[str, str]]:
    return [{"letter": letter, "name": _pick(names, zh)} for letter, names in ATC_GROUPS.items()]


# --- search and browse ---------------------------------------------------------------------------


def _search_page(request: Request) -> HTMLResponse:
    zh = _zh(request)
    knowledge = consumer.default()
    query = _text(request.query_params.get("q"))
    group = _text(request.query_params.get("group")).upper()[:1]
    results = knowledge.search(query, limit=_RESULTS) if query else knowledge.in_group(group) if group else []
    return render(request, "drugs/search.html", query=query, group=group if group in ATC_GROUPS else "",
                  group_name=_pick(ATC_GROUPS[group], zh) if group in ATC_GROUPS else "",
                  groups=_group_names(zh), results=[_row(d, zh) for d in results],
                  searched=bool(query or group))


def _row(drug: Drug, zh: bool) -> dict[str, Any]:
    info = consumer.default().info(drug.key)
    return {"key": drug.key, "name": _name(drug, zh), "other": drug.name_en if zh else drug.name_zh,
            "aliases": ", ".join(a for a in drug.aliases[:4]),
            "uses": (info.uses_zh if zh else info.uses_en) if info else ""}


@router.get("/app/drugs", response_class=HTMLResponse, include_in_schema=False)
async def drug_search(request: Request) -> HTMLResponse:
    """Find a medicine by generic, brand, Chinese or pinyin name, or browse by ATC group (public)."""
    return await run_in_threadpool(_search_page, request)


# --- one medicine ---------------------------------------------------------------------------------


def _rule_text(rule: Interaction, zh: bool) -> dict[str, Any]:
    return {"severity": rule.severity, "level": _pick(consumer.SEVERITY_PLAIN[rule.severity], zh),
            "what": rule.mechanism_zh if zh else rule.mechanism_en,
            "action": _pick(consumer.PATIENT_ACTION[rule.severity], zh),
            "prescriber": rule.management_zh if zh else rule.management_en,
            "source": rule.source}


def _drug_page(request: Request, key: str) -> HTMLResponse:
    zh = _zh(request)
    knowledge = consumer.default()
    drug = knowledge.formulary.drugs.get(key[:64])
    if drug is None:
        return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    info = knowledge.info(drug.key)
    pairs = [{**_rule_text(p.rule, zh), "partners": [{"key": d.key, "name": _name(d, zh)} for d in p.partners]}
             for p in knowledge.pairings(drug.key)]
    pregnancy = consumer.PREGNANCY_PLAIN.get(drug.pregnancy or "", consumer.PREGNANCY_UNKNOWN)
    lactation = consumer.LACTATION_PLAIN.get(drug.lactation or "", consumer.LACTATION_UNKNOWN)
    return render(
        request, "drugs/drug.html", drug=drug, name=_name(drug, zh), other_name=drug.name_en if zh else drug.name_zh,
        info=info, zh=zh, pairs=pairs, group=drug.atc[0][0] if drug.atc else "",
        group_name=_pick(ATC_GROUPS.get(drug.atc[0][0], ("", "")), zh) if drug.atc else "",
        pregnancy=_pick(pregnancy, zh), pregnancy_advice=_pick(consumer.PREGNANCY_ADVICE, zh),
        lactation=_pick(lactation, zh), ask=_pick(consumer.ASK_PHARMACIST, zh),
        uses=(info.uses_zh if zh else info.uses_en) if info else "",
        lists={name: list(getattr(info, f"{name}_{'zh' if zh else 'en'}")) if info else []
               for name in ("how", "common", "serious", "avoid")},
    )


@router.get("/app/drugs/check", response_class=HTMLResponse, include_in_schema=False)
async def drug_check(request: Request) -> HTMLResponse:
    """Choose two or more medicines and see which pairs the interaction table lists (public)."""
    return await run_in_threadpool(_check_page, request)


@router.get("/app/drugs/check/suggest", response_class=HTMLResponse, include_in_schema=False)
async def drug_suggest(request: Request) -> HTMLResponse:
    """The HTMX fragment of suggestions while typing a medicine's name."""
    zh = _zh(request)
    query = _text(request.query_params.get("add"))
    found = await run_in_threadpool(consumer.default().search, query, _SUGGESTIONS) if query else []
    return render(request, "drugs/_suggestions.html", query=query,
                  suggestions=[{"key": d.key, "name": _name(d, zh), "other": d.name_en if zh else d.name_zh}
                               for d in found])


@router.get("/app/drugs/{key}", response_class=HTMLResponse, include_in_schema=False)
async def drug_page(request: Request, key: str) -> HTMLResponse:
    """A medicine in plain words: uses, how to take, side effects, what not to combine, pregnancy (public)."""
    return await run_in_threadpool(_drug_page, request, key)


# --- the together-checker ------------------------------------------------------------------------


def _finding_text(finding: Finding, zh: bool) -> dict[str, Any]:
    names = [_name(finding.first, zh), _name(finding.second, zh)]
    if finding.kind == "duplicate":
        drugs = consumer.default().formulary.drugs
        shared = "、".join if zh else ", ".join
        joined = shared(_name(drugs[k], zh) if k in drugs else k for k in finding.shared)
        rules = [{"severity": "major", "level": _pick(consumer.SEVERITY_PLAIN["major"], zh),
                  "what": _pick(consumer.DUPLICATE_TEXT, zh).format(names=joined),
                  "action": _pick(consumer.DUPLICATE_ACTION, zh), "prescriber": "",
                  "source": consumer.DUPLICATE_SOURCE}]
    else:
        rules = [_rule_text(rule, zh) for rule in finding.rules]
    return {"names": names, "keys": [finding.first.key, finding.second.key], "kind": finding.kind,
            "severity": finding.severity, "level": _pick(consumer.SEVERITY_PLAIN[finding.severity], zh),
            "rules": rules}


def _check_page(request: Request) -> HTMLResponse:
    zh = _zh(request)
    knowledge = consumer.default()
    params = request.query_params
    chosen: dict[str, Drug] = {}
    unknown: list[str] = []
    for given in params.getlist("drugs")[: MAX_CHECKED * 2]:
        drug = knowledge.formulary.find(_text(given))
        if drug is None:
            unknown.append(_text(given)[:60])
        else:
            chosen.setdefault(drug.key, drug)
    added = _text(params.get("add"))
    suggestions: list[Drug] = []
    if added:
        drug = knowledge.formulary.find(added)
        if drug is not None:
            chosen.setdefault(drug.key, drug)
        else:
            suggestions = knowledge.search(added, limit=_SUGGESTIONS)
    too_many = len(chosen) > MAX_CHECKED
    drugs = list(chosen.values())[:MAX_CHECKED]
    findings = [_finding_text(f, zh) for f in knowledge.check_together([d.key for d in drugs])] \
        if len(drugs) >= 2 else []
    chosen_rows = [{"key": d.key, "name": _name(d, zh),
                    "remove_href": "/app/drugs/check?" + urlencode([("drugs", o.key) for o in drugs if o is not d])}
                   for d in drugs]
    return render(request, "drugs/check.html", chosen=chosen_rows,
                  unknown=unknown, added=added if suggestions or (added and added not in chosen) else "",
                  not_found=bool(added) and not suggestions and knowledge.formulary.find(added) is None,
                  suggestions=[{"key": d.key, "name": _name(d, zh), "other": d.name_en if zh else d.name_zh}
                               for d in suggestions],
                  findings=findings, checked=len(drugs) >= 2, too_many=too_many, max_checked=MAX_CHECKED,
                  no_known=_pick(consumer.NO_KNOWN_INTERACTION, zh), ask=_pick(consumer.ASK_PHARMACIST, zh))


# --- JSON API ------------------------------------------------------------------------------------


class DrugSummary(BaseModel):
    """A formulary medicine as search results show it."""

    key: str
    name_en: str
    name_zh: str
    atc: list[str]
    aliases: list[str]
    uses_en: str | None = None
    uses_zh: str | None = None
    page: str


class DrugSearchResult(BaseModel):
    """Search or browse results."""

    query: str
    group: str | None
    results: list[DrugSummary]


class CheckRequest(BaseModel):
    """Two or more medicines by formulary key, generic, brand or Chinese name."""

    drugs: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY)]],
                     Field(min_length=2, max_length=MAX_CHECKED)]


class RuleOut(BaseModel):
    """One rule behind a finding, in both languages, with where it comes from."""

    severity: str
    severity_en: str
    severity_zh: str
    what_may_happen_en: str
    what_may_happen_zh: str
    what_to_do_en: str
    what_to_do_zh: str
    advice_for_prescriber_en: str
    advice_for_prescriber_zh: str
    source: str
    onc_high_priority: bool = False


class FindingOut(BaseModel):
    """A pair of the medicines checked that interacts (kind "interaction") or shares an ingredient ("duplicate")."""

    drugs: list[str]
    kind: str
    severity: str
    rules: list[RuleOut]


class CheckResult(BaseModel):
    """The medicines understood, the findings (worst first) and the caveat every answer carries."""

    checked: list[DrugSummary]
    findings: list[FindingOut]
    note_en: str
    note_zh: str


def _summary(drug: Drug) -> DrugSummary:
    info = consumer.default().info(drug.key)
    return DrugSummary(key=drug.key, name_en=drug.name_en, name_zh=drug.name_zh, atc=list(drug.atc),
                       aliases=list(drug.aliases), uses_en=info.uses_en if info else None,
                       uses_zh=info.uses_zh if info else None, page=f"/app/drugs/{drug.key}")


def _rule_out(rule: Interaction) -> RuleOut:
    level, action = consumer.SEVERITY_PLAIN[rule.severity], consumer.PATIENT_ACTION[rule.severity]
    return RuleOut(severity=rule.severity, severity_en=level[0], severity_zh=level[1],
                   what_may_happen_en=rule.mechanism_en, what_may_happen_zh=rule.mechanism_zh,
                   what_to_do_en=action[0], what_to_do_zh=action[1], advice_for_prescriber_en=rule.management_en,
                   advice_for_prescriber_zh=rule.management_zh, source=rule.source,
                   onc_high_priority=rule.onc_high_priority)


def _finding_out(finding: Finding) -> FindingOut:
    if finding.kind == "duplicate":
        level = consumer.SEVERITY_PLAIN["major"]
        shared = ", ".join(finding.shared)
        rules = [RuleOut(severity="major", severity_en=level[0], severity_zh=level[1],
                         what_may_happen_en=consumer.DUPLICATE_TEXT[0].format(names=shared),
                         what_may_happen_zh=consumer.DUPLICATE_TEXT[1].format(names=shared),
                         what_to_do_en=consumer.DUPLICATE_ACTION[0], what_to_do_zh=consumer.DUPLICATE_ACTION[1],
                         advice_for_prescriber_en="", advice_for_prescriber_zh="", source=consumer.DUPLICATE_SOURCE)]
    else:
        rules = [_rule_out(rule) for rule in finding.rules]
    return FindingOut(drugs=[finding.first.key, finding.second.key], kind=finding.kind, severity=finding.severity,
                      rules=rules)


def _error(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status)


_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Unknown medicine names, fewer than two distinct medicines, or malformed input"},
}


@router.get("/api/v1/knowledge/drugs", response_model=DrugSearchResult, tags=["knowledge"], responses=_ERRORS)
async def search_drugs(
    q: Annotated[str, Query(max_length=MAX_QUERY, description="Generic, brand, Chinese or pinyin name")] = "",
    group: Annotated[str, Query(max_length=1, pattern=r"^[A-Za-z]?$", description="ATC main group letter")] = "",
) -> DrugSearchResult:
    """Find formulary medicines by name (typos tolerated) or list an ATC main group; public, no personal data."""
    knowledge = consumer.default()
    letter = group.upper()
    found = await run_in_threadpool(knowledge.search, q, _RESULTS) if q.strip() else knowledge.in_group(letter)
    return DrugSearchResult(query=q, group=letter or None, results=[_summary(d) for d in found])


@router.post("/api/v1/knowledge/drugs/check", response_model=CheckResult, tags=["knowledge"], responses=_ERRORS)
async def check_drugs(body: CheckRequest) -> CheckResult | JSONResponse:
    """Which pairs of these medicines the interaction table lists (or that share an ingredient), worst first.

    An empty `findings` list means only that the table lists nothing for these medicines, never that they
    are safe together; every answer carries that note.
    """
    knowledge = consumer.default()
    try:
        drugs = knowledge.resolve(body.drugs)
    except UnknownDrugs as exc:
        return _error(422, "unknown_drug", str(exc), unknown=exc.names,
                      suggestions={name: [d.key for d in found] for name, found in exc.suggestions.items()})
    if len(drugs) < 2:
        return _error(422, "too_few", "Name at least two different medicines")
    findings = await run_in_threadpool(knowledge.check_together, [d.key for d in drugs])
    note = consumer.NO_KNOWN_INTERACTION if not findings else ("", "")
    return CheckResult(checked=[_summary(d) for d in drugs], findings=[_finding_out(f) for f in findings],
                       note_en=" ".join(filter(None, (note[0], consumer.ASK_PHARMACIST[0]))),
                       note_zh="".join(filter(None, (note[1], consumer.ASK_PHARMACIST[1]))))
