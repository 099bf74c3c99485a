"""Why a booking, cancellation or reschedule was refused: each error carries its HTTP status and a message to show."""

from starlette.requests import HTTPConnection

from smartcare.platform import i18n


def _(message: str) -> str:
    """Mark a message for the catalogs; the API translates it when it answers."""
    return message


class BookingRefused(Exception):
    """A refused scheduling request; `template` is the catalog message, `params` fill it in."""

    status = 409
    code = "refused"
    template = _("The request was refused.")

    def __init__(self, **params: object):
        self.params = params
        super().__init__(self.template.format(**params))


def described(request: HTTPConnection, exc: BookingRefused) -> dict[str, str]:
    """A refusal's code and its message in the reader's language (for pages and the API alike)."""
    return {"code": exc.code, "message": i18n.translator(request).gettext(exc.template).format(**exc.params)}


class InvalidRequest(BookingRefused):
    status, code = 400, "invalid"
    template = _("The request is not valid: {problem}")


class SlotNotFound(BookingRefused):
    status, code = 404, "not-found"
    template = _("There is no such slot.")


class AppointmentNotFound(BookingRefused):
    status, code = 404, "not-found"
    template = _("There is no such appointment, or it is not yours to change.")


class NotProxy(BookingRefused):
    status, code = 403, "forbidden"
    template = _("You can book only for yourself or for a family member whose proxy you are.")


class CallerLocked(BookingRefused):
    status, code = 403, "forbidden"
    template = _("Your account is locked.")


class SlotFull(BookingRefused):
    code = "full"
    template = _("This slot is fully booked; choose another or join the waitlist.")


class SlotStale(BookingRefused):
    code = "stale"
    template = _("This slot changed since you saw it; look at the slots again.")


class SlotUnavailable(BookingRefused):
    code = "unavailable"
    template = _("The doctor is not available at this time.")


class InThePast(BookingRefused):
    status, code = 422, "past"
    template = _("This slot has already begun or passed.")


class OutsideOpeningHours(BookingRefused):
    status, code = 422, "closed"
    template = _("The department is closed at this time.")


class PatientLocked(BookingRefused):
    status, code = 422, "patient-locked"
    template = _("This patient's record is locked; please ask at the registration desk.")


class PatientDeceased(BookingRefused):
    status, code = 422, "deceased"
    template = _("This patient is recorded as deceased.")


class AlreadyBookedThisSession(BookingRefused):
    code = "duplicate-session"
    template = _("This patient already has a booking with this doctor in this session.")


class DailyLimitReached(BookingRefused):
    code = "daily-limit"
    template = _("This patient has reached the limit of {limit} bookings on one day.")


class DuplicateSubmission(BookingRefused):
    code = "duplicate"
    template = _("This booking was already submitted.")


class CancellationClosed(BookingRefused):
    code = "too-late"
    template = _("Appointments can be changed only up to {minutes} minutes before the visit.")


class NotActive(BookingRefused):
    code = "not-active"
    template = _("This appointment is no longer booked.")


class AlreadyPaid(BookingRefused):
    code = "paid"
    template = _("This appointment is already paid.")


class PaymentDeclined(BookingRefused):
    status, code = 402, "payment-declined"
    template = _("The payment was not confirmed.")


class AlreadyWaiting(BookingRefused):
    code = "duplicate"
    template = _("This patient is already on the waitlist for this doctor on this day.")


class DayNotFull(BookingRefused):
    code = "places-free"
    template = _("This day still has free places; book one of them instead of waiting.")


class WaitlistEntryNotFound(BookingRefused):
    status, code = 404, "not-found"
    template = _("There is no such place on a waiting list, or it is not yours to change.")


class WaitlistOffered(BookingRefused):
    code = "offered"
    template = _("A place was already booked from the waiting list; cancel that visit if it is not needed.")
