"""`smartcare score NAME --input FILE|-`: run a calculator from the command line, answering as the API does."""

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from smartcare.knowledge import scores
from smartcare.platform.console import make_console

MAX_INPUT = 16 * 1024


def _read(source: str) -> object:
    text = sys.stdin.read(MAX_INPUT + 1) if source == "-" else Path(source).read_text(encoding="utf-8")
    if len(text) > MAX_INPUT:
        raise typer.BadParameter(f"the input is over {MAX_INPUT} bytes", param_hint="--input")
    try:
        return json.loads(text or "null")
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc.msg} at line {exc.lineno}", param_hint="--input") from None


def score(
    name: str = typer.Argument("", help="The calculator, e.g. pce-ascvd; leave out (or use --list) to list them."),
    input_file: str = typer.Option("-", "--input", "-i", help="A JSON file of the inputs, or - for standard input."),
    list_all: bool = typer.Option(False, "--list", help="List the calculators with their inputs and exit."),
    chinese: bool = typer.Option(False, "--zh", help="Warnings and the category label in Simplified Chinese."),
) -> None:
    """Run a risk calculator on a JSON object of its inputs and print the result as JSON (value, unit, category,
    inputs, warnings, source). Bad input prints each problem and exits with status 2."""
    console = make_console()
    if list_all or not name:
        table = Table("name", "calculator", "inputs", title="Calculators")
        for c in scores.CALCULATORS.values():
            table.add_row(c.name, c.title, ", ".join(f.name for f in c.fields))
        console.print(table)
        return
    calculator = scores.CALCULATORS.get(name)
    if calculator is None:
        console.print(f"[red]No calculator is called {name!r}.[/red] Known: {', '.join(scores.CALCULATORS)}")
        raise typer.Exit(2)
    if input_file != "-" and not Path(input_file).is_file():
        raise typer.BadParameter(f"no such file: {input_file}", param_hint="--input")
    try:
        result = calculator.run(_read(input_file))
    except scores.ScoreInputError as exc:
        for field, problem in exc.problems.items():
            console.print(f"[red]{field or 'input'}[/red]: {problem}", highlight=False)
        raise typer.Exit(2) from None
    except scores.NotApplicable as exc:
        console.print(f"[red]Not applicable:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    body = {"calculator": calculator.name, **result.as_json(zh=chinese),
            "category_label": calculator.label(result.category, zh=chinese)}
    sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")


risk_app = typer.Typer(help="Disease risk across the region: assess residents from their records.",
                       no_args_is_help=True)


@risk_app.command("assess")
def assess(
    patients: list[str] = typer.Argument(None, help="Patient ids to assess; leave out with --all for everyone."),
    everyone: bool = typer.Option(False, "--all", help="Assess every resident in the region."),
) -> None:
    """Run the record-based risk calculators (PCE, Chinese diabetes risk, KDIGO, CHA2DS2-VASc) for residents and write
    a RiskAssessment wherever the inputs changed; prints how many were assessed, unchanged, or short of inputs."""
    from smartcare.platform.db import unit_of_work
    from smartcare.regional.risk import batch, service

    console = make_console()
    if everyone == bool(patients):
        raise typer.BadParameter("give patient ids, or --all (not both)")
    if everyone:
        with unit_of_work() as conn:
            patients = service.all_patients(conn)
    columns = (TextColumn("Assessing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("assess", total=len(patients))
        counts = batch.assess_region(patients, advance=lambda done: progress.advance(task, done))
    table = Table("outcome", "calculators", title=f"Risk assessment of {len(patients)} residents")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    console.print(table)
