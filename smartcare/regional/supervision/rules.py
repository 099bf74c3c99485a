"""Health supervision rules as plain functions: licence and finding status, inspection outcome, plan due dates, and
the checks every typed field goes through. No database here; the messages are catalogue ids translated where shown."""

import re
from datetime import date, timedelta
from typing import Any

from smartcare.platform.i18n import _

EXPIRING_WITHIN = timedelta(days=90)  # a licence this close to its expiry shows as expiring
NOTIFY_LICENCE_WITHIN = timedelta(days=30)  # the inspectors are told of licences expiring this soon
NOTIFY_PLAN_WITHIN = timedelta(days=7)  # ... and of plan items due this soon
MAX_RECTIFY = timedelta(days=365)
FACILITY_STATUSES = ("active", "closed")
INSPECTION_KINDS = ("routine", "follow-up", "complaint")
RESULTS = ("pass", "fail", "not_applicable")
DECISIONS = ("open", "rectified", "escalated")  # what a later inspection decides about an open finding
FINDING_STATES = ("open", "overdue", "rectified", "escalated")
LICENCE_STATES = ("valid", "expiring", "expired", "revoked", "none")
MAX_NAME, MAX_ADDRESS, MAX_NUMBER, MAX_NOTE, MAX_NOTES, MAX_DESCRIPTION, MAX_REASON = 200, 300, 60, 500, 2000, 1000, 300
MAX_SEARCH = 100
MAX_BEDS = 20_000
_USERNAME = re.compile(r"[A-Za-z0-9._@-]{3,64}")
_REFERENCE = re.compile(r"Organization/[A-Za-z0-9\-.]{1,64}")
# Text fields refuse control characters other than line breaks and tabs (they only hide what was typed).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SupervisionInvalid(ValueError):
    """Input the supervision records refuse; message is a catalogue id (with %(name)s values), field the form field."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, **values: Any):
        super().__init__(message % values if values else message)
        self.message, self.field, self.values = message, field, values


class SupervisionNotFound(LookupError):
    """A facility, licence, plan, inspection or finding that does not exist."""

    status = 404


def text(value: Any, *, field: str, limit: int, required: bool = True) -> str:
    """A typed text field, stripped and checked: present when required, at most limit characters, no control codes."""
    given = (value if isinstance(value, str) else "" if value is None else str(value)).strip()
    if required and not given:
        raise SupervisionInvalid(_("Fill this in."), field=field)
    if len(given) > limit:
        raise SupervisionInvalid(_("Too long: at most %(limit)s characters."), field=field, limit=limit)
    if _CONTROL.search(given):
        raise SupervisionInvalid(_("Remove the control characters from this text."), field=field)
    return given


def choice(value: Any, options: tuple[str, ...] | list[str], *, field: str) -> str:
    """One of options, else a refusal naming the field."""
    given = value.strip() if isinstance(value, str) else ""
    if given not in options:
        raise SupervisionInvalid(_("Choose one of the options."), field=field)
    return given


def day(value: Any, *, field: str) -> date:
    """A date written YYYY-MM-DD."""
    given = value.strip() if isinstance(value, str) else value.isoformat() if isinstance(value, date) else ""
    try:
        if len(given) != 10:
            raise ValueError(given)
        return date.fromisoformat(given)
    except ValueError:
        raise SupervisionInvalid(_("Write the date as YYYY-MM-DD."), field=field) from None


def beds(value: Any, *, field: str = "beds") -> int | None:
    """A bed count: empty for none, else a whole number from 0 to MAX_BEDS."""
    given = value.strip() if isinstance(value, str) else "" if value is None else str(value)
    if not given:
        return None
    if not given.isascii() or not given.isdigit() or int(given) > MAX_BEDS:
        raise SupervisionInvalid(_("Write the number of beds as a whole number up to %(limit)s."), field=field,
                                 limit=MAX_BEDS)
    return int(given)


def username(value: Any, *, field: str) -> str:
    """An account name as SmartCare writes them."""
    given = value.strip() if isinstance(value, str) else ""
    if not _USERNAME.fullmatch(given):
        raise SupervisionInvalid(_("Write an account name of 3 to 64 letters, digits or . _ @ -"), field=field)
    return given


def organization_ref(value: Any, *, field: str = "organization_ref") -> str | None:
    """An Organization reference ("Organization/<id>") or None when left empty."""
    given = value.strip() if isinstance(value, str) else ""
    if not given:
        return None
    if not _REFERENCE.fullmatch(given):
        raise SupervisionInvalid(_("Choose the organisation from the list."), field=field)
    return given


def add_years(start: date, years: int) -> date:
    """The same day years later (28 February for a 29 February start in a common year)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def licence_status(*, expires: date, revoked_on: date | None, today: date) -> str:
    """revoked, expired (before today), expiring (within EXPIRING_WITHIN) or valid."""
    if revoked_on is not None and revoked_on <= today:
        return "revoked"
    if expires < today:
        return "expired"
    return "expiring" if expires - today <= EXPIRING_WITHIN else "valid"


def finding_state(*, status: str, rectify_by: date, today: date) -> str:
    """A finding's state as shown: rectified or escalated as recorded; an open one past its deadline is overdue."""
    if status == "open" and rectify_by < today:
        return "overdue"
    return status


def inspection_outcome(failed_severities: list[str]) -> str:
    """pass (nothing failed), conditional (only minor failures) or fail (a major or critical failure)."""
    if not failed_severities:
        return "pass"
    return "conditional" if set(failed_severities) == {"minor"} else "fail"


def plan_due_dates(starts: date, ends: date, count: int) -> list[date]:
    """count due dates spread evenly over the plan from its start to its end, the last on the end day."""
    if count <= 0:
        return []
    span = (ends - starts).days
    return [starts + timedelta(days=round(span * (n + 1) / count)) for n in range(count)]


def check_inspection_dates(*, inspected_on: date, today: date) -> None:
    """An inspection is recorded on or after the day it happened, never ahead of it."""
    if inspected_on > today:
        raise SupervisionInvalid(_("An inspection cannot be dated in the future."), field="inspected_on")


def check_rectify_by(rectify_by: date, *, inspected_on: date, field: str) -> None:
    """A rectification deadline falls after the inspection and within a year of it."""
    if rectify_by <= inspected_on:
        raise SupervisionInvalid(_("The rectification deadline must be after the inspection date."), field=field)
    if rectify_by - inspected_on > MAX_RECTIFY:
        raise SupervisionInvalid(_("The rectification deadline must be within a year of the inspection."),
                                 field=field)
