"""The calculator catalogue: every calculator is described with units, ranges and source, and reads input safely."""

import json

import pytest

from smartcare.knowledge import scores

NAMES = sorted(scores.CALCULATORS)


def test_the_catalogue_holds_every_calculator_the_issue_names():
    assert set(NAMES) >= {"pce-ascvd", "framingham-cvd", "findrisc", "cds-diabetes-risk", "cha2ds2-vasc",
                          "has-bled", "egfr-ckd-epi-2021", "kdigo-ckd", "news2", "qsofa", "bmi-chinese-adult",
                          "bp-grade-china"}


@pytest.mark.parametrize("name", NAMES)
def test_each_calculator_describes_itself_completely(name):
    entry = scores.CALCULATORS[name].describe()
    json.dumps(entry, ensure_ascii=False)
    assert entry["source"] and entry["applies_to"] and entry["title_zh"] and entry["categories"]
    names = [i["name"] for i in entry["inputs"]]
    assert len(names) == len(set(names))
    for item in entry["inputs"]:
        assert item["label"] and item["label_zh"]
        if item["type"] in ("number", "integer"):
            assert "minimum" in item and "maximum" in item, f"{name}.{item['name']} has no range"
        if item["type"] == "choice":
            assert item["choices"]


@pytest.mark.parametrize("name", NAMES)
def test_each_calculator_refuses_hostile_input_with_named_problems(name):
    calculator = scores.CALCULATORS[name]
    with pytest.raises(scores.ScoreInputError) as caught:
        calculator.run({"<script>": 1, **{f.name: "'; DROP TABLE x;--" for f in calculator.fields}})
    assert "<script>" in caught.value.problems
    for f in calculator.fields:
        assert f.name in caught.value.problems
    with pytest.raises(scores.ScoreInputError):
        calculator.run(["not", "an", "object"])  # type: ignore[arg-type]


def test_an_unknown_calculator_is_its_own_error():
    with pytest.raises(scores.UnknownCalculator):
        scores.calculate("astrology", {})


def test_a_unit_that_is_not_accepted_is_refused_with_the_accepted_ones():
    with pytest.raises(scores.ScoreInputError) as caught:
        scores.calculate("egfr-ckd-epi-2021", {"creatinine": {"value": 1, "unit": "g/L"}, "age": 40, "sex": "male"})
    assert caught.value.problems["creatinine"] == "unit 'g/L' is not accepted (use mg/dL, umol/L)"
