"""Registering a walk-in at the desk: the form, its checks in both languages, no duplicates, policy, CSRF and audit."""

import re
import threading
from datetime import date

import pytest
import sqlalchemy as sa

from smartcare.demo.identifiers import make_resident_id
from smartcare.fhir import gateway
from smartcare.hospital.desk import flows, registration
from smartcare.hospital.scheduling.models import booking
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from tests.hospital.desk.test_desk_pages import open_desk
from tests.hospital.scheduling.conftest import DESK, patient
from tests.patient.booking.conftest import Hospital
from tests.web_support import browser, form_token, make_user, sign_in

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
KNOWN_ID = make_resident_id(address_code="350102", birth_date=date(1990, 5, 1), sequence=123)
FAR_ID = make_resident_id(address_code="350103", birth_date=date(1979, 2, 2), sequence=311)
# Li Na, a woman (even sequence number) born on 15 July 1988, whom no hospital of the region knows yet.
NEW_ID = make_resident_id(address_code="350102", birth_date=date(1988, 7, 15), sequence=456)
WALK_IN = {"family": "李", "given": "娜", "sex": "female", "birth_date": "1988-07-15", "resident_id": NEW_ID,
           "phone": "138 0013 8000", "address": "福州市鼓楼区五四路 88 号"}


def wrong_check_digit(resident_id: str) -> str:
    return resident_id[:17] + ("0" if resident_id[17] != "0" else "1")


@pytest.fixture
def hospital(engine, now) -> Hospital:
    """Harbour Hospital with Dr Li's slots tomorrow, one patient of its own, one of Hillside Hospital's, and the clerk."""
    return open_desk(engine, now, [
        patient("p-zhang", gender="male", birthDate="1990-05-01",
                identifier=[{"system": RESIDENT_ID_SYSTEM, "value": KNOWN_ID}]),
        patient("p-far", gender="male", birthDate="1979-02-02", managingOrganization={"reference": "Organization/org-x"},
                identifier=[{"system": RESIDENT_ID_SYSTEM, "value": FAR_ID}]),
    ])


@pytest.fixture
def web(hospital):
    with browser() as client:
        sign_in(client, "nurse.test")
        yield client


def holders_of(resident_id: str) -> list[dict]:
    """Every Patient in the region holding resident_id, whoever manages them."""
    return gateway.search(SYSTEM, "Patient", [("identifier", f"{RESIDENT_ID_SYSTEM}|{resident_id}")])


def register(web, lang: str = "en", **changes):
    form = web.get(f"/desk/register?lang={lang}")
    return web.post("/desk/register", data={"csrf_token": form_token(form), **WALK_IN, **changes})


def registered_id(answer) -> str:
    assert answer.status_code == 303, answer.text[:500]
    return re.fullmatch(r"/desk/patients/([0-9a-f-]{36})\?done=registered", answer.headers["location"]).group(1)


def slot_form(page, slot_id: str) -> dict[str, str]:
    forms = re.findall(r'<form method="post" action="[^"]*/book">(.*?)</form>', page.text, re.S)
    form = next(f for f in forms if f'name="slot" value="{slot_id}"' in f)
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form))


def test_a_walk_in_not_found_is_registered_and_booked_at_once(web, hospital):
    search = web.get("/desk", params={"q": NEW_ID})
    assert "No patient of your hospital matches" in search.text
    link = re.search(r'href="(/desk/register\?from=[^"]+)"[^>]*>Register a new patient<', search.text).group(1)
    form = web.get(link.replace("&amp;", "&"))
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert f'value="{NEW_ID}"' in form.text, "the number searched for is filled in"
    for label in ('<label for="family">Family name', '<label for="given">Given name', "<legend>Sex</legend>",
                  '<label for="birth_date">Date of birth', '<label for="resident_id">Resident identity card number',
                  '<label for="phone">Mobile number', '<label for="address">Home address (optional)'):
        assert label in form.text

    answer = web.post("/desk/register", data={"csrf_token": form_token(form), **WALK_IN})
    patient_id = registered_id(answer)
    page = web.get(answer.headers["location"])
    assert "The patient is registered. Book their visit now." in page.text
    assert "李娜" in page.text and "Li Na" in page.text and "Female" in page.text and "1988-07-15" in page.text
    assert NEW_ID not in page.text and NEW_ID[-4:] in page.text, "the resident ID is shown masked"
    assert f'href="/desk/patients/{patient_id}/book"' in page.text

    slots = web.get(f"/desk/patients/{patient_id}/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")
    booked = web.post(f"/desk/patients/{patient_id}/book", data=slot_form(slots, hospital.slots[0]))
    assert booked.status_code == 303 and "done=booked" in booked.headers["location"]
    with unit_of_work(hospital.engine) as conn:
        rows = conn.execute(sa.select(booking).where(booking.c.patient_id == patient_id)).all()
    assert [(r.channel, r.payment_status) for r in rows] == [("desk", "pending")]


