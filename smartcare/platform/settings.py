"""Settings read from the environment (prefix SMARTCARE_) and an optional .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of one SmartCare process."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/smartcare.db"
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    max_request_bytes: int = 10 * 1024 * 1024
    # Threads that run blocking request work (database calls) in each server process. More only
    # queue on Python's interpreter lock and in the database: bench/booking.py with two processes on
    # two cores booked 218/s with 4 threads each, 183/s with 8 and 130/s with anyio's default of 40.
    # Run more server processes (smartcare serve --workers) for more at once.
    request_threads: int = 4
    default_page_size: int = 20
    max_page_size: int = 1000
    # How verification codes reach people: "log" (development: the code goes to the log) or a registered channel.
    verification_channel: str = "log"
    # Where DICOM instances are kept: empty for files under <data_dir>/dicom, or an S3-compatible bucket as
    # <endpoint>/<bucket>[/<prefix>] (path style), e.g. https://s3.eu-west-1.amazonaws.com/pacs-archive/images.
    dicom_store: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"
    # The region's local time zone: clinic sessions (morning, afternoon) and the dates people see.
    region_timezone: str = "Asia/Shanghai"
    # The region's default for sharing records between its institutions, for residents who have not chosen
    # (fhir/access.py): "opt-in" (nothing another institution sent is shown until the resident agrees) or
    # "opt-out" (shown unless the resident says no). With opt-out, regional_withheld lists the sensitive
    # categories (platform/security/data/sensitivity.yaml) still held back until the resident releases them,
    # comma-separated, e.g. "hiv,mental_health".
    regional_sharing: Literal["opt-in", "opt-out"] = "opt-in"
    regional_withheld: str = ""
    # The notifiable-disease list public health works to: empty for China's 2025 list
    # (knowledge/notifiable/data/china-2025.yaml), or the path of another list in the same shape.
    notifiable_list: str = ""

    @property
    def regional_withheld_categories(self) -> tuple[str, ...]:
        """The categories withheld by default (regional_withheld split on commas)."""
        return tuple(c.strip() for c in self.regional_withheld.split(",") if c.strip())

    @property
    def public_base_url(self) -> str:
        """The URL clients use to reach this server (for Bundle links and Location headers)."""
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
