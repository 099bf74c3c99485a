"""Share links: made for one person's record with a scope and a lifetime, opened without an account, revocable.

A link's token is 32 random bytes (43 URL-safe characters); only its sha256 is stored, so the table
alone opens nothing. Whoever holds a live link reads as a share-link access context
(platform/security/policy.py): that one patient, the scope's resource types, reading only.
"""

import hashlib
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import segno
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.patient.sharing.scopes import share_scopes
from smartcare.patient.sharing.tables import share_link
from smartcare.platform import audit, clock
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import SHARE_LINK_KIND

MIN_HOURS = 1
MAX_HOURS = 30 * 24
MAX_LABEL = 100
MAX_LINKS_SHOWN = 100
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_PATIENT_REF = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
# The audit entries that are a link's uses: what it served (export) and tries after it ended (access-refused); the
# gateway's own entries for the same reads are left out here so each use is one row.
USE_SUBTYPES = ("export", "access-refused")


class ShareLinkProblem(ValueError):
    """A link that cannot be made or changed as asked; code names the problem for the form's message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ShareLink:
    """One stored link (without its token, which only its maker ever sees)."""

    id: str
    patient_ref: str
    scope: str
    label: str
    created: str
    created_by: str
    expires: str
    revoked: str | None
    uses: int
    last_used: str | None

    def state(self) -> str:
        """active, expired or revoked, now."""
        if self.revoked:
            return REVOKED
        return EXPIRED if self.expires <= clock.format_instant(clock.now()) else ACTIVE

    @property
    def agent(self) -> str:
        """How the link's visitors appear in the audit trail (AccessContext.author)."""
        return f"{SHARE_LINK_KIND}/{self.id}"


def token_hash(token: str) -> str:
    """The stored form of a token: sha256, hex."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def clean_label(text: str) -> str:
    """The label as stored: control characters out, spaces squashed, at most MAX_LABEL characters (else a problem)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    label = " ".join(kept.split())
    if len(label) > MAX_LABEL:
        raise ShareLinkProblem("label-long", f"The label is at most {MAX_LABEL} characters")
    return label


def _row(row: Any) -> ShareLink:
    return ShareLink(id=row.id, patient_ref=row.patient_ref, scope=row.scope, label=row.label, created=row.created,
                     created_by=row.created_by, expires=row.expires, revoked=row.revoked, uses=row.uses,
                     last_used=row.last_used)


def create_link(conn: Connection, *, ctx: AccessContext, patient_ref: str, scope: str, hours: int,
                label: str) -> tuple[ShareLink, str]:
    """Make a link to patient_ref's record (the caller has checked they stand for that person); return it and its
    token, which is shown once and never stored."""
    if not _PATIENT_REF.fullmatch(patient_ref):
        raise ShareLinkProblem("person", "Choose whose record to share")
    if scope not in share_scopes():
        raise ShareLinkProblem("scope", "Choose what the link shows")
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise ShareLinkProblem("lifetime", f"A link lasts from {MIN_HOURS} hour to {MAX_HOURS // 24} days")
    label = clean_label(label)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    values = {"id": str(uuid.uuid4()), "token_hash": token_hash(token), "patient_ref": patient_ref, "scope": scope,
              "label": label, "created": clock.format_instant(now), "created_by": ctx.author[:255],
              "expires": clock.format_instant(now + timedelta(hours=hours)), "revoked": None, "uses": 0,
              "last_used": None}
    conn.execute(share_link.insert().values(**values))
    audit.record(conn, ctx=ctx, action="C", subtype="security-config", patient=patient_ref,
                 description=f"share link {values['id']} made: {scope}, until {values['expires']}")
    link = ShareLink(**{k: v for k, v in values.items() if k != "token_hash"})
    return link, token


def links_for(conn: Connection, patient_ref: str) -> list[ShareLink]:
    """The links made for one person's record, newest first."""
    rows = conn.execute(sa.select(share_link).where(share_link.c.patient_ref == patient_ref)
                        .order_by(share_link.c.created.desc()).limit(MAX_LINKS_SHOWN)).all()
    return [_row(r) for r in rows]


def link_by_id(conn: Connection, link_id: str) -> ShareLink | None:
    """One link by its id, or None."""
    row = conn.execute(sa.select(share_link).where(share_link.c.id == link_id[:36])).first()
    return _row(row) if row else None


def revoke(conn: Connection, *, ctx: AccessContext, patient_ref: str, link_id: str) -> ShareLink:
    """End a link of patient_ref's at once; revoking one already ended changes nothing."""
    link = link_by_id(conn, link_id)
    if link is None or link.patient_ref != patient_ref:
        raise ShareLinkProblem("unknown", "There is no such link for this person")
    if link.revoked is None:
        now = clock.format_instant(clock.now())
        conn.execute(sa.update(share_link).where(share_link.c.id == link.id, share_link.c.revoked.is_(None))
                     .values(revoked=now))
        audit.record(conn, ctx=ctx, action="U", subtype="security-config", patient=patient_ref,
                     description=f"share link {link.id} revoked")
    return link_by_id(conn, link.id) or link


def resolve(conn: Connection, token: str) -> ShareLink | None:
    """The link a presented token opens (whatever its state), or None for a token that is no link's."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    row = conn.execute(sa.select(share_link).where(share_link.c.token_hash == token_hash(token))).first()
    return _row(row) if row else None


def count_use(conn: Connection, link: ShareLink) -> None:
    """Count one use of the link (the audit trail holds what each use served)."""
    conn.execute(sa.update(share_link).where(share_link.c.id == link.id)
                 .values(uses=share_link.c.uses + 1, last_used=clock.format_instant(clock.now())))


def recipient_context(link: ShareLink, remote_addr: str | None) -> AccessContext:
    """The access context of a live link's visitor: that one patient, the scope's types, reading only."""
    return AccessContext(kind=SHARE_LINK_KIND, name=link.id, roles=frozenset({"share_link"}),
                         remote_addr=remote_addr, subject=link.id, patient=link.patient_ref,
                         scopes=share_scopes()[link.scope].scope_set())


def uses_of(conn: Connection, link: ShareLink, *, limit: int = 50) -> list[dict[str, Any]]:
    """The audit entries of a link's uses (and refused tries after it ended), newest first."""
    return [
        {"recorded": e["recorded"], "subtype": e["subtype"], "refused": e["outcome"] != "0",
         "address": e["event"]["agent"][0].get("network", {}).get("address"),
         "served": len([x for x in e["event"].get("entity", []) if x.get("role", {}).get("code") == "4"])}
        for e in audit.search(conn, agent=link.agent, limit=limit)
        if e["subtype"] in USE_SUBTYPES
    ]


def qr_svg(url: str) -> str:
    """The URL as a QR code, an inline SVG drawn here (no image or URL leaves the server), scaled by its viewBox."""
    return segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff", omitsize=True)
