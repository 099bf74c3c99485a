"""`smartcare mpi`: find the same people within one CSV file or across two, for data-migration projects."""

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from smartcare.platform.console import make_console
from smartcare.regional.mpi import DEFAULT_THRESHOLD
from smartcare.regional.mpi.files import COLUMNS, InputFileError, PeopleFile, read_people, write_pairs

if TYPE_CHECKING:  # the matching engine loads numpy, rapidfuzz and pypinyin: only when a command runs
    from smartcare.regional.mpi.batch import MatchedPair
    from smartcare.regional.mpi.model import FellegiSunterModel
    from smartcare.regional.mpi.normalise import Person

_COLUMN_HELP = "; ".join(f"{field.replace('_', ' ')}: {', '.join(names)}" for field, names in COLUMNS.items())
mpi_app = typer.Typer(
    help=(
        "Master patient index: find records of the same person within one CSV file (dedupe) or across two (link), "
        "with a Fellegi-Sunter model trained on the files themselves, and write the matched pairs with their match "
        "probability as CSV.\n\n"
        "Header names are matched ignoring case, spaces, dashes, dots and underscores; other columns are ignored. "
        f"Accepted headers - {_COLUMN_HELP}. Several address columns are joined in file order. Without an "
        "identifier column the record's number in the file (1 for the first) identifies it. Chinese names are "
        "compared through pinyin; a valid PRC identity number (GB 11643-1999) shared by two records links them "
        "outright."
    ),
    no_args_is_help=True,
)
console = make_console(stderr=True)

OUT = typer.Option(None, "--out", "-o", dir_okay=False, help="Where to write the matched pairs (default: standard output).")
THRESHOLD = typer.Option(DEFAULT_THRESHOLD, min=0.01, max=0.999999, help="Lowest match probability written out.")
MODEL = typer.Option(None, "--model", dir_okay=False, help="Use this trained model (JSON) instead of training one.")
SAVE_MODEL = typer.Option(None, "--save-model", dir_okay=False, help="Also save the model trained here as JSON.")
ENCODING = typer.Option("utf-8", help="The files' text encoding (gb18030 for files saved by Chinese Excel).")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]Nothing written:[/] {escape(message)}", highlight=False)
    return typer.Exit(1)


@contextlib.contextmanager
def _progress() -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        yield progress


def _read(path: Path, encoding: str) -> PeopleFile:
    try:
        people = read_people(path, encoding=encoding)
    except InputFileError as error:
        raise _fail(str(error)) from None
    ignored = f"; ignored columns: {', '.join(people.ignored)}" if people.ignored else ""
    console.print(f"{path.name}: {len(people.people):,} records ({', '.join(people.fields)}){escape(ignored)}",
                  highlight=False)
    return people


def _model(left: "list[Person]", right: "list[Person] | None", model: Path | None, progress: Progress,
           save_model: Path | None) -> "FellegiSunterModel":
    from smartcare.regional.mpi.model import FellegiSunterModel, ModelFileError
    from smartcare.regional.mpi.training import NotEnoughData, train

    if model is not None:
        try:
            return FellegiSunterModel.load(model)
        except ModelFileError as error:
            raise _fail(str(error)) from None
    task = progress.add_task("Training the model", total=5)
    try:
        trained = train(left, right, on_step=lambda text: progress.update(task, description=text, advance=1))
    except NotEnoughData as error:
        raise _fail(str(error)) from None
    progress.remove_task(task)
    if save_model is not None:
        try:
            trained.save(save_model)
        except OSError as error:
            raise _fail(f"cannot save the model to {save_model}: {error.strerror}") from None
    return trained


def _run(left: "list[Person]", right: "list[Person] | None", *, inputs: list[Path], out: Path | None, threshold: float,
         model: Path | None, save_model: Path | None, one_to_one: bool) -> None:
    from smartcare.regional.mpi.batch import find_matches

    if out is not None and any(out.resolve() == path.resolve() for path in inputs):
        raise _fail(f"--out {out} would overwrite an input file")
    with _progress() as progress:
        fitted = _model(left, right, model, progress, save_model)
        task = progress.add_task("Comparing candidate pairs", total=None)
        pairs = find_matches(
            fitted, left, right, threshold=threshold, one_to_one=one_to_one,
            on_total=lambda total: progress.update(task, total=total),
            on_advance=lambda n: progress.advance(task, n),
        )
    _write(pairs, out)


def _write(pairs: "list[MatchedPair]", out: Path | None) -> None:
    from smartcare.regional.mpi.batch import DETERMINISTIC

    if out is None:
        write_pairs(pairs, sys.stdout)
    else:
        try:
            with out.open("w", encoding="utf-8", newline="") as stream:
                write_pairs(pairs, stream)
        except OSError as error:
            raise _fail(f"cannot write {out}: {error.strerror}") from None
    deterministic = sum(1 for pair in pairs if pair.basis == DETERMINISTIC)
    where = f" to {out}" if out is not None else ""
    console.print(f"{len(pairs):,} matched pairs ({deterministic:,} on identity number) written{escape(where)}",
                  highlight=False)


@mpi_app.command("dedupe")
def dedupe(
    file: Path = typer.Argument(..., help="The CSV file of people to deduplicate."),
    out: Path = OUT,
    threshold: float = THRESHOLD,
    model: Path = MODEL,
    save_model: Path = SAVE_MODEL,
    encoding: str = ENCODING,
) -> None:
    """Find records of the same person within one CSV file and write the pairs with their match probability."""
    people = _read(file, encoding).people
    _run(people, None, inputs=[file], out=out, threshold=threshold, model=model, save_model=save_model,
         one_to_one=False)


@mpi_app.command("link")
def link(
    file_a: Path = typer.Argument(..., help="The first CSV file of people (its identifiers come first in each pair)."),
    file_b: Path = typer.Argument(..., help="The second CSV file of people."),
    out: Path = OUT,
    threshold: float = THRESHOLD,
    model: Path = MODEL,
    save_model: Path = SAVE_MODEL,
    one_to_one: bool = typer.Option(
        False, help="Each record matches at most one of the other file (each file is already free of duplicates)."
    ),
    encoding: str = ENCODING,
) -> None:
    """Find the same people across two CSV files and write the pairs with their match probability."""
    left, right = _read(file_a, encoding).people, _read(file_b, encoding).people
    _run(left, right, inputs=[file_a, file_b], out=out, threshold=threshold, model=model, save_model=save_model,
         one_to_one=one_to_one)
