"""Identity tests: the store databases with the identity tables created and emptied for each test."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from smartcare.platform import clock
from smartcare.platform.db import use_engine
from smartcare.platform.security.tables import login_throttle, user_account

IDENTITY_TABLES = (user_account, login_throttle)


@pytest.fixture(params=["sqlite", "postgresql"])
def identity_engine(request) -> Iterator[sa.Engine]:
    """A migrated database holding empty identity tables; SQLite and PostgreSQL.

    The tables are created here, not by the shared `engine` fixture, because the migrations do
    not build them yet and that fixture empties every table the metadata knows.
    """
    eng = request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")
    for table in IDENTITY_TABLES:
        table.create(eng, checkfirst=True)
    with eng.begin() as conn:
        for table in IDENTITY_TABLES:
            conn.execute(table.delete())
    use_engine(eng)
    yield eng
    use_engine(None)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """Replace smartcare's clock with one the test moves; the real clock is back afterwards."""
    fake = FakeClock(datetime(2024, 5, 1, 8, 0, tzinfo=UTC))
    clock.set_clock(fake)
    yield fake
    clock.set_clock(None)
