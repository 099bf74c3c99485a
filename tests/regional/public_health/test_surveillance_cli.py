"""`smartcare surveillance detect` on the command line: CSV in, CSV out, and one clear line for bad input."""

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.knowledge.surveillance import MAX_PERIODS, detect

runner = CliRunner()
DAILY = Path(__file__).parents[2] / "knowledge" / "surveillance" / "reference" / "series" / "daily.csv"


def _run(*args: str, stdin: str | None = None):
    return runner.invoke(app, ["surveillance", "detect", *args], input=stdin)


def _refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_csv_file_is_judged_and_written_as_csv_to_stdout():
    result = _run("--method", "ears-c2", "-p", "alpha=0.01", "--frequency", "365", str(DAILY))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    counts = [int(r["count"]) for r in csv.DictReader(DAILY.open())]
    expected = detect("ears-c2", counts, frequency=365, alpha=0.01)
    assert list(rows[0]) == ["period", "count", "expected", "upper", "alarm", "score"]
    assert rows[0]["period"] == "day-001" and rows[0]["upper"] == "" and rows[0]["alarm"] == "false"
    assert [float(r["upper"]) for r in rows[9:]] == [e.upper for e in expected[9:]]
    assert [r["alarm"] == "true" for r in rows] == [e.alarm for e in expected] and any(e.alarm for e in expected)


def test_standard_input_and_an_output_file_work(tmp_path):
    text = "period,count\n" + "".join(f"2026-W{i + 1:02d},{5 + i % 3}\n" for i in range(12)) + "2026-W13,30\n"
    target = tmp_path / "out.csv"
    result = _run("-m", "ears-c1", "-o", str(target), "-", stdin=text)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 13 and rows[-1]["alarm"] == "true"
    assert "Wrote 13 periods (1 alarms)" in result.stderr


def test_list_shows_the_methods_and_their_parameters():
    result = _run("--list")
    assert result.exit_code == 0
    for name in ("ears-c3", "cusum", "noufaily", "threshold_method", "nbPlugin", "algo.farrington"):
        assert name in result.stdout


def test_a_csv_without_the_count_column_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("period,cases\n2026-W01,3\n")
    _refused(_run("-m", "ears-c1", str(bad)), "missing count")


def test_a_count_that_is_not_a_whole_number_or_is_negative_names_its_line():
    _refused(_run("-m", "ears-c1", "-", stdin="period,count\na,1\nb,2.5\n"), "line 3: the count '2.5' is not a whole")
    _refused(_run("-m", "ears-c1", "-", stdin="period,count\na,1\nb,-4\n"), "line 3: the count -4 is negative")


def test_too_many_rows_or_too_large_a_file_is_refused(tmp_path):
    rows = "".join(f"{i},1\n" for i in range(MAX_PERIODS + 1))
    _refused(_run("-m", "ears-c1", "-", stdin="period,count\n" + rows), f"more than {MAX_PERIODS:,} rows")
    big = tmp_path / "big.csv"
    big.write_text("period,count\n" + "x" * (1024 * 1024) + ",1\n")
    _refused(_run("-m", "ears-c1", str(big)), "over 1,048,576 bytes")


def test_bad_method_parameters_and_short_series_are_one_line_each():
    stdin = "period,count\n" + "".join(f"{i},3\n" for i in range(10))
    _refused(_run("-m", "farrington", "-", stdin=stdin), "counts: farrington with these parameters needs at least 264")
    _refused(_run("-m", "cusum", "-p", "k=-1", "-p", "colour=red", "-", stdin=stdin), "k: must be at least 0")
    _refused(_run("-m", "cusum", "-p", "k", "-", stdin=stdin), "--param 'k' is not of the form name=value")
    _refused(_run("-m", "nope", "-", stdin=stdin), "method: unknown method")
    _refused(_run("-m", "ears-c1", "missing.csv"), "no such file: missing.csv")
    _refused(_run("-m", "ears-c1", "-", stdin="period,count\n"), "the file has no rows of data")