def test_the_new_patient_is_written_as_the_region_writes_residents_managed_by_the_clerks_hospital(web, hospital):
    patient_id = registered_id(register(web))
    [stored] = holders_of(NEW_ID)
    assert stored["id"] == patient_id
    assert stored["managingOrganization"] == {"reference": "Organization/org-h"}
    assert stored["identifier"][0]["system"] == RESIDENT_ID_SYSTEM and stored["identifier"][0]["value"] == NEW_ID
    assert [(n["extension"][0]["valueCode"], n["text"], n["family"], n["given"]) for n in stored["name"]] == [
        ("IDE", "李娜", "李", ["娜"]), ("ABC", "Li Na", "Li", ["Na"])]
    assert stored["telecom"] == [{"system": "phone", "value": "13800138000", "use": "mobile"}]
    assert (stored["gender"], stored["birthDate"]) == ("female", "1988-07-15")
    assert stored["address"][0]["text"] == WALK_IN["address"]
    assert stored["meta"]["source"] == "Organization/org-h"
    with unit_of_work(hospital.engine) as conn:
        entries = audit.search(conn, patient=f"Patient/{patient_id}", subtype="create")
        assert audit.verify(conn).ok
    assert [(e["action"], e["outcome"], e["agent"]) for e in entries] == [("C", "0", "user/nurse.test")]
    assert {"reference": f"Patient/{patient_id}"} in [e["what"] for e in entries[0]["event"]["entity"]]


@pytest.mark.parametrize(("lang", "check_digit", "birth_date", "title"), [
    ("en", "This is not a valid resident ID number. Check its 18 characters against the card; the last one may be X.",
     "This date of birth does not match the one in the resident ID number.", "Register a new patient"),
    ("zh-Hans", "身份证号无效。请对照身份证核对 18 位号码，最后一位可能是 X。", "出生日期与身份证号中的出生日期不一致。", "登记新患者"),
])
def test_a_wrong_check_digit_or_birth_date_is_refused_in_the_clerks_language_and_nothing_is_stored(
        web, hospital, lang, check_digit, birth_date, title):
    bad_digit = register(web, lang, resident_id=wrong_check_digit(NEW_ID))
    assert bad_digit.status_code == 422 and title in bad_digit.text and 'role="alert"' in bad_digit.text
    assert check_digit in bad_digit.text and 'id="resident_id-error"' in bad_digit.text
    assert re.search(r'id="resident_id"[^>]*aria-describedby="resident_id-error resident_id-help"[^>]*aria-invalid="true"',
                     bad_digit.text, re.S)
    assert 'value="李"' in bad_digit.text, "what was typed is kept"
    other_day = register(web, lang, birth_date="1988-07-16")
    assert other_day.status_code == 422 and birth_date in other_day.text and check_digit not in other_day.text
    assert holders_of(NEW_ID) == [] and holders_of(wrong_check_digit(NEW_ID)) == []


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"family": ""}, "family", "Enter the patient's family name."),
    ({"given": " "}, "given", "Enter the patient's given name."),
    ({"family": "Li3"}, "family", "Enter a name of up to 50 letters, without digits or symbols."),
    ({"sex": ""}, "sex", "Choose the patient's sex as on their identity card."),
    ({"sex": "male"}, "sex", "This sex does not match the one in the resident ID number."),
    ({"birth_date": ""}, "birth_date", "Enter the patient's date of birth."),
    ({"birth_date": "1988-02-30"}, "birth_date", "Enter a real date of birth, like 1990-05-01."),
    ({"resident_id": ""}, "resident_id", "Enter the patient's resident identity card number."),
    ({"phone": ""}, "phone", "Enter the patient's mobile number."),
    ({"phone": "12345"}, "phone", "Enter an 11-digit mobile number from mainland China, like 138 0013 8000."),
    ({"phone": "li.na@example.com"}, "phone", "Enter an 11-digit mobile number from mainland China"),
    ({"address": "路" * 201}, "address", "Keep the address to 200 characters."),
])
def test_each_wrong_field_is_named_next_to_it_and_nothing_is_stored(web, hospital, changes, field, message):
    refused = register(web, **changes)
    assert refused.status_code == 422 and message in refused.text
    assert f'id="{field}-error"' in refused.text and refused.text.count('class="field-error"') == 1
    assert holders_of(NEW_ID) == []


def test_a_birth_date_in_the_future_is_refused(web, hospital):
    tomorrow = hospital.day.isoformat()
    future_id = make_resident_id(address_code="350102", birth_date=hospital.day, sequence=456)
    refused = register(web, resident_id=future_id, birth_date=tomorrow)
    assert refused.status_code == 422 and "The date of birth cannot be in the future." in refused.text
    assert holders_of(future_id) == []


def test_registering_a_patient_already_in_reach_opens_their_record_without_a_duplicate(web, hospital):
    answer = register(web, family="张", given="伟", sex="male", birth_date="1990-05-01", resident_id=KNOWN_ID)
    assert answer.status_code == 303 and answer.headers["location"] == "/desk/patients/p-zhang?done=already-registered"
    page = web.get(answer.headers["location"])
    assert "already registered at your hospital, so no new record was made" in page.text
    assert [p["id"] for p in holders_of(KNOWN_ID)] == ["p-zhang"]


