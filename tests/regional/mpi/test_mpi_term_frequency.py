"""Term-frequency adjustment: agreeing on a rare name weighs more than agreeing on 王 or 李."""

import dataclasses
import json
import math

import pytest
import yaml

from smartcare.regional.mpi import service
from smartcare.regional.mpi.batch import score
from smartcare.regional.mpi.compare import compare
from smartcare.regional.mpi.model import TF_MINIMUM_U, FellegiSunterModel, ModelFileError
from smartcare.regional.mpi.normalise import person
from smartcare.regional.mpi.training import term_frequencies, train


def pair(family: str, given: str = "伟") -> tuple:
    a = person("a", family=family, given=given, birth="1980-04-17", sex_code="male")
    b = person("b", family=family, given=given, birth="1980-04-17", sex_code="male", phone_number="13800138000")
    return a, b


def test_the_shipped_model_weighs_a_rare_surname_agreement_above_a_common_one():
    model = service.model()
    common, rare = score(model, *pair("王")), score(model, *pair("欧阳"))
    assert rare.match_weight > common.match_weight + 3  # about -1.7 bits for 王 (7%), +2.2 for a rare name
    assert rare.match_probability > common.match_probability
    assert model.tf_weight("family_name", "wang") < 0 < model.tf_weight("family_name", "ouyang")
    # 徐 and 许 are both xu: their shares are added up.
    percent = yaml.safe_load((service.DATA / "surname_shares.yaml").read_text(encoding="utf-8"))["percent"]
    assert model.term_frequencies["family_name"]["xu"] == pytest.approx((percent["徐"] + percent["许"]) / 100)


def test_the_review_screen_shows_the_adjusted_name_weight():
    model = service.model()
    a, b = pair("王")
    levels = compare(a, b)
    plain, adjusted = model.field_weights(levels), model.field_weights(levels, a)
    assert adjusted["family_name"] == pytest.approx(plain["family_name"] + model.tf_weight("family_name", "wang"))
    assert adjusted["birth_date"] == plain["birth_date"]


def test_training_counts_each_names_share_in_the_records():
    people = [person(f"p{n}", family="Wang" if n < 8 else f"Rare{chr(97 + n)}", given="Wei") for n in range(10)]
    tables = term_frequencies(people)
    assert tables["family_name"]["wang"] == pytest.approx(0.8)
    assert tables["family_name"]["rarei"] == pytest.approx(0.1)
    assert tables["given_name"] == {"wei": 1.0}


def test_a_value_seen_once_in_a_huge_file_is_clamped():
    model = service.model()
    clamped = dataclasses.replace(model, term_frequencies={"family_name": {"wang": 0.07, "once": 1e-9}})
    u_exact = model.u[1][-1]
    assert clamped.tf_weight("family_name", "once") == pytest.approx(math.log2(u_exact / TF_MINIMUM_U))
    # A surname the table does not know counts as its rarest one, not as infinitely rare.
    assert clamped.tf_weight("family_name", "unknown") == clamped.tf_weight("family_name", "once")


def test_term_frequencies_survive_the_model_file_and_bad_ones_are_refused(tmp_path):
    trained = train([person(f"p{n}", family=["Wang", "Li", "Ouyang"][n % 3], given=f"G{n % 7}",
                            birth=f"19{60 + n % 30}-01-0{1 + n % 9}") for n in range(300)], seed=1)
    path = tmp_path / "model.json"
    trained.save(path)
    again = FellegiSunterModel.load(path)
    assert again.term_frequencies == trained.term_frequencies
    data = json.loads(path.read_text())
    data["term_frequencies"]["family_name"]["values"]["wang"] = 1.5
    with pytest.raises(ModelFileError, match="term frequencies"):
        FellegiSunterModel.from_dict(data)
    data["term_frequencies"] = {"phone": {"values": {"1": 0.5}}}
    with pytest.raises(ModelFileError, match="term frequencies"):
        FellegiSunterModel.from_dict(data)
