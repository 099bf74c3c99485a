"""Logging for operators: an optional JSON line per record (SMARTCARE_LOG_FORMAT=json) and the request id of the
HTTP request being served on every record written while serving it."""

import logging
import os
import time
from contextvars import ContextVar

import orjson

LOG_FORMAT_ENV = "SMARTCARE_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "smartcare.access"
# The fields an access line adds (ops/http.py passes them as `extra`); never the raw path, query, headers or body.
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")

request_id: ContextVar[str | None] = ContextVar("smartcare_request_id", default=None)


def json_wanted() -> bool:
    """Whether SMARTCARE_LOG_FORMAT asks for JSON lines."""
    return os.environ.get(LOG_FORMAT_ENV, "").strip().lower() == "json"


class RequestIdFilter(logging.Filter):
    """Puts the request id of the request being served (or None) on every record, as record.request_id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, the access fields of an
    access line, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line, default=str).decode()


def make_handler(*, json: bool | None = None) -> logging.Handler:
    """A stderr handler in the configured format, with the request id filter."""
    handler = logging.StreamHandler()
    wanted = json_wanted() if json is None else json
    handler.setFormatter(JsonFormatter() if wanted else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at level in the format SMARTCARE_LOG_FORMAT names (text, or json); does nothing when the
    root logger already has a handler (a second call, or a test runner's own)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler())
    root.setLevel(level)


def uvicorn_log_config() -> dict | None:
    """What `smartcare serve` gives uvicorn as log_config: None in JSON mode (uvicorn's loggers then write through
    ours), else uvicorn's own configuration. Its access log is always off: ours logs the route template, not the
    raw path and query string."""
    if json_wanted():
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
