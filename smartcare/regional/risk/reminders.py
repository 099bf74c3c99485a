"""Telling residents about their programme: when their doctor makes it active, and a few days before each review."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import gateway
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, handler
from smartcare.platform.jobs.schedules import periodic
from smartcare.platform.notifications.preferences import notification_kind
from smartcare.platform.notifications.service import notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings
from smartcare.regional.risk import plans

PROGRAMME = notification_kind("risk.programme", label=_("My health programme"))
REVIEW_JOB = "risk.review-reminders"
DAYS_BEFORE = 3
LINK = "/app/programme"


def programme_active(conn: Connection, *, patient_id: str) -> int:
    """Tell the resident (each of their accounts) that their doctor has made a programme active; how many told."""
    told = 0
    for account in users.linked_to(conn, fhir_ref=f"Patient/{patient_id}"):
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=PROGRAMME.name, link=LINK, title=t.gettext(_("Your health programme")),
               body=t.gettext(_("Your doctor has set your goals and what to do. See your progress in the app.")))
        told += 1
    return told


def due_for_review(today: date) -> list[tuple[str, date]]:
    """(patient id, review day) of the active programmes whose next review is DAYS_BEFORE days from today."""
    wanted = today + timedelta(days=DAYS_BEFORE)
    found = gateway.search_all(SYSTEM, "CarePlan", [("instantiates-uri", plans.PLAN_DEFINITION),
                                                   ("status", "active")])
    due = []
    for plan in found:
        patient = str((plan.get("subject") or {}).get("reference", "")).removeprefix("Patient/")
        if patient and plans.next_review(plan, today) == wanted:
            due.append((patient, wanted))
    return due


# Outside the job's transaction: the programmes are read through the FHIR gateway, in a transaction of its own.
@handler(REVIEW_JOB, in_transaction=False)
def remind_reviews(engine: Engine, job: Job) -> None:
    """Remind each resident whose programme review is in DAYS_BEFORE days (once a day, so once per review)."""
    today = clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()
    due = due_for_review(today)
    with unit_of_work(engine) as conn:
        for patient_id, day in due:
            _remind(conn, patient_id, day)


def _remind(conn: Connection, patient_id: str, day: date) -> None:
    for account in users.linked_to(conn, fhir_ref=f"Patient/{patient_id}"):
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=PROGRAMME.name, link=LINK,
               title=t.gettext(_("Your programme review is coming up")),
               body=t.gettext(_("Your family doctor reviews your health programme on %(day)s. Bring your home "
                                "readings.")) % {"day": day.isoformat()})


periodic(REVIEW_JOB, kind=REVIEW_JOB, daily_at="09:00", tz=get_settings().region_timezone)
