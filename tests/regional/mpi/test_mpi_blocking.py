"""Blocking: which pairs get compared, each once, without placeholder values flooding the comparison."""

from smartcare.regional.mpi.batch import find_matches
from smartcare.regional.mpi.blocking import MAX_BLOCK, CandidateIndex, candidate_pairs
from smartcare.regional.mpi.compare import COMPARISONS
from smartcare.regional.mpi.model import FellegiSunterModel, default_m
from smartcare.regional.mpi.normalise import person


def test_names_written_either_way_round_are_compared():
    left = [person("a", given="Wei", family="Zhang", birth="1980-01-01")]
    right = [person("b", given="Zhang", family="Wei", birth="1990-05-05"), person("c", given="Li", family="Na")]
    assert list(candidate_pairs(left, right)) == [(0, 0)]


def test_a_pair_sharing_many_keys_is_compared_once():
    same = dict(given="Wei", family="Zhang", birth="1980-01-01", phone_number="13800138000", postal_code="310000")
    people = [person("a", **same), person("b", **same)]
    assert list(candidate_pairs(people)) == [(0, 1)]


def test_a_placeholder_phone_shared_by_hundreds_makes_no_pairs():
    people = [person(f"p{n}", given=f"given{n}", family=f"family{n}", phone_number="13800000000")
              for n in range(MAX_BLOCK + 1)]
    assert list(candidate_pairs(people)) == []
    assert list(candidate_pairs(people[:3])) == [(0, 1), (0, 2), (1, 2)]


def test_the_real_time_index_finds_identities_sharing_a_key():
    known = [person("k0", full_name="张伟", birth="1980-01-01"), person("k1", full_name="李娜", phone_number="13900001111"),
             person("k2", full_name="王芳", birth="1990-02-02")]
    index = CandidateIndex(known)
    assert index.candidates(person("new", given="Na", family="Li", phone_number="+86 139 0000 1111")) == {1}
    assert index.candidates(person("new", full_name="赵敏", birth="1980-01-01")) == {0}
    assert index.candidates(person("new", full_name="孙强")) == set()


def test_one_to_one_keeps_only_each_records_best_match():
    m = [default_m(c) for c in COMPARISONS]
    u = [[0.9] + [0.1 / (len(c.levels) - 1)] * (len(c.levels) - 1) for c in COMPARISONS]
    model = FellegiSunterModel(m=m, u=u, prior=0.01)
    left = [person("a", full_name="张伟", birth="1980-01-01", phone_number="13800138000")]
    right = [person("b", full_name="张伟", birth="1980-01-01", phone_number="13800138000"),
             person("c", full_name="张伟", birth="1980-01-01")]
    assert {p.right_id for p in find_matches(model, left, right)} == {"b", "c"}
    assert [p.right_id for p in find_matches(model, left, right, one_to_one=True)] == ["b"]
