"""The calculators as an API for other systems: GET /api/v1/scores lists them, POST /api/v1/scores/{name} runs one.

No sign-in and nothing stored: the inputs are calculated and forgotten, like the triage API. Bad input gets a JSON
problem with a 4xx status naming each input at fault, never a 500. Warnings and labels follow the request's language.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from smartcare.knowledge import scores
from smartcare.platform.i18n import current_locale

router = APIRouter(prefix="/api/v1/scores", tags=["scores"])
MAX_BODY = 16 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _problem(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status, headers=NO_STORE)


@router.get("", summary="List the calculators")
async def catalogue() -> JSONResponse:
    """Every calculator with its inputs (name, labels, type, unit and other accepted units, allowed range, choices),
    its result's unit and categories, where it comes from and whom it applies to."""
    return JSONResponse({"calculators": [c.describe() for c in scores.CALCULATORS.values()]},
                        headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{name}", summary="Describe one calculator")
async def describe(name: str) -> JSONResponse:
    """One calculator's catalogue entry."""
    calculator = scores.CALCULATORS.get(name)
    if calculator is None:
        return _problem(404, "not-found", f"no calculator is called {name[:60]!r}")
    return JSONResponse(calculator.describe(), headers={"Cache-Control": "public, max-age=3600"})


@router.post("/{name}", summary="Run a calculator")
async def calculate(name: str, request: Request) -> JSONResponse:
    """Run the named calculator on a JSON object of its inputs. A number is read in the input's canonical unit;
    `{"value": 5.2, "unit": "mmol/L"}` gives it in another accepted unit. The answer has `value`, `unit`, `category`
    (with its label), `inputs` (as used, canonical units), `warnings`, `source` and `detail` (points per item, or the
    equation's linear predictor). An input out of range, missing or of the wrong kind is refused with 422 and a
    `problems` object naming each; a person outside the equation's population is refused with `not-applicable`."""
    calculator = scores.CALCULATORS.get(name)
    if calculator is None:
        return _problem(404, "not-found", f"no calculator is called {name[:60]!r}")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _problem(413, "too-large", f"the body is over {MAX_BODY} bytes")
    try:
        inputs = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        return _problem(400, "invalid-json", "the body must be a JSON object of the calculator's inputs")
    try:
        result = calculator.run(inputs)
    except scores.ScoreInputError as exc:
        return _problem(422, "invalid", str(exc)[:600], problems=exc.problems)
    except scores.NotApplicable as exc:
        return _problem(422, "not-applicable", str(exc)[:600])
    zh = current_locale(request) == "zh-Hans"
    body = {"calculator": calculator.name, **result.as_json(zh=zh),
            "category_label": calculator.label(result.category, zh=zh)}
    return JSONResponse(body, headers=NO_STORE)
