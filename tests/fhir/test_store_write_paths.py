"""A few new resources go in one statement on PostgreSQL, many go by COPY: both store the same rows."""

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir import tables as t
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.fhir.test_official_examples import load_examples


def _stored(engine, res_type: str, res_id: str) -> dict:
    """The resource's history rows and index rows, without pks and the rows of its id."""
    with engine.connect() as conn:
        pk = conn.execute(sa.select(t.resource.c.pk).where(t.resource.c.res_type == res_type,
                                                           t.resource.c.res_id == res_id)).scalar_one()
        out = {"history": conn.execute(sa.select(t.history.c.version, t.history.c.method, t.history.c.deleted)
                                       .where(t.history.c.pk == pk)).all()}
        for kind, table in t.INDEX_TABLES.items():
            columns = [c for c in table.columns if c.name not in ("res_pk",)]
            out[kind] = sorted(conn.execute(sa.select(*columns).where(table.c.res_pk == pk, table.c.param != "_id"))
                               .all(), key=repr)
    return out


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_one_statement_create_stores_what_the_bulk_path_stores(engine, monkeypatch, now):
    examples = [e for e in load_examples() if e["resourceType"] != "Bundle"]
    one_statement = []
    for n, example in enumerate(examples):
        body = {**example, "id": f"one-{n}"}
        with unit_of_work(engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", body["resourceType"], body["id"], body)])
        one_statement.append((body["resourceType"], body["id"]))
    monkeypatch.setattr(store, "ONE_STATEMENT_MAX_RESOURCES", 0)  # from here on, every create is bulk
    for n, example in enumerate(examples):
        body = {**example, "id": f"bulk-{n}"}
        with unit_of_work(engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", body["resourceType"], body["id"], body)])
    compared = 0
    for n, (res_type, one_id) in enumerate(one_statement):
        assert _stored(engine, res_type, one_id) == _stored(engine, res_type, f"bulk-{n}"), f"{res_type}/{one_id}"
        compared += 1
    assert compared == len(examples) > 60
