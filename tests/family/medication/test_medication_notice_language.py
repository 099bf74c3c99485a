"""Medicine reminders and safety warnings read in the language of whoever opens them: a notice written while the
account was English reads in Chinese on a Chinese page, and the other way round."""

from datetime import UTC, datetime

from smartcare.family.medication import reminders
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from tests.family.medication.conftest import request, write
from tests.family.medication.test_medication_warnings import PREGNANT, QD
from tests.web_support import browser, sign_in


def _kind(user, kind, locale):
    with unit_of_work() as conn:
        return [n for n in notifications.inbox(conn, user_id=user.id, locale=locale) if n["kind"] == kind]


def _remind(now, engine):
    with unit_of_work() as conn:
        reminders.plan_patient(conn, patient_id="pa1", now=now[0])
    now[0] = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    run_due(engine)


def test_a_reminder_written_in_english_reads_in_chinese_and_back(family, now, engine):
    _remind(now, engine)
    [english] = _kind(family["patient"], "medication.reminder", "en")
    assert english["title"] == "Time for your medicine" and "after the meal" in english["body"]
    [chinese] = _kind(family["patient"], "medication.reminder", "zh-Hans")
    assert chinese["title"] == "该吃药了" and "18:30 服用" in chinese["body"] and "饭后服用" in chinese["body"]
    [copy] = _kind(family["caregiver"], "medication.caregiver", "zh-Hans")
    assert "Li Wang" in copy["title"] and "18:30" in copy["body"] and "Medicine due" not in copy["title"]


def test_a_reminder_written_in_chinese_reads_in_english_on_an_english_page(family, now, engine):
    with unit_of_work() as conn:
        users.set_locale(conn, user_id=family["patient"].id, locale="zh-Hans")
    _remind(now, engine)
    with unit_of_work() as conn:
        [stored] = [n for n in notifications.inbox(conn, user_id=family["patient"].id)
                    if n["kind"] == "medication.reminder"]
    assert stored["title"] == "该吃药了"  # as written for her account
    [english] = _kind(family["patient"], "medication.reminder", "en")
    assert english["title"] == "Time for your medicine" and "Metformin 500 mg 1 tablet at 18:30" in english["body"]


def test_a_safety_warning_reads_in_the_pages_language(family, now, engine):
    write(PREGNANT)
    run_due(engine)
    write(request("r-ena", "Enalapril 10 mg", "C09AA02", QD))
    run_due(engine)
    english = [n["title"] for n in _kind(family["patient"], "medication.warning", "en")]
    chinese = [n["title"] for n in _kind(family["patient"], "medication.warning", "zh-Hans")]
    assert any("Enalapril" in t for t in english) and any("妊娠" in t for t in chinese)
    patient = browser()
    sign_in(patient, family["patient"].username)
    page = patient.get("/inbox?lang=zh-Hans")
    assert all(t in page.text for t in chinese) and not any(t in page.text for t in english)
