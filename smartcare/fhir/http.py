"""Transport-neutral FHIR requests and responses, shared by the REST API and bundle entries."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode


@dataclass(slots=True)
class FhirRequest:
    """One FHIR interaction as asked: method, path below the base (e.g. 'Patient/1'), query, headers, body."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: Any = None
    base_url: str = ""

    def header(self, name: str) -> str | None:
        """A request header by lower-case name."""
        return self.headers.get(name)

    def query_string(self, drop: tuple[str, ...] = ()) -> str:
        """The query re-encoded, leaving out the named parameters."""
        return urlencode([(k, v) for k, v in self.query if k not in drop])

    @property
    def prefer(self) -> dict[str, str]:
        """The Prefer header as a dict (return=minimal, handling=strict, respond-async ...)."""
        out: dict[str, str] = {}
        for part in (self.header("prefer") or "").split(","):
            key, _, value = part.strip().partition("=")
            if key:
                out[key.strip()] = value.strip().strip('"')
        return out


@dataclass(slots=True)
class FhirResponse:
    """The outcome of one interaction: status, optional resource body, headers."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # A file streamed as the body (Bulk Data NDJSON), with its media type.
    file: Path | None = None
    media_type: str | None = None
