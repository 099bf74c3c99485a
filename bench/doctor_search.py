"""Latency of the doctor search at the demo's size, through the same service the /doctors page and API use.

Loads the demo region (its hospitals, departments and doctors) into a fresh SQLite database, opens
14 days of schedules, then times searches by hanzi, pinyin, initials, department, symptom and
hospital, each with the next free slot of every doctor found. Prints p50/p95 in milliseconds.

    .venv/bin/python bench/doctor_search.py [--residents 500] [--runs 100]
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from smartcare.demo.loader import load_region
from smartcare.hospital.directory import service
from smartcare.hospital.directory.search_index import DoctorQuery
from smartcare.hospital.scheduling.schedules import generate_demo_schedules
from smartcare.platform import migrate
from smartcare.platform.db import make_engine, unit_of_work, use_engine


def queries(rng: random.Random) -> dict[str, callable]:
    """The searches timed, each a function giving one query, drawn from the loaded doctors."""
    doctors = service.current_index().doctors
    departments = sorted({d.department for d in doctors if d.department})
    hospitals = sorted({d.organization_id for d in doctors})
    return {
        "name (hanzi)": lambda: DoctorQuery(text=rng.choice(doctors).name_zh[:2]),
        "name (pinyin)": lambda: DoctorQuery(text=rng.choice(doctors).pinyin),
        "initials": lambda: DoctorQuery(text=rng.choice(doctors).initials),
        "department": lambda: DoctorQuery(department=rng.choice(departments)),
        "symptom": lambda: DoctorQuery(symptom=rng.choice(["头痛", "cough", "chest pain", "皮疹", "toothache"])),
        "hospital": lambda: DoctorQuery(organization=rng.choice(hospitals)),
    }


def main() -> None:
    """Load, warm up, time the searches and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'search.db'}")
        migrate.upgrade(engine)
        use_engine(engine)
        with console.status("Loading the demo region and its schedules"):
            load_region(engine=engine, residents=args.residents, seed=1)
            with unit_of_work(engine) as conn:
                generate_demo_schedules(conn, days=14)
        started = time.perf_counter()
        index = service.current_index()
        build_ms = (time.perf_counter() - started) * 1000
        rng = random.Random(5)
        table = Table("search", "p50 ms", "p95 ms", "mean results")
        for name, make in queries(rng).items():
            times, found = [], []
            for _ in range(args.runs):
                query = make()
                start = time.perf_counter()
                results = service.find_doctors(query=query)
                times.append((time.perf_counter() - start) * 1000)
                found.append(len(results))
            times.sort()
            table.add_row(name, f"{statistics.median(times):.1f}", f"{times[int(len(times) * 0.95) - 1]:.1f}",
                          f"{statistics.mean(found):.1f}")
        console.print(f"{len(index.doctors)} doctors; index built in {build_ms:.0f} ms")
        console.print(table)
        use_engine(None)
        engine.dispose()


if __name__ == "__main__":
    main()
