"""`smartcare mpi dedupe` and `smartcare mpi link` on small CSV files, including hostile and malformed ones."""

import csv
import io

import pytest
from typer.testing import CliRunner

from smartcare.cli import app

runner = CliRunner()

HEADER = "ID,Family name,Given name,Date of birth,Sex,Phone,Address,City,Postcode,Ward\n"
# Two people appear twice: once in characters and once in pinyin, with other typing habits.
CLINIC = HEADER + """h1-001,张,小明,1980-03-07,男,13800138000,解放路12号,杭州,310000,3
h1-002,李,晓燕,1975-11-20,女,13900001111,延安路8号,杭州,310006,1
h1-003,王,芳,1990-01-15,女,13700002222,文三路100号,杭州,310012,2
h1-004,Chen,Jianguo,1962-06-30,M,13600003333,12 Hubin Road,Hangzhou,310002,4
h1-005,刘,伟,1988-09-09,男,13500004444,凤起路5号,杭州,310003,5
h1-006,Zhang,Xiaoming,07/03/1980,M,+86 138 0013 8000,12 Jiefang Road,Hangzhou,310000,
h1-007,赵,丽,1970-02-02,女,13300006666,庆春路9号,杭州,310009,
h1-008,Li,Xiaoyan,1975-11-20,F,139-0000-1111,,Hangzhou,310006,
h1-009,孙,强,1955-05-05,男,13200007777,体育场路3号,杭州,310004,
h1-010,周,杰,1999-12-12,男,13100008888,南山路1号,杭州,310001,
"""


