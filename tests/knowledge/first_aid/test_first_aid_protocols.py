"""The first-aid protocols: all 17 load in both languages with sources, pictures and the key facts right."""

import re
import shutil

import pytest
import yaml

from smartcare.knowledge import first_aid
from smartcare.knowledge.first_aid import FirstAidDataError, Protocol

CJK = re.compile(r"[\u4e00-\u9fff]")
# Ways of telling a rescuer to press with two fingers, in either language (AHA 2025 no longer teaches it).
TWO_FINGERS = re.compile(r"\b(?:two|2)[- ]?finger|两根?手指|两指|双指|二指|食指和中指|中指和无名指", re.IGNORECASE)
AHA_2025 = ("2025 American Heart Association Guidelines for Cardiopulmonary Resuscitation and Emergency "
            "Cardiovascular Care (Circulation 2025)")
AHA_2025_PROTOCOLS = ("cpr-child", "cpr-infant", "choking")
SHARED_KEYS = {
    "cpr-adult", "cpr-child", "cpr-infant", "choking", "severe-bleeding", "burns", "stroke", "heart-attack",
    "anaphylaxis", "seizure", "fracture", "heat-stroke", "hypoglycaemia", "poisoning", "drowning",
    "electric-shock", "snake-bite",
}


def _all_text(p: Protocol, locale: str, *, steps_only: bool = False) -> str:
    steps = " ".join(f"{s.text(locale)} {s.detail(locale) or ''}" for s in p.steps)
    if steps_only:
        return steps
    return " ".join([p.title(locale), p.call_advice(locale), *p.recognise(locale), steps, *p.do_not(locale)])


def test_exactly_the_shared_keys_load_most_urgent_first():
    loaded = first_aid.protocols()
    assert {p.key for p in loaded} == SHARED_KEYS
    assert [p.key for p in loaded[:4]] == ["cpr-adult", "cpr-child", "cpr-infant", "choking"]


@pytest.mark.parametrize("key", sorted(SHARED_KEYS))
def test_every_protocol_is_complete_in_both_languages(key):
    p = first_aid.protocol(key)
    assert p is not None and len(p.steps) >= 3
    for step in p.steps:
        assert CJK.search(step.text("zh-Hans")), step.text_en
        assert not CJK.search(step.text("en")), step.text_en
        assert (step.detail("en") is None) == (step.detail("zh-Hans") is None)
    assert CJK.search(p.title("zh-Hans")) and not CJK.search(p.title("en"))
    assert len(p.recognise("en")) == len(p.recognise("zh-Hans"))
    assert len(p.do_not("en")) == len(p.do_not("zh-Hans"))
    assert "120" in p.call_advice("en") and "120" in p.call_advice("zh-Hans")
    assert p.pictures(), "every protocol shows at least one picture"


@pytest.mark.parametrize("key", sorted(SHARED_KEYS))
def test_every_protocol_cites_international_guidelines_and_the_chinese_red_cross(key):
    sources = " ".join(first_aid.protocol(key).sources)
    assert any(name in sources for name in ("European Resuscitation Council", "IFRC", "American Heart Association"))
    assert "中国红十字会" in sources


@pytest.mark.parametrize("key", ["cpr-adult", "cpr-child", "cpr-infant"])
def test_cpr_protocols_state_rate_ratio_and_have_a_metronome(key):
    p = first_aid.protocol(key)
    assert p.metronome
    for locale in ("en", "zh-Hans"):
        assert "100-120" in _all_text(p, locale, steps_only=True)
    english = _all_text(p, "en", steps_only=True)
    assert "30 compressions, then 2 breaths" in english
    assert "30 次按压、2 次人工呼吸" in _all_text(p, "zh-Hans", steps_only=True)
    key_steps = [s for s in p.steps if "per minute" in s.text("en") or "breaths:" in s.text("en")]
    assert len(key_steps) == 2 and all(s.picture for s in key_steps), "compressions and breaths are pictured"


