"""Fixtures: the consultation tests' hospital (cardiology, doctors doc-a/doc-b/doc-c, patients p1-p3) and a
consultation between p1 and doc-a to hold video visits."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from tests.hospital.consultation.conftest import doctor_token, hospital, patient_token  # noqa: F401

CONSULTATIONS = "/api/v1/consultations"
VIDEO = "/api/v1/video"


@pytest.fixture
def consultation(hospital) -> str:  # noqa: F811
    """An advice consultation p1 opened with doc-a."""
    opened = hospital.post(CONSULTATIONS, headers=patient_token("p1"), json={
        "patient": "p1", "kind": "advice", "question": "A rash on both arms since Monday", "practitioner": "doc-a"})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


@pytest.fixture
def visit(hospital, consultation) -> str:  # noqa: F811
    """A video visit doc-a escalated from the chat."""
    opened = hospital.post(VIDEO, headers=doctor_token("doc-a"), json={"consultation": consultation})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """A clock standing still 8 minutes ago until the test moves it (tokens are checked on the real time too, so
    the test clock never runs ahead of it)."""
    now = [datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=8)]
    clock.set_clock(lambda: now[0])
    yield now
    clock.set_clock(None)
