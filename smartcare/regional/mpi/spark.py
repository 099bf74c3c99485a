"""The MPI's batch linkage on Apache Spark: the same model and the same decisions as batch.py, for a whole province.

The embedded engine (batch.find_matches) holds every record of a file in one process, which is right up to a
few million records. A province's registry is linked on a Spark cluster instead, with exactly the model
the embedded path uses (its m and u probabilities, prior and term frequencies, shipped or trained) and the
same comparison code, so both find the same pairs with the same match probabilities:

1. every record's blocking keys (blocking.PREDICTION_RULES) are computed where the record lives;
2. per rule, keys held by more than MAX_BLOCK records on a side are dropped as placeholders, and the two
   sides are joined on the key; a pair an earlier rule already yields is left out (as splink does), so
   each candidate pair is compared once;
3. each partition of candidate pairs is scored with compare.compare and the model (shipped to the
   executors once, as a broadcast of its JSON), keeping the pairs at or above the threshold and those
   sharing a valid identity number.

Usage (PySpark 4, Java 17; the `test` extras pin pyspark):

    from pyspark.sql import SparkSession
    from smartcare.regional.mpi import service, spark
    from smartcare.regional.mpi.files import read_people

    session = SparkSession.builder.master("spark://cluster:7077").appName("mpi").getOrCreate()
    left = spark.people_frame(session, read_people("hospitals.csv").people)   # or any DataFrame of
    right = spark.people_frame(session, read_people("registry.csv").people)   # normalise.Person columns
    pairs = spark.find_matches(session, service.model(), left, right, threshold=0.9)

`right=None` deduplicates `left`. The records must be normalised (normalise.person, or files.read_people);
the executors need the smartcare package installed, as the driver does. tests/regional/mpi/test_mpi_spark.py
links a FEBRL4 sample on `local[1]` and checks the pairs are those of the embedded path.
"""

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from smartcare.regional.mpi import DEFAULT_THRESHOLD
from smartcare.regional.mpi.batch import DETERMINISTIC, PROBABILISTIC, MatchedPair, _best_each, weight_for
from smartcare.regional.mpi.blocking import MAX_BLOCK, PREDICTION_RULES
from smartcare.regional.mpi.model import FellegiSunterModel, probability
from smartcare.regional.mpi.normalise import Person

PERSON_FIELDS = tuple(f.name for f in dataclasses.fields(Person))
KEYS = tuple(f"key_{number}" for number in range(len(PREDICTION_RULES)))


def people_frame(session: Any, people: Sequence[Person], *, partitions: int | None = None) -> Any:
    """A Spark DataFrame of normalised records, one column per Person field plus a position (pos)."""
    from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

    schema = StructType([StructField("pos", LongType(), False)] + [
        StructField(name, BooleanType() if name == "id_valid" else StringType(), False) for name in PERSON_FIELDS])
    rows = [(pos, *dataclasses.astuple(p)) for pos, p in enumerate(people)]
    return session.createDataFrame(rows, schema).repartition(partitions or session.sparkContext.defaultParallelism)


def _with_keys(rows: Iterator[Any]) -> Iterator[tuple]:
    for row in rows:
        record = Person(**{name: row[name] for name in PERSON_FIELDS})
        yield (row["pos"], *dataclasses.astuple(record), *(rule.key(record) for rule in PREDICTION_RULES))


def _keyed(frame: Any) -> Any:
    from pyspark.sql.types import StringType, StructField, StructType

    chosen = frame.select("pos", *PERSON_FIELDS)
    schema = StructType(list(chosen.schema.fields) + [StructField(key, StringType(), False) for key in KEYS])
    return chosen.rdd.mapPartitions(_with_keys).toDF(schema)


