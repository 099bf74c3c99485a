"""The Fellegi-Sunter model: match weights by hand, EM recovering known parameters, model files."""

import json
import math

import numpy as np
import pytest

from smartcare.regional.mpi.compare import COMPARISONS, MISSING, compare
from smartcare.regional.mpi.model import (
    FellegiSunterModel,
    ModelFileError,
    default_m,
    expectation_maximisation,
    probability,
)
from smartcare.regional.mpi.normalise import person


def uniform(comparison) -> list[float]:
    return [1 / len(comparison.levels)] * len(comparison.levels)


def hand_model() -> FellegiSunterModel:
    """Every field uninformative (m = u) except given name exact (m 0.8, u 0.01) and birth date exact (m 0.9, u 0.001)."""
    m = [uniform(c) for c in COMPARISONS]
    u = [uniform(c) for c in COMPARISONS]
    m[0] = [0.05, 0.05, 0.05, 0.05, 0.8]
    u[0] = [0.96, 0.01, 0.01, 0.01, 0.01]
    m[2] = [0.04, 0.02, 0.02, 0.02, 0.9]
    u[2] = [0.9, 0.09, 0.005, 0.004, 0.001]
    return FellegiSunterModel(m=m, u=u, prior=1 / 1025)


def test_the_match_weight_of_a_hand_made_pair_is_the_sum_of_log2_bayes_factors():
    model = hand_model()
    a = person("a", given="Wei", family="Zhang", birth="1980-03-07")
    b = person("b", given="Wei", family="Zhang", birth="1980-03-07")
    levels = compare(a, b)
    assert levels[0] == 4 and levels[2] == 4
    expected = math.log2(1 / 1024) + math.log2(0.8 / 0.01) + math.log2(0.9 / 0.001)  # -10 + 6.32 + 9.81
    assert model.match_weight(levels) == pytest.approx(expected)
    assert probability(model.match_weight(levels)) == pytest.approx(2**expected / (1 + 2**expected))
    assert model.field_weights(levels)["birth_date"] == pytest.approx(math.log2(900))
    assert model.field_weights(levels)["phone"] is None  # missing on both sides: no evidence


def test_a_disagreeing_birth_date_pulls_the_probability_down():
    model = hand_model()
    a = person("a", given="Wei", birth="1980-03-07")
    same = model.match_weight(compare(a, person("b", given="Wei", birth="1980-03-07")))
    other = model.match_weight(compare(a, person("b", given="Wei", birth="1955-12-01")))
    assert same - other == pytest.approx(math.log2(0.9 / 0.001) - math.log2(0.04 / 0.9))
    assert probability(same) > 0.98 and probability(other) < 0.01


def synthetic_vectors(rng, n, proportion, m, u, missing=0.0):
    is_match = rng.random(n) < proportion
    columns = []
    for m_k, u_k in zip(m, u, strict=True):
        column = np.where(is_match, rng.choice(len(m_k), n, p=m_k), rng.choice(len(u_k), n, p=u_k))
        column[rng.random(n) < missing] = MISSING
        columns.append(column)
    return np.stack(columns, axis=1)


def test_em_recovers_known_m_u_and_proportion_from_unlabelled_pairs():
    rng = np.random.default_rng(7)
    m_true = [[0.05, 0.15, 0.8], [0.1, 0.9], [0.02, 0.08, 0.9], [0.2, 0.8]]
    u_true = [[0.85, 0.1, 0.05], [0.7, 0.3], [0.95, 0.04, 0.01], [0.5, 0.5]]
    vectors = synthetic_vectors(rng, 40_000, 0.25, m_true, u_true, missing=0.05)
    start_m = [[0.1] * (len(r) - 1) + [1 - 0.1 * (len(r) - 1)] for r in m_true]
    start_u = [[0.6] + [0.4 / (len(r) - 1)] * (len(r) - 1) for r in u_true]
    result = expectation_maximisation(vectors, m=start_m, u=start_u, proportion=0.5, estimate_u=True)
    assert result.proportion_matched == pytest.approx(0.25, abs=0.015)
    for got, want in zip(result.m + result.u, m_true + u_true, strict=True):
        assert got == pytest.approx(want, abs=0.03)


def test_em_leaves_the_fields_a_training_block_uses_untouched():
    rng = np.random.default_rng(3)
    m_true = [[0.1, 0.9], [0.05, 0.95]]
    u_true = [[0.9, 0.1], [0.8, 0.2]]
    vectors = synthetic_vectors(rng, 5_000, 0.3, m_true, u_true)
    start = [[0.5, 0.5], [0.5, 0.5]]
    result = expectation_maximisation(vectors, m=start, u=u_true, fields=[1])
    assert result.m[0] == [0.5, 0.5]
    assert result.m[1] != [0.5, 0.5]


def test_a_model_survives_a_round_trip_through_its_json_file(tmp_path):
    model = hand_model()
    model.save(tmp_path / "model.json")
    loaded = FellegiSunterModel.load(tmp_path / "model.json")
    levels = compare(person("a", given="Wei", birth="19800307"), person("b", given="Wei", birth="19800307"))
    assert loaded.match_weight(levels) == pytest.approx(model.match_weight(levels))
    data = json.loads((tmp_path / "model.json").read_text())
    assert data["comparisons"][0]["levels"][-1]["match_weight"] == pytest.approx(math.log2(80))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read"),
        ('{"format": "something-else"}', "not a SmartCare MPI model"),
        ('{"format": "smartcare-mpi-fellegi-sunter/1", "prior": 0.1}', "malformed"),
        ('{"format": "smartcare-mpi-fellegi-sunter/1", "prior": 0.1, "comparisons": []}', "differ"),
    ],
)
def test_a_broken_model_file_is_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(ModelFileError, match=message):
        FellegiSunterModel.load(path)


def test_a_model_with_an_impossible_prior_is_refused(tmp_path):
    data = FellegiSunterModel(m=[default_m(c) for c in COMPARISONS], u=[uniform(c) for c in COMPARISONS],
                              prior=0.01).to_dict()
    data["prior"] = 1.5
    with pytest.raises(ModelFileError, match="prior"):
        FellegiSunterModel.from_dict(data)
