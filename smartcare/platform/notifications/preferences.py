"""Per-person notification preferences: channels per kind of notification, and quiet hours."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform.notifications.channels import channel_names
from smartcare.platform.notifications.tables import notification_preference, notification_settings
from smartcare.platform.settings import get_settings

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_MAX_TZ = 64


class PreferenceError(Exception):
    """Preferences that cannot be saved as given."""


@dataclass(frozen=True, slots=True)
class NotificationKind:
    """A kind of notification a module sends, with the channels used until a person chooses."""

    name: str
    label: str
    default_channels: tuple[str, ...] = ()
    # The body names another person's health data (a staff notice about a patient): channels outside SmartCare
    # (SMS, e-mail, WeChat) carry the title and the link only, and the body stays behind the sign-in.
    private_body: bool = False


_kinds: dict[str, NotificationKind] = {}


def notification_kind(name: str, *, label: str, default_channels: tuple[str, ...] = (),
                      private_body: bool = False) -> NotificationKind:
    """Declare a kind of notification (shown on the preferences page); returns it."""
    kind = NotificationKind(name=name, label=label, default_channels=tuple(default_channels),
                            private_body=private_body)
    _kinds[name] = kind
    return kind


def kind_named(name: str) -> NotificationKind | None:
    """The declared kind of that name, if any."""
    return _kinds.get(name)


def kinds() -> list[NotificationKind]:
    """Every declared kind of notification, in declaration order."""
    return list(_kinds.values())


@dataclass(frozen=True, slots=True)
class Preferences:
    """A person's choices: channels per kind (declared kinds filled with defaults), quiet hours and time zone."""

    channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quiet_start: str | None = None
    quiet_end: str | None = None
    time_zone: str = "UTC"


def _parse_time(value: str | None) -> time | None:
    if not value:
        return None
    matched = _HH_MM.fullmatch(value)
    if not matched:
        raise PreferenceError(f"{value[:20]!r} is not a time of day like 22:00")
    return time(int(matched[1]), int(matched[2]))


def _zone(name: str) -> ZoneInfo:
    try:
        if not name or len(name) > _MAX_TZ:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PreferenceError(f"{name[:_MAX_TZ]!r} is not a time zone like Asia/Shanghai") from exc


def quiet_until(now: datetime, *, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours that now falls in end (UTC), or None when now is outside them.

    A window may cross midnight (22:00-07:00); start equal to end means no quiet hours.
    """
    local = now.astimezone(tz)
    moment = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        if not start <= moment < end:
            return None
        end_day = local.date()
    else:
        if end <= moment < start:
            return None
        end_day = local.date() + timedelta(days=1) if moment >= start else local.date()
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


def get_preferences(conn: Connection, *, user_id: str) -> Preferences:
    """A person's preferences, with each declared kind's default channels where they chose none."""
    chosen = {row.kind: tuple(row.channels.split()) for row in conn.execute(
        sa.select(notification_preference).where(notification_preference.c.user_id == user_id))}
    settings = conn.execute(
        sa.select(notification_settings).where(notification_settings.c.user_id == user_id)).one_or_none()
    channels = {k.name: chosen.get(k.name, k.default_channels) for k in _kinds.values()}
    channels.update(chosen)
    return Preferences(
        channels=channels,
        quiet_start=settings.quiet_start if settings else None,
        quiet_end=settings.quiet_end if settings else None,
        time_zone=settings.time_zone if settings else get_settings().region_timezone,
    )


def save_preferences(conn: Connection, *, user_id: str, channels: dict[str, list[str]], quiet_start: str | None,
                     quiet_end: str | None, time_zone: str) -> None:
    """Replace a person's channel choices for the declared kinds, and their quiet hours; PreferenceError if
    a kind, channel, time or time zone is not one SmartCare knows."""
    known = set(channel_names())
    for kind, names in channels.items():
        if kind not in _kinds:
            raise PreferenceError(f"{kind[:64]!r} is not a kind of notification")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise PreferenceError(f"{unknown[0][:40]!r} is not a notification channel")
    start, end = _parse_time(quiet_start), _parse_time(quiet_end)
    if (start is None) != (end is None):
        raise PreferenceError("Quiet hours need both a start and an end")
    _zone(time_zone)
    conn.execute(notification_preference.delete().where(notification_preference.c.user_id == user_id,
                                                        notification_preference.c.kind.in_(list(channels))))
    for kind, names in channels.items():
        ordered = [n for n in channel_names() if n in names]
        conn.execute(notification_preference.insert().values(user_id=user_id, kind=kind, channels=" ".join(ordered)))
    conn.execute(notification_settings.delete().where(notification_settings.c.user_id == user_id))
    conn.execute(notification_settings.insert().values(
        user_id=user_id, quiet_start=quiet_start or None, quiet_end=quiet_end or None, time_zone=time_zone))


def delivery_time(prefs: Preferences, now: datetime) -> datetime | None:
    """When a notification made now may go out on SMS, e-mail or WeChat: None for at once, else the end of
    the person's quiet hours."""
    start, end = _parse_time(prefs.quiet_start), _parse_time(prefs.quiet_end)
    if start is None or end is None:
        return None
    return quiet_until(now, start=start, end=end, tz=_zone(prefs.time_zone))
