"""Domain events are published after the transaction that raised them commits, never on rollback."""

import pytest

from smartcare.fhir import store
from smartcare.fhir.errors import InvalidResource
from smartcare.platform.db import unit_of_work
from smartcare.platform.events import subscribe, unsubscribe
from smartcare.platform.security.context import SYSTEM


@pytest.fixture
def received():
    got = []
    subscribe("*", got.append)
    yield got
    unsubscribe("*", got.append)


def test_create_update_delete_publish_events_after_commit(engine, received):
    with unit_of_work(engine) as conn:
        stored = store.create(conn, SYSTEM, {"resourceType": "Patient", "gender": "male"})
        assert received == [], "nothing may be published before the commit"
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, {**stored.resource}, res_type="Patient", res_id=stored.res_id)
    with unit_of_work(engine) as conn:
        store.delete(conn, SYSTEM, res_type="Patient", res_id=stored.res_id)
    # Other modules react to Patient writes by queueing jobs (JobEnqueued, e.g. the MPI's match); the store's own
    # events are these three, in order.
    resource_events = [e for e in received if e.name.startswith("Resource")]
    assert [e.name for e in resource_events] == ["ResourceCreated", "ResourceUpdated", "ResourceDeleted"]
    assert resource_events[0].payload == {"type": "Patient", "id": stored.res_id, "version": 1}


def test_rolled_back_transaction_publishes_nothing(engine, received):
    with pytest.raises(InvalidResource), unit_of_work(engine) as conn:
        store.create(conn, SYSTEM, {"resourceType": "Patient", "gender": "male"})
        store.create(conn, SYSTEM, {"resourceType": "Patient", "gender": "neither"})
    assert received == []
    with unit_of_work(engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM fhir_resource").scalar_one() == 0


def test_history_records_who_made_each_version(engine):
    with unit_of_work(engine) as conn:
        stored = store.create(conn, SYSTEM, {"resourceType": "Patient"})
    with unit_of_work(engine) as conn:
        row = conn.exec_driver_sql("SELECT author, method, version FROM fhir_resource_history").one()
    assert tuple(row) == ("system/smartcare", "POST", 1)
    assert stored.version == 1


def test_non_system_callers_are_refused_until_identities_exist(engine):
    from smartcare.fhir.errors import Forbidden
    from smartcare.platform.security.context import AccessContext

    stranger = AccessContext(kind="user", name="someone")
    with pytest.raises(Forbidden), unit_of_work(engine) as conn:
        store.create(conn, stranger, {"resourceType": "Patient"})
