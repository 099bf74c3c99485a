"""References inside a Bundle: find them, resolve them to entries, rewrite them (FHIR R4 Bundle rules)."""

import re
from collections.abc import Callable, Iterator
from typing import Any

_HISTORY = re.compile(r"/_history/[^/]+$")
_UUID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OID = re.compile(r"^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$")
_ABSOLUTE = re.compile(r"^https?://[^\s/]+(/[^\s]*)?/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def is_full_url(value: Any) -> bool:
    """True for a fullUrl a document may use: urn:uuid, urn:oid, or an absolute RESTful URL ending Type/id."""
    return isinstance(value, str) and bool(_UUID.match(value) or _OID.match(value) or _ABSOLUTE.match(value))


def walk_references(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Each Reference object (a dict holding a string 'reference') in value, with its path."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield path, value
        for key, item in value.items():
            if key != "contained":  # contained resources refer to each other with '#id', inside the resource
                yield from walk_references(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk_references(item, f"{path}[{i}]")


def type_and_id(reference: str) -> tuple[str, str] | None:
    """(type, id) of a relative or absolute RESTful reference, version dropped; None for urn: and '#' ones."""
    plain = _HISTORY.sub("", reference)
    m = _RELATIVE.match(plain) or _ABSOLUTE.match(plain)
    if m is None:
        return None
    return (m.group(1), m.group(2)) if m.re is _RELATIVE else (m.group(2), m.group(3))


class Resolver:
    """Resolves references in a Bundle's entries to entry indexes, as FHIR R4 section 2.36.4 describes.

    An absolute reference (urn:uuid, http...) matches a fullUrl; a relative one (Type/id) is taken against
    the referring entry's base when its fullUrl is a RESTful URL, and otherwise matches the entry whose
    resource has that type and id.
    """

    def __init__(self, entries: list[Any]):
        self.by_url: dict[str, int] = {}
        self.by_key: dict[tuple[str, str], int] = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            url = entry.get("fullUrl")
            if isinstance(url, str):
                self.by_url.setdefault(url, i)
            resource = entry.get("resource")
            if isinstance(resource, dict) and isinstance(resource.get("id"), str):
                self.by_key.setdefault((str(resource.get("resourceType")), resource["id"]), i)

    def resolve(self, reference: str, referrer_url: Any = None) -> int | None:
        """The index of the entry reference points at, or None if the Bundle does not hold it."""
        if reference.startswith("#"):
            return None
        plain = _HISTORY.sub("", reference)
        if plain in self.by_url:
            return self.by_url[plain]
        key = type_and_id(plain)
        if key is None or not _RELATIVE.match(plain):
            return None
        if isinstance(referrer_url, str) and _ABSOLUTE.match(referrer_url):
            referrer = type_and_id(referrer_url)
            if referrer is not None:
                base = referrer_url[: -len(f"{referrer[0]}/{referrer[1]}")]
                found = self.by_url.get(base + plain)
                if found is not None:
                    return found
        return self.by_key.get(key)


def rewrite_references(value: Any, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Any:
    """A copy of value with each Reference replaced by change(reference) (None leaves it as it was)."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            changed = change(value)
            if changed is not None:
                return changed
        return {k: (v if k == "contained" else rewrite_references(v, change)) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_references(v, change) for v in value]
    return value
