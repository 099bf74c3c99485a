"""Demographics normalised for matching: Chinese names through pinyin, dates, sex codes, phones."""

import pytest

from smartcare.regional.mpi import normalise
from smartcare.regional.mpi.normalise import person


@pytest.mark.parametrize(
    ("raw", "family", "expected"),
    [
        ("张", True, "zhang"),
        ("Zhang", True, "zhang"),
        ("ZHANG", True, "zhang"),
        ("小明", False, "xiaoming"),
        ("Xiao-Ming", False, "xiaoming"),
        ("Xiao Ming", False, "xiaoming"),
        ("曾", True, "zeng"),  # the surname reading, not the common ceng
        ("单", True, "shan"),
        ("欧阳", True, "ouyang"),
        ("吕", True, "lu"),
        ("Lü", True, "lu"),
        ("Müller", True, "muller"),
        ("José", False, "jose"),
        ("Ｗａｎｇ", True, "wang"),  # full-width Latin from a Chinese input method
        ("O'Brien", True, "obrien"),
        ("", True, ""),
    ],
)
def test_names_in_characters_pinyin_or_latin_become_the_same_letters(raw, family, expected):
    assert normalise.name_key(raw, family=family) == expected


def test_a_chinese_full_name_is_split_at_the_family_name_including_compound_ones():
    assert normalise.split_full_name("张小明") == ("张", "小明")
    assert normalise.split_full_name("欧阳娜娜") == ("欧阳", "娜娜")
    assert normalise.split_full_name("Xiaoming Zhang") == ("Zhang", "Xiaoming")
    assert normalise.split_full_name("Zhang, Xiaoming") == ("Zhang", "Xiaoming")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-03-07", "19800307"),
        ("1980/3/7", "19800307"),
        ("19800307", "19800307"),
        ("1980年3月7日", "19800307"),
        ("07/03/1980", "19800307"),  # day first, as written in China and Europe
        ("07.03.1980", "19800307"),
        ("3/27/1980", "19800327"),  # a month-first date is recognised when the day cannot be a month
        ("1980-03-07T08:00:00+08:00", "19800307"),
        ("19651332", "19651332"),  # an impossible date kept: a typo still resembles the right one
        ("yesterday", ""),
        ("0001-01-01", ""),
        ("", ""),
    ],
)
def test_birth_dates_in_the_usual_formats(raw, expected):
    assert normalise.birth_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("男", "M"), ("女", "F"), ("male", "M"), ("F", "F"), ("1", "M"), ("2", "F"), ("unknown", ""), ("9", "")],
)
def test_sex_codes(raw, expected):
    assert normalise.sex(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("86 138 0013 8000", "13800138000"),
        ("010-6552 9988", "01065529988"),  # a Beijing landline keeps its area code
        ("n/a", ""),
    ],
)
def test_phone_numbers_lose_the_country_code_and_separators(raw, expected):
    assert normalise.phone(raw) == expected


def test_a_valid_identity_number_fills_in_a_missing_birth_date_and_sex():
    record = person("p1", full_name="王芳", id_number="11010519491231002x")
    assert record.id_valid and record.id_number == "11010519491231002X"
    assert record.birth == "19491231" and record.sex == "F"
    assert (record.family, record.given) == ("wang", "fang")


def test_an_invalid_identity_number_is_kept_for_fuzzy_comparison_but_not_trusted():
    record = person("p1", id_number="110105194912310021")
    assert not record.id_valid and record.id_number == "110105194912310021"
    assert record.birth == ""


def test_addresses_and_postcodes_are_folded():
    record = person("p1", address_lines=("12, Jiefang Road", "Flat 3"), city="  Hangzhou ", postal_code="310 000")
    assert record.address == "12 jiefang road flat 3"
    assert record.city == "hangzhou" and record.postcode == "310000"
