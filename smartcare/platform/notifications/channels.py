"""Delivery channels beyond the inbox (SMS, e-mail, WeChat ...): a registry of adapters, with development
adapters that write each message to the log "smartcare.notifications"."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("smartcare.notifications")

SMS, EMAIL, WECHAT = "sms", "email", "wechat"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification on its way to one person over one channel."""

    notification_id: str
    user_id: str
    channel: str
    address: str | None
    kind: str
    title: str
    body: str
    link: str | None


ChannelAdapter = Callable[[Delivery], None]
_adapters: dict[str, ChannelAdapter] = {}


def register_channel(name: str, adapter: ChannelAdapter) -> None:
    """Send name's deliveries through adapter (replacing the one before, e.g. the development one)."""
    _adapters[name] = adapter


def channel_names() -> list[str]:
    """Every channel a person can choose, in registration order."""
    return list(_adapters)


def adapter(name: str) -> ChannelAdapter:
    """The adapter of a channel; LookupError for one nobody registered."""
    try:
        return _adapters[name]
    except KeyError:
        raise LookupError(f"no notification channel {name[:40]!r} is registered") from None


def _masked(address: str | None) -> str:
    if not address:
        return "no address"
    return address[:2] + "***" + address[-2:] if len(address) > 6 else "***"


def _log_adapter(name: str) -> ChannelAdapter:
    def write_to_log(delivery: Delivery) -> None:
        log.info("%s to user %s (%s): %s — %s%s", name, delivery.user_id, _masked(delivery.address), delivery.title,
                 delivery.body, f" [{delivery.link}]" if delivery.link else "")

    return write_to_log


for _name in (SMS, EMAIL, WECHAT):
    register_channel(_name, _log_adapter(_name))
