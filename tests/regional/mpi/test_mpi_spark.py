"""Spark mode: the shipped engine's model run on PySpark (local[1]) finds the same pairs as the embedded path."""

import random

import pytest

from smartcare.regional.mpi.batch import find_matches
from smartcare.regional.mpi.febrl import febrl4
from smartcare.regional.mpi.training import train

pyspark = pytest.importorskip("pyspark", reason="pyspark is a test dependency (requirements-test.lock)")


@pytest.fixture(scope="module")
def session(spark_session):
    """The shared local[1] Spark session (tests/regional/conftest.py)."""
    return spark_session


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """600 FEBRL4 records of file A, their 600 duplicates in B (typos, swaps, gaps) and 300 others of B."""
    bench = febrl4(tmp_path_factory.mktemp("febrl"))
    rng = random.Random(4)
    chosen = set(rng.sample(sorted(bench.true_links), 600))
    by_id_b = {p.record_id: p for p in bench.people_b}
    left_ids = {a for a, _ in chosen}
    right_ids = {b for _, b in chosen} | set(rng.sample(sorted(by_id_b), 300))
    left = [p for p in bench.people_a if p.record_id in left_ids]
    right = [by_id_b[i] for i in sorted(right_ids)]
    return left, right, chosen


@pytest.mark.slow
def test_linking_a_febrl_sample_on_spark_gives_the_pairs_of_the_embedded_path(session, sample):
    from smartcare.regional.mpi import spark

    left, right, truth = sample
    model = train(left, right, seed=3)
    embedded = find_matches(model, left, right, threshold=0.5)
    on_spark = spark.find_matches(session, model, spark.people_frame(session, left, partitions=3),
                                  spark.people_frame(session, right, partitions=2), threshold=0.5)
    # The executors rebuild the model from its JSON: weights agree to rounding, so compare pair by pair.
    spark_pairs = {(p.left_id, p.right_id): (p.basis, p.match_probability) for p in on_spark}
    embedded_pairs = {(p.left_id, p.right_id): (p.basis, p.match_probability) for p in embedded}
    assert spark_pairs.keys() == embedded_pairs.keys() and len(on_spark) == len(embedded)
    for pair, (basis, chance) in embedded_pairs.items():
        assert spark_pairs[pair][0] == basis and spark_pairs[pair][1] == pytest.approx(chance, abs=1e-9)
    found = {(p.left_id, p.right_id) for p in on_spark if p.match_probability >= 0.9}
    assert len(found & truth) >= 0.97 * len(truth)


@pytest.mark.slow
def test_deduplicating_on_spark_gives_the_pairs_of_the_embedded_path(session, sample):
    from smartcare.regional.mpi import spark

    left, right, _ = sample
    people = left[:300] + right[:300]
    model = train(people, seed=3)
    embedded = {(p.left_id, p.right_id) for p in find_matches(model, people)}
    on_spark = {(p.left_id, p.right_id) for p in spark.find_matches(session, model, spark.people_frame(session, people))}
    assert on_spark == embedded and embedded
