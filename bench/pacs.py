"""C-STORE throughput and study-level C-FIND latency of `smartcare pacs`, Orthanc and dcmtk's storescp, in one run.

Generates synthetic CT instances (smartcare.hospital.imaging.synthetic: 256x256, about 130 KB each, studies of
100 slices of different patients) into a temporary directory, then for each target:

- C-STORE: dcmtk's `storescu` sends every file in ONE association (+sd +r); the time is the storescu process's
  wall clock (it reads the files' headers first, the same for every target). instances/s and MB/s of file bytes.
- C-FIND: a pynetdicom SCU with TCP_NODELAY sends the study-level queries (Study Root) over ONE association, so
  process start-up is not measured: patient ID, accession number, a patient name wildcard and a date range in
  turn, each asking for the attributes a study list shows. p50/p95 of the time to the final response; every
  answer's number of matches is checked against the generated studies.

Targets: Orthanc (Debian: `apt-get install -y orthanc`; run here on loopback with a generated configuration),
dcmtk's `storescp` writing files (a floor for store speed; it answers no C-FIND), and `smartcare pacs` on a fresh
SQLite file and PostgreSQL schema. The issue's goal: throughput at least Orthanc's, C-FIND p95 no more than it.

    .venv/bin/python bench/pacs.py [--instances 2000] [--targets orthanc,storescp,smartcare]
                                   [--databases sqlite,postgresql] [--finds 200]
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartcare.hospital.imaging.synthetic import SyntheticStudy, bench_studies, write_study  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_store import fresh_engine  # noqa: E402  (beside this file)

BENCH_AE = "BENCH"
ORTHANC = Path("/usr/sbin/Orthanc")
SMARTCARE = ROOT / ".venv" / "bin" / "smartcare"
# Debian's dcmtk leaves Nagle's algorithm on unless TCP_NODELAY=1 is in the environment: storescu to storescp
# then waits ~45 ms (a delayed ACK) per instance, 22 instead of ~700 instances/s. Orthanc's DICOM side is dcmtk.
DCMTK_ENV = os.environ | {"TCP_NODELAY": "1"}
console = Console(width=120)


@dataclass
class Target:
    """A running DICOM peer to measure."""

    name: str
    ae_title: str
    port: int
    process: subprocess.Popen
    answers_find: bool
    stored: Callable[[], int]


@dataclass
class Figures:
    """What one target measured."""

    target: str
    instances: int
    seconds: float
    megabytes: float
    failures: int
    stored: int
    p50: float | None = None
    p95: float | None = None
    wrong_answers: int = 0

    @property
    def rate(self) -> float:
        """Instances stored per second."""
        return self.instances / self.seconds


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    """Return once something accepts connections on the port; raise if the process died or it took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Ask the process to end (SIGTERM), killing it when it does not within 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_orthanc(workdir: Path) -> Target | None:
    """Orthanc on loopback with storage and index in workdir, accepting any caller's C-STORE and C-FIND."""
    binary = ORTHANC if ORTHANC.exists() else shutil.which("Orthanc")
    if binary is None:
        console.print("[yellow]Orthanc is not installed (Debian: apt-get install -y orthanc); skipping it[/]")
        return None
    http_port, dicom_port = free_port(), free_port()
    storage = workdir / "orthanc"
    storage.mkdir()
    config = {
        "Name": "bench",
        "StorageDirectory": str(storage / "storage"),
        "IndexDirectory": str(storage / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "SaveJobs": False,
        "Plugins": [],
    }
    (storage / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = (storage / "orthanc.log").open("wb")
    process = subprocess.Popen([str(binary), str(storage / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT,
                               env=DCMTK_ENV)
    wait_for_port(http_port, process, "Orthanc")
    wait_for_port(dicom_port, process, "Orthanc")

    def stored() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/statistics", timeout=30) as resp:
            return json.load(resp)["CountInstances"]

    return Target("Orthanc " + orthanc_version(str(binary)), "ORTHANC", dicom_port, process, True, stored)


def orthanc_version(binary: str) -> str:
    """Orthanc's version number from --version."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout.split()
    return out[1] if len(out) > 1 else ""


def start_storescp(workdir: Path) -> Target | None:
    """dcmtk's storescp writing each received instance to a file."""
    binary = shutil.which("storescp")
    if binary is None:
        console.print("[yellow]dcmtk is not installed (Debian: apt-get install -y dcmtk); skipping storescp[/]")
        return None
    port = free_port()
    out = workdir / "storescp"
    out.mkdir()
    process = subprocess.Popen([binary, "-aet", "STORESCP", "-od", str(out), str(port)],
                               stdout=subprocess.DEVNULL, stderr=(out.parent / "storescp.log").open("wb"),
                               env=DCMTK_ENV)
    wait_for_port(port, process, "storescp")
    return Target("dcmtk storescp", "STORESCP", port, process, False, lambda: sum(1 for _ in out.iterdir()))


def smartcare_pacs_available() -> bool:
    """Whether this checkout has the `smartcare pacs` command yet."""
    if not SMARTCARE.exists():
        return False
    done = subprocess.run([str(SMARTCARE), "pacs", "--help"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


def allow_bench_ae(url: str) -> None:
    """Register this benchmark's AE title as a known caller (the PACS refuses unknown ones)."""
    from sqlalchemy import insert

    from smartcare.hospital.imaging.models import imaging_remote_ae
    from smartcare.platform.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(imaging_remote_ae).values(ae_title=BENCH_AE, host="127.0.0.1", port=0,
                                                      description="bench/pacs.py", allowed=True))
    engine.dispose()


def start_smartcare(workdir: Path, kind: str, dicom_store: str = "") -> Target:
    """`smartcare pacs` on a fresh, migrated database of the kind and a fresh data directory (instances in the
    object store dicom_store names, with SMARTCARE_S3_* from the environment, when given)."""
    engine = fresh_engine(kind, workdir, "bench_pacs")
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    allow_bench_ae(url)
    data = workdir / f"smartcare-{kind}"
    data.mkdir()
    port = free_port()
    env = os.environ | {"SMARTCARE_DATABASE_URL": url, "SMARTCARE_DATA_DIR": str(data), "SMARTCARE_DICOM_STORE":
                        dicom_store.rstrip("/") + f"/{kind}" if dicom_store else ""}
    process = subprocess.Popen([str(SMARTCARE), "pacs", "--port", str(port), "--ae-title", "SMARTCARE"],
                               env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=(workdir / f"smartcare-{kind}.log").open("wb"))
    wait_for_port(port, process, "smartcare pacs")
    return Target(f"SmartCare ({kind}{', S3' if dicom_store else ''})", "SMARTCARE", port, process, True,
                  lambda: instances_by_find(port, "SMARTCARE"))


def instances_by_find(port: int, ae_title: str) -> int:
    """How many instances the peer holds, by its answer to one study-level C-FIND for every study."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.NumberOfStudyRelatedInstances = ""
    ae = AE(ae_title=BENCH_AE)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
    if not assoc.is_established:
        raise RuntimeError(f"{ae_title} refused the C-FIND association")
    total = 0
    try:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            if status and status.Status in (0xFF00, 0xFF01):
                total += int(identifier.get("NumberOfStudyRelatedInstances") or 0)
    finally:
        assoc.release()
    return total


def send_all(target: Target, directory: Path) -> tuple[float, int]:
    """storescu sends every file under directory in one association; (seconds, instances refused or failed)."""
    command = ["storescu", "-aet", BENCH_AE, "-aec", target.ae_title, "+sd", "+r", "+sp", "*.dcm", "-R", "-nh",
               "127.0.0.1", str(target.port), str(directory)]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=DCMTK_ENV)
    seconds = time.perf_counter() - began
    problems = [line for line in done.stderr.splitlines() if line.startswith(("E:", "W:", "F:"))]
    if done.returncode != 0 or problems:
        console.print(f"[red]storescu to {target.name}: exit {done.returncode}[/]\n" + "\n".join(problems[:5]))
    return seconds, sum(1 for line in problems if "Store" in line)


def find_queries(studies: list[SyntheticStudy], count: int) -> list[tuple[Dataset, int]]:
    """Study-level queries of four kinds in turn, each with the number of studies that should match."""
    rng = random.Random(7)
    queries = []
    for n in range(count):
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        for keyword in ("StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "PatientName",
                        "PatientID", "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances"):
            setattr(ds, keyword, "")
        study = rng.choice(studies)
        kind = n % 4
        if kind == 0:
            ds.PatientID = study.patient.patient_id
            expected = 1
        elif kind == 1:
            ds.AccessionNumber = study.accession_number
            expected = 1
        elif kind == 2:
            prefix = study.patient.name[: len("Synthetic^Patient") + 1]
            ds.PatientName = prefix + "*"
            expected = sum(s.patient.name.startswith(prefix) for s in studies)
        else:
            day = study.performed.date()
            ds.StudyDate = f"{day:%Y%m%d}-{day:%Y%m%d}"
            expected = sum(s.performed.date() == day for s in studies)
        queries.append((ds, expected))
    return queries


def find_latencies(target: Target, queries: list[tuple[Dataset, int]]) -> tuple[list[float], int]:
    """Milliseconds to each query's final response over one association, and how many answers were wrong."""
    ae = AE(ae_title=BENCH_AE)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", target.port, ae_title=target.ae_title)
    if not assoc.is_established:
        raise RuntimeError(f"{target.name} refused the C-FIND association")
    # Without it Nagle's algorithm and delayed ACKs add ~40 ms to each small request.
    assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    latencies, wrong = [], 0
    try:
        for query, expected in queries:
            began = time.perf_counter()
            matches, final = 0, None
            for status, _identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
                if status and status.Status in (0xFF00, 0xFF01):
                    matches += 1
                else:
                    final = status.Status if status else None
            latencies.append((time.perf_counter() - began) * 1000)
            wrong += final != 0 or matches != expected
    finally:
        assoc.release()
    return latencies, wrong


def measure(target: Target, directory: Path, total_bytes: int, queries: list[tuple[Dataset, int]]) -> Figures:
    """Store everything, count what the target kept, then time the C-FIND queries."""
    instances = sum(1 for _ in directory.rglob("*.dcm"))
    seconds, failures = send_all(target, directory)
    figures = Figures(target.name, instances, seconds, total_bytes / 1e6, failures, target.stored())
    if target.answers_find:
        latencies, figures.wrong_answers = find_latencies(target, queries)
        latencies.sort()
        figures.p50 = statistics.median(latencies)
        figures.p95 = statistics.quantiles(latencies, n=20)[18]
    console.print(f"{figures.target}: {figures.rate:,.0f} instances/s, stored {figures.stored:,}"
                  + (f", C-FIND p95 {figures.p95:.1f} ms" if figures.p95 is not None else ""))
    return figures


def run_target(name: str, starter: Callable[[], Target | None], directory: Path, total_bytes: int,
               queries: list[tuple[Dataset, int]]) -> Figures | None:
    """Start one target, measure it and stop it, whatever happens in between."""
    console.print(f"[bold]{name}[/]: starting ...")
    target = starter()
    if target is None:
        return None
    try:
        return measure(target, directory, total_bytes, queries)
    except Exception:
        for log in directory.parent.glob("*.log"):  # what the peer said before the run failed
            console.print(f"[red]{log.name}[/]:\n" + log.read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(target.process)


def generate(directory: Path, instances: int) -> tuple[list[SyntheticStudy], int]:
    """Write the synthetic CT studies; (the studies, their total file bytes)."""
    studies = bench_studies(instances)
    began = time.perf_counter()
    paths = [p for study in studies for p in write_study(study, directory / study.accession_number)]
    total = sum(p.stat().st_size for p in paths)
    console.print(f"generated {len(paths):,} CT instances in {len(studies)} studies, {total / 1e6:,.0f} MB, "
                  f"in {time.perf_counter() - began:.1f} s")
    return studies, total


def print_figures(rows: list[Figures]) -> None:
    """One table of every target's figures, then SmartCare's ratios to Orthanc."""
    table = Table(title="PACS benchmark: storescu, one association; C-FIND over one pynetdicom association; "
                        "2 cores, noisy machine")
    for col in ("target", "instances", "seconds", "instances/s", "MB/s", "failed", "stored",
                "C-FIND p50 ms", "p95 ms", "wrong"):
        table.add_column(col, justify="left" if col == "target" else "right", no_wrap=col == "target")
    for f in rows:
        table.add_row(f.target, f"{f.instances:,}", f"{f.seconds:.1f}", f"{f.rate:,.0f}",
                      f"{f.megabytes / f.seconds:,.1f}", str(f.failures), f"{f.stored:,}",
                      "-" if f.p50 is None else f"{f.p50:.1f}", "-" if f.p95 is None else f"{f.p95:.1f}",
                      str(f.wrong_answers) if f.p50 is not None else "-")
    console.print(table)
    orthanc = next((f for f in rows if f.target.startswith("Orthanc")), None)
    for f in rows:
        if f.target.startswith("SmartCare") and orthanc:
            line = f"{f.target} / Orthanc: throughput {f.rate / orthanc.rate:.2f}x (goal >= 1)"
            if f.p95 is not None and orthanc.p95:
                line += f", C-FIND p95 {f.p95 / orthanc.p95:.2f}x (goal <= 1)"
            console.print(line)


def main() -> None:
    """Generate the instances, measure each target in turn and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000, help="CT instances to send (studies of 100).")
    parser.add_argument("--targets", default="orthanc,storescp,smartcare")
    parser.add_argument("--databases", default="sqlite,postgresql", help="Databases to run smartcare pacs on.")
    parser.add_argument("--finds", type=int, default=200, help="C-FIND queries per target.")
    parser.add_argument("--dicom-store", default="", help="Keep smartcare's instances in this S3 bucket "
                        "(<endpoint>/<bucket>[/<prefix>]; keys from SMARTCARE_S3_ACCESS_KEY_ID/_SECRET_ACCESS_KEY).")
    args = parser.parse_args()
    if shutil.which("storescu") is None:
        sys.exit("storescu (dcmtk) is missing: apt-get install -y dcmtk")
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench_pacs_") as tmp:
        work = Path(tmp)
        studies, total = generate(work / "instances", args.instances)
        queries = find_queries(studies, args.finds)
        for name in args.targets.split(","):
            if name == "orthanc":
                rows.append(run_target(name, lambda: start_orthanc(work), work / "instances", total, queries))
            elif name == "storescp":
                rows.append(run_target(name, lambda: start_storescp(work), work / "instances", total, queries))
            elif name == "smartcare" and not smartcare_pacs_available():
                console.print("[yellow]smartcare pacs: not available yet[/]")
            elif name == "smartcare":
                for kind in args.databases.split(","):
                    rows.append(run_target(f"smartcare ({kind})", lambda k=kind: start_smartcare(work, k, args.dicom_store),
                                           work / "instances", total, queries))
            else:
                sys.exit(f"unknown target {name!r}: use orthanc, storescp or smartcare")
    print_figures([r for r in rows if r is not None])


if __name__ == "__main__":
    main()
