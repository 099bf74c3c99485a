"""The patient hears what the care team does for them online: a doctor's reply, a video visit the doctor opens, a
prescription signed online or at a visit. Each notice reaches the patient and the family account that looks after
them (and nobody else), links to the page of the app where they see it, and reads in the reader's language."""

import pytest

from smartcare.fhir.patient_accounts import accounts_for
from smartcare.hospital.consultation import flows, prescriptions
from smartcare.hospital.consultation import service as consultation
from smartcare.hospital.pharmacy.signing import PrescriptionLine
from smartcare.hospital.workstation import prescribing
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.notifications.preferences import get_preferences
from smartcare.platform.security import users
from smartcare.platform.security.policy import ACCOUNT_SID
from tests.web_support import browser, form_token, make_user, sign_in

FHIR_JSON = {"Content-Type": "application/fhir+json"}
AMLODIPINE = PrescriptionLine(medicine="amlodipine", dose=5, unit="mg", frequency="QD", route="oral", days=30)
POLICY = "https://smartcare.example/fhir/CodeSystem/consent-category"
SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"


def _records(daughter_id: str) -> list[dict]:
    proxy = {"resourceType": "Consent", "id": "proxy-daughter", "status": "active",
             "scope": {"coding": [{"system": SCOPE, "code": "patient-privacy"}]},
             "category": [{"coding": [{"system": POLICY, "code": "proxy-access"}]}],
             "patient": {"reference": "Patient/p1"}, "dateTime": "2026-01-01T00:00:00Z",
             "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                        "code": "OPTIN"}]},
             "provision": {"type": "permit", "period": {"start": "2026-01-01T00:00:00Z"},
                           "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                     "v3-RoleCode", "code": "CHILD"}]},
                                      "reference": {"reference": "RelatedPerson/rp-daughter"}}]}}
    return [
        {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
        {"resourceType": "Organization", "id": "dept-cardio", "name": "Cardiology",
         "partOf": {"reference": "Organization/org-a"}},
        {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
        {"resourceType": "PractitionerRole", "id": "role-a", "practitioner": {"reference": "Practitioner/doc-a"},
         "organization": {"reference": "Organization/dept-cardio"}},
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Wang", "given": ["Fang"]}],
         "birthDate": "1950-01-01", "managingOrganization": {"reference": "Organization/org-a"}},
        {"resourceType": "Patient", "id": "p2", "name": [{"family": "Wang", "given": ["Li"]}],
         "birthDate": "1980-01-01", "managingOrganization": {"reference": "Organization/org-a"}},
        # Hypertension diagnosed in person at the cardiology clinic: an online follow-up may prescribe for it.
        {"resourceType": "Encounter", "id": "visit-1", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": "Patient/p1"}, "serviceProvider": {"reference": "Organization/dept-cardio"},
         "period": {"start": "2026-01-10T01:00:00Z", "end": "2026-01-10T01:20:00Z"}},
        {"resourceType": "Condition", "id": "htn-1", "subject": {"reference": "Patient/p1"},
         "encounter": {"reference": "Encounter/visit-1"},
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                            "code": "confirmed"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}},
        # The daughter's own account looks after her father (a family account, with his proxy Consent).
        {"resourceType": "RelatedPerson", "id": "rp-daughter", "active": True, "patient": {"reference": "Patient/p1"},
         "identifier": [{"system": ACCOUNT_SID, "value": daughter_id}], "name": [{"text": "Wang Li"}]},
        proxy,
        # A neighbour is recorded about him, but he never gave the neighbour access: no notices.
        {"resourceType": "RelatedPerson", "id": "rp-neighbour", "active": True,
         "patient": {"reference": "Patient/p1"}, "name": [{"text": "Neighbour"}]},
    ]


@pytest.fixture
def world(client, engine):
    """Father (English account), his daughter's family account (Chinese), his doctor, and a neighbour's account."""
    people = {
        "father": make_user(engine, "patient", "father.test", fhir_ref="Patient/p1"),
        "daughter": make_user(engine, "patient", "daughter.test", fhir_ref="Patient/p2", locale="zh-Hans"),
        "doctor": make_user(engine, "doctor", "chen.test", fhir_ref="Practitioner/doc-a",
                            organization="Organization/org-a"),
        "neighbour": make_user(engine, "caregiver", "neighbour.test", fhir_ref="RelatedPerson/rp-neighbour"),
    }
    records = _records(people["daughter"].id)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in records]}
    done = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text[:400]
    return people


def _ctx(user):
    return users.context_for(user)


