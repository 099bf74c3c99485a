"""CPU time per page of the patient app, in one process and without load: the figure to optimise against.

bench/app.py measures the pages under 50 users, where the machine's other work and the queue in front of
the server move every figure. This runs the same pages in-process (the application called through its ASGI
interface, as the server calls it) for a few accounts of a demo database, one after another, and prints the
median CPU milliseconds and queries per page; --profile PAGE prints where one page's time goes (cProfile,
by cumulative time).

    .venv/bin/python bench/app_cpu.py --database-url sqlite:////path/db.sqlite [--rounds 20] [--profile /app]

The database must hold a demo region with patient accounts (bench/app.py --data-dir DIR makes one:
DIR/db.sqlite, with bench.patient.N accounts).
"""

import argparse
import asyncio
import cProfile
import gc
import logging
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ("/app", "/app/record", "/app/record/trends", "/app/reports", "/app/queue", "/app/medication", "/app/news",
         "/app/first-aid")
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a demo database (sqlite:///... or postgresql://...)")
    parser.add_argument("--accounts", type=int, default=5, help="patient accounts to cycle through")
    parser.add_argument("--rounds", type=int, default=20, help="times each page is opened per account")
    parser.add_argument("--profile", metavar="PAGE", help="print a cProfile of PAGE instead of the table")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the start-up heap to the garbage collector (servers freeze it: web/heap.py)")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime, ...)")
    parser.add_argument("--lines", type=int, default=60, help="lines of the profile to print")
    args = parser.parse_args()
    os.environ["SMARTCARE_DATABASE_URL"] = args.database_url

    import anyio.to_thread
    import sqlalchemy as sa

    import smartcare.platform.web.app as _app_module
    from smartcare.demo.accounts import DEMO_PASSWORD
    from smartcare.platform.db import get_engine

    async def inline(func, *args, **kwargs):  # the pages' thread hops, run in this thread (measured and profiled)
        return func(*args)

    anyio.to_thread.run_sync = inline
    logging.disable(logging.INFO)  # the access lines and the client's own: the server writes them, not this
    engine = get_engine()
    statements = {"n": 0}
    sa.event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__("n", statements["n"] + 1))
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT username FROM user_account WHERE username = 'patient.demo' "
                                     "OR username LIKE 'bench.patient.%' ORDER BY username DESC")).scalars().all()
    names = names[: args.accounts]
    if not names:
        raise SystemExit("no patient accounts in that database")
    asyncio.run(measure(_app_module.create_app(), names, DEMO_PASSWORD, args, statements))


async def measure(app, names, password, args, statements) -> None:
    import httpx

    from smartcare.platform.web.heap import freeze_now

    clients = []
    for name in names:
        web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        token = _FORM_TOKEN.search((await web.get("/login")).text).group(1)
        signed = await web.post("/login", data={"username": name, "password": password, "csrf_token": token})
        assert signed.status_code == 303, name
        for page in PAGES:  # templates compiled, caches filled
            assert (await web.get(page)).status_code == 200, page
        clients.append(web)
    if not args.no_freeze:  # as a server started by `smartcare serve` does once it has started (web/heap.py)
        freeze_now()
    pauses: list[float] = []
    began = [0.0]

    def collected(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - began[0]) * 1000)

    gc.callbacks.append(collected)

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.rounds):
            for web in clients:
                await web.get(args.profile)
        profile.disable()
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)
        return

    print(f"{'page':22} {'CPU ms p50':>10} {'wall ms p50':>11} {'queries':>8}")
    totals = []
    for page in PAGES:
        cpu, wall, queries = [], [], []
        for _ in range(args.rounds):
            for web in clients:
                statements["n"] = 0
                c0, w0 = time.process_time(), time.perf_counter()
                answer = await web.get(page)
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
                queries.append(statements["n"])
                assert answer.status_code == 200, (page, answer.status_code)
        totals.append(statistics.median(cpu))
        print(f"{page:22} {statistics.median(cpu):10.1f} {statistics.median(wall):11.1f} "
              f"{statistics.median(queries):8.0f}")
    print(f"{'mean of pages':22} {statistics.mean(totals):10.1f}")
    if pauses:
        print(f"garbage collections: {len(pauses)}, {sum(pauses):.0f} ms in all, the longest {max(pauses):.1f} ms")


if __name__ == "__main__":
    main()
