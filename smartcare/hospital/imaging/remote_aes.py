"""The known remote AEs (modalities, other PACS, workstations): the console's list, move destinations, stations.

An AE title is at most 16 characters of the DICOM default repertoire without backslash or control characters,
and not only spaces (PS3.5 AE). The modality an AE serves (the worklist's ScheduledStationAETitle for orders of
that modality) is kept at the head of the description as "[CT] ..." while the table has no column for it: one
reader and one writer here, so a column can replace it without touching the callers.
"""

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.imaging.models import imaging_remote_ae

AE_TITLE = re.compile(r"[ -\[\]-~]{1,16}")
MODALITY = re.compile(r"[A-Z]{2,3}")
HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.:]{0,251}[A-Za-z0-9])?")
_TAGGED = re.compile(r"\[([A-Z]{2,3})\] ?")
MAX_DESCRIPTION = 200
_c = imaging_remote_ae.c


class RemoteAeRefused(ValueError):
    """A remote AE that cannot be saved as given: which field was wrong, and why (message in English)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RemoteAe:
    """One known remote AE as the console shows it."""

    id: int
    ae_title: str
    host: str
    port: int
    allowed: bool
    modality: str
    description: str


def served_modality(description: str) -> tuple[str, str]:
    """The modality tag at the head of a stored description, and the description without it."""
    found = _TAGGED.match(description or "")
    if found is None:
        return "", description or ""
    return found.group(1), description[found.end():]


def stored_description(modality: str, description: str) -> str:
    """The description column's value for a modality served and a free-text description."""
    return f"[{modality}] {description}".strip() if modality else description


def _remote_ae(row: Any) -> RemoteAe:
    modality, description = served_modality(row.description)
    return RemoteAe(id=row.id, ae_title=row.ae_title.strip(), host=row.host, port=row.port,
                    allowed=bool(row.allowed), modality=modality, description=description)


def checked(*, ae_title: str, host: str, port: str | int, modality: str, description: str) -> dict[str, Any]:
    """The column values of a remote AE from form input; RemoteAeRefused naming the first bad field."""
    title = (ae_title or "").strip()
    if not title or not AE_TITLE.fullmatch(title):
        raise RemoteAeRefused("ae_title", "An AE title is 1 to 16 letters, digits, spaces or punctuation "
                                          "(no backslash).")
    host = (host or "").strip()
    if not HOST.fullmatch(host):
        raise RemoteAeRefused("host", "Enter a host name or IP address.")
    try:
        number = int(str(port).strip())
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise RemoteAeRefused("port", "A port is a number from 1 to 65535.")
    modality = (modality or "").strip().upper()
    if modality and not MODALITY.fullmatch(modality):
        raise RemoteAeRefused("modality", "A modality is a DICOM modality code such as CT, MR or DX.")
    description = " ".join((description or "").split())
    if len(stored_description(modality, description)) > MAX_DESCRIPTION:
        raise RemoteAeRefused("description", f"A description is at most {MAX_DESCRIPTION - 6} characters.")
    return {"ae_title": title, "host": host, "port": number,
            "description": stored_description(modality, description)}


def listed(conn: Connection) -> list[RemoteAe]:
    """Every known remote AE, by AE title."""
    return [_remote_ae(r) for r in conn.execute(sa.select(imaging_remote_ae).order_by(_c.ae_title))]


def by_id(conn: Connection, ae_id: int) -> RemoteAe | None:
    """One known remote AE by its row id."""
    row = conn.execute(sa.select(imaging_remote_ae).where(_c.id == ae_id)).first()
    return _remote_ae(row) if row else None


def by_title(conn: Connection, ae_title: str) -> RemoteAe | None:
    """The known remote AE with this AE title (trailing spaces ignored), if there is one."""
    row = conn.execute(sa.select(imaging_remote_ae).where(_c.ae_title == ae_title.strip()[:16])).first()
    return _remote_ae(row) if row else None


def _title_taken(conn: Connection, ae_title: str, other_than: int | None) -> bool:
    query = sa.select(_c.id).where(_c.ae_title == ae_title)
    if other_than is not None:
        query = query.where(_c.id != other_than)
    return conn.execute(query).first() is not None


def save(conn: Connection, values: dict[str, Any], *, allowed: bool, ae_id: int | None = None) -> int:
    """Add a remote AE (ae_id None) or change one; its id. RemoteAeRefused when the AE title is taken."""
    if _title_taken(conn, values["ae_title"], ae_id):
        raise RemoteAeRefused("ae_title", "Another remote AE has this AE title.")
    if ae_id is None:
        return int(conn.execute(imaging_remote_ae.insert().values(**values, allowed=allowed)).inserted_primary_key[0])
    conn.execute(imaging_remote_ae.update().where(_c.id == ae_id).values(**values, allowed=allowed))
    return ae_id


def remove(conn: Connection, ae_id: int) -> bool:
    """Forget a remote AE; False when there was none with that id."""
    return conn.execute(imaging_remote_ae.delete().where(_c.id == ae_id)).rowcount > 0


def station_titles(conn: Connection) -> dict[str, str]:
    """The AE title serving each modality (the first allowed one by title), for the worklist's stations."""
    stations: dict[str, str] = {}
    for ae in listed(conn):
        if ae.allowed and ae.modality:
            stations.setdefault(ae.modality, ae.ae_title)
    return stations
