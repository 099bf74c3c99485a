"""Whether a Patient in an imported Bundle is the person the import is for (identifiers, name, birth date)."""

import unicodedata
from typing import Any


def _identifiers(patient: dict[str, Any]) -> set[tuple[str, str]]:
    return {(str(i.get("system")), str(i.get("value"))) for i in patient.get("identifier") or ()
            if isinstance(i, dict) and i.get("system") and i.get("value")}


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def name_keys(patient: dict[str, Any]) -> set[str]:
    """Each way the patient's names may be written, squashed: text, given+family and family+given."""
    keys: set[str] = set()
    for name in patient.get("name") or ():
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str):
            keys.add(_squash(name["text"]))
        given = "".join(g for g in name.get("given") or () if isinstance(g, str))
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        if given or family:
            keys.add(_squash(given + family))
            keys.add(_squash(family + given))
    return {k for k in keys if k}


def mismatch(local: dict[str, Any], incoming: dict[str, Any]) -> str | None:
    """Why incoming may be another person than local, or None when they are shown to be the same.

    The same person has no conflicting birth date or identifier (same system, other value), and shares
    an identifier, or a name and a birth date. Anything less is not enough to add records to someone's file.
    """
    born, incoming_born = local.get("birthDate"), incoming.get("birthDate")
    if born and incoming_born and born != incoming_born:
        return "the birth date differs"
    ours, theirs = _identifiers(local), _identifiers(incoming)
    systems = {s for s, _ in ours} & {s for s, _ in theirs}
    for system in sorted(systems):
        if {v for s, v in ours if s == system}.isdisjoint({v for s, v in theirs if s == system}):
            return f"the identifier of system {system[:80]} differs"
    if ours & theirs:
        return None
    names, incoming_names = name_keys(local), name_keys(incoming)
    if names and incoming_names and names.isdisjoint(incoming_names):
        return "the name differs"
    if names & incoming_names and born and born == incoming_born:
        return None
    return "the Bundle's patient cannot be matched by identifier, or by name and birth date"
