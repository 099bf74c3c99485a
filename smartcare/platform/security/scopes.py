"""SMART App Launch scopes: parse `patient/Observation.rs` and say which interactions they allow.

SMART v2 permissions are letters c (create), r (read), u (update), d (delete), s (search);
v1 forms `read`, `write` and `*` are accepted and mapped onto them (read = rs, write = cud,
* = cruds). Contexts: `patient/` (the launch patient's compartment), `user/` (what the user
may see anyway) and `system/` (a backend service with no user). Optional v2 query
restrictions (`patient/Observation.rs?category=laboratory`) are kept as parsed parameters.
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
"""

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

CONTEXTS = ("patient", "user", "system")
PERMISSIONS = "cruds"
# Interactions of the FHIR API and the SMART permission each one needs.
INTERACTION_PERMISSION = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history": "r",
    "everything": "r",
    "export": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
}
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]{1,5})(?:\?(.{1,512}))?")
MAX_SCOPES = 100


class InvalidScope(ValueError):
    """A scope string that is not a SMART resource scope (and not a known non-resource scope)."""


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One parsed resource scope: context, resource type ('*' for all), permission letters, restrictions."""

    context: str
    resource_type: str
    permissions: frozenset[str]
    restrictions: tuple[tuple[str, str], ...] = ()

    def allows(self, interaction: str, res_type: str) -> bool:
        """True when this scope covers interaction on res_type (restrictions are checked by the caller)."""
        letter = INTERACTION_PERMISSION.get(interaction)
        return letter is not None and letter in self.permissions and self.resource_type in ("*", res_type)

    def __str__(self) -> str:
        letters = "".join(p for p in PERMISSIONS if p in self.permissions)
        query = "&".join(f"{k}={v}" for k, v in self.restrictions)
        return f"{self.context}/{self.resource_type}.{letters}" + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """The scopes granted to a token: resource scopes plus other scopes (openid, offline_access ...)."""

    resources: tuple[ResourceScope, ...] = ()
    others: frozenset[str] = field(default_factory=frozenset)

    def permits(self, context: str, interaction: str, res_type: str) -> bool:
        """True when some scope of the given context allows interaction on res_type."""
        return any(s.context == context and s.allows(interaction, res_type) for s in self.resources)

    def contexts(self) -> frozenset[str]:
        """The contexts (patient, user, system) this set has any scope in."""
        return frozenset(s.context for s in self.resources)

    def __str__(self) -> str:
        return " ".join([*sorted(self.others), *(str(s) for s in self.resources)])


OTHER_SCOPES = frozenset({"openid", "fhirUser", "profile", "offline_access", "online_access", "launch", "launch/patient"})


def parse_scope(text: str) -> ResourceScope:
    """Parse one resource scope; InvalidScope says what is wrong with it."""
    m = _SCOPE.fullmatch(text)
    if not m:
        raise InvalidScope(f"'{text[:80]}' is not a SMART scope like patient/Observation.rs")
    context, res_type, perms, query = m.groups()
    if perms in _V1:
        letters = _V1[perms]
    else:
        if any(p not in PERMISSIONS for p in perms):
            raise InvalidScope(f"'{text[:80]}': permissions are letters of c, r, u, d, s")
        order = [PERMISSIONS.index(p) for p in perms]
        if order != sorted(order) or len(set(perms)) != len(perms):
            raise InvalidScope(f"'{text[:80]}': permission letters go in the order c, r, u, d, s, once each")
        letters = perms
    restrictions = tuple(parse_qsl(query, keep_blank_values=True)) if query else ()
    return ResourceScope(context, res_type, frozenset(letters), restrictions)


def parse_scopes(text: str) -> ScopeSet:
    """Parse a space-separated scope string (as in an OAuth2 request) into a ScopeSet."""
    parts = [p for p in (text or "").split(" ") if p]
    if len(parts) > MAX_SCOPES:
        raise InvalidScope(f"At most {MAX_SCOPES} scopes may be asked for at once")
    resources, others = [], set()
    for part in parts:
        if part in OTHER_SCOPES:
            others.add(part)
        else:
            resources.append(parse_scope(part))
    return ScopeSet(tuple(resources), frozenset(others))


def narrow(requested: ScopeSet, allowed: ScopeSet) -> ScopeSet:
    """The requested scopes cut down to what allowed grants (a client never gets more than it may have)."""
    kept = []
    for scope in requested.resources:
        for grant in allowed.resources:
            if grant.context != scope.context or grant.resource_type not in ("*", scope.resource_type):
                continue
            letters = scope.permissions & grant.permissions
            if letters:
                restrictions = scope.restrictions or grant.restrictions
                kept.append(ResourceScope(scope.context, scope.resource_type, frozenset(letters), restrictions))
                break
    return ScopeSet(tuple(kept), requested.others & allowed.others)
