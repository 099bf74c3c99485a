"""PRC citizen identity numbers (GB 11643-1999): check character, birth date and sex."""

import datetime as dt

import pytest

from smartcare.regional.mpi import national_id


def test_the_standards_worked_example_is_valid_and_decodes_to_a_man_born_in_1949():
    # GB 11643-1999's own example: address 110105, born 1949-12-31, sequence 002, check character X.
    decoded = national_id.parse("11010519491231002X")
    assert decoded.birth_date == dt.date(1949, 12, 31)
    assert decoded.sex == "female"  # sequence 002 ends in an even digit
    assert decoded.address_code == "110105"


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the standard's example
        ("44052418800101001", "4"),  # ISO 7064 MOD 11-2 example number
        ("32010619900307123", "4"),  # by hand: sum of digit x weight = 217, 217 mod 11 = 8 -> "4"
    ],
)
def test_check_character_follows_iso_7064_mod_11_2(first17, check):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    assert "10X98765432"[remainder] == check  # the table in the standard, computed by hand here
    assert national_id.check_character(first17) == check


def test_odd_sequence_digit_is_a_man():
    first17 = "32010619900307123"
    decoded = national_id.parse(first17 + national_id.check_character(first17))
    assert decoded.sex == "male" and decoded.birth_date == dt.date(1990, 3, 7)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check character"),  # one wrong check character
        ("11010519491231012X", "check character"),  # a typo in the sequence
        ("11010519491321002X", "check character"),  # transposed digits in the date
        ("1101051949123100", "18 characters"),
        ("11010519A91231002X", "digits"),
        ("", "18 characters"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(number, reason):
    with pytest.raises(national_id.InvalidNationalId, match=reason):
        national_id.parse(number)
    assert not national_id.is_valid(number)


def test_a_number_with_a_check_character_right_but_an_impossible_date_is_refused():
    first17 = "11010519490231002"  # 31 February
    with pytest.raises(national_id.InvalidNationalId, match="not a real date"):
        national_id.parse(first17 + national_id.check_character(first17))


def test_spaces_dashes_full_width_digits_and_lower_case_x_are_accepted():
    assert national_id.parse("110105 19491231 002x").number == "11010519491231002X"
    assert national_id.parse("１１０１０５１９４９１２３１００２Ｘ").number == "11010519491231002X"


def test_an_old_15_digit_number_is_upgraded_to_18():
    decoded = national_id.parse("110105491231002")
    assert decoded.number == "11010519491231002X"
    assert decoded.birth_date == dt.date(1949, 12, 31)
