"""What the MQTT device subscriber counts is also counted for Prometheus."""

from smartcare.family.devices.mqtt import SubscriberStats
from smartcare.platform.ops import metrics


def _count(outcome: str) -> float:
    return metrics.device_frames.labels(outcome)._value.get()


def test_the_subscribers_counts_move_the_device_frame_counters():
    before = {outcome: _count(outcome) for outcome in metrics.DEVICE_OUTCOMES}
    stats = SubscriberStats()
    stats.add(received=3)
    stats.add(stored=2, duplicates=0, refused=1)
    stats.add(connections=1)
    assert stats.received == 3 and stats.stored == 2
    assert {o: _count(o) - before[o] for o in metrics.DEVICE_OUTCOMES} == {
        "received": 3, "stored": 2, "duplicates": 0, "refused": 1}
