"""Health news: articles and announcements by hospitals and the health authority, with their targeting

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "news_article",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=True),
        sa.Column("summary_en", sa.String(500), nullable=True),
        sa.Column("body_en", sa.Text(), nullable=True),
        sa.Column("title_zh", sa.String(200), nullable=True),
        sa.Column("summary_zh", sa.String(500), nullable=True),
        sa.Column("body_zh", sa.Text(), nullable=True),
        sa.Column("districts", sa.String(200), nullable=False),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("icd10_prefixes", sa.String(200), nullable=False),
        sa.Column("organization", sa.String(100), nullable=True),
        sa.Column("organization_name", sa.String(200), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("publish_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("pushed", sa.String(32), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_news_article_publish", "news_article", ["publish_at"])
    op.create_index("ix_news_article_organization", "news_article", ["organization"])


def downgrade() -> None:
    op.drop_index("ix_news_article_organization", table_name="news_article")
    op.drop_index("ix_news_article_publish", table_name="news_article")
    op.drop_table("news_article")
