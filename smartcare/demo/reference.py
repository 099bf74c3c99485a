"""Loads the demo generator's reference data files from the package's data folder."""

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed JSON data file `data/<name>.json` (cached; treat it as read-only)."""
    with (DATA_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def band_value(rows: list[list[Any]], age: int, column: int) -> float:
    """Return `row[column]` of the first `[from_age, to_age, ...]` row containing `age`, or 0.0."""
    for row in rows:
        if row[0] <= age <= row[1]:
            return row[column]
    return 0.0