def test_a_record_outside_the_clerks_reach_is_not_revealed(web, hospital):
    answer = register(web, family="王", given="强", sex="male", birth_date="1979-02-02", resident_id=FAR_ID)
    patient_id = registered_id(answer)
    assert patient_id != "p-far" and "p-far" not in web.get(answer.headers["location"]).text
    assert sorted(p["managingOrganization"]["reference"] for p in holders_of(FAR_ID)) == [
        "Organization/org-h", "Organization/org-x"]


def test_the_same_form_sent_twice_registers_one_patient(web, hospital):
    form = web.get("/desk/register")
    data = {"csrf_token": form_token(form), **WALK_IN}
    first = web.post("/desk/register", data=data)
    again = web.post("/desk/register", data=data)
    patient_id = registered_id(first)
    assert again.status_code == 303 and again.headers["location"] == f"/desk/patients/{patient_id}?done=already-registered"
    assert [p["id"] for p in holders_of(NEW_ID)] == [patient_id]


def test_two_registrations_of_one_number_at_the_same_moment_make_one_patient(hospital):
    walk_in = registration.check_walk_in(registration.form_values(WALK_IN), date(2026, 3, 2))
    start, results = threading.Barrier(2), []

    def clerk() -> None:
        start.wait()
        results.append(flows.register_walk_in(ctx=DESK, walk_in=walk_in))

    threads = [threading.Thread(target=clerk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.created for r in results) == [False, True]
    assert len({r.patient_id for r in results}) == 1 and len(holders_of(NEW_ID)) == 1


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_registration_without_the_sessions_csrf_token_is_refused(web, hospital, token):
    data = {**WALK_IN, **({"csrf_token": token} if token else {})}
    refused = web.post("/desk/register", data=data)
    assert refused.status_code == 403 and holders_of(NEW_ID) == []


@pytest.mark.parametrize("role", ["patient", "doctor"])
def test_only_the_desk_registers_patients(hospital, role):
    make_user(hospital.engine, role, organization="Organization/org-h")
    with browser() as other:
        sign_in(other, f"{role}.test")
        assert other.get("/desk/register").status_code == 403
        token = form_token(other.get("/account"))
        assert other.post("/desk/register", data={"csrf_token": token, **WALK_IN}).status_code == 403
    assert holders_of(NEW_ID) == []


def test_a_hospital_administrator_registers_for_their_own_hospital(hospital):
    make_user(hospital.engine, "hospital_admin", organization="Organization/org-h")
    with browser() as admin:
        sign_in(admin, "hospital.admin.test")
        registered_id(register(admin))
    assert [p["managingOrganization"]["reference"] for p in holders_of(NEW_ID)] == ["Organization/org-h"]


def test_a_clerk_without_a_hospital_registers_nobody(hospital):
    make_user(hospital.engine, "nurse", username="roaming.nurse", organization=None)
    with browser() as roaming:
        sign_in(roaming, "roaming.nurse")
        refused = register(roaming)
    assert refused.status_code == 403 and "Your account belongs to no hospital" in refused.text
    assert holders_of(NEW_ID) == []


@pytest.mark.parametrize("changes", [
    {"family": "<script>alert(1)</script>"}, {"given": "娜\x00"}, {"address": "五四路\x00<b>"},
    {"resident_id": "x" * 5000}, {"phone": "1" * 5000}, {"birth_date": "9999-99-99"}, {"sex": "<b>"},
    {"family": "李" * 51},
])
def test_hostile_input_gets_the_form_again_not_a_500(web, hospital, changes):
    refused = register(web, **changes)
    assert refused.status_code in (303, 422) and "<script>alert(1)</script>" not in refused.text
    if refused.status_code == 303:
        [stored] = holders_of(NEW_ID)
        assert "\x00" not in str(stored) and "<b>" in stored["address"][0]["text"]


def test_the_find_page_always_links_to_registration(web, hospital):
    assert 'href="/desk/register"' in web.get("/desk").text
    assert 'href="/desk/register"' in web.get("/desk", params={"q": KNOWN_ID}).text


@pytest.mark.parametrize(("name", "surname", "spelt"), [
    ("张", True, "Zhang"), ("曾", True, "Zeng"), ("单", True, "Shan"), ("欧阳", True, "Ouyang"), ("吕", True, "Lyu"),
    ("小明", False, "Xiaoming"), ("女", False, "Nyu"), ("买买提·艾力", False, "Maimaiti Aili"),
])
def test_chinese_names_are_spelt_in_pinyin_as_on_passports(name, surname, spelt):
    assert registration.pinyin_of(name, surname=surname) == spelt


def test_a_name_in_latin_letters_is_kept_as_typed():
    assert registration.human_names("Smith", "Anna") == [
        {"use": "official", "text": "Anna Smith", "family": "Smith", "given": ["Anna"]}]
