"""The control facts as data: every shipped entry names a disease of the list and cites a source, subtypes come
before their disease, and a control section that does not hold together is refused with the reason."""

import copy

import pytest
import yaml

from smartcare.knowledge.notifiable import DEFAULT_LIST, NotifiableListInvalid, load, parse


def raw_list() -> dict:
    return yaml.safe_load(DEFAULT_LIST.read_text(encoding="utf-8"))


def test_the_shipped_control_facts_name_diseases_of_the_list_and_cite_sources():
    catalogue = load()
    rules = catalogue.control
    assert rules.fever_celsius == 37.3 and rules.reports_per_day == 2 and "传染病学" in rules.source
    known = {d.id for d in catalogue.diseases} | {s.id for d in catalogue.diseases for s in d.subtypes}
    assert set(rules.diseases) <= known and len(rules.diseases) >= 20
    assert all(entry.source for entry in rules.diseases.values())
    assert catalogue.control_for("measles").observation_days == 21
    assert catalogue.control_for("viral-hepatitis", "hepatitis-a").observation_days == 45
    assert catalogue.control_for("viral-hepatitis", "hepatitis-c") is None


def test_a_vaccine_matches_its_cvx_codes_and_the_atc_codes_under_its_prefixes():
    measles = load().control_for("measles").vaccines[0]
    assert measles.matches("http://hl7.org/fhir/sid/cvx", "03") and measles.matches("http://www.whocc.no/atc", "j07bd52")
    assert not measles.matches("http://hl7.org/fhir/sid/cvx", "88")
    assert not measles.matches("http://snomed.info/sct", "03")


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["diseases"]["measles"].update(observation_days=0), "whole number of days"),
    (lambda c: c["diseases"]["measles"].update(observation_days="21"), "whole number of days"),
    (lambda c: c["diseases"]["measles"].update(vaccines=["smallpox-2"]), "unknown vaccine smallpox-2"),
    (lambda c: c["diseases"]["measles"].update(isolation_zh=""), "in English and Chinese"),
    (lambda c: c["diseases"]["measles"].update(quarantine=True), "unknown key quarantine"),
    (lambda c: c["diseases"]["measles"].pop("source"), "'source' must be a non-empty text"),
    (lambda c: c["vaccines"]["measles"].update(cvx=[], atc=[]), "give CVX or ATC codes"),
    (lambda c: c.update(fever_celsius=98.6), "fever_celsius"),
    (lambda c: c.update(reports_per_day=0), "reports_per_day"),
])
def test_a_control_section_that_does_not_hold_together_is_refused(change, message):
    raw = copy.deepcopy(raw_list())
    change(raw["control"])
    with pytest.raises(NotifiableListInvalid, match=message):
        parse(raw)


def test_a_list_without_a_control_section_still_loads_and_says_nothing_of_control():
    raw = raw_list()
    raw.pop("control")
    found = parse(raw)
    assert found.control is None and found.control_for("measles") is None
