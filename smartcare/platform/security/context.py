"""The access context every store call carries: who is acting, for whom, and why."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller of a store operation; the access policy decides from it."""

    kind: str  # "system", "user", "device", "client"
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    organization: str | None = None
    remote_addr: str | None = None

    @property
    def is_system(self) -> bool:
        """True for the platform itself (loaders, jobs, migrations)."""
        return self.kind == "system"

    @property
    def author(self) -> str:
        """How this caller is recorded in history: kind/name."""
        return f"{self.kind}/{self.name}"


SYSTEM = AccessContext(kind="system", name="smartcare", roles=frozenset({"system"}))
