"""Stored UTC instants are shown to people as the region's wall-clock time."""

import pytest

from smartcare.platform.clock import wall_clock


@pytest.mark.parametrize(("stored", "shown"), [
    ("2026-11-26T16:08:00.000Z", "2026-11-27 00:08"),  # past midnight in Shanghai: the next day
    ("2026-11-26T09:30:00+08:00", "2026-11-26 09:30"),
    ("2026-11-26T09:30:00", "2026-11-26 09:30"),  # no zone: as written
    ("2026-11-26", "2026-11-26"),
    ("", ""), (None, ""),
    ("yesterday at noon", "yesterday at noon"),  # not an instant: shown as text, never an error
])
def test_instants_are_shown_in_the_regions_time(stored, shown):
    assert wall_clock(stored) == shown
