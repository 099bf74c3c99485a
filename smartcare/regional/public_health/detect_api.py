"""Outbreak detection as an API: GET /api/v1/surveillance/methods lists the detectors, POST
/api/v1/surveillance/detect runs one on a posted count series.

No sign-in and nothing stored: the series is judged and forgotten, and it holds counts, not people. Bad input gets
400 with {"error": "invalid", "problems": {field: message}} naming each field at fault, never a 500.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.knowledge.surveillance import MAX_PERIODS, METHODS, DetectionInputError, check_input, detect

router = APIRouter(prefix="/api/v1/surveillance", tags=["surveillance"])
# 20,000 points of {"period": "...", "count": n} fit well inside a megabyte.
MAX_BODY = 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}
FIELDS = ("method", "frequency", "parameters", "series")
# A regression fit per judged period makes Farrington and Noufaily costly (about 2-4 ms a period on this machine,
# bench/surveillance_detect.py): one open request may judge at most this many, about two seconds of work.
MAX_FITTED_PERIODS = 500
FITTED_METHODS = frozenset({"farrington", "noufaily"})
# The detectors' own names for the request's fields.
_FIELD_NAMES = {"counts": "series", "periods": "series"}


def _invalid(problems: dict[str, str]) -> JSONResponse:
    return JSONResponse({"error": "invalid", "problems": problems}, status_code=400, headers=NO_STORE)


async def _body(request: Request) -> bytes | None:
    """The request body, or None once it passes MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _series(series: Any) -> tuple[list[Any], list[Any], str | None]:
    """Periods and counts from the posted series, or a problem with its shape."""
    if not isinstance(series, list) or not series:
        return [], [], "must be a non-empty list of {\"period\": ..., \"count\": ...} objects"
    if len(series) > MAX_PERIODS:
        return [], [], f"has {len(series)} points; at most {MAX_PERIODS} are accepted"
    malformed = [i + 1 for i, point in enumerate(series)
                 if not isinstance(point, dict) or set(point) != {"period", "count"}]
    if malformed:
        shown = ", ".join(map(str, malformed[:5])) + (f" and {len(malformed) - 5} more" if len(malformed) > 5 else "")
        return [], [], f"each point must be an object with exactly period and count; not at position {shown}"
    return [p["period"] for p in series], [p["count"] for p in series], None


def _request(payload: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The detector's arguments from the request body, and the problems with its shape."""
    if not isinstance(payload, dict):
        return {}, {"body": "must be a JSON object with method, frequency, parameters and series"}
    problems = {name: "is not a field; the fields are " + ", ".join(FIELDS) for name in payload if name not in FIELDS}
    if "method" not in payload:
        problems["method"] = "is required"
    parameters = payload.get("parameters", {})
    if not isinstance(parameters, dict):
        problems["parameters"] = "must be an object of parameter names and values"
    periods, counts, series_problem = _series(payload.get("series"))
    if series_problem:
        problems["series"] = series_problem
    arguments = {"method": payload.get("method"), "counts": counts, "periods": periods,
                 "frequency": payload.get("frequency", 52), "params": parameters if isinstance(parameters, dict) else {}}
    return arguments, problems


def _detector_problems(exc: DetectionInputError) -> dict[str, str]:
    """The detector's problems keyed by the request's field names."""
    named = {}
    for field, problem in exc.problems.items():
        if field in _FIELD_NAMES:
            named[_FIELD_NAMES[field]] = problem if field == "counts" else f"period labels: {problem}"
        elif field in ("method", "frequency"):
            named[field] = problem
        else:
            named[f"parameters.{field}"] = problem
    return named


@router.get("/methods", summary="List the outbreak detectors")
async def methods() -> JSONResponse:
    """Every detector with its description, source (paper and R function) and parameters: type, default, allowed
    range or choices, and R's name for it."""
    return JSONResponse({"methods": [m.describe() for m in METHODS.values()]},
                        headers={"Cache-Control": "public, max-age=3600"})


@router.post("/detect", summary="Run an outbreak detector on a count series")
async def run_detector(request: Request) -> JSONResponse:
    """Judge each point of `series` (`[{"period": "2026-W01", "count": 3}, ...]`, oldest first, no gaps) with
    `method`; `frequency` is periods a year (52 weekly, 365 daily, 12 monthly; default 52) and `parameters` the
    method's parameters (see GET /methods). The answer has `method`, `frequency`, `parameters` with defaults filled,
    `source`, `r_function` and `results`: one row per point with period, count, expected, upper, alarm and score.
    Points without enough history have expected and upper null and no alarm."""
    raw = await _body(request)
    if raw is None:
        return JSONResponse({"error": "too-large", "message": f"the body is over {MAX_BODY} bytes"},
                            status_code=413, headers=NO_STORE)
    try:
        payload = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        return _invalid({"body": "is not JSON"})
    arguments, problems = _request(payload)
    if "body" in problems:
        return _invalid(problems)
    params = arguments.pop("params")
    try:
        method, resolved = check_input(arguments["method"], arguments["counts"], arguments["periods"],
                                       arguments["frequency"], params)
    except DetectionInputError as exc:
        # The shape's problems stand; the detector's add to them (every field at fault is named at once).
        for field, problem in _detector_problems(exc).items():
            problems.setdefault(field, problem)
    if not problems and method.name in FITTED_METHODS:
        judged = len(arguments["counts"]) - (resolved["b"] * arguments["frequency"] + resolved["w"])
        if judged > MAX_FITTED_PERIODS:
            problems["series"] = (f"would have {judged} periods judged by {method.name}; at most {MAX_FITTED_PERIODS} "
                                  "are judged in one request, so send only the history the method needs "
                                  "(b years and w periods) and the periods to judge")
    if problems:
        return _invalid(problems)
    rows = await run_in_threadpool(lambda: detect(method.name, arguments["counts"], periods=arguments["periods"],
                                                  frequency=arguments["frequency"], **resolved))
    return JSONResponse({"method": method.name, "frequency": arguments["frequency"], "parameters": resolved,
                         "source": method.info.source, "r_function": method.info.r_function,
                         "results": [row.as_dict() for row in rows]}, headers=NO_STORE)
