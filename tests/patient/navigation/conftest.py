"""The demo region's directory (organisations, departments, buildings, rooms and services, no staff) in the store."""

import random
from datetime import date

import pytest

from smartcare.demo.facilities import build_directory
from tests.hospital.directory.conftest import store_resources

_PLACES = ("Organization", "Location", "HealthcareService")


def demo_directory():
    """The demo region's facilities as the demo generator builds them."""
    return build_directory(random.Random("navigation-tests"), date(2026, 11, 1), set())


@pytest.fixture
def region(engine):
    """The demo facilities in the store; returns the built directory (its departments by organisation)."""
    built = demo_directory()
    store_resources([r for r in built.resources if r["resourceType"] in _PLACES])
    return built
