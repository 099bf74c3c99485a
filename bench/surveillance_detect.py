"""How long each outbreak detector takes on a 5-year weekly series and a 1-year daily series (and, for Farrington
and Noufaily, which need b whole years of history, on a 6-year daily series). Prints milliseconds per run and per
period judged, the best of a few runs.

    .venv/bin/python bench/surveillance_detect.py
"""

import math
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from smartcare.knowledge.surveillance import DetectionInputError, detect

RUNS = 3


def seasonal_counts(periods: int, frequency: int, seed: int) -> list[int]:
    """Overdispersed counts around a yearly cycle, with an outbreak in the last tenth."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    mean = 10 + 4 * np.sin(2 * math.pi * t / frequency)
    mean[int(periods * 0.9): int(periods * 0.9) + max(2, frequency // 52 * 3)] += 15
    return [int(c) for c in rng.poisson(rng.gamma(8, mean / 8))]


SERIES = (
    ("5-year weekly", 52, seasonal_counts(260, 52, 1)),
    ("1-year daily", 365, seasonal_counts(365, 365, 2)),
    ("6-year daily", 365, seasonal_counts(6 * 365, 365, 3)),
)
# Farrington and Noufaily need b years and w periods of history: with five years of weekly counts b is 4.
RUNS_OF = {
    "5-year weekly": [("ears-c1", {}), ("ears-c2", {}), ("ears-c3", {}), ("cusum", {}), ("farrington", {"b": 4}),
                      ("noufaily", {"b": 4})],
    "1-year daily": [("ears-c1", {}), ("ears-c2", {}), ("ears-c3", {}), ("cusum", {"training": 90}),
                     ("farrington", {"b": 1}), ("noufaily", {"b": 1})],
    "6-year daily": [("farrington", {}), ("noufaily", {})],
}


def best_time(method: str, counts: list[int], frequency: int, params: dict) -> tuple[float, int]:
    """The best of RUNS wall-clock times in seconds, and how many periods were judged."""
    times, judged = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        rows = detect(method, counts, frequency=frequency, **params)
        times.append(time.perf_counter() - start)
        judged = sum(r.expected is not None for r in rows)
    return min(times), judged


def main() -> None:
    """Time every method on every series and print a table."""
    table = Table("series", "method", "parameters", "periods judged", "ms per run", "ms per period",
                  title="Outbreak detectors: time per series")
    for name, frequency, counts in SERIES:
        for method, params in RUNS_OF[name]:
            shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
            try:
                seconds, judged = best_time(method, counts, frequency, params)
            except DetectionInputError as exc:
                needs = exc.problems.get("counts", "").partition("needs ")[2].partition(" to judge")[0]
                table.add_row(name, method, shown, "-", f"not run: needs {needs}" if needs else "not run", "-")
                continue
            table.add_row(name, method, shown, str(judged), f"{seconds * 1000:.1f}",
                          f"{seconds * 1000 / max(judged, 1):.2f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
