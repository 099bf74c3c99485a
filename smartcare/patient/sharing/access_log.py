"""'Who opened my record' in plain words: the audit trail's entries about one person, read for people, not auditors.

Pure functions over the entries `platform.audit.events_for_patient` returns: who (the person
themselves, a role at an organisation, a share link by its label, the platform), what was done
to which kinds of record, why (purpose of use; break-the-glass flagged with its reason), and
whether it was refused. Raw user names and ids are left out on purpose. The entries of the person's own side (their
own account, and the family accounts looking after the record) fold into one line a day (own_side_days).
"""

from typing import Any

from smartcare.platform import clock
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
         org_names: dict[str, str], own_side_of: str | None = None) -> dict[str, Any]:
    agents = event.get("agent") or [{}]
    first = agents[0]
    author = (first.get("who") or {}).get("display", "")
    kind, _, name = author.partition("/")
    if first.get("altId") == viewer_id or (viewer_ref and (first.get("who") or {}).get("reference") == viewer_ref):
        return {"kind": "you"}
    if own_side_of:
        # The person themselves (when someone who looks after them reads the page), or a family account.
        return {"kind": "self" if (first.get("who") or {}).get("reference") == own_side_of else "family"}
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
                  link_labels: dict[str, str], org_names: dict[str, str],
                  own_side_of: str | None = None) -> list[dict[str, Any]]:
    """The entries as rows for the page: recorded, who, what (subtype and kinds), why, emergency, refused.

    own_side_of (the person's Patient reference) names the agents of own-side entries as "you", "self" or "family".
    """
    rows = []
    for entry in entries:
        event = entry["event"]
        purposes, reason = _why(event)
        rows.append({
            "seq": entry.get("seq"),
            "recorded": entry["recorded"],
            "who": _who(event, viewer_id=viewer_id, viewer_ref=viewer_ref, link_labels=link_labels,
                        org_names=org_names, own_side_of=own_side_of),
            "what": entry["subtype"],
            "kinds": _kinds(event),
            "purposes": [p for p in purposes if p != "BTG"],
            "emergency": "BTG" in purposes,
            "reason": reason[:300],
            "refused": entry["outcome"] != "0",
        })
    return rows


def own_side_days(times: list[tuple[int, str, str]], *, viewer_agent: str) -> list[dict[str, Any]]:
    """The own side's entries ((entry number, recorded, agent), newest first) folded into one line a day, newest
    first: the region's day, how many entries, whether all were the viewer's own, and their entry numbers."""
    days: dict[str, dict[str, Any]] = {}
    for seq, recorded, agent in times:
        day = clock.wall_clock(recorded)[:10]
        line = days.setdefault(day, {"day": day, "count": 0, "only_you": True, "seqs": []})
        line["count"] += 1
        line["only_you"] = line["only_you"] and agent == viewer_agent
        line["seqs"].append(seq)
    return list(days.values())
