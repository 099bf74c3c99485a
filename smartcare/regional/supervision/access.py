"""Who may read and who may write the health supervision records; the service asks here before every read and write.

The console surface (platform/security/policy.py, "console/supervision") lets regional administrators,
public-health officers and health inspectors in; recording inspections, findings, licences and plans is the health
inspectors' work (卫生监督员), which a regional administrator may also do. A public-health officer reads only.
"""

from datetime import date
from zoneinfo import ZoneInfo

from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

READERS = frozenset({"health_inspector", "regional_admin", "public_health_officer"})
WRITERS = frozenset({"health_inspector", "regional_admin"})
PURPOSE = "HOPERAT"  # v3 ActReason: healthcare operations (oversight of facilities)


class SupervisionForbidden(PermissionError):
    """A caller whose role may not read, or may not change, the supervision records."""

    status = 403

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def require_reader(ctx: AccessContext) -> None:
    """Let ctx read the supervision records, or raise SupervisionForbidden."""
    if not ctx.is_system and not ctx.roles & READERS:
        raise SupervisionForbidden(_("Your role cannot see the health supervision records."))


def require_writer(ctx: AccessContext) -> None:
    """Let ctx record inspections, findings, licences and plans, or raise SupervisionForbidden."""
    if not ctx.is_system and not ctx.roles & WRITERS:
        raise SupervisionForbidden(_("Only health inspectors and regional administrators can change these records."))


def may_write(ctx: AccessContext) -> bool:
    """True when ctx may change the supervision records (pages show their forms only then)."""
    return ctx.is_system or bool(ctx.roles & WRITERS)


def today() -> date:
    """Today's date in the region's time zone (deadlines and expiries are the region's calendar days)."""
    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()