def _consultation(engine, world, kind="advice") -> str:
    """The father asks Dr Chen online (advice, or a follow-up of his hypertension); the doctor picks it up."""
    with unit_of_work(engine) as conn:
        opened = consultation.open_consultation(conn, _ctx(world["father"]), patient_id="p1", kind=kind,
                                                question="My blood pressure is 150/95 in the mornings.",
                                                practitioner_id="doc-a",
                                                condition_id="htn-1" if kind == "follow_up" else None)
        consultation.pick_up(conn, _ctx(world["doctor"]), consultation_id=opened["id"])
    return opened["id"]


def _say(engine, user, consultation_id, text, client_id):
    with unit_of_work(engine) as conn:
        return consultation.post_message(conn, _ctx(user), consultation_id=consultation_id, client_id=client_id,
                                         text=text)[0]


def _inbox(engine, user, locale=None, kind=None):
    with unit_of_work(engine) as conn:
        found = notifications.inbox(conn, user_id=user.id, locale=locale)
    return [n for n in found if kind is None or n["kind"] == kind]


def test_the_accounts_told_are_the_patient_and_those_the_policy_lets_look_after_him(world, engine):
    with unit_of_work(engine) as conn:
        told = accounts_for(conn, "p1")
    assert [(a.id, a.own) for a in told] == [(world["father"].id, True), (world["daughter"].id, False)]


def test_a_doctors_reply_reaches_the_patient_and_his_daughter_in_their_languages(world, engine):
    cid = _consultation(engine, world)
    assert _inbox(engine, world["father"]) == []  # picking up is no reply
    _say(engine, world["doctor"], cid, "Please measure twice a day for a week <b>and</b> send the readings.", "d1")

    father = _inbox(engine, world["father"], kind="consultation.reply")
    assert len(father) == 1
    assert father[0]["link"] == f"/app/consultations/{cid}"
    assert father[0]["title"] == "Your doctor replied in your online consultation"
    assert father[0]["body"] == "Dr Chen: Please measure twice a day for a week <b>and</b> send the readings."
    daughter = _inbox(engine, world["daughter"], locale="zh-Hans", kind="consultation.reply")
    assert len(daughter) == 1 and daughter[0]["link"] == f"/app/consultations/{cid}"
    assert daughter[0]["title"] == "医生回复了Fang Wang的在线问诊"
    assert daughter[0]["body"].startswith("Chen医生：Please measure")
    # The doctor, and a neighbour the father never let in, hear nothing.
    assert _inbox(engine, world["doctor"]) == [] and _inbox(engine, world["neighbour"]) == []


def test_the_patients_own_messages_notify_nobody_on_his_side(world, engine):
    cid = _consultation(engine, world)
    _say(engine, world["father"], cid, "Thank you, doctor.", "p-1")
    _say(engine, world["daughter"], cid, "I will help him measure.", "d-1")
    assert _inbox(engine, world["father"]) == [] and _inbox(engine, world["daughter"]) == []


def test_a_flood_of_replies_is_one_notice_until_it_is_read(world, engine):
    cid = _consultation(engine, world)
    for n in range(5):
        _say(engine, world["doctor"], cid, f"Point {n}", f"d{n}")
    father = _inbox(engine, world["father"], kind="consultation.reply")
    assert len(father) == 1 and father[0]["body"] == "Dr Chen: Point 0"
    with unit_of_work(engine) as conn:
        assert notifications.mark_read(conn, user_id=world["father"].id, notification_id=father[0]["id"])
    _say(engine, world["doctor"], cid, "One more thing.", "d9")
    assert [n["body"] for n in _inbox(engine, world["father"], kind="consultation.reply")] == [
        "Dr Chen: One more thing.", "Dr Chen: Point 0"]
    # The daughter did not read hers: still one.
    assert len(_inbox(engine, world["daughter"], kind="consultation.reply")) == 1


def test_closing_with_a_summary_tells_the_patient_it_is_closed(world, engine):
    cid = _consultation(engine, world)
    with unit_of_work(engine) as conn:
        consultation.close(conn, _ctx(world["doctor"]), consultation_id=cid, summary="Raised blood pressure.",
                           advice="Measure daily; come to the clinic in two weeks.")
    father = _inbox(engine, world["father"], kind="consultation.reply")
    assert [n["body"] for n in father] == ["Dr Chen closed the consultation with a summary and advice."]
    assert _inbox(engine, world["daughter"], "zh-Hans")[0]["body"] == "Chen医生已结束问诊，并给出了小结和建议。"


