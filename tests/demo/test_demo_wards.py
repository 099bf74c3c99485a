"""The demo wards: rooms and beds for every ward, a few current in-patients with vitals, the same for the same seed."""

from datetime import UTC, datetime

import pytest

from smartcare.demo.generator import generate_region
from smartcare.demo.wards import load_wards, ward_entries
from smartcare.fhir import bundles, gateway
from smartcare.hospital.wards import beds, board, codes
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def region(engine):
    clock.set_clock(lambda: NOW)
    for bundle in generate_region(residents=60, seed=5):
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, bundle["entry"], "")
    yield engine
    clock.set_clock(None)


def test_same_seed_gives_the_same_wards_and_in_patients(region):
    with unit_of_work(region) as conn:
        first = ward_entries(conn, seed=5, now=NOW)
        second = ward_entries(conn, seed=5, now=NOW)
        other = ward_entries(conn, seed=6, now=NOW)
    assert first == second
    assert first != other


def test_every_ward_gets_its_beds_and_a_few_in_patients_with_news2(region):
    written = load_wards(region, seed=5, now=NOW)
    assert written > 1000
    ward = gateway.read(SYSTEM, "Location/loc-hosp-1-ward-cardiology")
    layout = beds.rooms(SYSTEM, ward)
    count = next(e["valueInteger"] for e in ward["extension"] if e["url"].endswith("bed-count"))
    assert sum(len(room.beds) for room in layout) == count
    assert all(1 <= len(room.beds) <= 3 for room in layout)
    stays = gateway.search(SYSTEM, "Encounter", [("class", f"{codes.ACT_CODE}|IMP"), ("status", "in-progress"),
                                                 ("_count", "100")])
    assert 8 <= len(stays) <= 16
    rows = [r for r in board.rows(SYSTEM, layout) if r.encounter_id]
    assert rows and all(r.news2 is not None and r.band and r.days is not None for r in rows)
    occupied = [b for room in layout for b in room.beds if beds.status_of(b) == "O"]
    assert len(occupied) == len(rows)