def test_cpr_depths_by_age():
    adult = _all_text(first_aid.protocol("cpr-adult"), "en", steps_only=True)
    assert "at least 5 cm" in adult and "not more than 6 cm" in adult
    assert "至少 5 厘米" in _all_text(first_aid.protocol("cpr-adult"), "zh-Hans") and "不超过 6 厘米" in _all_text(
        first_aid.protocol("cpr-adult"), "zh-Hans")
    child = _all_text(first_aid.protocol("cpr-child"), "en", steps_only=True)
    assert "about 5 cm" in child and "one third of the chest" in child and "no deeper than 6 cm" in child
    child_zh = _all_text(first_aid.protocol("cpr-child"), "zh-Hans", steps_only=True)
    assert "约 5 厘米" in child_zh and "三分之一" in child_zh and "不要超过 6 厘米" in child_zh
    infant = _all_text(first_aid.protocol("cpr-infant"), "en", steps_only=True)
    assert "about 4 cm" in infant and "one third of the chest" in infant
    assert "约 4 厘米" in _all_text(first_aid.protocol("cpr-infant"), "zh-Hans")


def test_baby_compressions_use_the_heel_of_one_hand_or_two_thumbs():
    infant = first_aid.protocol("cpr-infant")
    placing = next(s for s in infant.steps if "centre of the chest" in s.text_en)
    assert "heel of one hand" in placing.text_en and "掌根" in placing.text_zh
    assert "two thumbs" in placing.detail_en or "both thumbs" in placing.detail_en
    assert "环抱" in placing.detail_zh and "两拇指" in placing.detail_zh
    assert placing.picture and "finger" not in placing.picture
    assert infant.icon == placing.picture, "the list shows the same hand position as the steps"


@pytest.mark.parametrize("key", sorted(SHARED_KEYS))
def test_no_step_tells_a_rescuer_to_press_with_two_fingers(key):
    p = first_aid.protocol(key)
    for step in p.steps:
        for locale in ("en", "zh-Hans"):
            said = f"{step.text(locale)} {step.detail(locale) or ''}"
            assert not TWO_FINGERS.search(said), f"{key}: {said}"
        assert not (step.picture and "finger" in step.picture), f"{key}: picture {step.picture}"


def test_baby_cpr_warns_rescuers_trained_the_old_way_off_two_fingers():
    infant = first_aid.protocol("cpr-infant")
    english = [item for item in infant.do_not("en") if TWO_FINGERS.search(item)]
    chinese = [item for item in infant.do_not("zh-Hans") if TWO_FINGERS.search(item)]
    assert len(english) == len(chinese) == 1
    assert "heel of one hand" in english[0] and "掌根" in chinese[0]


@pytest.mark.parametrize("key", ["cpr-child", "cpr-infant"])
def test_child_and_baby_cpr_start_where_they_are_even_on_a_soft_surface(key):
    p = first_aid.protocol(key)
    english = _all_text(p, "en", steps_only=True)
    chinese = _all_text(p, "zh-Hans", steps_only=True)
    assert "bed or sofa" in english and "unless the spot is unsafe" in english
    assert "床上或沙发上" in chinese and "除非那里不安全" in chinese
    assert "firm, flat surface" not in english and "坚实平坦" not in chinese


def test_choking_babies_get_back_blows_and_chest_thrusts_never_abdominal_thrusts():
    choking = first_aid.protocol("choking")
    infant = [s for s in choking.steps if s.audience == "infant"]
    adult = [s for s in choking.steps if s.audience == "adult"]
    assert infant and adult
    infant_en = " ".join(f"{s.text_en} {s.detail_en or ''}" for s in infant).lower()
    infant_zh = " ".join(f"{s.text_zh} {s.detail_zh or ''}" for s in infant)
    assert "abdominal" not in infant_en and "腹部" not in infant_zh
    assert "5 back blows" in infant_en and "5 chest thrusts" in infant_en
    adult_en = " ".join(s.text_en for s in adult)
    assert "5 back blows" in adult_en and "5 abdominal thrusts" in adult_en
    assert any("Never give abdominal thrusts to a baby" in item for item in choking.do_not("en"))


def _first(steps, words: str) -> int:
    return next(i for i, s in enumerate(steps) if words in s.text_en)


def test_baby_choking_alternates_back_blows_and_chest_thrusts_with_the_heel_of_one_hand():
    infant = [s for s in first_aid.protocol("choking").steps if s.audience == "infant"]
    thrusts = next(s for s in infant if "chest thrusts with" in s.text_en)
    assert "heel of one hand" in thrusts.text_en and "掌根" in thrusts.text_zh and "胸部冲击" in thrusts.text_zh
    assert thrusts.picture and "finger" not in thrusts.picture
    assert _first(infant, "back blows") < _first(infant, "chest thrusts")
    alternate = next(s for s in infant if "alternating" in s.text_en)
    assert "5 back blows and 5 chest thrusts" in alternate.text_en
    assert "5 次拍背和 5 次胸部冲击交替" in alternate.text_zh


