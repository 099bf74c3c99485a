"""Health news: write, schedule, withdraw and read articles; sanitise their bodies; release public-health alerts.

Hospital administrators write for their own organisation, regional administrators and public-health officers
for the health authority. Every change is audited. A saved article waits for its publish time; the job in
jobs.py then marks it published and tells the readers it targets (inbox and live push, never SMS or e-mail).
"""

import html
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import nh3
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables
from smartcare.patient.news import targeting
from smartcare.patient.news.models import news_article
from smartcare.platform import audit, clock, i18n
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import enqueue
from smartcare.platform.security.context import SYSTEM, AccessContext

PUBLISH_JOB = "news.publish"
HOSPITAL_ROLES = frozenset({"hospital_admin"})
AUTHORITY_ROLES = frozenset({"regional_admin", "public_health_officer"})
AUTHOR_ROLES = HOSPITAL_ROLES | AUTHORITY_ROLES
AUTHORITY_NAME = _("Regional Health Commission")
SCHEDULED, PUBLISHED, WITHDRAWN = "scheduled", "published", "withdrawn"
ALERT = "public-health-alert"
# Category keys with their labels (translated where shown), in the order pages offer them.
CATEGORIES: dict[str, str] = {
    "health-tips": _("Health tips"),
    "hospital-announcement": _("Hospital announcement"),
    ALERT: _("Public-health alert"),
    "vaccination": _("Vaccination"),
    "chronic-disease": _("Chronic disease"),
    "mother-and-child": _("Mother and child"),
    "mental-health": _("Mental health"),
    "healthy-living": _("Healthy living"),
}
MAX_TITLE, MAX_SUMMARY, MAX_BODY = 200, 500, 20_000
MAX_PREFIXES = 10
MAX_AGE = 120
LIST_LIMIT = 200
_ICD10_PREFIX = re.compile(r"[A-Z][0-9]{0,2}(\.?[0-9A-Z]{0,4})?")

# The markup an article may keep; everything else is removed with (script, style ...) or without its content.
ALLOWED_TAGS = frozenset({"p", "h2", "h3", "ul", "ol", "li", "strong", "em", "a", "blockquote", "br"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_MARKUP = re.compile(r"</?(?:p|h2|h3|ul|ol|li|strong|em|a|blockquote|br)\b", re.IGNORECASE)
_BLOCK_END = re.compile(r"</(?:p|h2|h3|li|blockquote|ul|ol)\s*>|<br\s*/?>", re.IGNORECASE)
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template", "svg",
                                  "math", "textarea", "select", "title", "frameset", "noembed", "xmp"})


class NewsError(Exception):
    """An article that cannot be written, changed or shown as asked; message is a catalog template."""

    def __init__(self, template: str, *, status: int = 400, **params: object):
        self.template = template
        self.status = status
        self.params = params
        super().__init__(template.format(**params))


def sanitise_body(text: str) -> str:
    """The article body with only the allowed markup left: no scripts, styles, event handlers, frames, images or
    javascript: links; links get rel="noopener noreferrer" and may only be http, https or mailto."""
    return nh3.clean(text or "", tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
                     attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()}, url_schemes=set(URL_SCHEMES),
                     url_relative="deny", link_rel="noopener noreferrer", strip_comments=True).strip()


def plain_text(body_html: str) -> str:
    """The text of a body without its markup (for summaries and the notification)."""
    spaced = _BLOCK_END.sub(" ", body_html or "")  # "</p><p>" must not run two sentences together
    return " ".join(html.unescape(nh3.clean(spaced, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))).split())


def paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs (blank lines part them), escaped; text with allowed tags is taken as markup."""
    if _MARKUP.search(text or ""):
        return text
    parts = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in parts)


@dataclass(frozen=True, slots=True)
class Draft:
    """What an author submits; texts unchecked until validated."""

    category: str
    title_en: str = ""
    summary_en: str = ""
    body_en: str = ""
    title_zh: str = ""
    summary_zh: str = ""
    body_zh: str = ""
    districts: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None
    icd10_prefixes: tuple[str, ...] = ()
    publish_at: datetime | None = None  # None: now
    expires_at: datetime | None = None


def _language(draft: Draft, suffix: str, name: str) -> dict[str, str | None]:
    title = getattr(draft, f"title_{suffix}").strip()
    summary = " ".join(getattr(draft, f"summary_{suffix}").split())
    body = getattr(draft, f"body_{suffix}")
    if len(title) > MAX_TITLE:
        raise NewsError(_("The {language} title is longer than {limit} characters."), language=name, limit=MAX_TITLE)
    if len(summary) > MAX_SUMMARY:
        raise NewsError(_("The {language} summary is longer than {limit} characters."), language=name,
                        limit=MAX_SUMMARY)
    if len(body) > MAX_BODY:
        raise NewsError(_("The {language} text is longer than {limit} characters."), language=name, limit=MAX_BODY)
    clean = sanitise_body(body)
    if not (title or summary or plain_text(clean)):
        return {f"title_{suffix}": None, f"summary_{suffix}": None, f"body_{suffix}": None}
    if not title or not plain_text(clean):
        raise NewsError(_("The {language} version needs both a title and a text."), language=name)
    return {f"title_{suffix}": title, f"summary_{suffix}": summary or plain_text(clean)[:200],
            f"body_{suffix}": clean}


def _targeting(draft: Draft) -> dict[str, Any]:
    unknown = sorted(set(draft.districts) - targeting.district_keys())
    if unknown:
        raise NewsError(_("{district} is not a district of the region."), district=unknown[0][:40])
    for age in (draft.age_min, draft.age_max):
        if age is not None and not 0 <= age <= MAX_AGE:
            raise NewsError(_("An age is a whole number from 0 to {limit}."), limit=MAX_AGE)
    if draft.age_min is not None and draft.age_max is not None and draft.age_min > draft.age_max:
        raise NewsError(_("The lowest age is above the highest age."))
    prefixes = [p.strip().upper() for p in draft.icd10_prefixes if p.strip()]
    if len(prefixes) > MAX_PREFIXES:
        raise NewsError(_("Target at most {limit} ICD-10 codes."), limit=MAX_PREFIXES)
    bad = [p for p in prefixes if not _ICD10_PREFIX.fullmatch(p)]
    if bad:
        raise NewsError(_("{code} is not an ICD-10 code or category like E11 or I10."), code=bad[0][:20])
    return {"districts": " ".join(sorted(set(draft.districts))), "age_min": draft.age_min, "age_max": draft.age_max,
            "icd10_prefixes": " ".join(dict.fromkeys(targeting.icd10_key(p) for p in prefixes))}


def validated(draft: Draft, *, now: datetime) -> dict[str, Any]:
    """The row values of a draft: sanitised, checked and with instants written out; NewsError when wrong."""
    if draft.category not in CATEGORIES:
        raise NewsError(_("Choose a category."))
    values = {**_language(draft, "en", "English"), **_language(draft, "zh", "Chinese")}
    if values["title_en"] is None and values["title_zh"] is None:
        raise NewsError(_("Write the article in English, in Chinese, or in both."))
    publish_at = draft.publish_at or now
    if draft.expires_at is not None and draft.expires_at <= max(publish_at, now):
        raise NewsError(_("The expiry must be after the publish time and in the future."))
    if publish_at > now + timedelta(days=366):
        raise NewsError(_("The publish time is more than a year ahead."))
    return {**values, **_targeting(draft), "category": draft.category, "publish_at": format_instant(publish_at),
            "expires_at": format_instant(draft.expires_at) if draft.expires_at else None}


def category_labels(locale: str) -> dict[str, str]:
    """The categories' labels in a language, in the order pages offer them."""
    words = i18n.translations(locale)
    return {key: words.gettext(label) for key, label in CATEGORIES.items()}


def is_authority(ctx: AccessContext) -> bool:
    """True for the health authority's writers (and the platform itself)."""
    return ctx.is_system or bool(ctx.roles & AUTHORITY_ROLES)


def check_author(ctx: AccessContext) -> None:
    """Refuse anyone who may not write news (a hospital administrator needs an organisation)."""
    if is_authority(ctx):
        return
    if not ctx.roles & HOSPITAL_ROLES:
        raise NewsError(_("Only hospital administrators and the health authority write news."), status=403)
    if not ctx.organization:
        raise NewsError(_("Your account belongs to no hospital, so you cannot write news."), status=403)


def may_manage(ctx: AccessContext, article: dict[str, Any]) -> bool:
    """True when ctx may change or withdraw the article: its own hospital's, or any for the health authority."""
    if is_authority(ctx):
        return True
    return bool(ctx.roles & HOSPITAL_ROLES) and bool(ctx.organization) and article["organization"] == ctx.organization


