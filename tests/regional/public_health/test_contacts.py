"""A case's close contacts: built from the investigation with the observation end from the disease's period, matched
to residents only when the patient index is sure, follow-up status changes audited and kept in the List's history,
stale and hostile input refused with nothing written."""

from datetime import date

import pytest

from smartcare.fhir import store
from smartcare.fhir.history import history
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import contacts, investigation, review
from tests.regional.public_health.test_review import case, institutions, link, person, put

OFFICER = AccessContext(kind="user", name="officer.li", roles=frozenset({"public_health_officer"}))
TODAY = date(2026, 3, 2)
ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
WANG_PHONE = "+86 139 0000 0001"


def resident(pid: str, name: str, phone: str | None, district: str, *, family: str = "", given: str = "") -> dict:
    """A resident the region has a record of (home address in district)."""
    resource = {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1985-06-01",
                "name": [{"use": "official", "text": name, **({"family": family, "given": [given]} if family else {})}],
                "address": [{"use": "home", "text": f"滨河市{district}和平街3号", "line": ["3 Heping Street"],
                             "city": "Riverside City", "district": district, "postalCode": "339200"}]}
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource


def measles_case(rid: str = "rep-m", **given) -> dict:
    """A submitted measles case report of Zhang Wei (Hedong District), onset 18 February."""
    report = case(rid, "h1-1", disease=given.pop("disease", "measles"), **given)
    report["extension"].append({"url": model.ONSET, "valueDate": "2026-02-18"})
    return report


def investigate(engine, report_id: str, rows: list[dict]) -> None:
    """Save the case investigation with these contact rows, as an officer does."""
    fields = {f"contact.{n}.{key}": value for n, row in enumerate(rows, 1) for key, value in row.items()}
    answers = investigation.read_form(fields, today=TODAY, complete=False)
    with unit_of_work(engine) as conn:
        version = review.find_report(conn, report_id).version
        investigation.save(conn, ctx=OFFICER, report_id=report_id, answers=answers, complete=False,
                           report_version=version, form_version=None)


WANG = {"name": "王芳", "relation": "household", "phone": "13900000001", "last-contact": "2026-02-20"}
LI = {"name": "李雷", "relation": "colleague", "last-contact": "2026-02-19"}


def investigated_case(engine):
    """A measles case with an investigation naming Wang Fang (a Hexi resident, by phone) and Li Lei (no phone)."""
    wang = resident("res-wang", "王芳", WANG_PHONE, "Hexi District", family="王", given="芳")
    put(engine, *institutions(), person("h1-1"), wang, measles_case())
    link(engine, wang)
    investigate(engine, "rep-m", [WANG, LI])
    return engine


@pytest.fixture
def reported(engine, now):
    """The investigated measles case (investigated_case)."""
    return investigated_case(engine)


def bring_in(engine, version: int = 0, report_id: str = "rep-m") -> int:
    with unit_of_work(engine) as conn:
        return contacts.bring_in(conn, ctx=OFFICER, report_id=report_id, seen_version=version)


def listed(engine, report_id: str = "rep-m") -> contacts.ContactList:
    with unit_of_work(engine) as conn:
        return contacts.read_list(conn, report_id)


def set_status(engine, contact_id: str, status: str, version: int, note: str = "") -> contacts.Contact:
    with unit_of_work(engine) as conn:
        return contacts.set_status(conn, ctx=OFFICER, report_id="rep-m", contact_id=contact_id, seen_version=version,
                                   status=status, note=note)


@ONE_STORE
def test_the_investigations_contacts_become_the_list_with_the_end_of_their_medical_observation(reported):
    assert bring_in(reported) == 2
    found = listed(reported)
    wang, li = found.contacts
    assert (wang.name, wang.relation, wang.last_contact, wang.status) == ("王芳", "household", date(2026, 2, 20),
                                                                          "to-trace")
    assert wang.observation_end == date(2026, 3, 13)  # measles: 21 days after the last contact
    assert li.observation_end == date(2026, 3, 12)
    assert (wang.resident, li.resident) == ("Patient/res-wang", None)
    assert bring_in(reported, found.version) == 0  # once on the list, not again
    assert listed(reported).version == found.version == 1


@ONE_STORE
def test_the_list_is_a_fhir_list_kept_out_of_the_cases_own_record(reported):
    bring_in(reported)
    with unit_of_work(reported) as conn:
        resource = store.read(conn, SYSTEM, res_type="List", res_id="contacts-rep-m").resource
    store.validate(resource, res_type="List")
    assert "subject" not in resource and resource["identifier"][0]["value"] == "rep-m"
    entry = resource["entry"][0]
    assert entry["item"] == {"display": "王芳", "reference": "Patient/res-wang"}
    assert entry["flag"]["coding"][0]["code"] == "to-trace"


@ONE_STORE
def test_a_disease_without_an_observation_period_leaves_the_end_open(engine, now):
    put(engine, *institutions(), person("h1-1"), measles_case("rep-f", disease="influenza"))
    investigate(engine, "rep-f", [LI])
    bring_in(engine, report_id="rep-f")
    assert listed(engine, "rep-f").contacts[0].observation_end is None