def pairs_in(text: str) -> dict[tuple[str, str], dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return {(row["left_identifier"], row["right_identifier"]): row for row in rows}


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def fails_cleanly(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_dedupe_finds_the_people_entered_twice_and_nobody_else(tmp_path):
    result = runner.invoke(app, ["mpi", "dedupe", str(write(tmp_path, "clinic.csv", CLINIC))])
    assert result.exit_code == 0, result.output
    found = pairs_in(result.stdout)
    assert set(found) == {("h1-001", "h1-006"), ("h1-002", "h1-008")}
    assert all(float(row["match_probability"]) >= 0.9 for row in found.values())
    assert "ignored columns: Ward" in result.stderr
    assert "2 matched pairs" in result.stderr


def test_dedupe_writes_the_pairs_to_the_out_file(tmp_path):
    out = tmp_path / "pairs.csv"
    result = runner.invoke(app, ["mpi", "dedupe", str(write(tmp_path, "clinic.csv", CLINIC)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert set(pairs_in(out.read_text(encoding="utf-8"))) == {("h1-001", "h1-006"), ("h1-002", "h1-008")}
    assert result.stdout == ""


def test_link_across_two_files_uses_a_shared_identity_number_outright(tmp_path):
    hospital = write(tmp_path, "hospital.csv", "mrn,name,national_id,dob\n"
                     "H-1,王芳,11010519491231002X,1949-12-31\nH-2,陈建国,,1962-06-30\nH-3,刘伟,,1988-09-09\n")
    # The clinic misspelt the name and lost the birth date, but the identity number is the same.
    clinic = write(tmp_path, "clinic.csv", "Patient ID,Full name,ID number,Birth date,Mobile\n"
                   "C-9,Wang Fan,110105 19491231 002x,,13800000000\nC-8,Chen Jianguo,,1962-06-30,\n"
                   "C-7,Zhou Jie,,1999-12-12,\n")
    result = runner.invoke(app, ["mpi", "link", str(hospital), str(clinic)])
    assert result.exit_code == 0, result.output
    found = pairs_in(result.stdout)
    assert found[("H-1", "C-9")]["basis"] == "identity number"
    assert float(found[("H-1", "C-9")]["match_probability"]) == 1.0
    assert ("H-2", "C-8") in found
    assert not any(right == "C-7" for _, right in found)


def test_a_saved_model_links_the_same_way_when_reused(tmp_path):
    clinic = write(tmp_path, "clinic.csv", CLINIC)
    model = tmp_path / "model.json"
    first = runner.invoke(app, ["mpi", "dedupe", str(clinic), "--save-model", str(model)])
    again = runner.invoke(app, ["mpi", "dedupe", str(clinic), "--model", str(model)])
    assert first.exit_code == again.exit_code == 0
    assert pairs_in(first.stdout) == pairs_in(again.stdout)


def test_a_higher_threshold_writes_fewer_pairs(tmp_path):
    result = runner.invoke(app, ["mpi", "dedupe", str(write(tmp_path, "clinic.csv", CLINIC)),
                                 "--threshold", "0.999999"])
    assert result.exit_code == 0, result.output
    assert len(pairs_in(result.stdout)) < 2


def test_an_identifier_that_is_a_spreadsheet_formula_is_defused_in_the_output(tmp_path):
    hostile = CLINIC.replace("h1-001", '"=HYPERLINK(""http://evil.example"",""x"")"')
    result = runner.invoke(app, ["mpi", "dedupe", str(write(tmp_path, "clinic.csv", hostile))])
    assert result.exit_code == 0, result.output
    lefts = {left for left, _ in pairs_in(result.stdout)}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in lefts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("colour,shoe size\nred,42\n", "no usable columns"),
        (HEADER + "x1,张,伟,1980-01-01,男,1,a,b,c,d,EXTRA\n", "line 2: 11 fields where the header has 10"),
        (HEADER + "x1,张,伟\n", "line 2: 3 fields"),
        (HEADER + "x1," + "张" * 201 + ",伟,1980-01-01,男,1,a,b,c,d\n", "longer than 200 characters"),
        (HEADER + "x1,张,伟,1980-01-01,男,1,a,b,c,d\nx1,李,娜,1981-01-01,女,2,a,b,c,d\n", "'x1' is used twice"),
        (HEADER + ",张,伟,1980-01-01,男,1,a,b,c,d\n", "the identifier is empty"),
        ("id,surname,family_name\n1,Li,Li\n", "both hold the family name"),
        (HEADER + "x1,张,\x00伟,1980-01-01,男,1,a,b,c,d\n", "NUL bytes"),
        (HEADER + 'x1,"张,伟,1980-01-01\n', "fields where the header has"),
    ],
)
def test_malformed_files_are_refused_with_the_line_and_reason(tmp_path, content, message):
    result = runner.invoke(app, ["mpi", "dedupe", str(write(tmp_path, "bad.csv", content))])
    fails_cleanly(result, message)


def test_a_file_in_gb18030_is_refused_with_a_hint_and_read_with_the_encoding_option(tmp_path):
    path = write(tmp_path, "excel.csv", CLINIC.encode("gb18030"))
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(path)]), "--encoding gb18030")
    result = runner.invoke(app, ["mpi", "dedupe", str(path), "--encoding", "gb18030"])
    assert result.exit_code == 0, result.output
    assert ("h1-001", "h1-006") in pairs_in(result.stdout)


def test_missing_files_directories_and_bad_models_fail_cleanly(tmp_path):
    clinic = write(tmp_path, "clinic.csv", CLINIC)
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(tmp_path / "nope.csv")]), "no such file")
    fails_cleanly(runner.invoke(app, ["mpi", "link", str(clinic), str(tmp_path)]), "is a directory")
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(clinic), "--model", str(clinic)]), "cannot read the model")
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(clinic), "--out", str(clinic)]), "would overwrite")
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(clinic), "--encoding", "klingon"]), "unknown encoding")
    single = write(tmp_path, "one.csv", "id,name\n1,张伟\n")
    fails_cleanly(runner.invoke(app, ["mpi", "dedupe", str(single)]), "at least two records")


def test_help_documents_the_accepted_column_names():
    result = runner.invoke(app, ["mpi", "--help"])
    assert result.exit_code == 0
    for header in ("given_name", "family_name", "date_of_birth", "sex", "phone", "address_line_1", "city",
                   "postcode", "other columns are ignored"):
        assert header in " ".join(result.output.split())
