"""'Who opened my record' in plain words: the audit trail's entries about one person, read for people, not auditors.

Pure functions over the entries `platform.audit.events_for_patient` returns: who (the person
themselves, a role at an organisation, a share link by its label, the platform), what was done
to which kinds of record, why (purpose of use; break-the-glass flagged with its reason), and
whether it was refused. Raw user names and ids are left out on purpose.
"""

from typing import Any

from smartcare.platform.audit.service import ACT_REASON
from smartcare.platform.security.policy import SHARE_LINK_KIND

_PERSON_ROLE = "1"  # AuditEvent.entity.role code of the patient entity (object-role 1 Patient)


def organization_refs(entries: list[dict[str, Any]]) -> list[str]:
    """The organisations the entries' agents acted for (the second agent's reference), each once."""
    found: dict[str, None] = {}
    for entry in entries:
        for agent in entry["event"].get("agent", [])[1:]:
            ref = (agent.get("who") or {}).get("reference", "")
            if ref.startswith("Organization/"):
                found[ref] = None
    return list(found)


def _who(event: dict[str, Any], *, viewer_id: str, viewer_ref: str | None, link_labels: dict[str, str],
         org_names: dict[str, str]) -> dict[str, Any]:
    agents = event.get("agent") or [{}]
    first = agents[0]
    author = (first.get("who") or {}).get("display", "")
    kind, _, name = author.partition("/")
    if first.get("altId") == viewer_id or (viewer_ref and (first.get("who") or {}).get("reference") == viewer_ref):
        return {"kind": "you"}
    if kind == SHARE_LINK_KIND:
        return {"kind": "share", "label": link_labels.get(name, "")}
    if kind == "system":
        return {"kind": "system"}
    if kind in ("client", "device"):
        return {"kind": kind, "name": name[:80]}
    roles = [r.get("text", "") for r in first.get("role", [])]
    org = next(((a.get("who") or {}).get("reference") for a in agents[1:]), None)
    return {"kind": "user", "role": roles[0] if roles else "", "organization": org_names.get(org or "", "")}


def _kinds(event: dict[str, Any]) -> list[str]:
    """The kinds of record an entry touched (Observation, Condition ...), each once, in order."""
    kinds: dict[str, None] = {}
    for entity in event.get("entity", []):
        if (entity.get("role") or {}).get("code") == _PERSON_ROLE:
            continue
        ref = (entity.get("what") or {}).get("reference", "")
        if "/" in ref:
            kinds[ref.split("/", 1)[0]] = None
        elif entity.get("description"):
            kinds[entity["description"].split("?", 1)[0].strip("/").split("/", 1)[0]] = None
    return [k for k in kinds if k]


def _why(event: dict[str, Any]) -> tuple[list[str], str]:
    codes, reason = [], ""
    for purpose in event.get("purposeOfEvent", []):
        codes += [c["code"] for c in purpose.get("coding", []) if c.get("system") == ACT_REASON and c.get("code")]
        reason = reason or purpose.get("text", "")
    return codes, reason


def plain_entries(entries: list[dict[str, Any]], *, viewer_id: str, viewer_ref: str | None,
                  link_labels: dict[str, str], org_names: dict[str, str]) -> list[dict[str, Any]]:
    """The entries as rows for the page: recorded, who, what (subtype and kinds), why, emergency, refused."""
    rows = []
    for entry in entries:
        event = entry["event"]
        purposes, reason = _why(event)
        rows.append({
            "recorded": entry["recorded"],
            "who": _who(event, viewer_id=viewer_id, viewer_ref=viewer_ref, link_labels=link_labels,
                        org_names=org_names),
            "what": entry["subtype"],
            "kinds": _kinds(event),
            "purposes": [p for p in purposes if p != "BTG"],
            "emergency": "BTG" in purposes,
            "reason": reason[:300],
            "refused": entry["outcome"] != "0",
        })
    return rows
