"""Load the generated demo region into the FHIR store through transaction bundles."""

import time
from dataclasses import dataclass

import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import Engine

from smartcare.demo.consents import load_consents
from smartcare.demo.duplicates import load_duplicates
from smartcare.demo.duties import load_duties
from smartcare.demo.emergency import load_emergency_arrivals
from smartcare.demo.family import load_family
from smartcare.demo.generator import count_region, generate_region
from smartcare.demo.imaging import load_imaging
from smartcare.demo.lab_orders import load_lab_orders
from smartcare.demo.lab_qc import load_lab_qc
from smartcare.demo.news import load_news
from smartcare.demo.public_health import load_public_health
from smartcare.demo.public_health_control import load_control
from smartcare.demo.risk import load_risk
from smartcare.demo.supervision import load_supervision
from smartcare.demo.wards import load_wards
from smartcare.fhir import bundles, tables
from smartcare.hospital.consultation.demo import load_consultation_demo
from smartcare.hospital.referral.demo import load_referrals
from smartcare.hospital.teleconsult.demo import load_teleconsults
from smartcare.platform.db import refresh_statistics, unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.exchange.demo_feed import feed_members


@dataclass(frozen=True, slots=True)
class LoadStats:
    """How much was loaded and how fast."""

    resources: int
    seconds: float

    @property
    def rate(self) -> float:
        """Resources per second."""
        return self.resources / self.seconds if self.seconds else 0.0


def region_loaded(engine: Engine) -> bool:
    """True when the store already holds resources (so the demo is not loaded twice)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.resource.c.pk).limit(1)).first() is not None


def load_region(*, engine: Engine, residents: int, seed: int, progress: bool = False) -> LoadStats:
    """Generate the demo region and store it, one transaction per bundle; returns what was loaded."""
    total = count_region(residents=residents, seed=seed)
    started = time.perf_counter()
    loaded = 0
    with Progress(
        TextColumn("[bold]Loading demo region"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("resources"),
        TimeRemainingColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("load", total=total)
        for bundle in generate_region(residents=residents, seed=seed):
            entries = bundle.get("entry", [])
            with unit_of_work(engine) as conn:
                bundles.transaction(conn, SYSTEM, entries, "")
            loaded += len(entries)
            bar.update(task, advance=len(entries))
    loaded += load_wards(engine, seed=seed)
    loaded += load_duties(engine)
    loaded += load_lab_orders(engine)
    loaded += load_imaging(engine)
    load_lab_qc(engine, seed=seed)  # QC runs are the laboratory's own records, not FHIR resources
    load_news(engine)  # articles of the news service's own table, not FHIR resources
    loaded += load_emergency_arrivals(engine, seed=seed)  # walk-in Appointments, checked in and called
    loaded += load_referrals(engine)  # an upward and a downward referral between a clinic and a hospital
    loaded += load_teleconsults(engine)  # remote consultations: waiting, a multi-disciplinary session, answered
    load_consultation_demo(engine)  # on-duty rosters and the demo patient's consultations (counts consultations)
    loaded += load_family(engine)  # home monitoring of the GP's residents and the demo patient's medicines
    loaded += load_duplicates(engine, seed=seed)  # residents registered again at hospitals; the MPI matches all
    loaded += feed_members(engine, seed=seed)  # the institutions register as members and send nightly bundles
    loaded += load_consents(engine, seed=seed)  # most residents share their records regionally (regional/consent)
    loaded += load_risk(engine)  # every resident's risks, and the demo patient's prevention programme (regional/risk)
    # Notifiable diseases: years of weekly counts, twelve weeks of case reports with an outbreak, an approved release.
    loaded += load_public_health(engine, seed=seed)
    loaded += load_control(engine)  # a mumps case's contacts traced, people isolated at home (public health control)
    # Facilities under health supervision: licences, inspections, findings, this quarter's plan (regional/supervision).
    loaded += load_supervision(engine, seed=seed)
    refresh_statistics(engine)
    return LoadStats(resources=loaded, seconds=time.perf_counter() - started)