def test_adult_and_child_choking_alternates_back_blows_and_abdominal_thrusts():
    adult = [s for s in first_aid.protocol("choking").steps if s.audience == "adult"]
    blows = adult[_first(adult, "back blows")]
    assert "up to 5 back blows" in blows.text_en and "拍背最多 5 次" in blows.text_zh and blows.picture == "back-blows"
    assert _first(adult, "back blows") < _first(adult, "abdominal thrusts")
    alternate = next(s for s in adult if "alternating" in s.text_en)
    assert "5 back blows and 5 abdominal thrusts" in alternate.text_en
    assert "5 次拍背和 5 次腹部冲击交替" in alternate.text_zh
    assert "small child" in blows.detail_en and "孩子" in blows.detail_zh


@pytest.mark.parametrize("key", AHA_2025_PROTOCOLS)
def test_protocols_changed_by_aha_2025_cite_it_first_and_no_longer_cite_aha_2020(key):
    sources = first_aid.protocol(key).sources
    assert sources[0].startswith(f"American Heart Association. {AHA_2025}")
    assert not any("2020 AHA" in source for source in sources)


def test_other_key_facts():
    stroke = first_aid.protocol("stroke")
    assert [line[0] for line in stroke.recognise("en")] == list("BEFAST")
    assert "中风 120" in " ".join(stroke.recognise("zh-Hans"))
    aspirin = next(s for s in first_aid.protocol("heart-attack").steps if "Aspirin" in s.text_en)
    assert "dispatcher" in aspirin.text_en and "not allergic" in aspirin.text_en and "调度员" in aspirin.text_zh
    assert any("20 minutes" in s.text_en for s in first_aid.protocol("burns").steps)
    assert any("15-20 g" in s.text_en for s in first_aid.protocol("hypoglycaemia").steps)
    assert any("thigh" in s.text_en for s in first_aid.protocol("anaphylaxis").steps)
    assert any("mouth" in item for item in first_aid.protocol("seizure").do_not("en"))
    snake = " ".join(first_aid.protocol("snake-bite").do_not("en"))
    assert "tourniquet" in snake and "cut" in snake and "suck" in snake
    assert any("recovery position" in s.text_en for s in first_aid.protocol("seizure").steps)
    assert "5 rescue breaths first" in _all_text(first_aid.protocol("drowning"), "en")


@pytest.mark.parametrize("key", ["", "CPR-ADULT", "../cpr-adult", "cpr-adult.yaml", "x" * 500, None])
def test_anything_but_a_key_is_no_protocol(key):
    assert first_aid.protocol(key) is None


def _copy_data(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(first_aid.DATA_DIR, target)
    return target


def _edit(path, change):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def test_loader_accepts_the_shipped_files_copied(tmp_path):
    assert len(first_aid.load(_copy_data(tmp_path))) == 17


@pytest.mark.parametrize(("file", "change", "message"), [
    ("burns.yaml", lambda r: r["recognise_zh"].pop(), "recognise_en has 2 items"),
    ("burns.yaml", lambda r: r.update(key="scalds"), "must match the file name"),
    ("burns.yaml", lambda r: r["steps"][1].update(picture="../../etc/passwd"), "lowercase slug"),
    ("burns.yaml", lambda r: r["steps"][1].pop("detail_zh"), "one language only"),
    ("burns.yaml", lambda r: r.update(call_120="later"), "call_120"),
    ("stroke.yaml", lambda r: r.update(rank=1), "share a rank"),
    ("stroke.yaml", lambda r: [s.pop("picture", None) for s in r["steps"]], "no step has a picture"),
])
def test_loader_refuses_inconsistent_files(tmp_path, file, change, message):
    data = _copy_data(tmp_path)
    _edit(data / file, change)
    with pytest.raises(FirstAidDataError, match=re.escape(message)):
        first_aid.load(data)


def test_loader_refuses_a_missing_protocol(tmp_path):
    data = _copy_data(tmp_path)
    (data / "snake-bite.yaml").unlink()
    with pytest.raises(FirstAidDataError, match="missing \\['snake-bite'\\]"):
        first_aid.load(data)
