"""The MPI quality bar on the FEBRL4 benchmark: precision and recall both at least 0.99."""

import csv

from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.regional.mpi.batch import find_matches
from smartcare.regional.mpi.febrl import accuracy, febrl4
from smartcare.regional.mpi.training import train


def test_febrl4_is_linked_with_precision_and_recall_of_at_least_0_99(tmp_path):
    bench = febrl4(tmp_path)
    model = train(bench.people_a, bench.people_b)
    found = {(p.left_id, p.right_id) for p in find_matches(model, bench.people_a, bench.people_b)}
    precision, recall, _ = accuracy(found, bench.true_links)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)
    # Unsupervised, the prior lands near the truth: one match per 5,000 pairs.
    assert 1 / 10_000 < model.prior < 1 / 2_500


def test_the_link_command_reaches_the_bar_on_the_febrl4_files(tmp_path):
    bench = febrl4(tmp_path)
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(app, ["mpi", "link", str(bench.file_a), str(bench.file_b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as stream:
        found = {(row["left_identifier"], row["right_identifier"]) for row in csv.DictReader(stream)}
    precision, recall, _ = accuracy(found, bench.true_links)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)


def test_deduplicating_both_febrl4_files_together_finds_the_duplicates(tmp_path):
    bench = febrl4(tmp_path)
    people = bench.people_a + bench.people_b
    found = set()
    for pair in find_matches(train(people), people):
        found.add((pair.left_id, pair.right_id) if "org" in pair.left_id else (pair.right_id, pair.left_id))
    precision, recall, _ = accuracy(found, bench.true_links)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)
