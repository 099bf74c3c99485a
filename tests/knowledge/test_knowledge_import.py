"""`smartcare knowledge import`: licensed sets are checked row by row and merged into the formulary."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.knowledge.drugs import KnowledgeDataError, importer, load

DRUG_HEADER = "key,name_en,name_zh,atc,aliases,route,unit,adult_per_dose_max,adult_per_day_max,pregnancy,lactation,source\n"
INTERACTION_HEADER = "a,b,severity,mechanism_en,mechanism_zh,management_en,management_zh,source,onc_high_priority\n"


def _csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _stored(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_imported_drugs_extend_and_override_the_shipped_formulary(tmp_path):
    source = _csv(tmp_path, "national set.csv", DRUG_HEADER
                  + "zofenopril,Zofenopril,佐芬普利,C09AA15,Zofenil;佐芬普利钙,oral,mg,60,60,D,avoid,Zofenil SmPC 2023\n"
                  + "amlodipine,Amlodipine,氨氯地平,C08CA01,络活喜,oral,mg,5,5,C,caution,Local label 2024\n")
    knowledge = tmp_path / "knowledge"
    result = importer.import_csv(path=source, kind="drugs", directory=knowledge)
    assert result.records == 2 and result.stored == knowledge / "formulary" / "national-set.yaml"
    f = load(extra_dirs=[knowledge])
    zofenopril = f.find("佐芬普利钙")
    assert zofenopril.key == "zofenopril" and zofenopril.pregnancy == "D"
    assert (zofenopril.doses[0].population, zofenopril.doses[0].per_day_max) == ("adult", 60)
    assert zofenopril in f.in_class("C09AA")
    assert f.find("amlodipine").doses[0].per_day_max == 5
    assert load().find("amlodipine").doses[0].per_day_max == 10


def test_imported_interactions_reach_interactions_between(tmp_path):
    source = _csv(tmp_path, "ddi.csv", INTERACTION_HEADER
                  + 'metformin,ATC:C03CA,minor,"Diuresis, then dehydration",脱水,Watch,观察,Licensed set,true\n')
    knowledge = tmp_path / "knowledge"
    importer.import_csv(path=source, kind="interactions", directory=knowledge)
    f = load(extra_dirs=[knowledge])
    found = f.interactions_between(f.find("furosemide"), f.find("metformin"))
    assert [i.mechanism_en for i in found if i.source == "Licensed set"] == ["Diuresis, then dehydration"]
    assert any(i.source == "Licensed set" and i.onc_high_priority for i in f.interactions)


def test_a_bad_row_is_refused_with_its_line_and_nothing_is_written(tmp_path):
    source = _csv(tmp_path, "set.csv", DRUG_HEADER
                  + "drug-one,Drug one,药一,C09AA98,,oral,mg,10,20,C,caution,Label\n"
                  + "drug-two,Drug two,药二,C09AA97,,oral,mg,ten,20,C,caution,Label\n")
    knowledge = tmp_path / "knowledge"
    with pytest.raises(KnowledgeDataError, match=r"set.csv: line 3: adult_per_dose_max must be a plain positive"):
        importer.import_csv(path=source, kind="drugs", directory=knowledge)
    assert _stored(knowledge) == []


@pytest.mark.parametrize(("rows", "message"), [
    ("x,X,X,C09AA98,,oral,mg,10,20,Q,caution,Label\n", "line 2: pregnancy"),
    ("x,X,X,C09AA98,,oral,mg,10,20,C,caution,\n", "line 2: source"),
    ("x,X,X,C09AA98,,oral,mg,30,20,C,caution,Label\n", "line 2: .*per_dose_max is above per_day_max"),
    ("x,X,X,C09AA98,,,,,,,,Label\nx,X2,X2,C09AA98,,,,,,,,Label\n", "line 3: drug 'x' is already on line 2"),
    ("Bad Key,X,X,C09AA98,,,,,,,,Label\n", "line 2: key"),
    ("x,X,X,C09AA98,,,,,,,,Label,extra\n", "line 2: the row has 13 fields"),
])
def test_invalid_drug_rows_are_refused(tmp_path, rows, message):
    source = _csv(tmp_path, "set.csv", DRUG_HEADER + rows)
    with pytest.raises(KnowledgeDataError, match=message):
        importer.import_csv(path=source, kind="drugs", directory=tmp_path / "knowledge")


def test_interactions_naming_unknown_drugs_are_refused_with_the_csv_line(tmp_path):
    source = _csv(tmp_path, "ddi.csv", INTERACTION_HEADER
                  + "warfarin,aspirin,major,m,m,m,m,Licensed set,false\n"
                  + "warfarin,unobtainium,major,m,m,m,m,Licensed set,false\n")
    with pytest.raises(KnowledgeDataError, match=r"ddi.csv: line 3: 'unobtainium' is not a drug"):
        importer.import_csv(path=source, kind="interactions", directory=tmp_path / "knowledge")
    assert _stored(tmp_path / "knowledge") == []


def test_an_earlier_imported_drug_can_be_named_by_a_later_interaction_set(tmp_path):
    knowledge = tmp_path / "knowledge"
    drugs = _csv(tmp_path, "drugs.csv", DRUG_HEADER + "zofenopril,Zofenopril,佐芬普利,C09AA15,,,,,,,,Label\n")
    importer.import_csv(path=drugs, kind="drugs", directory=knowledge)
    ddi = _csv(tmp_path, "ddi.csv", INTERACTION_HEADER + "zofenopril,ATC:C03DA,major,m,m,m,m,Licensed set,\n")
    importer.import_csv(path=ddi, kind="interactions", directory=knowledge)
    f = load(extra_dirs=[knowledge])
    assert f.interactions_between(f.find("spironolactone"), f.find("zofenopril"))


@pytest.mark.parametrize(("content", "message"), [
    ("", "the header must name the columns"),
    ("key,name_en,name_zh,atc,source\n", "header but no rows"),
    ("key,name_en,name_zh,atc,source,evil\nx,X,X,C09AA98,Label,1\n", "unknown: evil"),
    ("key,name_en,atc,source\nx,X,C09AA98,Label\n", "missing: name_zh"),
    ("key,name_en,name_zh,atc,source\nx," + "A" * 300 + ",X,C09AA98,Label\n", "line 2: name_en: String should have at most"),
    ("key,name_en,name_zh,atc,source\nx,X,X,C09AA98," + "S" * 200_000 + "\n", "line 2: field larger than field limit"),
    ('key,name_en,name_zh,atc,source\nx,"X,X,C09AA98,Label\n', "line"),
])
def test_hostile_or_malformed_files_are_refused(tmp_path, content, message):
    source = _csv(tmp_path, "set.csv", content)
    with pytest.raises(KnowledgeDataError, match=message):
        importer.import_csv(path=source, kind="drugs", directory=tmp_path / "knowledge")
    assert _stored(tmp_path / "knowledge") == []


def test_non_utf8_and_unknown_kinds_are_refused(tmp_path):
    source = tmp_path / "latin1.csv"
    source.write_bytes(("key,name_en,name_zh,atc,source\nx,Caf\xe9,X,C09AA98,Label\n").encode("latin-1"))
    with pytest.raises(KnowledgeDataError, match="not UTF-8"):
        importer.import_csv(path=source, kind="drugs", directory=tmp_path / "knowledge")
    with pytest.raises(KnowledgeDataError, match="drugs, interactions"):
        importer.import_csv(path=source, kind="../../etc", directory=tmp_path / "knowledge")


def test_the_stored_name_never_leaves_the_knowledge_directory(tmp_path):
    assert importer.store_name(Path("../../etc/cron.d/evil set;rm -rf.csv")) == "evil-set-rm-rf"
    assert importer.store_name(Path("....csv")) == "imported"
    source = _csv(tmp_path, "..weird name!!.csv", DRUG_HEADER + "zofenopril,Zofenopril,佐芬普利,C09AA15,,,,,,,,Label\n")
    result = importer.import_csv(path=source, kind="drugs", directory=tmp_path / "knowledge")
    assert result.stored.parent == tmp_path / "knowledge" / "formulary" and result.stored.name == "weird-name.yaml"


def test_large_files_are_checked_with_a_progress_bar(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "PROGRESS_FROM", 10)
    rows = "".join(f"drug-{n},Drug {n},药{n},C09AA98,,oral,mg,10,20,C,caution,Label\n" for n in range(50))
    source = _csv(tmp_path, "big.csv", DRUG_HEADER + rows)
    assert importer.import_csv(path=source, kind="drugs", directory=tmp_path / "k", progress=True).records == 50
    assert len(load(extra_dirs=[tmp_path / "k"]).in_class("C09AA98")) == 50


def test_the_command_imports_or_explains_and_exits_1(tmp_path):
    runner = CliRunner()
    good = _csv(tmp_path, "good.csv", DRUG_HEADER + "zofenopril,Zofenopril,佐芬普利,C09AA15,,,,,,,,Label\n")
    done = runner.invoke(app, ["knowledge", "import", str(good), "--kind", "drugs", "--dir", str(tmp_path / "k")])
    assert done.exit_code == 0, done.output
    assert "Imported 1 drugs" in done.output
    bad = _csv(tmp_path, "bad.csv", DRUG_HEADER + "zofenopril,Zofenopril,佐芬普利,C9,,,,,,,,Label [iU]\n")
    refused = runner.invoke(app, ["knowledge", "import", str(bad), "--kind", "drugs", "--dir", str(tmp_path / "k2")])
    assert refused.exit_code == 1
    assert "Nothing imported" in refused.output and "line 2" in refused.output
    assert not (tmp_path / "k2").exists()
