"""Comparison levels: typos, transpositions, swapped names and dates, missing values."""

from smartcare.regional.mpi.compare import FIELD_NAMES, MISSING, compare
from smartcare.regional.mpi.normalise import person


def levels(a, b) -> dict[str, int]:
    return dict(zip(FIELD_NAMES, compare(a, b), strict=True))


def test_the_same_person_in_characters_and_in_pinyin_agrees_exactly():
    a = person("a", full_name="张小明", birth="1980-03-07", sex_code="男", phone_number="13800138000")
    b = person("b", given="Xiaoming", family="Zhang", birth="07/03/1980", sex_code="M", phone_number="+86 138 0013 8000")
    got = levels(a, b)
    assert got["given_name"] == 4 and got["family_name"] == 4
    assert got["birth_date"] == 4 and got["sex"] == 1 and got["phone"] == 2


def test_given_and_family_written_the_other_way_round_still_agree():
    a = person("a", given="Xiaoming", family="Zhang")
    b = person("b", given="Zhang", family="Xiaoming")  # entered family-first into a given-name field
    got = levels(a, b)
    assert (got["given_name"], got["family_name"]) == (4, 4)


def test_a_typo_or_transposition_in_a_name_is_one_level_below_exact():
    a = person("a", given="Catherine", family="Neumann")
    typo = levels(a, person("b", given="Catherime", family="Nuemann"))  # one substitution, one transposition
    assert typo["given_name"] == 3 and typo["family_name"] == 3
    different = levels(a, person("c", given="Robert", family="Green"))
    assert different["given_name"] == 0 and different["family_name"] == 0


def test_pinyin_typos_are_close_and_different_names_are_not():
    a = person("a", full_name="李晓燕")
    assert levels(a, person("b", given="Xiaoyan", family="Li"))["given_name"] == 4
    assert levels(a, person("b", given="Xaioyan", family="Li"))["given_name"] == 3
    assert levels(a, person("b", given="Jianguo", family="Li"))["given_name"] <= 1


def test_birth_date_levels_tell_swapped_day_and_month_from_a_typo_from_a_near_year():
    a = person("a", birth="1980-03-07")
    assert levels(a, person("b", birth="1980-07-03"))["birth_date"] == 3
    assert levels(a, person("b", birth="1980-03-08"))["birth_date"] == 2
    assert levels(a, person("b", birth="1981-11-20"))["birth_date"] == 1
    assert levels(a, person("b", birth="1955-01-01"))["birth_date"] == 0


def test_identity_numbers_with_one_and_two_edits():
    a = person("a", id_number="5304218")
    assert levels(a, person("b", id_number="5304218"))["id_number"] == 3
    assert levels(a, person("b", id_number="5302418"))["id_number"] == 2  # transposition = one edit
    assert levels(a, person("b", id_number="5392411"))["id_number"] == 0


def test_missing_values_on_either_side_give_no_level():
    got = levels(person("a", given="Wei"), person("b", given="Wei", birth="1980-01-01"))
    assert got["given_name"] == 4
    assert got["birth_date"] == MISSING and got["family_name"] == MISSING and got["phone"] == MISSING
