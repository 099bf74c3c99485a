"""`smartcare check`: is this deployment, as its environment describes it, able to run? One finding a check, each
saying what is wrong and how to put it right."""

import logging
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from smartcare.platform.settings import Settings

# The platform's secret keys (security/keys.py): environment variable, file under <data_dir>/keys, what it protects.
PLATFORM_KEYS = (
    ("SMARTCARE_TOKEN_KEY", "token-signing.key", "signs access tokens and sessions"),
    ("SMARTCARE_FIELD_KEY", "field-encryption.key", "encrypts sealed fields"),
    ("SMARTCARE_VERIFICATION_KEY", "verification-code.key", "keys verification codes"),
    ("SMARTCARE_KIOSK_KEY", "kiosk.key", "keys the check-in kiosk codes"),
)
MIN_KEY_BYTES = 16
PROBE_TIMEOUT_SECONDS = 3


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: what was checked, whether it passed, what was seen, and the fix when it did not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The finding as one line: OK or FAIL, the name, what was seen and, on a failure, the fix."""
        text = f"{'OK  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text} -> {self.fix}"

    def as_json(self) -> dict[str, str | bool]:
        """The finding for /readyz (no fix: a load balancer reads it, an operator runs `smartcare check`)."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def shown_url(url: str) -> str:
    """A database or broker URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads (amqp://, a typo): hide what looks like user:password@
        scheme, sep, rest = url.partition("://")
        if "@" in rest:
            rest = "***@" + rest.rsplit("@", 1)[1]
        return f"{scheme}{sep}{rest}"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text.splitlines()[0][:200] if text else type(exc).__name__


def check_database(engine: Engine, url: str) -> Check:
    """The database answers a query."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # each driver raises its own errors
        return Check("database", False, f"{shown_url(url)} does not answer: {_reason(exc)}",
                     "start the database, or set SMARTCARE_DATABASE_URL to the right one")
    return Check("database", True, f"{shown_url(url)} answers")


@lru_cache(maxsize=1)
def head_revisions() -> tuple[str, ...]:
    """The newest migration revision(s) this code ships."""
    # Alembic announces each plugin it sets up at INFO: on a server's first /readyz that is not news.
    chatter = logging.getLogger("alembic.runtime.plugins")
    level = chatter.level
    chatter.setLevel(logging.WARNING)
    try:
        from alembic.script import ScriptDirectory

        from smartcare.platform.migrate import MIGRATIONS

        return tuple(sorted(ScriptDirectory(str(MIGRATIONS)).get_heads()))
    finally:
        chatter.setLevel(level)


def check_schema(engine: Engine) -> Check:
    """The schema is at the newest migration."""
    head = ", ".join(head_revisions())
    try:
        # Alembic's own table read directly: its MigrationContext logs on each use, and /readyz is polled.
        with engine.connect() as conn:
            revisions = (conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
                         if sa.inspect(conn).has_table("alembic_version") else [])
            current = ", ".join(sorted(revisions)) or "none"
    except Exception as exc:
        return Check("schema", False, f"the revision could not be read: {_reason(exc)}",
                     "make the database reachable, then run `smartcare db upgrade`")
    if current != head:
        return Check("schema", False, f"at revision {current}, the newest is {head}", "run `smartcare db upgrade`")
    return Check("schema", True, f"at the newest revision {head}")


