"""How long the daily outbreak detection run takes (regional/public_health/detection.py): one read of the case
reports, every disease and subtype by district and for the region, the syndromic series from triage interviews,
outpatient notes and visits, and the signals raised. Prints seconds per run, the best of a few, with what was read.

Two regions: the demo region (`smartcare demo`'s residents, their encounters and notes, plus a year of case reports
and triage interviews at the demo's scale), and a generated region with a few thousand case reports over six years,
so that the weekly series are judged by Noufaily.

    .venv/bin/python bench/surveillance_run.py                         # SQLite, both regions
    .venv/bin/python bench/surveillance_run.py --databases sqlite,postgresql

Figures on the development machine (2 shared cores), best of 3 runs, as at 2 March 2026:

    region                                                   read                           SQLite   PostgreSQL
    demo region: 500 residents, their visits and notes,      657 case reports,              0.12 s   0.13 s
      360 case reports and 900 triage interviews a year        285 complaints (84 days)
    generated region: 6,000 case reports over 6 years,       6,000 case reports,            0.62 s   0.73 s
      3,000 triage interviews a year                           696 complaints (84 days)

In the demo region the series are daily (less than the 5 years Noufaily needs): 51 disease series with cases and
18 syndromic ones. In the generated region they are weekly: 36 disease series, of which the 6 with at least
min_count cases in the last week are fitted by Noufaily (about 0.1 s in all); most of the run is the one paged read
of the 6,000 case reports. The demo region's own case reports (from the reporting module's demo) are read too.
"""

import argparse
import math
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from smartcare.demo.loader import load_region
from smartcare.fhir import store
from smartcare.platform import clock
from smartcare.platform.db import refresh_statistics, unit_of_work, use_engine
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import detection, syndromes
from smartcare.regional.public_health.case_reports import document_type

RUNS = 3
NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DISTRICTS = ("339901", "339902", "339903", "339904", "339905")
DISTRICT_NAMES = ("Hedong District", "Hexi District", "Xincheng District", "Hubin District", "Shanqian District")
DISEASES = ("influenza", "infectious-diarrhoea", "hand-foot-mouth", "mumps", "tuberculosis", "syphilis")
# The common ones are the most reported, as in real surveillance data.
WEIGHTS = (5, 3, 3, 1, 1, 1)
COMPLAINTS = ("发热咳嗽2天", "fever and cough", "拉肚子三次", "headache", "发热伴皮疹", "no fever, sore throat",
              "腹痛", "back pain", "diarrhoea since last night", "咳嗽一周")
OFFICER = AccessContext(kind="user", name="bench.officer", roles=frozenset({"public_health_officer"}))


def case_reports(count: int, days: int, rng: random.Random) -> list[dict]:
    """count case reports spread over the last days days with a yearly cycle, by district and disease."""
    found = []
    for n in range(count):
        back = int(rng.random() ** 1.2 * days)
        day = NOW.date() - timedelta(days=back + 1)
        if rng.random() > 0.6 + 0.4 * math.sin(2 * math.pi * day.timetuple().tm_yday / 365):
            day -= timedelta(days=90)
        found.append({
            "resourceType": "Composition", "id": f"bench-case-{n}", "status": "final", "type": {"coding": [
                document_type()]}, "date": f"{day.isoformat()}T12:00:00+08:00", "title": "Case report",
            "category": [{"coding": [{"system": model.DISEASE_SYSTEM, "code": rng.choices(DISEASES, WEIGHTS)[0]}]}],
            "subject": {"reference": f"Patient/bench-p-{n % 500}"}, "author": [{"reference": "Organization/bench"}],
            "extension": [{"url": model.STATE, "valueCode": "submitted"},
                          {"url": model.DIAGNOSED_AT, "valueDateTime": f"{day.isoformat()}T09:00:00+08:00"},
                          {"url": model.DISTRICT, "valueCoding": {"system": model.DISTRICT_SYSTEM,
                                                                  "code": rng.choice(DISTRICTS)}}]})
    return found


def complaints(count: int, days: int, rng: random.Random) -> list[dict]:
    """count triage interviews over the last days days by residents of the five districts (patients included)."""
    people = [{"resourceType": "Patient", "id": f"bench-r-{n}", "address": [
        {"use": "home", "district": DISTRICT_NAMES[n % 5]}]} for n in range(max(1, count // 5))]
    interviews = [{
        "resourceType": "QuestionnaireResponse", "id": f"bench-q-{n}", "status": "completed",
        "questionnaire": syndromes.TRIAGE_QUESTIONNAIRE, "subject": {"reference": f"Patient/{rng.choice(people)['id']}"},
        "authored": f"{(NOW.date() - timedelta(days=rng.randrange(days) + 1)).isoformat()}T10:00:00+08:00",
        "item": [{"linkId": "complaint", "answer": [{"valueString": rng.choice(COMPLAINTS)}]}]} for n in range(count)]
    return people + interviews


def write(resources: list[dict]) -> None:
    """Write resources as the platform, 500 at a time."""
    for start in range(0, len(resources), 500):
        with unit_of_work() as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                             for r in resources[start:start + 500]])


def timed_runs() -> tuple[float, dict]:
    """The best of RUNS detection runs in seconds, and the figures of the last."""
    times, figures = [], {}
    for _ in range(RUNS):
        started = time.perf_counter()
        with unit_of_work() as conn:
            figures = detection.run(conn, ctx=OFFICER).figures
        times.append(time.perf_counter() - started)
    return min(times), figures


def region(kind: str, name: str, workdir: Path, console: Console, *, residents: int, reports: int, days: int,
           interviews: int) -> tuple[str, ...]:
    """Build one region in a fresh database and time the run over it."""
    from fhir_store import fresh_engine  # beside this file (bench/ is on sys.path when run as a script)

    engine = fresh_engine(kind, workdir, name="surveillance")
    use_engine(engine)
    rng = random.Random(11)
    with console.status(f"{kind}: building the {name}"):
        if residents:
            load_region(engine=engine, residents=residents, seed=7)
        clock.set_clock(lambda: NOW)  # the demo loader sets and resets the clock itself
        write(case_reports(reports, days, rng) + complaints(interviews, min(days, 365), rng))
        refresh_statistics(engine)
    with console.status(f"{kind}: timing runs over the {name}"):
        seconds, figures = timed_runs()
    use_engine(None)
    engine.dispose()
    read = f"{figures['case-reports-read']:,} case reports, {figures['complaints-read']:,} complaints"
    series = f"{figures['disease-series']} {figures['frequency']} + {figures['syndromic-series']} syndromic"
    return kind, name, read, series, f"{seconds:.2f} s"


def main() -> None:
    """Time the run over both regions on each database and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--reports", type=int, default=6000)
    args = parser.parse_args()
    console = Console()
    table = Table("database", "region", "read", "series judged", "run (best of 3)",
                  title="Outbreak detection run (as at 2 March 2026)")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            table.add_row(*region(kind, f"demo region ({args.residents} residents)", Path(tmp), console,
                                  residents=args.residents, reports=360, days=365, interviews=900))
            table.add_row(*region(kind, "generated region", Path(tmp), console, residents=0,
                                  reports=args.reports, days=6 * 365 + 30, interviews=3000))
    console.print(table)


if __name__ == "__main__":
    main()