@ONE_STORE
def test_a_contact_is_matched_to_a_resident_only_when_name_and_phone_agree(reported):
    with unit_of_work(reported) as conn:
        assert contacts.match_resident(conn, "王芳", "139 0000 0001") == "Patient/res-wang"
        assert contacts.match_resident(conn, "Wang Fang", "+86 13900000001") == "Patient/res-wang"
        assert contacts.match_resident(conn, "王芳", "") is None  # a name alone says too little
        assert contacts.match_resident(conn, "赵强", "13900000001") is None  # someone else on the same phone
        assert contacts.match_resident(conn, "王芳", "13800000009") is None


@ONE_STORE
def test_status_changes_are_audited_for_the_resident_and_kept_in_the_lists_history(reported):
    bring_in(reported)
    wang = listed(reported).contacts[0]
    traced = set_status(reported, wang.id, "traced", 1, note="reached by phone")
    observed = set_status(reported, wang.id, "under-observation", 2)
    assert (traced.status, traced.note, traced.noted_by) == ("traced", "reached by phone", "officer.li")
    assert observed.status == "under-observation" and listed(reported).version == 3
    with unit_of_work(reported) as conn:
        trail = audit.search(conn, agent="user/officer.li", patient="Patient/res-wang", subtype="update")
        versions = history(conn, SYSTEM, res_type="List", res_id="contacts-rep-m").entries
    assert [e["event"]["purposeOfEvent"][0]["text"] for e in trail] == [
        "case contact follow-up: traced to under-observation", "case contact follow-up: to-trace to traced"]
    flags = [v.resource["entry"][0]["flag"]["coding"][0]["code"] for v in versions]
    assert flags == ["under-observation", "traced", "to-trace"]


@ONE_STORE
def test_a_change_on_a_stale_version_is_refused_and_nothing_is_written(reported):
    bring_in(reported)
    wang = listed(reported).contacts[0]
    set_status(reported, wang.id, "traced", 1)
    with pytest.raises(review.VersionConflict):
        set_status(reported, wang.id, "lost", 1)
    assert listed(reported).contacts[0].status == "traced" and listed(reported).version == 2


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"name": "", "last_contact": "2026-02-20"}, "name", contacts.NAME_NEEDED),
    ({"name": "<script>alert(1)</script>" * 5, "last_contact": "2026-02-20"}, "name", contacts.TOO_LONG),
    ({"name": "王芳", "phone": "call me'; DROP TABLE", "last_contact": "2026-02-20"}, "phone", contacts.BAD_PHONE),
    ({"name": "王芳", "relation": "enemy", "last_contact": "2026-02-20"}, "relation", contacts.CHOOSE),
    ({"name": "王芳", "last_contact": "2026-03-09"}, "last_contact", contacts.FUTURE_DATE),
    ({"name": "王芳", "last_contact": "2025-01-01"}, "last_contact", contacts.TOO_OLD),
    ({"name": "王芳", "last_contact": "20/02/2026"}, "last_contact", contacts.BAD_DATE),
])
def test_a_contact_typed_wrong_is_refused_naming_the_field(fields, field, message):
    with pytest.raises(contacts.ContactInvalid) as refused:
        contacts.read_row(fields, today=TODAY)
    assert (refused.value.field, refused.value.message) == (field, message)


@ONE_STORE
def test_an_unknown_status_or_an_overlong_note_writes_nothing(reported):
    bring_in(reported)
    wang = listed(reported).contacts[0]
    with pytest.raises(contacts.ContactInvalid):
        set_status(reported, wang.id, "<b>gone</b>", 1)
    with pytest.raises(contacts.ContactInvalid):
        set_status(reported, wang.id, "traced", 1, note="x" * 501)
    with pytest.raises(review.CaseNotFound):
        set_status(reported, "no-such-contact", "traced", 1)
    assert listed(reported).version == 1


@ONE_STORE
def test_an_officer_adds_a_contact_the_investigation_missed_once(reported):
    row = contacts.read_row({"name": "赵强", "relation": "friend", "phone": "13700000002",
                             "last_contact": "2026-02-25"}, today=TODAY)
    with unit_of_work(reported) as conn:
        added = contacts.add(conn, ctx=OFFICER, report_id="rep-m", seen_version=0, row=row)
    assert (added.origin, added.observation_end, added.resident) == ("officer", date(2026, 3, 18), None)
    with unit_of_work(reported) as conn, pytest.raises(contacts.ContactInvalid):
        contacts.add(conn, ctx=OFFICER, report_id="rep-m", seen_version=1, row=row)


@ONE_STORE
def test_only_officers_and_only_reported_cases(reported):
    doctor = AccessContext(kind="user", name="dr.zhou", roles=frozenset({"doctor"}))
    with unit_of_work(reported) as conn, pytest.raises(AccessDenied):
        contacts.bring_in(conn, ctx=doctor, report_id="rep-m", seen_version=0)
    put(reported, measles_case("rep-draft", state="draft"))
    with pytest.raises(review.ActRefused):
        bring_in(reported, report_id="rep-draft")
