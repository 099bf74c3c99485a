"""The share behind a remote consultation: a FHIR Consent naming the specialists and exactly the records they may
read, until it expires. The access policy (platform/security/policy.py, kind `teleconsult-share`) reads it."""

from datetime import datetime
from typing import Any

from smartcare.platform import clock
from smartcare.platform.security.policy import (
    CONSENT_CATEGORY_SYSTEM,
    CONSENT_SCOPE_PRIVACY,
    CONSENT_SCOPE_SYSTEM,
    TELECONSULT_SHARE,
)

LOCAL = "https://smartcare.example/fhir/"
TELECONSULT_ID_SYSTEM = LOCAL + "teleconsult"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def consent(*, task_id: str, patient: str, requester: str, organization: str | None, records: list[str],
            specialists: list[str], until: datetime) -> dict[str, Any]:
    """A share in force from now until `until` for the specialists, over exactly the records listed."""
    made: dict[str, Any] = {
        "resourceType": "Consent", "status": "active",
        "identifier": [{"system": TELECONSULT_ID_SYSTEM, "value": task_id}],
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": CONSENT_SCOPE_PRIVACY}]},
        "category": [{"coding": [{"system": CONSENT_CATEGORY_SYSTEM, "code": TELECONSULT_SHARE}]}],
        "patient": {"reference": patient}, "dateTime": clock.format_instant(clock.now()),
        "performer": [{"reference": requester}],
        # The treating clinician shares for the patient's treatment (v3-ActReason TREAT), as a consultation needs.
        "policyRule": {"coding": [{"system": ACT_REASON, "code": "TREAT"}],
                       "text": "Records shared by the treating clinician for a remote consultation"},
        "provision": _provision(records, specialists, until),
    }
    if organization:
        made["organization"] = [{"reference": organization}]
    return made


def _provision(records: list[str], specialists: list[str], until: datetime) -> dict[str, Any]:
    return {"type": "permit",
            "period": {"start": clock.format_instant(clock.now()), "end": clock.format_instant(until)},
            "actor": [{"role": {"coding": [{"system": PARTICIPATION, "code": "CON", "display": "consultant"}]},
                       "reference": {"reference": s}} for s in specialists],
            "purpose": [{"system": ACT_REASON, "code": "TREAT"}],
            "data": [{"meaning": "instance", "reference": {"reference": r}} for r in records]}


def widened(share: dict[str, Any], *, specialists: list[str], until: datetime) -> dict[str, Any]:
    """The share with more specialists, lasting until the later of its end and `until`."""
    provision = share["provision"]
    end = max(clock.parse_instant(provision["period"]["end"]), until)
    named = list(dict.fromkeys([*actors(share), *specialists]))
    records = [d["reference"]["reference"] for d in provision.get("data", [])]
    changed = {k: v for k, v in share.items() if k != "meta"}
    changed["provision"] = {**_provision(records, named, end), "period": {**provision["period"],
                                                                         "end": clock.format_instant(end)}}
    return changed


def with_record(share: dict[str, Any], reference: str) -> dict[str, Any]:
    """The share naming one more record (the team's own opinion, so they can read what they answered)."""
    changed = {k: v for k, v in share.items() if k != "meta"}
    data = [*share["provision"].get("data", []), {"meaning": "instance", "reference": {"reference": reference}}]
    return {**changed, "provision": {**share["provision"], "data": data}}


def ended(share: dict[str, Any]) -> dict[str, Any]:
    """The share withdrawn at once (a cancelled consultation)."""
    changed = {k: v for k, v in share.items() if k != "meta"}
    period = {**share["provision"]["period"], "end": clock.format_instant(clock.now())}
    return {**changed, "status": "inactive", "provision": {**share["provision"], "period": period}}


def actors(share: dict[str, Any]) -> list[str]:
    """The specialists the share names."""
    return [a["reference"]["reference"] for a in share.get("provision", {}).get("actor", [])]


def expires(share: dict[str, Any]) -> str:
    """When the share ends (an instant)."""
    return share["provision"]["period"]["end"]


def in_force(share: dict[str, Any]) -> bool:
    """True while the share is active and not past its end."""
    return share.get("status") == "active" and clock.parse_instant(expires(share)) > clock.now()
