"""Syndromic surveillance over the store: triage interviews, outpatient notes and visit reasons read into syndromes,
counted per day and district of the patient's address (a person once a day per syndrome, a visit once), and a
syndromic spike raising signals labelled apart from the disease signals."""

from collections import Counter
from datetime import date, timedelta

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import detection, signals, syndromes
from smartcare.regional.public_health.case_series import REGION
from tests.regional.public_health.test_detection import HEDONG, HEXI, OFFICER, YESTERDAY, all_signals
from tests.regional.public_health.test_review import person, put

ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
FIELD_SYSTEM = "https://smartcare.example/fhir/CodeSystem/note-field"


def resident(pid: str, district: str = "Hedong District") -> dict:
    return person(pid, id_number=None, address=[{"use": "home", "city": "滨河市", "district": district}])


def interview(rid: str, patient: str, complaint: str, authored: str = "2026-03-01T09:00:00+08:00") -> dict:
    """A triage interview as the patient app stores it: the complaint in the patient's own words."""
    return {"resourceType": "QuestionnaireResponse", "id": rid, "questionnaire": syndromes.TRIAGE_QUESTIONNAIRE,
            "status": "completed", "subject": {"reference": f"Patient/{patient}"}, "authored": authored,
            "item": [{"linkId": "complaint", "text": "Chief complaint", "answer": [{"valueString": complaint}]},
                     {"linkId": "age", "text": "Age (years)", "answer": [{"valueDecimal": 30}]}]}


def note(nid: str, patient: str, complaint: str, *, encounter: str | None = None,
         date_: str = "2026-03-01T10:00:00+08:00", status: str = "final") -> dict:
    """An outpatient note as the workstation writes one: the chief complaint a sub-section of the subjective part."""
    return {"resourceType": "Composition", "id": nid, "status": status, "date": date_, "title": "Outpatient note",
            "type": {"coding": [{"system": "http://loinc.org", "code": "34108-1", "display": "Outpatient Note"}]},
            "subject": {"reference": f"Patient/{patient}"}, "author": [{"reference": "Practitioner/doc-a"}],
            **({"encounter": {"reference": f"Encounter/{encounter}"}} if encounter else {}),
            "section": [{"title": "Subjective", "code": {"coding": [{"system": "http://loinc.org",
                                                                    "code": "61150-9"}]},
                         "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"},
                         "section": [{"title": "Chief complaint", "code": {"coding": [
                             {"system": "http://loinc.org", "code": "10154-3"},
                             {"system": FIELD_SYSTEM, "code": "chief_complaint"}]},
                             "extension": [{"url": syndromes.FIELD_VALUE, "valueString": complaint}],
                             "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">"
                                                                   f"<p>{complaint}</p></div>"}}]}]}


def visit(eid: str, patient: str, reason: str, start: str = "2026-03-01T08:00:00+08:00") -> dict:
    return {"resourceType": "Encounter", "id": eid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient}"}, "period": {"start": start}, "reasonCode": [{"text": reason}]}


def counted(engine, start: date = YESTERDAY - timedelta(days=6), end: date = YESTERDAY) -> syndromes.SyndromicCounts:
    with unit_of_work(engine) as conn:
        return syndromes.daily_counts(conn, ctx=OFFICER, start=start, end=end)


@ONE_STORE
def test_triage_interviews_notes_and_visit_reasons_are_counted_by_syndrome_day_and_district(engine, now):
    put(engine, *(resident(f"s{n}") for n in range(1, 6)), resident("w1", "Hexi District"),
        resident("far", "Elsewhere"),
        interview("q1", "s1", "发热咳嗽2天"), interview("q2", "s2", "no fever, cough"),
        interview("q3", "w1", "fever and cough"), interview("q4", "far", "fever and cough"),
        interview("q-old", "s3", "fever and cough", authored="2026-01-10T09:00:00+08:00"),
        note("n1", "s1", "fever, cough 2 days", encounter="e1"),
        note("n2", "s3", "发热伴皮疹", date_="2026-02-28T10:00:00+08:00"),
        note("n3", "s4", "diarrhoea", status="entered-in-error"),
        visit("e1", "s1", "diarrhoea"), visit("e2", "s5", "腹泻3次"))
    found = counted(engine)
    assert found.counts[("ili", REGION)] == Counter({YESTERDAY: 3})  # s1 (interview and note: once), w1, far
    assert found.counts[("ili", HEDONG)] == Counter({YESTERDAY: 1})
    assert found.counts[("ili", HEXI)] == Counter({YESTERDAY: 1})
    assert found.counts[("fever-rash", HEDONG)] == Counter({date(2026, 2, 28): 1})
    # e1 has a note, so its reason is not read again; e2's reason counts; the note entered in error does not.
    assert found.counts[("diarrhoea", REGION)] == Counter({YESTERDAY: 1})
    assert found.by_source == {"triage": 4, "note": 2, "encounter": 2} and found.read == 8
    with unit_of_work(engine) as conn:
        logged = audit.search(conn, agent="user/officer.li", subtype="search")
    assert "syndromic surveillance: 4 triage records read, counts kept only" in str([e["event"] for e in logged])


@ONE_STORE
def test_a_syndromic_spike_raises_signals_labelled_apart_from_disease_signals(engine, now):
    put(engine, *(resident(f"i{n}") for n in range(6)),
        *(interview(f"qi{n}", f"i{n}", "发烧39度，咳嗽") for n in range(6)))
    with unit_of_work(engine) as conn:
        outcome = detection.run(conn, ctx=OFFICER)
    raised = all_signals(engine)
    assert outcome.figures["complaints-read"] == 6 and outcome.figures["syndromic-series"] == 2
    assert {(s.key.kind, s.key.subject, s.key.place, s.key.basis) for s in raised} == {
        ("syndrome", "ili", HEDONG, "visit"), ("syndrome", "ili", REGION, "visit")}
    assert {r["code"]["coding"][0]["code"] for r in outcome.signals} == {signals.SYNDROMIC_SIGNAL}
    c1 = next(s for s in raised if s.key.place == HEDONG and s.method == "ears-c1")
    assert c1.reason("en").startswith("Influenza-like illness, Hedong District: 6 visits seen on 2026-03-01")
    assert c1.reason("zh").startswith("流感样病例，河东区：2026-03-01就诊 6 人次")
    with unit_of_work(engine) as conn:
        assert signals.listed(conn, ctx=OFFICER, kind="disease") == []


@ONE_STORE
def test_only_officers_and_the_platform_may_count_complaints(engine, now):
    with unit_of_work(engine) as conn, pytest.raises(AccessDenied):
        syndromes.daily_counts(conn, ctx=AccessContext(kind="user", name="dr", roles=frozenset({"doctor"})),
                               start=YESTERDAY, end=YESTERDAY)


def test_a_note_gives_its_typed_chief_complaint_else_its_narrative_without_markup():
    typed = note("n", "p", "fever & cough")
    del typed["section"][0]["section"][0]["extension"]
    assert syndromes.note_complaint(note("n", "p", "腹泻")) == "腹泻"
    assert syndromes.note_complaint(typed).strip() == "fever & cough"
    assert syndromes.note_complaint({"section": [{"title": "Plan"}]}) == ""
