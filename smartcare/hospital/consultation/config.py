"""The online consultation's settings, from SMARTCARE_CONSULTATION_* environment variables."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsultationSettings(BaseSettings):
    """Round-the-clock answering and the limits on photos."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_CONSULTATION_", env_file=".env", extra="ignore")

    # A consultation nobody picked up within this many minutes is offered to the next doctor on duty (and again
    # after as many minutes more, to the one after).
    pickup_minutes: int = 10
    # The on-duty rosters are kept filled this many days ahead by repeating each department's weekly pattern.
    roster_days: int = 7
    # The expected wait is the median of the pick-up waits of this many most recent consultations (last 14 days).
    wait_samples: int = 20
    wait_days: int = 14
    # Photos: the upload's size, its decoded pixels (a decompression bomb is refused before decoding), and the
    # longest side kept (larger photos are scaled down when they are re-encoded).
    photo_max_bytes: int = 8 * 1024 * 1024
    photo_max_pixels: int = 40_000_000
    photo_max_side: int = 2560


@lru_cache(maxsize=1)
def get_settings() -> ConsultationSettings:
    """The process-wide consultation settings, read once."""
    return ConsultationSettings()
