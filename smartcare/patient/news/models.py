"""The table of health news: articles and announcements by hospitals and the health authority.

Kept outside FHIR: an article is public information with its own lifecycle (scheduled, published, withdrawn),
not a clinical fact about a patient. Bodies are stored already sanitised (service.sanitise_body); pages
sanitise again when they render, so a row written by anything else still cannot carry a script.
Instants are stored as clock.format_instant writes them, so they compare as text in SQL.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

news_article = sa.Table(
    "news_article",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("category", sa.String(32), nullable=False),
    # Either language may be missing (NULL); an article has at least one complete version.
    sa.Column("title_en", sa.String(200)),
    sa.Column("summary_en", sa.String(500)),
    sa.Column("body_en", sa.Text),
    sa.Column("title_zh", sa.String(200)),
    sa.Column("summary_zh", sa.String(500)),
    sa.Column("body_zh", sa.Text),
    # Targeting; all empty means every reader (a public article, in the Atom feed and for signed-out visitors).
    sa.Column("districts", sa.String(200), nullable=False),  # district keys of the demo region, space-separated
    sa.Column("age_min", sa.Integer),
    sa.Column("age_max", sa.Integer),
    sa.Column("icd10_prefixes", sa.String(200), nullable=False),  # e.g. "E11 I10", space-separated
    # Who wrote it: a hospital (Organization/<id>) or the health authority (NULL organization).
    sa.Column("organization", sa.String(100)),
    sa.Column("organization_name", sa.String(200), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),  # the writer's audit name, kind/username
    sa.Column("source", sa.String(100), nullable=False),  # "console", or the module that released it
    sa.Column("status", sa.String(16), nullable=False),  # scheduled, published, withdrawn
    sa.Column("publish_at", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32)),
    sa.Column("pushed", sa.String(32)),  # when the publication job told the readers it targets
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
)
sa.Index("ix_news_article_publish", news_article.c.publish_at)
sa.Index("ix_news_article_organization", news_article.c.organization)
