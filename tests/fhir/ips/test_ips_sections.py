"""The IPS section table loads, says where each fact comes from, and refuses what it does not know."""

import copy

import pytest
import yaml

from smartcare.fhir.ips.sections import DATA_FILE, SectionDataError, catalogue, parse_catalogue
from smartcare.fhir.search.registry import params_for


def raw() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def test_the_three_sections_the_ips_requires_are_marked_required_with_their_loinc_codes():
    required = {s.loinc: s.key for s in catalogue().sections if s.required}
    assert required == {"11450-4": "problems", "48765-2": "allergies", "10160-0": "medications"}
    assert catalogue().document_loinc == "60591-5"


def test_every_section_cites_the_ig_and_has_both_titles():
    for section in catalogue().sections:
        assert "IPS IG" in section.source, section.key
        assert section.title_en and section.title_zh and section.title_zh != section.title_en


def test_every_fill_search_uses_search_parameters_the_server_knows():
    for section in catalogue().sections:
        for fill in section.fill:
            known = params_for(fill.type)
            assert "patient" in known, (section.key, fill.type)
            for name, _ in fill.search:
                assert name in known, (section.key, fill.type, name)


@pytest.mark.parametrize("where", ["top", "section", "fill"])
def test_an_unknown_key_is_refused(where):
    data = copy.deepcopy(raw())
    target = {"top": data, "section": data["sections"][0], "fill": data["sections"][0]["fill"][0]}[where]
    target["colour"] = "red"
    with pytest.raises(SectionDataError, match="unknown keys: colour"):
        parse_catalogue(data)


def test_a_section_without_a_source_is_refused():
    data = raw()
    del data["sections"][1]["source"]
    with pytest.raises(SectionDataError, match="lacks: source"):
        parse_catalogue(data)


def test_a_fill_of_a_type_the_section_may_not_list_is_refused():
    data = raw()
    data["sections"][0]["fill"][0]["type"] = "Observation"
    with pytest.raises(SectionDataError, match="may not reference: Observation"):
        parse_catalogue(data)
