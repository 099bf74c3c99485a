"""The publication job: at an article's publish time it is marked published and the patients it targets are told
(an inbox notice pushed live to their open pages; news never goes out by SMS, e-mail or WeChat)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.patient.news import service, targeting
from smartcare.patient.news.models import news_article
from smartcare.patient.news.readers import reader_for
from smartcare.platform import clock, i18n
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.jobs import Job, handler
from smartcare.platform.notifications import notify
from smartcare.platform.security.tables import user_account

# Not declared with notification_kind: an undeclared kind has no channels a person could choose, so news stays
# in the inbox and the live push. Alerts have a kind of their own so pages can show them prominently.
NEWS_KIND = "news"
ALERT_KIND = "news.alert"
_NOTICE_BODY = 300


def _patient_accounts(conn: Connection) -> list[tuple[str, str, str]]:
    """(user id, locale, Patient reference) of every unlocked patient account linked to a record."""
    rows = conn.execute(sa.select(user_account.c.id, user_account.c.locale, user_account.c.fhir_ref)
                        .where(user_account.c.role == "patient", user_account.c.fhir_ref.like("Patient/%"))
                        .order_by(user_account.c.id))
    return [(r.id, r.locale or i18n.DEFAULT_LOCALE, r.fhir_ref) for r in rows]


def readers_of(conn: Connection, article: dict[str, Any]) -> list[tuple[str, str]]:
    """(user id, locale) of the patient accounts the article targets."""
    public = targeting.is_public(article)
    needs_conditions = bool((article.get("icd10_prefixes") or "").split())
    found = []
    for user_id, locale, patient_ref in _patient_accounts(conn):
        if not public:
            reader = reader_for(conn, patient_ref, conditions_needed=needs_conditions)
            if reader is None or not targeting.reaches(article, reader):
                continue
        found.append((user_id, locale))
    return found


def publish(conn: Connection, *, article_id: str, publish_at: str) -> int:
    """Publish the article if it is still due at publish_at, and tell its readers; how many were told."""
    article = service.get_article(conn, article_id=article_id)
    now = clock.now()
    if (article is None or article["status"] != service.SCHEDULED or article["publish_at"] != publish_at
            or parse_instant(publish_at) > now):
        return 0
    conn.execute(news_article.update()
                 .where(news_article.c.id == article_id, news_article.c.status == service.SCHEDULED)
                 .values(status=service.PUBLISHED, pushed=format_instant(now)))
    if not service.is_current(article, now):
        return 0  # expired before it could go out: nobody is told of it
    told = 0
    for user_id, locale in readers_of(conn, article):
        shown = service.localised(article, locale)
        notify(conn, user_id=user_id, kind=ALERT_KIND if shown["alert"] else NEWS_KIND,
               title=shown["title"][:200], body=shown["summary"][:_NOTICE_BODY], link=f"/app/news/{article_id}",
               data={"article": article_id, "category": article["category"]})
        told += 1
    return told


@handler(service.PUBLISH_JOB, max_attempts=5)
def publish_due(conn: Connection, job: Job) -> None:
    """Publish an article at its time (the job runs then); one changed, withdrawn or already out is left as it is."""
    publish(conn, article_id=str(job.payload["article"]), publish_at=str(job.payload["publish_at"]))
