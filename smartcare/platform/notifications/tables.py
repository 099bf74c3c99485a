"""Notification tables: each person's inbox, which channels they want per kind, and their quiet hours."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

notification = sa.Table(
    "notification",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.String(500)),
    sa.Column("data", sa.JSON),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("read", sa.String(32)),
)
sa.Index("ix_notification_user_created", notification.c.user_id, notification.c.created)

# The channels (space-separated names, e.g. "sms email") a person wants for one kind of notification.
notification_preference = sa.Table(
    "notification_preference",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("channels", sa.String(200), nullable=False),
)

# Quiet hours as local "HH:MM" in the person's time zone; no SMS, e-mail or WeChat then, only the inbox.
notification_settings = sa.Table(
    "notification_settings",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("quiet_start", sa.String(5)),
    sa.Column("quiet_end", sa.String(5)),
    sa.Column("time_zone", sa.String(64), nullable=False),
)
