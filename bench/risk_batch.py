"""Benchmark the region's risk assessment run: residents a second, first run (writes) and a rerun (nothing changed).

Loads the demo region, then assesses every resident as the platform does in `smartcare risk assess --all`, twice:
the first run writes a RiskAssessment per calculator that has its inputs, the second finds nothing changed and
writes nothing. Also times the sweep's query for residents whose inputs changed. Prints the figures and the outcomes.

    .venv/bin/python bench/risk_batch.py --databases sqlite --residents 1200
"""

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from smartcare.demo.loader import load_region
from smartcare.platform import clock
from smartcare.platform.db import refresh_statistics, unit_of_work, use_engine
from smartcare.regional.risk import batch, service


def run(kind: str, residents: int, workdir: Path, console: Console) -> list[tuple[str, str, str]]:
    """The figures for one database."""
    from fhir_store import fresh_engine  # beside this file (bench/ is on sys.path when run as a script)

    engine = fresh_engine(kind, workdir, name="risk")
    use_engine(engine)
    with console.status(f"Loading {residents} residents into {kind}"):
        load_region(engine=engine, residents=residents, seed=7)
    refresh_statistics(engine)
    with unit_of_work() as conn:
        everyone = service.all_patients(conn)
    rows = []
    for label in ("first run", "rerun, nothing changed"):
        started = time.perf_counter()
        with console.status(f"{kind}: {label}"):
            counts = batch.assess_region(everyone)
        seconds = time.perf_counter() - started
        outcome = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        rows.append((kind, label, f"{len(everyone) / seconds:.1f} residents/s ({seconds:.1f} s); {outcome}"))
    started = time.perf_counter()
    with unit_of_work() as conn:
        changed = service.changed_patients(conn, since=clock.now() - timedelta(hours=1))
    rows.append((kind, "sweep query (inputs changed in the last hour)",
                 f"{(time.perf_counter() - started) * 1000:.0f} ms for {len(changed)} residents"))
    use_engine(None)
    engine.dispose()
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--residents", type=int, default=1200)
    args = parser.parse_args()
    console = Console()
    table = Table("database", "what", "figure", title=f"Risk assessment of {args.residents} demo residents")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            for row in run(kind, args.residents, Path(tmp), console):
                table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
