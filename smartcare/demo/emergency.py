"""Arrivals at the demo hospitals' emergency departments in the hours before the load, so the nearest-hospital
page has real waits to show.

Each arrival is a walk-in Appointment with one of the department's doctors, checked in at the desk and later
called by that doctor through the outpatient queue (smartcare.hospital.queue.service), each at its own simulated
moment (the clock is set to it while the queue records it). The triage nurse sends a patient to the doctor with
the fewest patients; a doctor calls the next one as soon as the last consultation ends. Arrivals come a little
faster than the doctors see patients, so a queue is building up at the time of the load, as it does at a busy
emergency department. The patients are residents of the centres other than the first, whose residents the demo's
own patient accounts use, so those accounts show no emergency visit they did not make.
"""

import heapq
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import store
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.queue import service as queue
from smartcare.hospital.queue.waits import emergency_wait
from smartcare.hospital.scheduling.rules import VISIT_TYPE_SYSTEM
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

HOSPITALS = ("org-hosp-1", "org-hosp-2")
PATIENT_CENTRES = ("Organization/org-chc-2", "Organization/org-chc-3")
HISTORY = timedelta(hours=3)
# Demo figures, not published ones: a doctor sees about three patients an hour (12-30 minutes each), and a
# little more than that arrives, so the wait grows over the hours played.
ARRIVALS_PER_DOCTOR_HOUR = 3.5
CONSULT_MINUTES = (12, 30)
VISIT_MINUTES = 30
WALK_IN = {"system": VISIT_TYPE_SYSTEM, "code": "WALKIN", "display": "A previously unscheduled walk-in visit"}


@dataclass(frozen=True, slots=True)
class Department:
    """A demo emergency department: its HealthcareService and its doctors (Practitioner ids)."""

    service_id: str
    doctors: tuple[str, ...]


def arrival_times(rng: random.Random, *, doctors: int, start: datetime, end: datetime) -> list[datetime]:
    """Arrival moments between start and end, at random like arrivals at an emergency department (a Poisson
    process), faster for a department with more doctors; only moments the queue takes a check-in at."""
    rate = ARRIVALS_PER_DOCTOR_HOUR * doctors / 3600
    times, moment = [], start
    while True:
        moment += timedelta(seconds=rng.expovariate(rate))
        if moment > end:
            return times
        local = moment.astimezone(queue.local_zone())
        if local.hour < queue.SESSION_ENDS["am" if local.hour < queue.NOON else "pm"]:
            times.append(moment)


def _search(conn: Connection, path: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=path, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def _department(conn: Connection, hospital: str) -> Department | None:
    service_id = f"hcs-{hospital.removeprefix('org-')}-emergency"
    roles = _search(conn, "PractitionerRole", [("service", f"HealthcareService/{service_id}"), ("role", "doctor"),
                                               ("_sort", "_id"), ("_count", "50")])
    doctors = tuple(r["practitioner"]["reference"].removeprefix("Practitioner/") for r in roles
                    if (r.get("practitioner") or {}).get("reference", "").startswith("Practitioner/"))
    return Department(service_id, doctors) if doctors else None


def _patients(conn: Connection) -> list[str]:
    found: list[str] = []
    for centre in PATIENT_CENTRES:
        found += [p["id"] for p in _search(conn, "Patient", [("organization", centre), ("_sort", "_id"),
                                                               ("_count", "500")])]
    return found


def _appointment(department: Department, doctor: str, patient: str, at: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Appointment", "status": "booked", "appointmentType": {"coding": [WALK_IN]},
        "start": clock.format_instant(at), "end": clock.format_instant(at + timedelta(minutes=VISIT_MINUTES)),
        "created": clock.format_instant(at),
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}, "required": "required", "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{doctor}"}, "required": "required", "status": "accepted"},
            {"actor": {"reference": f"HealthcareService/{department.service_id}"}, "required": "information-only",
             "status": "accepted"},
        ],
    }


class _Shift:
    """The department's doctors while the arrivals are played: who waits for whom, and whom each one sees."""

    def __init__(self, doctors: tuple[str, ...]):
        self.waiting: dict[str, deque[str]] = {d: deque() for d in doctors}  # session keys, one per waiting patient
        self.seeing: dict[str, str | None] = dict.fromkeys(doctors)  # the session of the patient being seen

    def least_busy(self) -> str:
        return min(self.waiting, key=lambda d: (len(self.waiting[d]) + (self.seeing[d] is not None), d))

    def call(self, conn: Connection, doctor: str) -> bool:
        """The doctor ends the consultation and calls their next patient; False when nobody waits for them."""
        following = self.waiting[doctor][0] if self.waiting[doctor] else None
        current = self.seeing[doctor]
        if current is not None and current != following:
            queue.finish(conn, SYSTEM, session_key=current)  # the next patient is in another session, or none
        self.seeing[doctor] = None
        if following is None:
            return False
        queue.call_next(conn, SYSTEM, session_key=following)
        self.waiting[doctor].popleft()
        self.seeing[doctor] = following
        return True


def play_arrivals(conn: Connection, rng: random.Random, department: Department, patients: list[str],
                  *, now: datetime) -> int:
    """Check the arrivals of the last HISTORY in and have the doctors call them, up to now; how many arrived.

    Leaves the clock on the real time."""
    events: list[tuple[datetime, int, str, str]] = []
    times = arrival_times(rng, doctors=len(department.doctors), start=now - HISTORY, end=now)
    for n, (moment, patient) in enumerate(zip(times, patients, strict=False)):
        heapq.heappush(events, (moment, n, "arrive", patient))
    shift, order = _Shift(department.doctors), len(events)
    try:
        while events and events[0][0] <= now:
            moment, _n, kind, who = heapq.heappop(events)
            clock.set_clock(lambda moment=moment: moment)
            if kind == "arrive":
                doctor = shift.least_busy()
                made = store.create(conn, SYSTEM, _appointment(department, doctor, who, moment))
                ticket = queue.check_in(conn, SYSTEM, appointment_id=made.res_id, via="desk")
                shift.waiting[doctor].append(ticket["session"])
                if shift.seeing[doctor] is None and len(shift.waiting[doctor]) == 1:
                    who = doctor
                    kind = "call"
            if kind == "call" and shift.call(conn, who):
                order += 1
                heapq.heappush(events, (moment + timedelta(minutes=rng.uniform(*CONSULT_MINUTES)), order, "call", who))
    finally:
        clock.set_clock(None)
    return min(len(times), len(patients))


def load_emergency_arrivals(engine: Engine, *, seed: int, now: datetime | None = None) -> int:
    """Play the last hours' arrivals at each demo emergency department that has none yet; how many arrived."""
    now = now or clock.now()
    rng = random.Random(f"emergency-{seed}")
    with unit_of_work(engine) as conn:
        patients = _patients(conn)
    rng.shuffle(patients)
    arrived = 0
    for hospital in HOSPITALS:
        with unit_of_work(engine) as conn:
            department = _department(conn, hospital)
            if department is None or emergency_wait(conn, department.service_id, now=now) is not None:
                continue
            arrived += play_arrivals(conn, rng, department, patients[arrived:], now=now)
    return arrived