def check_broker(url: str) -> Check:
    """The job queue's broker (SMARTCARE_QUEUE_URL) accepts a connection."""
    import kombu

    shown = shown_url(url)
    connection = kombu.Connection(url, connect_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # kombu raises the transport's own errors
        return Check("job broker", False, f"{shown} is unreachable: {_reason(exc)}",
                     "start the broker, or correct SMARTCARE_QUEUE_URL (empty: jobs run from the database)")
    finally:
        connection.release()
    return Check("job broker", True, f"{shown} answers")


def check_live_redis() -> Check | None:
    """The Redis that live events travel over between server processes answers (None when none is configured)."""
    import redis

    from smartcare.platform.live_fanout import LiveConfigError, live_url

    try:
        url = live_url()
    except LiveConfigError as exc:
        return Check("live fan-out", False, str(exc), "set SMARTCARE_LIVE_URL to a redis:// URL, or leave it empty")
    if not url:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                                  socket_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return Check("live fan-out", False, f"Redis at {shown_url(url)} is unreachable: {_reason(exc)}",
                     "start Redis, or correct SMARTCARE_LIVE_URL (or the redis:// SMARTCARE_QUEUE_URL it falls back to)")
    finally:
        client.close()
    return Check("live fan-out", True, f"Redis at {shown_url(url)} answers")


def check_writable(name: str, directory: Path, setting: str) -> Check:
    """directory exists (or can be made) and a file can be written in it and removed again."""
    probe = directory / f".smartcare-check-{uuid.uuid4().hex}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as exc:
        return Check(name, False, f"{directory} is not writable: {exc.strerror or _reason(exc)}",
                     f"give the server's user write access to {directory}, or set {setting} to a writable directory")
    return Check(name, True, f"{directory} is writable")


def check_dicom_store(settings: Settings) -> Check:
    """Where DICOM instances go: a writable folder, or an S3 bucket with credentials."""
    if not settings.dicom_store:
        return check_writable("DICOM store", Path(settings.data_dir) / "dicom", "SMARTCARE_DATA_DIR")
    missing = [name for name, value in (("SMARTCARE_S3_ACCESS_KEY_ID", settings.s3_access_key_id),
                                        ("SMARTCARE_S3_SECRET_ACCESS_KEY", settings.s3_secret_access_key)) if not value]
    if not settings.dicom_store.startswith(("http://", "https://")):
        return Check("DICOM store", False, "SMARTCARE_DICOM_STORE is not an http(s):// bucket URL",
                     "set it to <endpoint>/<bucket>[/<prefix>], or leave it empty for files under the data directory")
    if missing:
        return Check("DICOM store", False, f"the S3 bucket needs {' and '.join(missing)}", f"set {', '.join(missing)}")
    return Check("DICOM store", True, f"S3 bucket {settings.dicom_store} with credentials (not probed)")


def check_key(env_var: str, file_name: str, purpose: str, data_dir: Path) -> Check:
    """A platform key: a valid one in env_var, a valid file, or none yet where the server can make one."""
    name = f"key {env_var}"
    configured = os.environ.get(env_var)
    if configured:
        try:
            valid = len(bytes.fromhex(configured)) >= MIN_KEY_BYTES
        except ValueError:
            valid = False
        if not valid:
            return Check(name, False, f"{env_var} is not a hex key of at least {MIN_KEY_BYTES} bytes ({purpose})",
                         f"set {env_var} to 64 hex digits, e.g. from `python -c 'import secrets; "
                         "print(secrets.token_hex(32))'`")
        return Check(name, True, f"from {env_var} ({purpose})")
    file = data_dir / "keys" / file_name
    if file.exists():
        try:
            valid = len(bytes.fromhex(file.read_text().strip())) >= MIN_KEY_BYTES
        except (OSError, ValueError):
            valid = False
        if not valid:
            return Check(name, False, f"{file} is unreadable or not a hex key ({purpose})",
                         f"restore the file from a backup, or set {env_var}; a new key ends what the old one signed")
        return Check(name, True, f"from {file} ({purpose})")
    made = check_writable(name, file.parent, "SMARTCARE_DATA_DIR")
    if not made.ok:
        return Check(name, False, f"neither {env_var} nor {file} exists, and {made.detail}",
                     f"set {env_var} (64 hex digits), or make {file.parent} writable")
    return Check(name, True, f"made in {file} on first use ({purpose}); set {env_var} to share it between hosts")


def readiness_checks(engine: Engine) -> list[Check]:
    """What /readyz asks: the database answers and is migrated."""
    from smartcare.platform.settings import get_settings

    database = check_database(engine, get_settings().database_url)
    return [database, check_schema(engine)] if database.ok else [database]


def deployment_checks(settings: Settings, engine: Engine) -> list[Check]:
    """Every check of `smartcare check`, in order."""
    from smartcare.platform.jobs.backends import queue_url

    database = check_database(engine, settings.database_url)
    found = [database]
    if database.ok:
        found.append(check_schema(engine))
    broker = queue_url().strip()
    found.append(check_broker(broker) if broker else Check("job broker", True, "none configured: jobs run from "
                                                                                "the database"))
    live = check_live_redis()
    found.append(live or Check("live fan-out", True, "none configured: live events stay in each process"))
    found.append(check_writable("data directory", Path(settings.data_dir), "SMARTCARE_DATA_DIR"))
    found.append(check_dicom_store(settings))
    found += [check_key(env, file, purpose, Path(settings.data_dir)) for env, file, purpose in PLATFORM_KEYS]
    return found