def test_a_video_visit_the_doctor_opens_is_one_notice_with_the_link_to_join(world, engine):
    cid = _consultation(engine, world)
    with unit_of_work(engine) as conn:
        visit_id = flows.start_video_visit(conn, _ctx(world["doctor"]), consultation_id=cid)
    father = _inbox(engine, world["father"])
    assert [(n["kind"], n["link"]) for n in father] == [("video.visit", f"/app/video/{visit_id}")]
    assert father[0]["title"] == "Your doctor opened a video visit"
    assert "Dr Chen is waiting for you" in father[0]["body"]
    daughter = _inbox(engine, world["daughter"], "zh-Hans")
    assert [(n["kind"], n["link"]) for n in daughter] == [("video.visit", f"/app/video/{visit_id}")]
    assert daughter[0]["title"] == "医生为Fang Wang发起了视频问诊"
    assert daughter[0]["body"] == "Chen医生正在视频问诊中等Fang Wang，请现在一起在应用中进入。"
    assert _inbox(engine, world["doctor"]) == []


def test_an_online_prescription_is_one_notice_naming_the_medicine_in_the_readers_language(world, engine):
    cid = _consultation(engine, world, "follow_up")
    prescriptions.prescribe(ctx=_ctx(world["doctor"]), consultation_id=cid, lines=[AMLODIPINE])
    father = _inbox(engine, world["father"])
    assert [(n["kind"], n["link"]) for n in father] == [("prescription.issued", "/app/prescriptions")]
    assert father[0]["title"] == "You have a new prescription"
    # Online, the pharmacist checks it before it takes effect; the notice says so.
    assert father[0]["body"] == ("Dr Chen prescribed: Amlodipine 5 mg QD. "
                                 "A pharmacist checks it before it takes effect.")
    daughter = _inbox(engine, world["daughter"], "zh-Hans")
    assert [(n["kind"], n["link"]) for n in daughter] == [("prescription.issued", "/app/prescriptions?person=p1")]
    assert daughter[0]["title"] == "Fang Wang有一张新处方"
    assert daughter[0]["body"] == "Chen医生开具了：氨氯地平 5 mg QD。药师审核后处方方可生效。"


def test_a_prescription_signed_at_a_visit_is_told_too(world, engine):
    draft = prescribing.Draft(patient_id="p1", lines=(AMLODIPINE,))
    signed = prescribing.sign(ctx=_ctx(world["doctor"]), draft=draft, overrides={}, cards=[])
    with unit_of_work(engine) as conn:
        found = notifications.inbox(conn, user_id=world["father"].id)
        data = notifications.get_notification(conn, notification_id=found[0]["id"])
    assert [n["kind"] for n in found] == ["prescription.issued"]
    assert data["link"] == "/app/prescriptions" and signed.medication_requests
    assert data["body"] == "Dr Chen prescribed: Amlodipine 5 mg QD. See how to take them in the app."
    assert len(_inbox(engine, world["daughter"], kind="prescription.issued")) == 1
    assert _inbox(engine, world["doctor"]) == [] and _inbox(engine, world["neighbour"]) == []


def test_the_inbox_reads_a_notice_in_the_language_of_the_page(world, engine):
    cid = _consultation(engine, world)
    _say(engine, world["doctor"], cid, "<script>alert(1)</script> Please rest.", "d1")
    father = browser()
    sign_in(father, "father.test")
    english = father.get("/inbox?lang=en")
    assert "Your doctor replied in your online consultation" in english.text
    assert f'href="/app/consultations/{cid}"' in english.text
    assert "<script>alert(1)</script>" not in english.text and "&lt;script&gt;" in english.text
    # Written while his account was English, it reads in Chinese on a Chinese page.
    chinese = father.get("/inbox?lang=zh-Hans")
    assert "医生回复了您的在线问诊" in chinese.text and "Chen医生：" in chinese.text
    assert "Your doctor replied" not in chinese.text


def test_the_new_kinds_can_be_chosen_on_the_notification_settings_page(world, engine):
    father = browser()
    sign_in(father, "father.test")
    page = father.get("/account/notifications?lang=zh-Hans")
    assert "医生在在线问诊中的回复" in page.text and "医生发起的视频问诊" in page.text and "新处方" in page.text
    for kind in ("consultation.reply", "video.visit", "prescription.issued"):
        assert f'name="channel:{kind}"' in page.text
    saved = father.post("/account/notifications", data={"csrf_token": form_token(page), "time_zone": "Asia/Shanghai",
                                                        "channel:video.visit": "sms"})
    assert saved.status_code == 200
    with unit_of_work(engine) as conn:
        prefs = get_preferences(conn, user_id=world["father"].id)
    assert prefs.channels["video.visit"] == ("sms",) and prefs.channels["consultation.reply"] == ()
