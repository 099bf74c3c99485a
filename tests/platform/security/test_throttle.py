"""Throttle counters allow a number of attempts per window, then refuse until the window ends."""

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import throttle
from smartcare.platform.security.throttle import Throttled, check_and_count


def _attempt(engine, key: str, *, limit: int = 3, window_seconds: int = 60) -> None:
    with unit_of_work(engine) as conn:
        check_and_count(conn, key, limit=limit, window_seconds=window_seconds)


def test_the_attempt_after_the_limit_is_throttled_with_the_time_left(identity_engine, fake_clock):
    for _ in range(3):
        _attempt(identity_engine, "addr:10.0.0.1")
    fake_clock.advance(seconds=20)
    with pytest.raises(Throttled) as refused:
        _attempt(identity_engine, "addr:10.0.0.1")
    assert refused.value.retry_after_seconds == 40


def test_a_new_window_allows_attempts_again(identity_engine, fake_clock):
    for _ in range(3):
        _attempt(identity_engine, "addr:10.0.0.1")
    fake_clock.advance(seconds=60)
    _attempt(identity_engine, "addr:10.0.0.1")
    with unit_of_work(identity_engine) as conn:
        assert throttle.current(conn, "addr:10.0.0.1", window_seconds=60).count == 1


def test_keys_are_counted_separately(identity_engine, fake_clock):
    for _ in range(3):
        _attempt(identity_engine, "addr:10.0.0.1")
    _attempt(identity_engine, "addr:10.0.0.2")
    with pytest.raises(Throttled):
        _attempt(identity_engine, "addr:10.0.0.1")


def test_clear_and_refund_give_attempts_back(identity_engine, fake_clock):
    for _ in range(3):
        _attempt(identity_engine, "user:a")
    with unit_of_work(identity_engine) as conn:
        throttle.refund(conn, "user:a")
    _attempt(identity_engine, "user:a")
    with unit_of_work(identity_engine) as conn:
        throttle.clear(conn, "user:a")
        assert throttle.current(conn, "user:a", window_seconds=60) is None


@pytest.mark.parametrize("key", ["addr:'; DROP TABLE login_throttle; --", "addr:\u5317\u4eac\U0001f600"])
def test_hostile_keys_are_just_keys(identity_engine, fake_clock, key):
    for _ in range(3):
        _attempt(identity_engine, key)
    with pytest.raises(Throttled):
        _attempt(identity_engine, key)


@pytest.mark.parametrize("key", ["", "addr:" + "9" * 200])
def test_empty_or_overlong_keys_are_refused(identity_engine, key):
    with pytest.raises(ValueError):
        _attempt(identity_engine, key)