def _schedule_push(conn: Connection, article_id: str, publish_at: str) -> None:
    # One job per publish time: after the time is changed the earlier job finds it different and does nothing.
    enqueue(conn, kind=PUBLISH_JOB, payload={"article": article_id, "publish_at": publish_at},
            run_at=parse_instant(publish_at), key=f"{PUBLISH_JOB}:{article_id}:{publish_at}")


def _audit(conn: Connection, ctx: AccessContext, action: str, article_id: str, what: str) -> None:
    audit.record(conn, ctx=ctx, action=action, subtype="operation", entities=[f"NewsArticle/{article_id}"],
                 purpose="HOPERAT", description=what[:200])


def create_article(conn: Connection, *, ctx: AccessContext, draft: Draft, organization_name: str | None = None,
                   source: str = "console") -> str:
    """Save a new article for ctx's organisation (or the health authority) and schedule its publication; its id."""
    check_author(ctx)
    now = clock.now()
    values = validated(draft, now=now)
    if draft.category == ALERT and not is_authority(ctx):
        raise NewsError(_("Only the health authority issues public-health alerts."), status=403)
    authority = is_authority(ctx)
    article_id = str(uuid.uuid4())
    conn.execute(news_article.insert().values(
        id=article_id, **values, organization=None if authority else ctx.organization,
        organization_name=(AUTHORITY_NAME if authority else (organization_name or ctx.organization or ""))[:200],
        author=ctx.author[:200], source=source[:100], status=SCHEDULED, pushed=None, created=format_instant(now),
        updated=format_instant(now)))
    _schedule_push(conn, article_id, values["publish_at"])
    _audit(conn, ctx, "C", article_id, f"news article {values['category']} for {values['publish_at']}")
    return article_id


def get_article(conn: Connection, *, article_id: str) -> dict[str, Any] | None:
    """One article as stored, or None."""
    row = conn.execute(sa.select(news_article).where(news_article.c.id == article_id[:36])).one_or_none()
    return dict(row._mapping) if row else None


def _managed(conn: Connection, ctx: AccessContext, article_id: str) -> dict[str, Any]:
    check_author(ctx)
    article = get_article(conn, article_id=article_id)
    if article is None or not may_manage(ctx, article):
        raise NewsError(_("There is no such article, or it is not yours to change."), status=404)
    return article


def update_article(conn: Connection, *, ctx: AccessContext, article_id: str, draft: Draft) -> None:
    """Change an article (its own hospital's, or any for the authority); a new publish time is scheduled anew."""
    article = _managed(conn, ctx, article_id)
    if article["status"] == WITHDRAWN:
        raise NewsError(_("A withdrawn article cannot be changed."), status=409)
    if draft.category == ALERT and not is_authority(ctx):
        raise NewsError(_("Only the health authority issues public-health alerts."), status=403)
    now = clock.now()
    if article["status"] == PUBLISHED:
        # Already out: a correction keeps its publish time (it is not a second publication).
        draft = replace(draft, publish_at=parse_instant(article["publish_at"]))
    values = validated(draft, now=now)
    conn.execute(news_article.update().where(news_article.c.id == article["id"])
                 .values(**values, updated=format_instant(now)))
    if article["status"] == SCHEDULED:
        _schedule_push(conn, article["id"], values["publish_at"])
    _audit(conn, ctx, "U", article["id"], f"news article changed ({values['category']})")


def withdraw_article(conn: Connection, *, ctx: AccessContext, article_id: str) -> None:
    """Take an article off the app and the feed (kept for the record)."""
    article = _managed(conn, ctx, article_id)
    if article["status"] == WITHDRAWN:
        return
    now = format_instant(clock.now())
    conn.execute(news_article.update().where(news_article.c.id == article["id"])
                 .values(status=WITHDRAWN, updated=now))
    _audit(conn, ctx, "D", article["id"], "news article withdrawn")


