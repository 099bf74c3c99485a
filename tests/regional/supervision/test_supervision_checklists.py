"""The supervision checklists file loads, is consistent, cites a source for every fact, and refuses what it does not
know."""

from pathlib import Path

import pydantic
import pytest
import yaml

from smartcare.regional.supervision import checklists as cl


def test_every_kind_has_a_checklist_of_8_to_12_sourced_items():
    spec = cl.checklists()
    assert tuple(spec.kinds) == cl.KINDS
    for kind in spec.kinds.values():
        assert 8 <= len(kind.items) <= 12
        for item in kind.items:
            assert item.source and item.checked in ("recalled", "read") and item.zh and item.en
            assert 1 <= item.rectify_days <= 180
    assert {item.severity for kind in spec.kinds.values() for item in kind.items} == {"minor", "major", "critical"}


def test_the_licences_each_kind_needs_and_how_long_they_last():
    spec = cl.checklists()
    assert {kind: spec.kind(kind).licence for kind in cl.KINDS} == {
        "hospital": "medical_institution", "clinic": "medical_institution", "water_supply": "water_supply",
        "school": None, "public_venue": "public_venue"}
    medical = spec.licences["medical_institution"]
    assert (medical.years_for(100), medical.years_for(99), medical.years_for(None)) == (3, 1, 1)
    assert spec.licences["public_venue"].years_for(0) == 4 and spec.licences["water_supply"].years_for(0) == 4
    assert medical.zh == "医疗机构执业许可证" and "实施细则" in medical.source


def test_the_standards_the_brief_names_are_cited():
    sources = " ".join(i.source for k in cl.checklists().kinds.values() for i in k.items)
    for cited in ("GB 5749-2022", "GB 37488-2019", "《医疗废物管理条例》", "《医院感染管理办法》", "《传染病防治法》",
                  "GB 28932-2012"):
        assert cited in sources
    chlorine = cl.checklists().kind("water_supply").item("water-chlorine-outlet")
    assert chlorine.severity == "critical" and "0.3 mg/L" in chlorine.en


def _write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(cl.DATA.read_text(encoding="utf-8"))
    change(data)
    target = tmp_path / "checklists.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.mark.parametrize("change", [
    lambda d: d["kinds"]["school"]["items"][0].update(colour="red"),  # an unknown key
    lambda d: d.update(extra=1),
    lambda d: d["kinds"]["clinic"]["items"][1].update(id=d["kinds"]["clinic"]["items"][0]["id"]),  # a repeated id
    lambda d: d["kinds"]["hospital"]["items"][0].update(severity="grave"),
    lambda d: d["kinds"]["hospital"].update(licence="fishing"),
    lambda d: d["kinds"].pop("school"),
    lambda d: d["kinds"]["school"].update(items=d["kinds"]["school"]["items"][:7]),
    lambda d: d["licences"]["public_venue"]["validity"][0].update(min_beds=5),  # no rule for every facility
    lambda d: d["kinds"]["clinic"]["items"][0].pop("source"),
])
def test_an_inconsistent_or_unknown_file_is_refused(tmp_path, change):
    with pytest.raises(pydantic.ValidationError):
        cl.load(_write(tmp_path, change))
