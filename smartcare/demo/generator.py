"""Generates the demo region as FHIR R4 transaction bundles, fully determined by (residents, seed, as_of)."""

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

from smartcare.demo.facilities import Directory, build_directory
from smartcare.demo.history import ResidentPlan, plan_resident
from smartcare.demo.records import render_resident

DEFAULT_AS_OF = date(2026, 11, 1)
BUNDLE_SIZE = 100
MAX_RESIDENTS = 1_000_000


def _check(residents: int) -> None:
    if not 0 <= residents <= MAX_RESIDENTS:
        raise ValueError(f"residents must be between 0 and {MAX_RESIDENTS}")


def _rng(seed: int, *parts: object) -> random.Random:
    """A generator seeded from a string, so streams are independent and stable across processes."""
    return random.Random(":".join(["smartcare-demo", str(seed), *map(str, parts)]))


def _plans(residents: int, seed: int, as_of: date) -> Iterator[tuple[Directory, ResidentPlan | None]]:
    """Yield the facility directory first (with no plan), then every resident's plan in order."""
    used_ids: set[str] = set()
    directory = build_directory(_rng(seed, "facilities"), as_of, used_ids)
    yield directory, None
    for index in range(1, residents + 1):
        yield directory, plan_resident(_rng(seed, "resident", index, "plan"), index, as_of, directory, used_ids)


def _resources(residents: int, seed: int, as_of: date) -> Iterator[dict[str, Any]]:
    width = max(5, len(str(residents)))
    for directory, plan in _plans(residents, seed, as_of):
        if plan is None:
            yield from directory.resources
        else:
            yield from render_resident(plan, _rng(seed, "resident", plan.index, "values"), directory, as_of, width)


def _bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": resource,
                   "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}
                  for resource in entries],
    }


def generate_region(*, residents: int = 500, seed: int = 1, as_of: date = DEFAULT_AS_OF) -> Iterator[dict[str, Any]]:
    """Yield the region as transaction bundles of at most 100 PUT entries: facilities first, then residents.

    Every reference points to a resource earlier in the stream, so bundles can be applied one by one.
    """
    _check(residents)
    batch: list[dict[str, Any]] = []
    for resource in _resources(residents, seed, as_of):
        batch.append(resource)
        if len(batch) == BUNDLE_SIZE:
            yield _bundle(batch)
            batch = []
    if batch:
        yield _bundle(batch)


def count_region(*, residents: int, seed: int, as_of: date = DEFAULT_AS_OF) -> int:
    """Return how many resources generate_region will yield for these arguments (cheaper than generating)."""
    _check(residents)
    total = 0
    for directory, plan in _plans(residents, seed, as_of):
        total += len(directory.resources) if plan is None else plan.resource_count()
    return total
