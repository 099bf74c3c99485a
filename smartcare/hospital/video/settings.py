"""Where video visits find their STUN and TURN servers (SMARTCARE_VIDEO_ICE_SERVERS, SMARTCARE_VIDEO_TURN_SECRET).

On one machine or a LAN the browsers reach each other directly and iceServers stays empty. Across the
internet a STUN server lets them learn their public addresses, and a TURN server (coturn, for example) relays
the media when a firewall or a symmetric NAT stands between them: TURN is a deployment component, like the
database or the MQTT broker, and SmartCare only hands its address and credentials to the two browsers.

SMARTCARE_VIDEO_ICE_SERVERS is a JSON list in the RTCIceServer shape, e.g.
  [{"urls": ["stun:stun.example.org:3478"]},
   {"urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]}]
A TURN entry may carry a fixed username and credential; better, set SMARTCARE_VIDEO_TURN_SECRET to coturn's
static-auth-secret (coturn's use-auth-secret mode) and leave them out: each participant then gets a username
valid for SMARTCARE_VIDEO_TURN_TTL_SECONDS with the credential base64(HMAC-SHA1(secret, username)), the scheme
of coturn's TURN REST API, so nothing long-lived reaches a browser.
"""

import base64
import hashlib
import hmac
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class IceServer(BaseModel):
    """One RTCIceServer: its URLs and, for TURN, the credentials."""

    urls: list[str] = Field(min_length=1, max_length=8)
    username: str | None = Field(default=None, max_length=256)
    credential: str | None = Field(default=None, max_length=256)

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(ICE_SCHEMES) or len(url) > 512:
                raise ValueError(f"an ICE server URL starts with stun:, stuns:, turn: or turns:, not {url[:40]!r}")
        return value

    @property
    def is_turn(self) -> bool:
        """True when any URL is a TURN relay (which needs credentials)."""
        return any(url.startswith(("turn:", "turns:")) for url in self.urls)


class VideoSettings(BaseSettings):
    """STUN/TURN for the browsers of a video visit; empty for loopback and LAN."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_VIDEO_", env_file=".env", extra="ignore")

    ice_servers: list[IceServer] = Field(default_factory=list)
    turn_secret: str = ""
    turn_ttl_seconds: int = Field(default=6 * 3600, ge=300, le=7 * 24 * 3600)


@lru_cache(maxsize=1)
def video_settings() -> VideoSettings:
    """The video settings, read once."""
    return VideoSettings()


def turn_credentials(secret: str, user: str, expires: int) -> tuple[str, str]:
    """A TURN REST API username (expiry:user) and its credential, base64(HMAC-SHA1(secret, username))."""
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(user: str, now: int, settings: VideoSettings | None = None) -> list[dict[str, object]]:
    """The RTCIceServer list handed to one participant's browser (TURN credentials minted when a secret is set)."""
    settings = settings or video_settings()
    found: list[dict[str, object]] = []
    for server in settings.ice_servers:
        entry: dict[str, object] = {"urls": list(server.urls)}
        if server.is_turn and settings.turn_secret and not server.username:
            entry["username"], entry["credential"] = turn_credentials(
                settings.turn_secret, user, now + settings.turn_ttl_seconds)
        elif server.username is not None:
            entry["username"], entry["credential"] = server.username, server.credential or ""
        found.append(entry)
    return found
