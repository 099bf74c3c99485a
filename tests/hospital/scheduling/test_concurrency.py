"""The last place of a slot, booked by 200 patients at once, goes to exactly one of them; no slot is overbooked."""

import threading

import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.scheduling import errors, service
from smartcare.hospital.scheduling.models import booking, booking_slot
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.scheduling.conftest import RULES, patient, patient_ctx

CALLERS = 200


def test_booking_last_slot_concurrently_gives_exactly_one_appointment(clinic):
    ids = [f"crowd-{n}" for n in range(CALLERS)]
    with unit_of_work(clinic.engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", pid, patient(pid)) for pid in ids])
    slot_id = clinic.slots[3]
    start = threading.Barrier(CALLERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(pid: str) -> None:
        start.wait()
        try:
            with unit_of_work(clinic.engine) as conn:
                service.book(conn, ctx=patient_ctx(pid), slot_id=slot_id, patient_id=pid, limits=RULES)
            result = "booked"
        except errors.SlotFull as exc:
            result = "full" if "fully booked" in str(exc) else "unclear"
        except Exception as exc:  # noqa: BLE001  (any other outcome is what this test must catch)
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["booked", "full"], [o for o in outcomes if o not in ("booked", "full")][:5]
    assert outcomes.count("booked") == 1
    with unit_of_work(clinic.engine) as conn:
        slot = conn.execute(sa.select(booking_slot).where(booking_slot.c.slot_id == slot_id)).one()
        standing = conn.execute(sa.select(booking.c.id).where(booking.c.slot_id == slot_id)).scalars().all()
        appointments = conn.execute(sa.text(
            "SELECT count(*) FROM fhir_resource WHERE res_type = 'Appointment'")).scalar_one()
        fhir_slot = store.read(conn, SYSTEM, res_type="Slot", res_id=slot_id).resource
    assert slot.booked == slot.capacity == 1
    assert len(standing) == 1 and appointments == 1
    assert fhir_slot["status"] == "busy"