def _blocked(left: Any, right: Any, *, dedupe: bool, max_block: int) -> Any:
    """The candidate pairs (left pos, right pos, every Person column of both sides), each once."""
    from pyspark.sql import functions as F

    pairs = None
    for number, key in enumerate(KEYS):
        sizes_l = left.where(F.col(key) != "").groupBy(key).count()
        sizes_r = sizes_l if dedupe else right.where(F.col(key) != "").groupBy(key).count()
        # Dedupe: blocks of 2..max_block records; link: keys held by at most max_block on each side.
        usable = (sizes_l.where((F.col("count") > 1) & (F.col("count") <= max_block)) if dedupe else
                  sizes_l.where(F.col("count") <= max_block).select(key).join(
                      sizes_r.where(F.col("count") <= max_block).select(key), key))
        l_side = left.join(usable.select(key), key).alias("l")
        r_side = right.join(usable.select(key), key).alias("r")
        joined = l_side.join(r_side, F.col(f"l.{key}") == F.col(f"r.{key}"))
        if dedupe:
            joined = joined.where(F.col("l.pos") < F.col("r.pos"))
        for earlier in KEYS[:number]:
            joined = joined.where(~((F.col(f"l.{earlier}") != "") & (F.col(f"l.{earlier}") == F.col(f"r.{earlier}"))))
        chosen = joined.select(*[F.col(f"l.{n}").alias(f"l_{n}") for n in PERSON_FIELDS],
                               *[F.col(f"r.{n}").alias(f"r_{n}") for n in PERSON_FIELDS])
        pairs = chosen if pairs is None else pairs.unionByName(chosen)
    return pairs


def _scorer(model_json: Any, cutoff: float):
    """A partition function scoring candidate pairs exactly as batch.find_matches does."""

    def score_partition(rows: Iterator[Any]) -> Iterator[tuple]:
        from smartcare.regional.mpi.compare import compare

        model = FellegiSunterModel.from_dict(model_json.value)
        weights, prior_weight = model.weights, model.prior_weight
        adjusted = bool(model.term_frequencies)
        for row in rows:
            a = Person(**{name: row[f"l_{name}"] for name in PERSON_FIELDS})
            b = Person(**{name: row[f"r_{name}"] for name in PERSON_FIELDS})
            levels = compare(a, b)
            weight = prior_weight
            for table, level in zip(weights, levels, strict=True):
                if level >= 0:
                    weight += table[level]
            if adjusted:
                weight += model.tf_adjustment(a, levels)
            if a.id_valid and b.id_valid and a.id_number == b.id_number:
                yield a.record_id, b.record_id, 1.0, weight, DETERMINISTIC
            elif weight >= cutoff:
                yield a.record_id, b.record_id, probability(weight), weight, PROBABILISTIC

    return score_partition


def find_matches(session: Any, model: FellegiSunterModel, left: Any, right: Any | None = None, *,
                 threshold: float = DEFAULT_THRESHOLD, one_to_one: bool = False,
                 max_block: int = MAX_BLOCK) -> list[MatchedPair]:
    """The pairs at or above the threshold, best first, linking two DataFrames of records (people_frame) on
    Spark, or deduplicating left when right is None; with one_to_one each record keeps only its best match."""
    if not 0 < threshold < 1:
        raise ValueError("the match probability threshold must lie strictly between 0 and 1")
    dedupe = right is None
    keyed_left = _keyed(left).cache()
    keyed_right = keyed_left if dedupe else _keyed(right).cache()
    try:
        pairs = _blocked(keyed_left, keyed_right, dedupe=dedupe, max_block=max_block)
        shipped = session.sparkContext.broadcast(model.to_dict())
        rows = pairs.rdd.mapPartitions(_scorer(shipped, weight_for(threshold))).collect()
    finally:
        keyed_left.unpersist()
        if not dedupe:
            keyed_right.unpersist()
    found = [MatchedPair(*row) for row in rows]
    found.sort(key=lambda pair: (-pair.match_probability, -pair.match_weight, pair.left_id, pair.right_id))
    return _best_each(found) if one_to_one else found
