"""Dose times from MedicationRequests: defaults, meal relations, tapering, as-needed, and local times that hold across
time zones and daylight-saving changes."""

from datetime import UTC, date, datetime

import pytest

from smartcare.family.medication import schedule

NEW_YORK, SHANGHAI = schedule.zone("America/New_York", "UTC"), schedule.zone("Asia/Shanghai", "UTC")


def order(*dosages: dict, rid: str = "r1", **extra) -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "Drug"},
            "authoredOn": "2026-03-01", "dosageInstruction": list(dosages), **extra}


def timing(**repeat) -> dict:
    return {"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}


def coded(code: str) -> dict:
    return {"timing": {"code": {"coding": [{"code": code}]}}}


@pytest.mark.parametrize(("dosage", "times", "food"), [
    (coded("QD"), ["08:00"], None),
    (coded("BID"), ["08:00", "20:00"], None),
    (coded("TID"), ["08:00", "14:00", "20:00"], None),
    (coded("QID"), ["08:00", "12:00", "16:00", "20:00"], None),
    (coded("Q8H"), ["08:00", "16:00", "00:00"], None),
    (coded("QN"), ["21:30"], "bedtime"),
    (timing(frequency=3, period=1, periodUnit="d"), ["08:00", "14:00", "20:00"], None),
    (timing(frequency=1, period=12, periodUnit="h"), ["08:00", "20:00"], None),
    (timing(frequency=1, period=1, periodUnit="d", when=["ACM"]), ["07:00"], "before-meal"),
    (timing(frequency=3, period=1, periodUnit="d", when=["PC"]), ["08:00", "12:30", "18:30"], "after-meal"),
    (timing(frequency=2, period=1, periodUnit="d", when=["PC"]), ["08:00", "18:30"], "after-meal"),
    (timing(frequency=1, period=1, periodUnit="d", when=["HS"]), ["21:30"], "bedtime"),
    (timing(frequency=2, period=1, periodUnit="d", timeOfDay=["09:15:00", "21:45:00"]), ["09:15", "21:45"], None),
])
def test_dose_times_of_a_day_follow_the_order_or_the_defaults(dosage, times, food):
    doses = schedule.doses_on([order(dosage)], date(2026, 3, 10), SHANGHAI)
    assert sorted(d.local_time for d in doses) == sorted(times)
    assert {d.food for d in doses} == {food}


def test_an_order_signed_mid_morning_starts_with_the_next_dose_time():
    signed = order(coded("TID"), authoredOn="2026-03-04T01:35:00Z")  # 09:35 in Shanghai
    assert [d.local_time for d in schedule.doses_on([signed], date(2026, 3, 4), SHANGHAI)] == ["14:00", "20:00"]
    assert [d.local_time for d in schedule.doses_on([signed], date(2026, 3, 5), SHANGHAI)] == ["08:00", "14:00",
                                                                                              "20:00"]


@pytest.mark.parametrize(("day", "zone", "utc_hours"), [
    (date(2026, 3, 7), NEW_YORK, [13, 1]),   # EST, UTC-5: 08:00 -> 13:00Z, 20:00 -> 01:00Z next day
    (date(2026, 3, 8), NEW_YORK, [12, 0]),   # the spring-forward day: EDT from 02:00, UTC-4
    (date(2026, 11, 1), NEW_YORK, [13, 1]),  # the fall-back day: EST again from 02:00
    (date(2026, 10, 31), NEW_YORK, [12, 0]),
    (date(2026, 3, 8), SHANGHAI, [0, 12]),   # no daylight saving: always UTC+8
    (date(2026, 7, 1), SHANGHAI, [0, 12]),
])
def test_a_dose_stays_at_its_local_time_across_daylight_saving_changes(day, zone, utc_hours):
    doses = schedule.doses_on([order(coded("BID"))], day, zone)
    assert [d.local_time for d in doses] == ["08:00", "20:00"]
    assert [d.due.astimezone(UTC).hour for d in doses] == utc_hours
    assert all(d.due.astimezone(zone).date() == day for d in doses)


def test_a_dose_in_the_spring_forward_gap_falls_due_after_the_gap_once():
    doses = schedule.doses_on([order(timing(frequency=1, period=1, periodUnit="d", timeOfDay=["02:30:00"]))],
                              date(2026, 3, 8), NEW_YORK)
    assert len(doses) == 1
    assert doses[0].due == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_a_dose_in_the_repeated_fall_back_hour_is_due_once():
    doses = schedule.doses_between([order(timing(frequency=1, period=1, periodUnit="d", timeOfDay=["01:30:00"]))],
                                   datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 11, 2, 0, tzinfo=UTC),
                                   NEW_YORK)
    assert [d.due for d in doses] == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]


