"""The administrators' console: searching and verifying the audit log, and managing apps and devices."""

import sqlalchemy as sa

from smartcare.platform import audit
from smartcare.platform.audit import audit_log
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients
from smartcare.platform.security.context import AccessContext
from tests.web_support import browser, form_token, make_user, sign_in

DOCTOR = AccessContext(kind="user", name="dr.li", roles=frozenset({"doctor"}))


def _reads(engine, patient: str, count: int) -> None:
    for n in range(count):
        with unit_of_work(engine) as conn:
            audit.record(conn, ctx=DOCTOR, action="R", subtype="read", patient=patient, entities=[f"Observation/o{n}"])


def test_an_administrator_finds_who_opened_a_patients_record(engine):
    _reads(engine, "Patient/p1", 3)
    _reads(engine, "Patient/p2", 2)
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        page = web.get("/console/audit", params={"patient": "Patient/p1", "subtype": "read"})
    assert page.status_code == 200
    assert page.text.count("<code>user/dr.li</code>") == 3
    assert "Observation/o2" in page.text and "Patient/p2" not in page.text


def test_searching_the_audit_log_is_itself_audited(engine):
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        web.get("/console/audit", params={"patient": "Patient/p1"})
    with unit_of_work(engine) as conn:
        entries = audit.search(conn, agent="user/regional.admin.test", subtype="search")
    assert len(entries) == 1
    assert "AuditEvent?patient=Patient/p1" in str(entries[0]["event"]["entity"])


def test_bad_filters_get_a_clear_message_not_a_crash(engine):
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        for params in ({"since": "'; DROP TABLE audit_log; --"}, {"subtype": "<b>x</b>"}, {"outcome": "99"},
                       {"agent": "a" * 500}):
            page = web.get("/console/audit", params=params)
            assert page.status_code == 400, params
            assert "The search could not be run" in page.text
            assert "<b>x</b>" not in page.text


def test_the_console_says_the_chain_is_intact_then_names_the_altered_entry(engine):
    _reads(engine, "Patient/p1", 4)
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        token = form_token(web.get("/console/audit"))
        intact = web.post("/console/audit/verify", data={"csrf_token": token})
        assert intact.status_code == 200 and "The audit log is intact." in intact.text
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER ALL")
            text = conn.execute(sa.select(audit_log.c.event).where(audit_log.c.seq == 2)).scalar_one()
            conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(event=text.replace("o1", "o9")))
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER ALL")
        broken = web.post("/console/audit/verify", data={"csrf_token": token})
    assert "The audit log has been tampered with." in broken.text
    assert "First bad entry: 2" in broken.text


def test_verifying_needs_the_forms_csrf_token(engine):
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        refused = web.post("/console/audit/verify", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert "did not come from SmartCare" in refused.text


def _register(web, **fields):
    token = form_token(web.get("/console/clients"))
    return web.post("/console/clients", data={"csrf_token": token, **fields})


def test_a_hospital_administrator_registers_a_device_of_their_own_hospital(engine):
    make_user(engine, "hospital_admin")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        done = _register(web, name="Ward 3 BP cuff", kind="device", scope="system/Observation.c", device="bp-3")
    assert done.status_code == 200 and "client_secret:" in done.text
    with unit_of_work(engine) as conn:
        (device,) = clients.list_clients(conn)
        registered = audit.search(conn, subtype="security-config")
    assert device.organization == "Organization/org-a" and device.fhir_ref == "Device/bp-3"
    assert len(registered) == 1 and device.client_id in registered[0]["event"]["outcomeDesc"]


def test_a_hospital_administrator_cannot_register_a_system_that_reads_every_record(engine):
    make_user(engine, "hospital_admin")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        as_system = _register(web, name="Data pump", kind="system", scope="system/*.rs")
        wide_device = _register(web, name="Wide device", kind="device", scope="system/Patient.rs")
    assert as_system.status_code == 403 and "Only a regional administrator" in as_system.text
    assert wide_device.status_code == 403 and "system/Patient.rs" in wide_device.text
    with unit_of_work(engine) as conn:
        assert clients.list_clients(conn) == []


def test_hospital_administrators_see_and_disable_only_their_own_devices(engine):
    with unit_of_work(engine) as conn:
        theirs, _ = clients.register_client(conn, name="Other hospital cuff", kind="device",
                                            scopes="system/Observation.c", organization="Organization/org-b")
        ours, _ = clients.register_client(conn, name="Our cuff", kind="device", scopes="system/Observation.c",
                                          organization="Organization/org-a")
    make_user(engine, "hospital_admin")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        page = web.get("/console/clients")
        assert "Our cuff" in page.text and "Other hospital cuff" not in page.text
        token = form_token(page)
        refused = web.post(f"/console/clients/{theirs.client_id}/disable", data={"csrf_token": token})
        done = web.post(f"/console/clients/{ours.client_id}/disable", data={"csrf_token": token})
    assert refused.status_code == 403
    assert done.status_code == 200
    with unit_of_work(engine) as conn:
        assert clients.get_client(conn, client_id=ours.client_id).disabled
        assert not clients.get_client(conn, client_id=theirs.client_id).disabled


def test_bad_client_input_is_refused_with_a_message(engine):
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        for fields in ({"name": "<script>x</script>", "kind": "system", "scope": "system/*.rs"},
                       {"name": "Pump", "kind": "system", "scope": "root/everything"},
                       {"name": "Pump", "kind": "spaceship", "scope": "system/*.rs"},
                       {"name": "Pump", "kind": "device", "scope": "system/Observation.c", "device": "../../etc"}):
            page = _register(web, **fields)
            assert page.status_code == 400, fields
            assert "<script>x</script>" not in page.text
    with unit_of_work(engine) as conn:
        assert clients.list_clients(conn) == []
