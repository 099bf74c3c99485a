"""What the wards refuse, with a message for the form and the HTTP status it answers with."""

from smartcare.platform.i18n import _


class WardRefused(Exception):
    """A ward step that cannot be done; message is an English msgid the page shows in the reader's language."""

    def __init__(self, message: str, *, status: int = 400, **values: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.values = values


NOT_FOUND = _("No such ward, bed or patient here.")
NO_HOSPITAL = _("Your account is not linked to a hospital.")
