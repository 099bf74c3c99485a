"""The queue's order: appointment time, late arrivals, priority, returning no-shows, and waits."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.hospital.queue.ordering import (
    Waiting,
    age_on,
    consult_minutes,
    estimated_wait,
    is_priority,
    queue_order,
    turn_on_return,
)

NINE = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def w(number, slot_minutes, arrived_minutes, **extra) -> Waiting:
    return Waiting(f"t{number}", number, NINE + timedelta(minutes=slot_minutes),
                   NINE + timedelta(minutes=arrived_minutes), **extra)


def numbers(order):
    return [x.number for x in order]


def test_patients_are_seen_in_appointment_order_whatever_the_order_they_arrived_in():
    assert numbers(queue_order([w(1, 20, -10), w(2, 0, -5), w(3, 10, -1)])) == [2, 3, 1]


def test_a_late_arrival_waits_from_their_arrival_not_their_slot():
    # Number 1 had the 09:00 slot but came at 09:25: those whose turn came before wait less.
    assert numbers(queue_order([w(1, 0, 25), w(2, 10, 0), w(3, 20, 5), w(4, 30, 0)])) == [2, 3, 1, 4]


def test_priority_patients_go_ahead_in_their_own_order():
    order = queue_order([w(1, 0, 0), w(2, 10, 0), w(3, 30, 0, priority=True), w(4, 20, 0, priority=True)])
    assert numbers(order) == [4, 3, 1, 2]


def test_a_returning_no_show_goes_behind_three_others_and_moves_up_as_they_are_called():
    others = [w(1, 0, 0), w(2, 10, 0), w(3, 20, 0), w(4, 30, 0), w(5, 40, 0)]
    back = w(6, -30, -40, returned_turn=turn_on_return(others, NINE))
    assert numbers(queue_order([*others, back])) == [1, 2, 3, 6, 4, 5]
    assert numbers(queue_order([*others[2:], back])) == [3, 6, 4, 5]


def test_a_returning_no_show_in_a_short_queue_goes_last_or_straight_in():
    assert numbers(queue_order([w(1, 0, 0), w(6, -30, -40, returned_turn=turn_on_return([w(1, 0, 0)], NINE))])) \
        == [1, 6]
    assert turn_on_return([], NINE) == NINE


def test_ties_go_to_whoever_checked_in_first():
    assert numbers(queue_order([w(7, 0, 0), w(5, 0, 0)])) == [5, 7]


def test_the_consultation_time_is_the_mean_of_the_recent_ones_or_a_default():
    assert consult_minutes([]) == 8.0
    assert consult_minutes([timedelta(minutes=m) for m in (6, 10, 11)]) == 9.0
    assert consult_minutes([timedelta(minutes=5)] * 10 + [timedelta(minutes=60)] * 5) == 5.0


@pytest.mark.parametrize(("ahead", "in_progress", "expected"), [(0, False, 0), (3, False, 24), (3, True, 28)])
def test_the_estimated_wait_counts_those_ahead(ahead, in_progress, expected):
    assert estimated_wait(ahead, 8.0, in_progress=in_progress) == expected


def test_priority_reasons():
    assert is_priority(age=81, disabled=False, returning_with_results=False) == "elderly"
    assert is_priority(age=80, disabled=False, returning_with_results=False) is None
    assert is_priority(age=40, disabled=True, returning_with_results=False) == "disabled"
    assert is_priority(age=None, disabled=False, returning_with_results=True) == "results"


@pytest.mark.parametrize(("birth", "age"), [("1945-11-27", 80), ("1945-11-26", 81), ("1945", 81), (None, None)])
def test_age_on_a_day(birth, age):
    assert age_on(birth, datetime(2026, 11, 26, tzinfo=UTC)) == age
