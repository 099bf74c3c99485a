"""Notifications: each person's inbox, live push to their browsers, and delivery over SMS, e-mail and WeChat."""

from smartcare.platform.notifications.channels import Delivery, register_channel
from smartcare.platform.notifications.preferences import notification_kind
from smartcare.platform.notifications.service import NotificationError, notify

__all__ = ["Delivery", "NotificationError", "notification_kind", "notify", "register_channel"]
