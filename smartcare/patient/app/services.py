"""The app home's service grid: every service one tap from the home, each with its icon (drawn here as simple
SVG strokes on a 24-unit grid, no third-party artwork) and a visible name that is also its accessible name."""

from dataclasses import dataclass

from smartcare.platform.i18n import _


@dataclass(frozen=True, slots=True)
class Service:
    """One tile of the grid: where it goes, its name (a catalogue msgid) and its icon's SVG path."""

    href: str
    label: str
    icon: str
    urgent: bool = False


_PILL = "M10.5 3.5 3.5 10.5a4.95 4.95 0 0 0 7 7l7-7a4.95 4.95 0 0 0-7-7z M7 7l7 7"
_DOCUMENT = "M6 3h9l3 3v15H6z M9 11h6 M9 15h6"

SERVICES: tuple[Service, ...] = (
    Service("/app/first-aid", _("First aid"), "M4 4h16v16H4z M12 8v8 M8 12h8", urgent=True),
    Service("/app/triage", _("Check my symptoms"), "M6 3v6a4 4 0 0 0 8 0V3 M10 13v3a4 4 0 0 0 8 0v-3 M18 13a2 2 0 1 0 0-4"),
    Service("/app/book", _("Book a visit"), "M4 6h16v14H4z M4 10h16 M8 3v4 M16 3v4"),
    Service("/app/queue", _("My queue number"), "M4 7h16v10H4z M9 7v10 M12 12h5"),
    Service("/app/visits", _("My visits and fees"), "M6 3h12v18l-3-2-3 2-3-2-3 2z M9 8h6 M9 12h6"),
    Service("/app/reports", _("My lab reports"), _DOCUMENT),
    Service("/app/imaging", _("My imaging reports"), "M4 5h16v14H4z M8 15l3-4 2 3 2-2 3 3"),
    Service("/app/record", _("My health record"), "M3 6h6l2 2h10v12H3z M12 11v6 M9 14h6"),
    Service("/app/medication", _("My medicines"), _PILL),
    Service("/app/prescriptions", _("My prescriptions"), _DOCUMENT),
    Service("/app/consultations", _("Online consultations"), "M4 5h16v10H9l-5 4z"),
    Service("/doctors", _("Find a doctor"), "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z M4 21a8 8 0 0 1 16 0"),
    Service("/app/hospitals", _("Hospitals"), "M4 21V5h16v16 M12 8v6 M9 11h6 M10 21v-3h4v3"),
    Service("/app/nearest", _("Nearest hospital"),
            "M12 21s-7-7-7-12a7 7 0 0 1 14 0c0 5-7 12-7 12z M12 11a2 2 0 1 0 0-4 2 2 0 0 0 0 4"),
    Service("/app/diseases", _("Diseases"), "M5 4h11a3 3 0 0 1 3 3v13H8a3 3 0 0 1-3-3z M5 17a3 3 0 0 1 3-3h11"),
    Service("/app/drugs", _("Medicine information"), _PILL),
    Service("/app/news", _("Health news"), "M4 5h13v14H6a2 2 0 0 1-2-2z M17 9h3v8a2 2 0 0 1-2 2 M7 9h7 M7 13h7"),
    # Everyone: the people one looks after, and family access to one's own record (family accounts).
    Service("/app/family", _("Family view"),
            "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z M16 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z M2 20a6 6 0 0 1 12 0 M12 20a6 6 0 0 1 10 0"),
    Service("/app/devices", _("My devices"), "M7 6h10v12H7z M9 6V3h6v3 M9 18v3h6v-3 M9 12h2l1-2 1 4 1-2h1"),
    Service("/inbox", _("Messages"), "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z M10 20a2 2 0 0 0 4 0"),
    Service("/app/settings", _("Settings"), "M4 6h9 M17 6h3 M4 12h3 M11 12h9 M4 18h11 M19 18h1 M15 4v4 M9 10v4 M17 16v4"),
)


def services_for(role: str) -> list[Service]:
    """The tiles a user of role sees (today every patient-side account sees them all)."""
    return list(SERVICES)
