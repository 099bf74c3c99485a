"""A resident's choices about regional sharing, kept as FHIR Consents the access policy enforces in SQL.

What a resident decides (`Choices`):
- whether the region's institutions may see what the others sent at all (`share`);
- which sensitive categories (mental health, substance use, HIV, sexual health) stay with the institution that
  recorded them (`withheld`, platform/security/data/sensitivity.yaml);
- per institution, whose records it may not see (`blocked`: recipient -> the senders held back from it).

How they are stored (the shapes fhir/access.py reads, policy.py describes the kinds), all of category
`regional-sharing`, scope patient-privacy, one set per resident with fixed ids so a change is a new version and the
history keeps every earlier choice:
- `rs-<patient>`: provision.type permit (share) or deny (share nothing), policyRule OPTIN or OPTOUT;
- `rs-<patient>-labels`: provision.type deny with provision.securityLabel, one per withheld label (inactive when
  nothing is withheld);
- `rs-<patient>-to-<organisation>`: provision.type deny naming the recipient in provision.actor (role IRCP,
  information recipient) and each sender held back from it in provision.data (meaning authoredby).
A rule no longer wanted is made `inactive`, never deleted. Emergency access (break-the-glass) still opens the whole
record, flagged and audited (platform/security/break_glass.py); the resident sees it among who opened the record.

Everything is read and written through the FHIR gateway with the resident's own access context, so the access
policy decides (a patient writes Consents about themselves only) and every change is audited.
"""

from dataclasses import dataclass, field

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.security import sensitivity
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import (
    CONSENT_CATEGORY_SYSTEM,
    CONSENT_SCOPE_PRIVACY,
    CONSENT_SCOPE_SYSTEM,
    REGIONAL_SHARING,
)
from smartcare.platform.settings import get_settings

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVIDER_TYPE = "prov"  # Organization.type of the region's institutions (hospitals and health centres)


class ChoiceProblem(ValueError):
    """The choices asked for cannot be stored (an unknown institution or category)."""


@dataclass(frozen=True, slots=True)
class Institution:
    id: str
    name: str
    name_zh: str


@dataclass(slots=True)
class Choices:
    share: bool
    withheld: list[str] = field(default_factory=list)  # category names
    blocked: dict[str, list[str]] = field(default_factory=dict)  # recipient org id -> sender org ids
    chosen: bool = False  # False: nothing stored yet, the region's default is shown

    def sees(self, recipient: str, sender: str) -> bool:
        """True when recipient may see what sender recorded (sharing on and the pair not blocked)."""
        return self.share and (recipient == sender or sender not in self.blocked.get(recipient, ()))


def institutions(ctx: AccessContext) -> list[Institution]:
    """The region's institutions (Organizations of type prov), by name: directory records every caller reads."""
    found = gateway.search(ctx, "Organization", [("type", PROVIDER_TYPE), ("_count", "200"), ("_sort", "name")])
    return [Institution(o["id"], str(o.get("name") or o["id"]), str((o.get("alias") or [o.get("name") or ""])[0]))
            for o in found if o.get("active", True)]


def default_choices() -> Choices:
    """What the region's policy gives a resident who has not chosen (settings.regional_sharing)."""
    settings = get_settings()
    if settings.regional_sharing == "opt-out":
        return Choices(share=True, withheld=list(settings.regional_withheld_categories))
    return Choices(share=False)


def _ids(patient_id: str) -> tuple[str, str, str]:
    base = f"rs-{patient_id}"
    return base, f"{base}-labels", f"{base}-to-"


def _categories_of(labels: set[str]) -> list[str]:
    return [name for name, codes in sensitivity.categories().items() if set(codes) <= labels]


