"""The access context every store call carries: who is acting, for whom, and why."""

from dataclasses import dataclass, field

from smartcare.platform.security.scopes import ScopeSet


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller of a store operation; the access policy decides from it."""

    kind: str  # "system" (the platform itself), "user", "client" or "device"
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    organization: str | None = None  # e.g. Organization/org-hosp-1
    remote_addr: str | None = None
    subject: str | None = None  # the user id or client id behind a token
    fhir_user: str | None = None  # e.g. Practitioner/prac-0001, Patient/pat-00001
    patient: str | None = None  # the patient context of patient/ scopes, e.g. Patient/pat-00001
    scopes: ScopeSet | None = None  # None only for the platform itself

    @property
    def is_system(self) -> bool:
        """True for the platform itself (loaders, jobs, migrations)."""
        return self.kind == "system"

    @property
    def author(self) -> str:
        """How this caller is recorded in history and audit: kind/name."""
        return f"{self.kind}/{self.name}"


SYSTEM = AccessContext(kind="system", name="smartcare", roles=frozenset({"system"}))