def authored_articles(conn: Connection, *, ctx: AccessContext, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The articles ctx manages, newest publish time first (a hospital's own; all for the authority)."""
    check_author(ctx)
    query = sa.select(news_article).order_by(news_article.c.publish_at.desc(), news_article.c.id).limit(limit)
    if not is_authority(ctx):
        query = query.where(news_article.c.organization == ctx.organization)
    return [dict(r._mapping) for r in conn.execute(query)]


def visible_articles(conn: Connection, *, now: datetime | None = None, category: str | None = None,
                     limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Articles out now (publish time reached, not expired or withdrawn), newest first; targeting not applied."""
    moment = format_instant(now or clock.now())
    query = (sa.select(news_article)
             .where(news_article.c.status != WITHDRAWN, news_article.c.publish_at <= moment,
                    sa.or_(news_article.c.expires_at.is_(None), news_article.c.expires_at > moment))
             .order_by(news_article.c.publish_at.desc(), news_article.c.id).limit(limit))
    if category:
        query = query.where(news_article.c.category == category)
    return [dict(r._mapping) for r in conn.execute(query)]


def is_current(article: dict[str, Any], now: datetime | None = None) -> bool:
    """True while the article is out: published time reached, not expired, not withdrawn."""
    moment = format_instant(now or clock.now())
    return (article["status"] != WITHDRAWN and article["publish_at"] <= moment
            and (article["expires_at"] is None or article["expires_at"] > moment))


def chinese_names(conn: Connection, articles: list[dict[str, Any]]) -> dict[str, str]:
    """The Chinese name (the directory Organization's first alias) of each hospital that wrote one of the articles,
    by its reference: the article keeps only the name it was written under, which is the English one."""
    ids = sorted({ref.removeprefix("Organization/") for a in articles
                  if (ref := a.get("organization") or "").startswith("Organization/")})
    if not ids:
        return {}
    r = tables.resource.c
    rows = conn.execute(sa.select(r.res_id, r.content).where(
        r.res_type == "Organization", r.res_id.in_(ids), r.deleted.is_(False)))
    return {f"Organization/{row.res_id}": alias[0] for row in rows
            if (alias := (row.content or {}).get("alias")) and isinstance(alias[0], str) and alias[0].strip()}


def byline(article: dict[str, Any], locale: str, chinese: Mapping[str, str] | None = None) -> str:
    """Who wrote the article, in the reader's language: the health authority, or the hospital's name (its Chinese
    name from chinese_names for Chinese readers, where the directory has one)."""
    if article["organization"] is None:
        return i18n.translations(locale).gettext(AUTHORITY_NAME)
    if locale == "zh-Hans" and (chinese or {}).get(article["organization"]):
        return chinese[article["organization"]]
    return article["organization_name"]


def localised_all(conn: Connection, articles: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Each article as localised shows it, the hospitals' names looked up once for them all."""
    chinese = chinese_names(conn, articles) if locale == "zh-Hans" else {}
    return [localised(a, locale, chinese) for a in articles]


def localised(article: dict[str, Any], locale: str, chinese: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The article in the reader's language (the other one when it has only that), its body sanitised again;
    chinese gives the writing hospitals' Chinese names (chinese_names) for the byline of Chinese readers."""
    wanted = "zh" if locale == "zh-Hans" else "en"
    suffix = wanted if article.get(f"title_{wanted}") else ("en" if wanted == "zh" else "zh")
    body = sanitise_body(article[f"body_{suffix}"] or "")
    summary = article[f"summary_{suffix}"] or ""
    return {
        "id": article["id"], "category": article["category"], "category_label": CATEGORIES.get(article["category"], ""),
        "title": article[f"title_{suffix}"] or "", "summary": summary, "body": body,
        # The article page leads with the summary unless it is only the text's own beginning (taken when none
        # was written), which would say the same thing twice.
        "lead": "" if plain_text(body).startswith(summary) else summary, "language": "zh-Hans" if suffix == "zh" else "en",
        "translated": suffix == wanted, "publish_at": article["publish_at"], "expires_at": article["expires_at"],
        "updated": article["updated"], "organization_name": byline(article, locale, chinese),
        "authority": article["organization"] is None,
        "alert": article["category"] == ALERT, "public": targeting.is_public(article),
    }


def publish_alert(title_en: str, title_zh: str, body_en: str, body_zh: str, district: str | None = None,
                  source: str = "public-health", *, expires_at: datetime | None = None,
                  conn: Connection | None = None) -> str:
    """Release a public-health (epidemic) alert into the news at once, for the whole region or one district
    (a district key such as "hedong"); bodies are plain text (blank lines part paragraphs) or the allowed markup.
    Runs in conn's transaction, or its own; returns the article id. NewsError when the texts do not fit."""
    draft = Draft(category=ALERT, title_en=title_en, body_en=paragraphs(body_en), title_zh=title_zh,
                  body_zh=paragraphs(body_zh), districts=(district,) if district else (), expires_at=expires_at)
    if conn is not None:
        return create_article(conn, ctx=SYSTEM, draft=draft, source=source)
    with unit_of_work() as own:
        return create_article(own, ctx=SYSTEM, draft=draft, source=source)
