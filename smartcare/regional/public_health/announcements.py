"""The health authority's announcements on the public epidemic page: written by one officer, approved by another.

An announcement is a FHIR Communication with no subject and no recipient (it is for everyone): categories
"notification" and public-announcement, the English and Chinese texts as one payload each (the language and the
title in extensions, the body as plain text), and the same four-eyes decision as releases (releases.decide):
status preparation while pending, completed once approved (sent is the approval time), not-done when rejected.
"""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health import releases
from smartcare.regional.public_health.case_model import LOCAL, extension
from smartcare.regional.public_health.release_figures import ReleaseInvalid
from smartcare.regional.public_health.releases import (
    APPROVED,
    CASE_REPORTS,
    PENDING,
    REJECTED,
    Decision,
    ReleaseRefused,
)

CATEGORY_SYSTEM = LOCAL + "CodeSystem/public-health-communication"
CATEGORY = "public-announcement"
NOTIFICATION = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/communication-category",
                            "code": "notification"}]}
LANGUAGE = LOCAL + "StructureDefinition/announcement-language"
TITLE = LOCAL + "StructureDefinition/announcement-title"
PREPARED_AT = LOCAL + "StructureDefinition/announcement-written-at"
STATUS = {PENDING: "preparation", APPROVED: "completed", REJECTED: "not-done"}
LANGUAGES = ("en", "zh")
LANGUAGE_TAGS = {"en": "en", "zh": "zh-Hans"}
MAX_TITLE = 120
MAX_BODY = 4000
MAX_LISTED = 50
PUBLISHED_SHOWN = 10
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class Draft:
    """What an officer typed: a title and a body in English and in Chinese (one language may be left empty)."""

    title_en: str = ""
    body_en: str = ""
    title_zh: str = ""
    body_zh: str = ""


@dataclass(frozen=True, slots=True)
class Announcement:
    """An announcement read back from its Communication."""

    id: str
    version: int
    texts: dict[str, tuple[str, str]]  # language ("en", "zh") -> (title, body)
    decision: Decision
    sent: str | None

    def shown(self, locale: str) -> dict[str, Any]:
        """The title and paragraphs (each a list of lines) in locale's language, else in the other one."""
        wanted = "zh" if locale.startswith("zh") else "en"
        lang = wanted if wanted in self.texts else next(iter(self.texts))
        title, body = self.texts[lang]
        return {"id": self.id, "lang": LANGUAGE_TAGS[lang], "title": title, "sent": self.sent,
                "paragraphs": [p.split("\n") for p in _PARAGRAPH_BREAK.split(body) if p.strip()]}


def checked(draft: Draft) -> Draft:
    """The draft trimmed and checked: limits, no control characters, a title and body in at least one language."""
    values: dict[str, str] = {}
    for lang in LANGUAGES:
        title = releases.clean_text(getattr(draft, f"title_{lang}"), field=f"title_{lang}", limit=MAX_TITLE)
        body = releases.clean_text(getattr(draft, f"body_{lang}"), field=f"body_{lang}", limit=MAX_BODY, lines=True)
        if title and not body:
            raise ReleaseInvalid(_("Write the text that goes with this title."), field=f"body_{lang}")
        if body and not title:
            raise ReleaseInvalid(_("Give this text a title."), field=f"title_{lang}")
        values |= {f"title_{lang}": title, f"body_{lang}": body}
    if not any(values.values()):
        raise ReleaseInvalid(_("Write a title and a text in English, in Chinese, or in both."), field="title_en")
    return Draft(**values)


def _communication(draft: Draft, ctx: AccessContext) -> dict[str, Any]:
    payloads = [{"extension": [{"url": LANGUAGE, "valueCode": LANGUAGE_TAGS[lang]},
                               {"url": TITLE, "valueString": getattr(draft, f"title_{lang}")}],
                 "contentString": getattr(draft, f"body_{lang}")} for lang in LANGUAGES if getattr(draft, f"body_{lang}")]
    return {
        "resourceType": "Communication", "status": STATUS[PENDING],
        "category": [NOTIFICATION, {"coding": [{"system": CATEGORY_SYSTEM, "code": CATEGORY}]}],
        "topic": {"text": draft.title_en or draft.title_zh},
        "extension": [{"url": releases.STATE, "valueCode": PENDING},
                      {"url": releases.PREPARED_BY, "valueReference": releases.officer(ctx)},
                      {"url": PREPARED_AT, "valueDateTime": clock.format_instant(clock.now())}],
        "payload": payloads,
    }


