"""The demo region's epidemic control: the newest reported mumps case's close contacts traced (one of them a
resident the master patient index recognises, under observation at home), and the newest hand, foot and mouth disease
case isolated at home, so the officers' control page and the community centres' home-isolation list have people in
them. Everything goes through the services officers use (contacts.py, isolation.py), as cdc.demo.
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from smartcare.demo.public_health import PREPARER
from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import case_series, contacts, districts, isolation, review
from smartcare.regional.public_health.case_reports import person_name
from smartcare.regional.public_health.releases import search_as_platform

# Contacts who are not the region's residents: name, relation, phone, days between their last contact and onset.
VISITORS = (("赵志强", "colleague", "13800138123", 1), ("孙丽娟", "classmate", "13900139456", 2))
MUMPS_OBSERVATION_DAYS = 21  # a contact listed later than this after onset is past observation (the list's data)
NOTE = "Phoned on day 1 after listing; no fever or parotid swelling so far."


def _newest(cases: list[model.CaseFacts], disease: str, *, since: date) -> model.CaseFacts | None:
    found = [c for c in cases if c.disease == disease and c.state in model.COUNTED and c.state != "closed"
             and c.onset and c.onset >= since and c.district]
    return max(found, key=lambda c: (c.onset, c.id), default=None)


def _phone(person: dict[str, Any]) -> str:
    return next((t["value"] for t in person.get("telecom") or [] if isinstance(t, dict) and t.get("system") == "phone"
                 and isinstance(t.get("value"), str)), "")


def _neighbour(conn: Any, case: model.CaseFacts) -> dict[str, Any] | None:
    """A resident of the case's district with a name and a phone, other than the case: the household contact."""
    district = districts.find(case.district)
    if district is None or not district.centre:
        return None
    # The registered residents of the district's health centre (the case reports' own patients have no phone).
    found = search_as_platform(conn, "Patient", [("address", district.name_en), ("organization", district.centre)],
                               count=50)
    return next((m.resource for m in found.matches if f"Patient/{m.res_id}" != case.patient
                 and _phone(m.resource) and person_name(m.resource)), None)


def _trace_contacts(conn: Any, case: model.CaseFacts, today: date) -> list[contacts.Contact]:
    """List the case's contacts: two visitors and a resident of the same district, the visitors' statuses set."""
    rows = [contacts.Row(name, relation, phone, max(case.onset - timedelta(days=days), today - timedelta(days=20)))
            for name, relation, phone, days in VISITORS]
    neighbour = _neighbour(conn, case)
    if neighbour is not None:
        rows.append(contacts.Row(person_name(neighbour), "household", _phone(neighbour), case.onset))
    listed = []
    for row in rows:
        version = contacts.read_list(conn, case.id).version
        listed.append(contacts.add(conn, ctx=PREPARER, report_id=case.id, seen_version=version, row=row))
    for contact, status in zip(listed, ("under-observation", "traced", "under-observation"), strict=False):
        version = contacts.read_list(conn, case.id).version
        contacts.set_status(conn, ctx=PREPARER, report_id=case.id, contact_id=contact.id, seen_version=version,
                            status=status, note=NOTE if status == "under-observation" else "")
    return listed


def _isolate(conn: Any, case: model.CaseFacts, patient: str, role: str, start: date, today: date) -> int:
    """Start home isolation through the officers' service; 1 when started, 0 when the data gives no end for it."""
    try:
        isolation.start(conn, ctx=PREPARER, report_id=case.id, patient=patient, role=role,
                        start_text=start.isoformat(), end_text="", reason="", today=today)
    except isolation.IsolationInvalid:
        return 0
    return 1


def load_control(engine: Engine) -> int:
    """Trace the newest mumps case's contacts and isolate people at home (once); how many people were listed or
    isolated."""
    today = review.today()
    with unit_of_work(engine) as conn:
        episode = f"{isolation.EPISODE_TYPE['system']}|{isolation.EPISODE_TYPE['code']}"
        if search_as_platform(conn, "EpisodeOfCare", [("type", episode)], count=1).matches:
            return 0
        cases = list(case_series.read_cases(conn))
    done = 0
    mumps = _newest(cases, "mumps", since=today - timedelta(days=MUMPS_OBSERVATION_DAYS))
    if mumps is not None:
        with unit_of_work(engine) as conn:
            listed = _trace_contacts(conn, mumps, today)
            done += len(listed)
            resident = next((c for c in listed if c.resident), None)
            if resident is not None:
                done += _isolate(conn, mumps, resident.resident, "contact", today, today)
    hfmd = _newest(cases, "hand-foot-mouth", since=today - timedelta(days=10))
    if hfmd is not None and hfmd.patient:
        with unit_of_work(engine) as conn:
            done += _isolate(conn, hfmd, hfmd.patient, "case", max(hfmd.onset, today - timedelta(days=3)), today)
    return done
