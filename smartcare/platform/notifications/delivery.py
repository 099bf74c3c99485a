"""The job that takes one notification to one person over one channel (SMS, e-mail, WeChat ...)."""

from datetime import timedelta

from sqlalchemy.engine import Engine

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, handler
from smartcare.platform.notifications.channels import EMAIL, SMS, Delivery, adapter
from smartcare.platform.notifications.preferences import kind_named
from smartcare.platform.notifications.service import DELIVER_ATTEMPTS, DELIVER_JOB, get_notification
from smartcare.platform.security import users


@handler(DELIVER_JOB, max_attempts=DELIVER_ATTEMPTS, backoff=timedelta(minutes=1), in_transaction=False)
def deliver(engine: Engine, job: Job) -> None:
    """Send the notification over the channel; one deleted since (with its person) needs nothing.

    The channel's gateway (an SMS or mail provider) is called outside any transaction: it may take seconds.
    """
    with unit_of_work(engine) as conn:
        found = get_notification(conn, notification_id=str(job.payload["notification"]))
        if found is None:
            return
        try:
            user = users.get_user(conn, user_id=found["user_id"])
        except users.UserNotFound:
            return
        # In the person's language as it is now (they may have changed it since the notice was written).
        found = get_notification(conn, notification_id=found["id"], locale=user.locale) or found
    channel = str(job.payload["channel"])
    address = {SMS: user.phone, EMAIL: user.email}.get(channel, user.username)
    kind = kind_named(found["kind"])
    adapter(channel)(Delivery(
        notification_id=found["id"], user_id=user.id, channel=channel, address=address, kind=found["kind"],
        title=found["title"], body="" if kind is not None and kind.private_body else found["body"],
        link=found["link"],
    ))