def current(ctx: AccessContext, patient_id: str) -> Choices:
    """The resident's choices as stored (or the region's default when none are)."""
    base_id, labels_id, to_prefix = _ids(patient_id)
    found = gateway.search(ctx, "Consent", [("patient", f"Patient/{patient_id}"), ("status", "active"),
                                            ("category", f"{CONSENT_CATEGORY_SYSTEM}|{REGIONAL_SHARING}"),
                                            ("_count", "200")])
    by_id = {c["id"]: c for c in found}
    base = by_id.get(base_id)
    if base is None:
        return default_choices()
    choices = Choices(share=(base.get("provision") or {}).get("type") == "permit", chosen=True)
    labels = by_id.get(labels_id)
    if labels:
        choices.withheld = _categories_of({s.get("code") for s in labels["provision"].get("securityLabel") or ()})
    for cid, consent in by_id.items():
        if not cid.startswith(to_prefix):
            continue
        provision = consent.get("provision") or {}
        recipients = [a["reference"]["reference"].removeprefix("Organization/") for a in provision.get("actor") or ()]
        senders = [d["reference"]["reference"].removeprefix("Organization/") for d in provision.get("data") or ()]
        for recipient in recipients:
            choices.blocked.setdefault(recipient, []).extend(s for s in senders if s not in choices.blocked[recipient])
    return choices


def consent_resource(cid: str, patient_id: str, provision: dict, *, status: str = "active", rule: str = "OPTIN") -> dict:
    return {
        "resourceType": "Consent", "id": cid, "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": CONSENT_SCOPE_PRIVACY}]},
        "category": [{"coding": [{"system": CONSENT_CATEGORY_SYSTEM, "code": REGIONAL_SHARING}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "performer": [{"reference": f"Patient/{patient_id}"}],
        "policyRule": {"coding": [{"system": ACT_CODE, "code": rule}]},
        "provision": provision,
    }


def save(ctx: AccessContext, patient_id: str, choices: Choices) -> Choices:
    """Store the resident's choices in one transaction (as ctx: the resident or their proxy) and return them.

    Unknown institutions or categories raise ChoiceProblem before anything is written.
    """
    known = {i.id for i in institutions(ctx)}
    try:
        labels = sensitivity.labels_of(choices.withheld)
    except ValueError as exc:
        raise ChoiceProblem(str(exc)) from exc
    for recipient, senders in choices.blocked.items():
        for org in (recipient, *senders):
            if org not in known:
                raise ChoiceProblem(f"Unknown institution '{org}'")
    base_id, labels_id, to_prefix = _ids(patient_id)
    before = {c["id"] for c in gateway.search(ctx, "Consent", [
        ("patient", f"Patient/{patient_id}"), ("status", "active"),
        ("category", f"{CONSENT_CATEGORY_SYSTEM}|{REGIONAL_SHARING}"), ("_count", "200")])}
    system = sensitivity.label_system()
    wanted = [consent_resource(base_id, patient_id, {"type": "permit" if choices.share else "deny"},
                       rule="OPTIN" if choices.share else "OPTOUT")]
    if labels:
        wanted.append(consent_resource(labels_id, patient_id, {
            "type": "deny", "securityLabel": [{"system": system, "code": code} for code in labels]}))
    elif labels_id in before:  # nothing withheld any more: the earlier rule ends, its version stays in history
        wanted.append({**gateway.read(ctx, f"Consent/{labels_id}"), "status": "inactive"})
    blocked_ids = set()
    for recipient, senders in sorted(choices.blocked.items()):
        senders = [s for s in dict.fromkeys(senders) if s != recipient]
        if not senders:
            continue
        cid = f"{to_prefix}{recipient}"
        blocked_ids.add(cid)
        wanted.append(consent_resource(cid, patient_id, {
            "type": "deny",
            "actor": [{"role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                       "reference": {"reference": f"Organization/{recipient}"}}],
            "data": [{"meaning": "authoredby", "reference": {"reference": f"Organization/{s}"}} for s in senders],
        }))
    for cid in sorted(before):
        if cid.startswith(to_prefix) and cid not in blocked_ids:
            old = gateway.read(ctx, f"Consent/{cid}")
            wanted.append({**old, "status": "inactive"})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {k: v for k, v in c.items() if k != "meta"},
         "request": {"method": "PUT", "url": f"Consent/{c['id']}"}} for c in wanted]}
    gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle))
    return current(ctx, patient_id)
