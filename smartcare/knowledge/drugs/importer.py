"""`smartcare knowledge import`: check a CSV of drugs or interactions and keep it beside the shipped formulary.

Every row is validated before anything is written; a bad row stops the import with its line number.
The validated set is stored under the knowledge directory (formulary/NAME.yaml or interactions/NAME.csv),
where `formulary.load(extra_dirs=...)` and `formulary.default()` pick it up.
"""

import csv
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.drugs.model import Drug
from smartcare.knowledge.drugs.records import KnowledgeDataError, parse_drug, parse_interactions, read_csv

KINDS = ("drugs", "interactions")
DRUG_COLUMNS = (
    "key", "name_en", "name_zh", "atc", "aliases", "route", "unit", "adult_per_dose_max", "adult_per_day_max",
    "paediatric_per_kg_dose_max", "paediatric_per_kg_day_max", "pregnancy", "lactation", "allergy_classes",
    "ingredients", "source",
)
DRUG_REQUIRED = ("key", "name_en", "name_zh", "atc", "source")
LIST_SEPARATOR = re.compile(r"[;|]")
# Validation runs at tens of thousands of rows a second, so only big files get a progress bar.
PROGRESS_FROM = 5_000
_NUMBER = re.compile(r"^\d{1,7}(\.\d{1,6})?$")


@dataclass(frozen=True)
class ImportResult:
    """What an import stored: how many records, and where."""

    kind: str
    records: int
    stored: Path


def _split(value: str) -> list[str]:
    return [part.strip() for part in LIST_SEPARATOR.split(value) if part.strip()]


def _number(row: Mapping[str, str], column: str, line: int, origin: str) -> float | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    if not _NUMBER.match(text):
        raise KnowledgeDataError(f"{origin}: line {line}: {column} must be a plain positive number (given {text!r:.40})")
    return float(text)


def _dose(population: str, basis: str, per_dose: float | None, per_day: float | None, row: Mapping[str, str],
          source: str) -> dict[str, Any]:
    return {
        "population": population, "basis": basis, "route": row.get("route", "").strip(),
        "unit": row.get("unit", "").strip(), "per_dose_max": per_dose, "per_day_max": per_day, "source": source,
    }


def drug_mapping(row: Mapping[str, str], *, line: int, origin: str) -> dict[str, Any]:
    """The formulary record (the YAML shape) for one row of a drugs CSV."""
    source = (row.get("source") or "").strip()
    record: dict[str, Any] = {
        "key": (row.get("key") or "").strip(),
        "name_en": row.get("name_en") or "",
        "name_zh": row.get("name_zh") or "",
        "atc": _split(row.get("atc") or ""),
        "source": source,
    }
    for column in ("aliases", "allergy_classes", "ingredients"):
        if values := _split(row.get(column) or ""):
            record[column] = values
    for column in ("pregnancy", "lactation"):
        if value := (row.get(column) or "").strip():
            record[column] = value
    doses = []
    adult = [_number(row, c, line, origin) for c in ("adult_per_dose_max", "adult_per_day_max")]
    if any(adult):
        doses.append(_dose("adult", "fixed", *adult, row, source))
    child = [_number(row, c, line, origin) for c in ("paediatric_per_kg_dose_max", "paediatric_per_kg_day_max")]
    if any(child):
        doses.append(_dose("paediatric", "per_kg", *child, row, source))
    if doses:
        record["doses"] = [{k: v for k, v in dose.items() if v is not None} for dose in doses]
    return record


def _validated_drugs(rows: list[tuple[int, dict[str, str]]], origin: str,
                     advance: Callable[[], None]) -> list[tuple[int, dict[str, Any], Drug]]:
    found: list[tuple[int, dict[str, Any], Drug]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        record = drug_mapping(row, line=line, origin=origin)
        drug = parse_drug(record, origin=origin, label=f"line {line}")
        if drug.key in first_line:
            raise KnowledgeDataError(f"{origin}: line {line}: drug {drug.key!r} is already on line {first_line[drug.key]}")
        first_line[drug.key] = line
        found.append((line, record, drug))
        advance()
    return found


def store_name(path: Path) -> str:
    """A safe file name for the stored set, from the CSV's name (nothing of its folders)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem)
    name = re.sub(r"-{2,}", "-", name).strip("-_")[:64]
    return name or "imported"


def _write_set(kind: str, records: list[Any], folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "drugs":
        target = folder / f"{name}.yaml"
        text = yaml.safe_dump(records, allow_unicode=True, sort_keys=False, width=1000)
    else:
        target = folder / f"{name}.csv"
        with tempfile.SpooledTemporaryFile(mode="w+", newline="", encoding="utf-8") as buffer:
            writer = csv.DictWriter(buffer, fieldnames=formulary.INTERACTION_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
            buffer.seek(0)
            text = buffer.read()
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def import_csv(*, path: Path, kind: str, directory: Path, progress: bool = False) -> ImportResult:
    """Validate every row of a drugs or interactions CSV, then store it under `directory` for the formulary."""
    if kind not in KINDS:
        raise KnowledgeDataError(f"the kind of an import is one of {', '.join(KINDS)}, not {kind!r:.40}")
    origin = str(path)
    columns, required = (
        (DRUG_COLUMNS, DRUG_REQUIRED) if kind == "drugs"
        else (formulary.INTERACTION_COLUMNS, formulary.INTERACTION_REQUIRED)
    )
    rows = read_csv(path, columns=columns, required=required)
    if not rows:
        raise KnowledgeDataError(f"{origin}: the file has a header but no rows")
    show = progress and len(rows) >= PROGRESS_FROM
    bar = (TextColumn("Checking rows"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    directories = [directory] if directory.is_dir() else []
    with Progress(*bar, transient=True, disable=not show) as shown:
        task = shown.add_task("check", total=len(rows))
        if kind == "drugs":
            drugs = _validated_drugs(rows, origin, lambda: shown.advance(task))
            # Checked together with the shipped data and earlier imports: ingredients, allergy classes, names.
            formulary.load(extra_dirs=directories, extra_drugs=[(f"{origin}: line {n}", d) for n, _, d in drugs])
            records: list[Any] = [record for _, record, _ in drugs]
        else:
            interactions = parse_interactions(rows, origin=origin)
            shown.update(task, completed=len(rows))
            formulary.load(
                extra_dirs=directories, extra_interactions=[(f"{origin}: line {n}", r) for n, r in interactions]
            )
            records = [{c: getattr(rule, c) for c in formulary.INTERACTION_COLUMNS} for _, rule in interactions]
    subdir = formulary.FORMULARY_SUBDIR if kind == "drugs" else formulary.INTERACTIONS_SUBDIR
    stored = _write_set(kind, records, directory / subdir, store_name(path))
    formulary.default.cache_clear()
    return ImportResult(kind=kind, records=len(records), stored=stored)