def read_announcement(resource: dict[str, Any], version: int) -> Announcement:
    """An announcement from its Communication."""
    written = extension(resource, PREPARED_AT)
    texts: dict[str, tuple[str, str]] = {}
    for payload in resource.get("payload") or []:
        tag, title = extension(payload, LANGUAGE), extension(payload, TITLE)
        lang = "zh" if tag and str(tag.get("valueCode", "")).startswith("zh") else "en"
        texts[lang] = (str(title.get("valueString", "")) if title else "", str(payload.get("contentString", "")))
    return Announcement(id=str(resource["id"]), version=version, texts=texts or {"en": ("", "")},
                        decision=releases.decision_of(resource, written["valueDateTime"] if written else ""),
                        sent=resource.get("sent"))


def _is_announcement(resource: dict[str, Any] | None) -> bool:
    return bool(resource) and resource.get("resourceType") == "Communication" and any(
        c.get("system") == CATEGORY_SYSTEM and c.get("code") == CATEGORY
        for category in resource.get("category") or [] for c in category.get("coding") or [])


def write(conn: Connection, *, ctx: AccessContext, draft: Draft) -> Announcement:
    """Keep a checked announcement, pending approval; audited. Raises ReleaseInvalid for what needs changing."""
    decide_dataset(ctx, CASE_REPORTS)
    stored = store.create(conn, SYSTEM, _communication(checked(draft), ctx))
    audit.record(conn, ctx=ctx, action="C", subtype="create", purpose="PUBHLTH", entities=[stored.reference],
                 description="public announcement written, awaiting approval")
    return read_announcement(stored.resource, stored.version)


def decide_announcement(conn: Connection, *, ctx: AccessContext, announcement_id: str, approve: bool,
                        reason: str = "") -> Announcement:
    """Approve (by another officer) or reject a pending announcement; audited.

    Raises ReleaseRefused (no such announcement, decided already, or its writer approving) or ReleaseInvalid.
    """
    decide_dataset(ctx, CASE_REPORTS)
    try:
        found = store.read(conn, SYSTEM, res_type="Communication", res_id=announcement_id)
    except FhirError:
        found = None
    if found is None or not _is_announcement(found.resource):
        raise ReleaseRefused(_("There is no such announcement."))
    resource = dict(found.resource)
    state = releases.decide(resource, ctx=ctx, approve=approve, reason=reason, statuses=STATUS, prepared_at="")
    decision = releases.decision_of(resource, "")
    if state == APPROVED:
        resource["sent"] = decision.decided_at
    else:
        resource["statusReason"] = {"text": decision.reason}
    try:
        stored = store.update(conn, SYSTEM, resource, res_type="Communication", res_id=announcement_id,
                              if_match=found.version)
    except FhirError as exc:
        raise ReleaseRefused(_("Someone else changed this announcement meanwhile: look at it again.")) from exc
    audit.record(conn, ctx=ctx, action="U", subtype="update", purpose="PUBHLTH", entities=[stored.reference],
                 description=f"public announcement {state}")
    return read_announcement(stored.resource, stored.version)


def _search(conn: Connection, params: list[tuple[str, str]], count: int) -> list[store.Stored]:
    return releases.search_as_platform(conn, "Communication", [("category", f"{CATEGORY_SYSTEM}|{CATEGORY}"), *params],
                            count=count).matches


def listed(conn: Connection, *, ctx: AccessContext) -> list[Announcement]:
    """The newest announcements in every state, for officers; audited."""
    decide_dataset(ctx, CASE_REPORTS)
    found = _search(conn, [("_sort", "-_lastUpdated")], MAX_LISTED)
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH",
                 entities=[f"Communication?category={CATEGORY_SYSTEM}|{CATEGORY}"], description="announcements listed")
    return [read_announcement(s.resource, s.version) for s in found]


def published(conn: Connection, *, limit: int = PUBLISHED_SHOWN) -> list[Announcement]:
    """The approved announcements (public, so no caller and no audit), newest first."""
    found = _search(conn, [("status", STATUS[APPROVED]), ("_sort", "-sent")], limit)
    return [read_announcement(s.resource, s.version) for s in found]
