"""Order search finds an order from its words in any order, in English, Chinese or both, best matches first."""

import pytest

from smartcare.knowledge.orders import catalogue


def keys(text: str, **options) -> list[str]:
    return [order.key for order in catalogue.search_orders(text, **options)]


@pytest.mark.parametrize("text", ["chest CT", "CT chest", "Chest  ct", "胸部 CT", "胸部CT", "CT 胸部", "ct 胸部"])
def test_chest_ct_is_found_whatever_the_order_of_the_words(text):
    found = keys(text)
    assert found[0] == "ct-chest"
    assert set(found) == {"ct-chest", "ct-chest-low-dose"}


def test_the_placeholders_own_example_finds_the_order():
    assert keys("chest CT", kind="imaging")[0] == "ct-chest"


def test_words_from_the_chinese_and_the_english_name_together_find_the_order():
    assert keys("头颅 MRI")[:2] == ["mr-brain", "mr-brain-dwi"]
    assert keys("knee 平扫") == ["mr-knee"] == keys("平扫 knee")


@pytest.mark.parametrize("text", ["abdomen ct", "ct abdomen", "contrast abdomen ct"])
def test_every_word_must_match(text):
    found = keys(text)
    assert found and all(key.startswith("ct-abdomen") for key in found)


def test_a_word_inside_another_word_does_not_count_among_several():
    # "ct" is the end of "erect": the erect abdominal X-ray is not a CT of the abdomen.
    assert "xr-abdomen-erect" not in keys("abdomen ct")
    assert "xr-abdomen-erect" in keys("abdomen erect")


def test_text_typed_as_it_stands_in_a_name_ranks_before_words_found_apart():
    assert keys("ct abdomen contrast")[0] == "ct-abdomen-contrast"
    assert keys("ct chest")[:2] == ["ct-chest", "ct-chest-low-dose"]
    assert keys("low-dose ct")[0] == "ct-chest-low-dose"


def test_a_single_word_ranks_exact_then_prefix_then_the_rest():
    found = keys("glucose")
    assert found[0] == "glucose"
    assert set(found) >= {"glucose-random", "urine-glucose"}
    assert keys("血常规")[0] == "cbc" and keys("xcg")[0] == "cbc" and keys("58410-2") == ["cbc"]


def test_a_single_word_at_a_word_start_ranks_before_the_same_letters_inside_a_word():
    found = keys("ct", limit=50)
    assert found.index("pet-ct") < found.index("haematocrit")


def test_pinyin_words_are_found_spaced_or_not():
    assert keys("xue changgui")[0] == "cbc"
    assert keys("xuechanggui")[0] == "cbc"


@pytest.mark.parametrize("text", ["zzqq", "chest zzqq", "zzqq chest", "胸部 zzqq", "胸部 肝功能"])
def test_a_word_that_matches_nothing_finds_nothing(text):
    assert keys(text) == []


def test_repeated_words_change_nothing():
    assert keys("chest chest ct") == keys("chest ct")


@pytest.mark.parametrize("hostile", [" ".join("abcdefghijklmnopqrstuvwxyz0123456789"), "ct " * 40, "| ct | chest |",
                                     "\x00 ct", "ct\tchest\n"])
def test_hostile_multi_word_input_returns_a_list(hostile):
    assert isinstance(catalogue.search_orders(hostile), list)