def test_a_taper_steps_down_phase_by_phase():
    taper = order(
        {"sequence": 1, **timing(frequency=3, period=1, periodUnit="d", boundsDuration={"value": 3, "code": "d"})},
        {"sequence": 2, **timing(frequency=2, period=1, periodUnit="d", boundsDuration={"value": 3, "code": "d"})},
        {"sequence": 3, **timing(frequency=1, period=1, periodUnit="d", boundsDuration={"value": 2, "code": "d"})},
        dispenseRequest={"validityPeriod": {"start": "2026-03-01"}})
    per_day = [len(schedule.doses_on([taper], date(2026, 3, d), SHANGHAI)) for d in range(1, 11)]
    assert per_day == [3, 3, 3, 2, 2, 2, 1, 1, 0, 0]
    assert {d.phase for d in schedule.doses_on([taper], date(2026, 3, 5), SHANGHAI)} == {2}


def test_bounds_periods_limit_each_phase():
    taper = order({"sequence": 1, **timing(frequency=2, period=1, periodUnit="d",
                                           boundsPeriod={"start": "2026-03-01", "end": "2026-03-02"})},
                  {"sequence": 2, **timing(frequency=1, period=1, periodUnit="d",
                                           boundsPeriod={"start": "2026-03-03"})})
    assert [len(schedule.doses_on([taper], date(2026, 3, d), SHANGHAI)) for d in (1, 2, 3, 20)] == [2, 2, 1, 1]


def test_as_needed_doses_get_no_reminders_but_a_daily_maximum():
    prn = order({"asNeededCodeableConcept": {"text": "pain"}, "doseAndRate": [{"doseQuantity": {"value": 2,
                                                                                                 "unit": "tablet"}}],
                 "maxDosePerPeriod": {"numerator": {"value": 8, "unit": "tablet"},
                                      "denominator": {"value": 1, "code": "d"}}})
    assert schedule.doses_on([prn], date(2026, 3, 10), SHANGHAI) == []
    [found] = schedule.as_needed([prn], date(2026, 3, 10), SHANGHAI)
    assert (found.max_per_day, found.reason, found.amount) == (4, "pain", "2 tablet")


def test_stopped_orders_and_every_other_day_orders():
    stopped = order(coded("BID"), rid="r2")
    stopped["status"] = "stopped"
    every_other = order(coded("QOD"), dispenseRequest={"validityPeriod": {"start": "2026-03-01"}})
    days = [len(schedule.doses_on([stopped, every_other], date(2026, 3, d), SHANGHAI)) for d in range(1, 5)]
    assert days == [1, 0, 1, 0]


def test_the_patient_time_zone_comes_from_the_fhir_extension_else_the_region():
    patient = {"extension": [{"url": schedule.TIMEZONE_EXTENSION, "valueCode": "America/New_York"}]}
    assert str(schedule.patient_zone(patient, "Asia/Shanghai")) == "America/New_York"
    assert str(schedule.patient_zone({"extension": [{"url": schedule.TIMEZONE_EXTENSION, "valueCode": "Mars/Base"}]},
                                     "Asia/Shanghai")) == "Asia/Shanghai"
    with pytest.raises(schedule.ScheduleError):
        schedule.zone("Not/AZone", "UTC")


@pytest.mark.parametrize("key", ["", "r1", "r1:yesterday", "r1:2026-03-01T08:00:00", "x" * 500])
def test_a_dose_key_that_is_not_one_is_refused(key):
    with pytest.raises(schedule.ScheduleError):
        schedule.parse_dose_key(key)


def test_the_dose_time_data_loads_with_sources_and_consistent_codes():
    data = schedule.dose_times()
    for section in ("meals", "per_day", "codes", "when", "confirmation", "interval_start"):
        assert data[section]["source"], section
    for code, meaning in data["when"].items():
        if code != "source":
            assert all(meal in data["meals"] for meal in meaning["meals"]), code
    for code, meaning in data["codes"].items():
        if code != "source":
            assert meaning.get("per_day") or meaning.get("every_hours") or meaning.get("when"), code
