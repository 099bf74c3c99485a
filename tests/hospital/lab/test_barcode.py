"""Code 128 barcodes for specimen labels: symbol values, check character, code set C for digits, and the SVG."""

import re

import pytest

from smartcare.hospital.lab import barcode


def test_the_symbol_table_has_107_distinct_patterns_of_eleven_modules_with_even_bars():
    assert len(barcode.PATTERNS) == 107 and len(set(barcode.PATTERNS)) == 107
    for pattern in barcode.PATTERNS[:106]:
        widths = [int(w) for w in pattern]
        assert sum(widths) == 11 and sum(widths[0::2]) % 2 == 0
    assert sum(int(w) for w in barcode.PATTERNS[barcode.STOP]) == 13


def test_a_text_in_code_set_b_has_the_modulo_103_check_character():
    # Start B 104 + P 48x1 + J 42x2 + J 42x3 + 1 17x4 + 2 18x5 + 3 19x6 + C 35x7 = 879; 879 mod 103 = 55
    assert barcode.symbol_values("PJJ123C") == [104, 48, 42, 42, 17, 18, 19, 35, 55, 106]


def test_an_accession_number_packs_its_digits_in_code_set_c():
    values = barcode.symbol_values("L26112600042")
    assert values[:3] == [barcode.START_B, ord("L") - 32, barcode.CODE_C]
    assert values[3:8] == [26, 11, 26, 0, 4] and values[8:10] == [barcode.CODE_B, ord("2") - 32]
    assert values[-1] == barcode.STOP


def test_an_all_digit_text_starts_in_code_set_c():
    assert barcode.symbol_values("123456")[:4] == [barcode.START_C, 12, 34, 56]


def test_modules_start_with_start_b_and_end_with_the_stop_bar():
    bars = barcode.modules("L26112600042")
    assert bars.startswith("11010010000") and bars.endswith("1100011101011")
    assert len(bars) == 11 * (len(barcode.symbol_values("L26112600042")) - 1) + 13


def test_the_svg_draws_every_bar_and_prints_the_text_escaped():
    image = barcode.svg("L26112600042")
    assert image.startswith("<svg") and ">L26112600042</text>" in image
    bars = barcode.modules("L26112600042")
    assert len(re.findall(r"<rect x=", image)) == len(re.findall(r"1+", bars))
    assert "&lt;b&gt;" in barcode.svg("<b>")


@pytest.mark.parametrize("text", ["", "x" * 41, "L2611\u00e9", "tab\there", None, 42])
def test_texts_that_cannot_be_encoded_are_refused(text):
    with pytest.raises(barcode.BarcodeError):
        barcode.svg(text)
