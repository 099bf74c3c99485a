"""`smartcare surveillance detect`: run an outbreak detector on a CSV of period,count and write each period's
expected count, upper bound and alarm as CSV."""

import csv
import io
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from smartcare.knowledge.surveillance import MAX_PERIODS, METHODS, DetectionInputError, Judgement, detect
from smartcare.platform.console import make_console

# 20,000 rows of a 40-character period and a 7-digit count, with room for quoting.
MAX_FILE_BYTES = 1024 * 1024
COLUMNS = ("period", "count", "expected", "upper", "alarm", "score")

surveillance_app = typer.Typer(help="Public health surveillance: outbreak detection on count series.",
                               no_args_is_help=True)


class BadInput(Exception):
    """Input the command refuses, with the one line that says why."""


def _read_text(source: str) -> str:
    if source == "-":
        raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise BadInput(f"no such file: {source}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise BadInput(f"the file is over {MAX_FILE_BYTES:,} bytes")
        raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise BadInput(f"the input is over {MAX_FILE_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("the input is not UTF-8 text") from None


def read_series(source: str) -> tuple[list[str], list[int]]:
    """Periods and counts from a CSV with a period,count header (a file, or - for standard input)."""
    reader = csv.reader(io.StringIO(_read_text(source)))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in ("period", "count") if name not in header]
    if missing:
        raise BadInput(f"the header must have the columns period and count; missing {', '.join(missing)}")
    at_period, at_count = header.index("period"), header.index("count")
    periods, counts = [], []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(periods) == MAX_PERIODS:
            raise BadInput(f"the file has more than {MAX_PERIODS:,} rows")
        if len(row) <= max(at_period, at_count):
            raise BadInput(f"line {line}: the row has no {'count' if len(row) <= at_count else 'period'}")
        text = row[at_count].strip()
        if not text.lstrip("-").isdigit() or len(text) > 12:
            raise BadInput(f"line {line}: the count {text[:20]!r} is not a whole number")
        if int(text) < 0:
            raise BadInput(f"line {line}: the count {text} is negative")
        periods.append(row[at_period].strip())
        counts.append(int(text))
    if not counts:
        raise BadInput("the file has no rows of data")
    return periods, counts


def parse_params(method: str, pairs: list[str]) -> dict[str, object]:
    """name=value pairs from the command line, read as each parameter's type."""
    known = {p.name: p for p in METHODS[method].parameters} if method in METHODS else {}
    params: dict[str, object] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise BadInput(f"--param {pair[:60]!r} is not of the form name=value")
        name = name.strip()
        params[name] = known[name].from_text(value) if name in known else value
    return params


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def write_rows(rows: list[Judgement], out: io.TextIOBase) -> None:
    """The judged series as CSV: period, count, expected, upper, alarm, score."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.as_dict()[column]) for column in COLUMNS])


def _allowed(parameter: dict[str, object]) -> str:
    choices = "|".join(map(str, parameter.get("choices", ())))
    low = parameter.get("minimum", parameter.get("exclusive_minimum"))
    if low is None or parameter["type"] == "choice":
        return choices
    opener = "(" if "exclusive_minimum" in parameter else "["
    span = f"{opener}{low}, {parameter['maximum']}]"
    return f"{choices} or a number in {span}" if choices else span


def _list_methods() -> None:
    table = Table("method", "parameter", "type", "default", "allowed", "R function", title="Outbreak detectors")
    for method in METHODS.values():
        described = method.describe()
        for i, p in enumerate(described["parameters"]):
            default = _cell(p["default"]) if isinstance(p["default"], bool) else str(p["default"])
            table.add_row(method.name if i == 0 else "", p["name"], str(p["type"]), default, _allowed(p),
                          described["r_function"] if i == 0 else "", end_section=i == len(described["parameters"]) - 1)
    make_console().print(table)


def _fail(message: str) -> typer.Exit:
    make_console(stderr=True).print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@surveillance_app.command("detect")
def detect_command(
    file: str = typer.Argument(None, help="A CSV file with a header period,count; - reads standard input."),
    method: str = typer.Option(None, "--method", "-m", help="The detector: ears-c1, ears-c2, ears-c3, cusum, "
                                                            "farrington or noufaily."),
    frequency: int = typer.Option(52, "--frequency", "-f", help="Periods a year: 52 weekly, 365 daily, 12 monthly."),
    params: list[str] = typer.Option(None, "--param", "-p", help="A method parameter as name=value (repeatable); "
                                                                 "see --list."),
    output: Path = typer.Option(None, "--output", "-o", dir_okay=False, help="Write the CSV here, not to stdout."),
    list_all: bool = typer.Option(False, "--list", help="List the methods and their parameters, and exit."),
) -> None:
    """Judge each period of a count series with an outbreak detector and write period, count, expected, upper,
    alarm and score as CSV. Periods without enough history get empty expected and upper and no alarm. Bad input
    prints one line and exits with status 2."""
    if list_all:
        _list_methods()
        return
    if not method or file is None:
        raise _fail("give --method and a CSV file (or - for standard input); --list shows the methods")
    try:
        periods, counts = read_series(file)
        rows = detect(method, counts, periods=periods, frequency=frequency, **parse_params(method, params or []))
    except BadInput as exc:
        raise _fail(str(exc)) from None
    except DetectionInputError as exc:
        raise _fail("; ".join(f"{field}: {problem}" for field, problem in exc.problems.items())) from None
    if output is None:
        write_rows(rows, sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            write_rows(rows, out)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror or exc}") from None
    alarms = sum(r.alarm for r in rows)
    make_console(stderr=True).print(f"Wrote {len(rows):,} periods ({alarms} alarms) to {escape(str(output))}",
                                    highlight=False)


@surveillance_app.command("import-history")
def import_history_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="A CSV of weekly counts with the header disease,district,week,count."),
    source: str = typer.Option("imported weekly counts", help="Where the counts come from (kept with them)."),
) -> None:
    """Import the weekly notifiable-disease counts of the years before SmartCare, for the detectors that compare a
    week with the same weeks of earlier years. Disease ids are the notifiable list's, districts the region's codes
    (empty when unknown), weeks YYYY-Www or the Monday's date. A year imported again replaces the earlier import."""
    from smartcare.platform.db import unit_of_work
    from smartcare.platform.security.context import SYSTEM
    from smartcare.regional.public_health import history

    console = make_console()
    try:
        counts = history.parse_csv(file.read_text(encoding="utf-8-sig"))
    except (history.HistoryInvalid, UnicodeDecodeError) as exc:
        problems = exc.problems if isinstance(exc, history.HistoryInvalid) else ["the file is not UTF-8 text"]
        console.print("[red]Nothing imported:[/]", highlight=False)
        for problem in problems:
            console.print(f"  {escape(problem)}", highlight=False)
        raise typer.Exit(2) from None
    with console.status(f"Importing {len(counts):,} weekly counts"), unit_of_work() as conn:
        written = history.import_history(conn, ctx=SYSTEM, counts=counts, source=source)
    console.print(f"Imported {len(counts):,} weekly counts as {written} disease-years.", highlight=False)
