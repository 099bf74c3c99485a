"""The simulated home devices: seeded, realistic streams in the documented payload form (no broker needed)."""

import random
import statistics
from datetime import UTC, datetime, timedelta

from smartcare.family.devices import payload
from smartcare.family.devices.simulator import (
    HOME_KINDS,
    SimulatedDevice,
    draw_patient,
    next_frame,
    schedule,
)

MORNING = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def _home(seed: int) -> list[SimulatedDevice]:
    patient = draw_patient(random.Random(seed))
    return [SimulatedDevice(f"sim-1-{kind}", kind, patient) for kind in HOME_KINDS]


def _stream(seed: int, frames: int, kind: str = "bp-monitor", hours: float = 24.0) -> list[tuple[datetime, dict]]:
    rng = random.Random(seed)
    device = SimulatedDevice("sim-1", kind, draw_patient(rng))
    out = []
    for n in range(frames):
        at = MORNING + timedelta(hours=hours * n / frames)
        frame = next_frame(device, at, rng)
        if frame is not None:
            out.append((at, frame))
    return out


def test_same_seed_gives_the_same_stream_and_another_seed_another():
    assert _stream(7, 200) == _stream(7, 200)
    assert _stream(7, 200) != _stream(8, 200)


def test_every_simulated_frame_is_a_valid_documented_payload():
    rng = random.Random(3)
    for device in _home(3):
        for n in range(300):
            frame = next_frame(device, MORNING + timedelta(minutes=7 * n), rng)
            if frame is None:
                continue
            parsed = payload.parse_frame(frame)
            refused = [r for r in parsed.readings if isinstance(r, str)]
            assert refused == [], (device.kind, frame)


def test_blood_pressure_is_lower_at_night_than_in_the_afternoon():
    def systolic_at(local_hour: int) -> float:
        values = []
        for seed in range(40):
            rng = random.Random(seed)
            device = SimulatedDevice("sim-1", "bp-monitor", draw_patient(random.Random(1)))
            at = datetime(2026, 11, 26, local_hour, 0, tzinfo=UTC) - timedelta(hours=8)
            frame = next_frame(device, at, rng)
            if frame:
                values.append(frame["readings"][0]["systolic"])
        return statistics.mean(values)

    assert systolic_at(3) + 8 < systolic_at(15)


def test_glucose_rises_after_a_meal():
    def glucose_at(local_hour: float) -> float:
        values = []
        for seed in range(40):
            device = SimulatedDevice("sim-1", "glucometer", draw_patient(random.Random(2)))
            at = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(hours=local_hour - 8)
            frame = next_frame(device, at, random.Random(seed))
            if frame:
                values.append(frame["readings"][0]["value"])
        return statistics.mean(values)

    assert glucose_at(13.0) > glucose_at(6.0) + 1.5


def test_a_long_stream_has_missed_readings_abnormal_episodes_and_falls():
    rng = random.Random(11)
    devices = [SimulatedDevice(f"sim-{n}", kind, draw_patient(rng))
               for n in range(20) for kind in ("bp-monitor", "pulse-oximeter", "fall-detector")]
    frames, missed = [], 0
    for _, device, at in schedule(devices, rate=60, start=MORNING, seconds=3000 / 60):
        frame = next_frame(device, at, rng)
        if frame is None:
            missed += 1
        else:
            frames.append(frame)
    readings = [r for f in frames for r in f["readings"]]
    assert missed > 0
    assert any(r["type"] == "blood-pressure" and r["systolic"] >= 180 for r in readings)
    assert any(r["type"] == "spo2" and r["value"] < 90 for r in readings)
    assert any(r["type"] == "fall" for r in readings)


def test_sequence_numbers_run_on_without_gaps_for_the_frames_sent():
    seqs = [frame["seq"] for _, frame in _stream(5, 300)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_device_time_is_the_patients_local_time_with_its_offset():
    _, frame = _stream(5, 1)[0]
    assert frame["time"] == "2026-11-26T08:00:00+08:00"


def test_schedule_sends_rate_frames_a_second_round_the_devices():
    devices = _home(1)
    planned = list(schedule(devices, rate=12, start=MORNING, seconds=2))
    assert len(planned) == 24
    assert [d.kind for _, d, _ in planned[:6]] == [d.kind for d in devices]
    assert planned[-1][2] - planned[0][2] == timedelta(seconds=23 / 12)
