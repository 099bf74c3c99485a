"""Fixtures for the device tests: patients and devices registered through the register, as the console does."""

from collections.abc import Callable

import pytest

from smartcare.family.devices import registry
from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

EXAMPLE = {"seq": 42, "time": "2026-03-02T16:00:00+08:00", "readings": [
    {"type": "blood-pressure", "systolic": 150, "diastolic": 95, "unit": "mm[Hg]"},
    {"type": "heart-rate", "value": 72, "unit": "/min"}]}


def make_patient(engine, family: str = "Wang") -> str:
    """A stored Patient's id."""
    with unit_of_work(engine) as conn:
        return store.create(conn, SYSTEM, {"resourceType": "Patient", "name": [{"family": family}]}).res_id


@pytest.fixture
def patient(engine) -> str:
    return make_patient(engine)


@pytest.fixture
def register(engine, patient) -> Callable[..., registry.Registered]:
    """Register a device (for the fixture's patient unless told otherwise)."""

    def make(kind: str = "bp-monitor", **kwargs) -> registry.Registered:
        kwargs.setdefault("patient_id", patient)
        with unit_of_work(engine) as conn:
            return registry.register_device(conn, ctx=SYSTEM, kind=kind, **kwargs)

    return make


@pytest.fixture
def device(register) -> registry.Registered:
    return register(serial="BP-0001", model="HEM-7361T")
