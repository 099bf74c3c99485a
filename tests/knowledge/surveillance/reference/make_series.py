"""Write the project's own test series for the outbreak detectors (seeded, standard library only, so the same
files come out on any machine): `python tests/knowledge/surveillance/reference/make_series.py`.

Each series is a CSV of period,count in series/: weekly counts with yearly seasonality, overdispersion and outbreaks
(one in an early year, to test the down-weighting of past outbreaks, and one at the end), weekly counts with a strong
upward trend, sparse weekly counts (mostly zeros), daily counts with a weekday pattern for EARS and CUSUM, and
monthly counts over ten years.
"""

import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).parent


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by Knuth's multiplication method (the means here stay below 100)."""
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def overdispersed(rng: random.Random, mean: float, shape: float) -> int:
    """A negative binomial draw as a Poisson with a gamma-distributed mean (variance mean + mean^2 / shape)."""
    return poisson(rng, rng.gammavariate(shape, mean / shape))


def iso_weeks(first_year: int, count: int) -> list[str]:
    """Labels 2015-W01, 2015-W02 ... with 52 weeks to a year, as the detectors count them."""
    return [f"{first_year + i // 52}-W{i % 52 + 1:02d}" for i in range(count)]


def weekly_outbreak(rng: random.Random) -> list[int]:
    counts = []
    for t in range(312):
        mean = 8 + 4 * math.sin(2 * math.pi * t / 52) + 2 * math.cos(2 * math.pi * t / 52)
        extra = 12 if 120 <= t < 124 else (20 if 300 <= t < 304 else 0)
        counts.append(overdispersed(rng, mean, 6) + (poisson(rng, extra) if extra else 0))
    return counts


def weekly_trend(rng: random.Random) -> list[int]:
    return [overdispersed(rng, 5 * math.exp(0.004 * t) * (1 + 0.3 * math.sin(2 * math.pi * t / 52)), 10)
            for t in range(364)]


def weekly_sparse(rng: random.Random) -> list[int]:
    return [poisson(rng, 0.4 + (3 if 296 <= t < 300 else 0)) for t in range(312)]


def daily(rng: random.Random) -> list[int]:
    weekday = (1.2, 1.1, 1.0, 1.0, 1.1, 0.7, 0.6)
    return [poisson(rng, 12 * weekday[t % 7] + (15 if 170 <= t < 175 else 0)) for t in range(200)]


def monthly(rng: random.Random) -> list[int]:
    return [overdispersed(rng, 30 + 10 * math.cos(2 * math.pi * t / 12) + (25 if t in (115, 116) else 0), 20)
            for t in range(120)]


def write(name: str, periods: list[str], counts: list[int]) -> None:
    with (HERE / "series" / f"{name}.csv").open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["period", "count"])
        writer.writerows(zip(periods, counts, strict=True))


def main() -> None:
    """Write every series."""
    (HERE / "series").mkdir(exist_ok=True)
    rng = random.Random(20260713)
    for name, make, labels in (
            ("weekly_outbreak", weekly_outbreak, lambda n: iso_weeks(2015, n)),
            ("weekly_trend", weekly_trend, lambda n: iso_weeks(2014, n)),
            ("weekly_sparse", weekly_sparse, lambda n: iso_weeks(2015, n)),
            ("daily", daily, lambda n: [f"day-{i + 1:03d}" for i in range(n)]),
            ("monthly", monthly, lambda n: [f"{2011 + i // 12}-{i % 12 + 1:02d}" for i in range(n)])):
        counts = make(rng)
        write(name, labels(len(counts)), counts)


if __name__ == "__main__":
    main()
