"""The family health story end to end, through the real Mosquitto: a home blood pressure monitor publishes, the
reading is stored and judged against the patient's plan, the GP and the designated son are told at once, and when
nobody acknowledges the alert it climbs to the community nurse."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.family.devices import registry
from smartcare.family.devices.mqtt import ReadingsSubscriber
from smartcare.family.monitoring import plans, service
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from tests.family.devices.test_mqtt import Device, Mosquitto, _wait
from tests.family.monitoring.monitoring_record import write_record


@pytest.fixture
def broker(tmp_path) -> Iterator[Mosquitto]:
    found = Mosquitto(tmp_path)
    yield found
    found.stop()


def _inbox(user_id: str) -> list[dict]:
    with unit_of_work() as conn:
        return inbox(conn, user_id=user_id)


def test_a_crisis_reading_from_home_reaches_the_gp_and_son_and_climbs_to_the_nurse_when_ignored(engine, broker):
    people = write_record(engine)
    plans.assign_plan(people["gp"], patient_id="p-chen", template_name="hypertension",
                      caregivers=["RelatedPerson/rp-son"])
    with unit_of_work(engine) as conn:
        monitor = registry.register_device(conn, ctx=SYSTEM, kind="bp-monitor", patient_id="p-chen",
                                           serial="HEM-7361T-0042")
    broker.admit(engine)
    subscriber = ReadingsSubscriber(engine, broker.service)
    subscriber.start()
    device = Device(broker.port, monitor.device.device_id, monitor.mqtt_password)
    try:
        assert subscriber.wait_connected(10)
        sent = datetime.now(UTC)
        device.send({"seq": 1, "time": sent.isoformat(timespec="seconds"), "readings": [
            {"type": "blood-pressure", "systolic": 186, "diastolic": 114, "unit": "mm[Hg]"},
            {"type": "heart-rate", "value": 96, "unit": "/min"}]})
        _wait(lambda: service.list_alerts(SYSTEM, patient="p-chen") != [], 20, "the alert")
    finally:
        device.close()
        subscriber.stop()
    [alert] = service.list_alerts(SYSTEM, patient="p-chen")
    assert alert["rule"] == "bp-crisis" and alert["reading"] == "blood-pressure 186/114"
    assert alert["owner"] == "Practitioner/gp-gao" and alert["state"] == "new"
    [gp_notice] = _inbox(people["gp_id"])
    [son_notice] = _inbox(people["son_id"])
    assert "Chen Guoqiang" in gp_notice["body"] and "186/114" in gp_notice["body"]
    assert son_notice["link"] == "/app/family?person=p-chen"
    assert _inbox(people["nurse_id"]) == []

    # Nobody acknowledges it: half an hour later (an urgent alert's deadline) the nurse has it.
    later = datetime.now(UTC) + timedelta(minutes=31)
    clock.set_clock(lambda: later)
    try:
        run_due(engine)
    finally:
        clock.set_clock(None)
    [alert] = service.list_alerts(SYSTEM, patient="p-chen")
    assert alert["owner"] == "Practitioner/nurse-xu" and alert["escalated"]
    [nurse_notice] = _inbox(people["nurse_id"])
    assert nurse_notice["title"] == "Home monitoring alert not acknowledged"
