"""The one access policy: who may do what to which kind of record, and whose records they may see.

It decides in the language of the domain: an interaction on a resource type, allowed or not,
and when allowed, which patients' records are in reach. The FHIR store turns a decision into
SQL (fhir/access.py), so searches are limited in the database and never filtered afterwards.

- The platform itself (`system` context) may do anything.
- Backend clients and devices may do what their `system/` scopes allow.
- A user's token scopes must allow the interaction (`patient/` scopes for patients and
  caregivers, `user/` scopes for staff); then the role decides whose records are in reach:
  patients their own compartment; clinicians the patients of their organisation and those
  they have cared for (encounters they took part in); hospital administrators their
  organisation's patients. Roles whose access needs consent, de-identification or case
  reports (researcher, public-health officer, regional administrator) see no identified
  records until those rules exist.
- Directory records (organisations, practitioners, locations, services, schedules) are
  readable by every signed-in caller and written only by administrators.
"""

from dataclasses import dataclass, field

from smartcare.platform.security.context import AccessContext

CLINICAL_ROLES = frozenset({"doctor", "nurse", "pharmacist", "lab_technician", "radiologist"})
PATIENT_ROLES = frozenset({"patient", "caregiver"})
DIRECTORY_WRITERS = frozenset({"hospital_admin", "regional_admin"})
READ_INTERACTIONS = frozenset({"read", "vread", "search", "history", "everything", "export"})


class AccessDenied(Exception):
    """The policy refused the interaction; `reveal` is False where even existence must not leak."""

    def __init__(self, message: str, *, reveal: bool = True):
        super().__init__(message)
        self.reveal = reveal


@dataclass(frozen=True, slots=True)
class PatientReach:
    """Whose records a caller may reach: listed patients, patients of organisations, a practitioner's patients."""

    patients: frozenset[str] = field(default_factory=frozenset)  # patient ids
    organizations: frozenset[str] = field(default_factory=frozenset)  # organisation ids
    practitioner: str | None = None  # practitioner id whose encounters count as care relationships


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, with the patients in reach (None: every patient, for the platform and backend clients)."""

    reach: PatientReach | None


def _ref_id(reference: str | None, res_type: str) -> str | None:
    prefix = f"{res_type}/"
    if reference and reference.startswith(prefix):
        return reference[len(prefix) :]
    return None


def _check_scopes(ctx: AccessContext, interaction: str, res_type: str) -> None:
    scopes = ctx.scopes
    if scopes is None:
        raise AccessDenied(f"{ctx.author} has no token scopes")
    if ctx.kind in ("client", "device"):
        contexts = ("system",)
    elif ctx.roles & PATIENT_ROLES:
        contexts = ("patient",)
    else:
        contexts = ("user",)
    if not any(scopes.permits(c, interaction, res_type) for c in contexts):
        raise AccessDenied(f"The token's scopes do not allow {interaction} on {res_type}")


def decide(ctx: AccessContext, interaction: str, res_type: str, *, personal: bool) -> Decision:
    """Decide interaction on res_type for ctx; `personal` marks a type holding patients' health data.

    Raises AccessDenied when refused; otherwise returns whose records are in reach.
    """
    if ctx.is_system:
        return Decision(reach=None)
    _check_scopes(ctx, interaction, res_type)
    if ctx.kind in ("client", "device"):
        return Decision(reach=None)
    roles = ctx.roles
    if not personal:
        if interaction in READ_INTERACTIONS or roles & DIRECTORY_WRITERS:
            return Decision(reach=None)
        raise AccessDenied(f"Only administrators change {res_type} records")
    if roles & PATIENT_ROLES:
        own = _ref_id(ctx.patient, "Patient") or _ref_id(ctx.fhir_user, "Patient")
        if res_type == "Patient" and interaction in ("create", "delete"):
            raise AccessDenied("Patients cannot create or delete patient records")
        return Decision(reach=PatientReach(patients=frozenset({own} if own else ())))
    organization = _ref_id(ctx.organization, "Organization")
    if roles & CLINICAL_ROLES:
        return Decision(
            reach=PatientReach(
                organizations=frozenset({organization} if organization else ()),
                practitioner=_ref_id(ctx.fhir_user, "Practitioner"),
            )
        )
    if "hospital_admin" in roles:
        return Decision(reach=PatientReach(organizations=frozenset({organization} if organization else ())))
    raise AccessDenied(f"The {', '.join(sorted(roles)) or 'caller'} role does not see identified patient records")


# Who may open each part of the web and app surfaces. A surface is a class of routes: every page
# and app API route names the surface it belongs to, and nothing under it answers before this decides.
SURFACE_ROLES: dict[str, frozenset[str]] = {
    "account": frozenset({"patient", "caregiver", *CLINICAL_ROLES, "hospital_admin", "regional_admin",
                          "public_health_officer", "researcher"}),
    "app": PATIENT_ROLES,
    "workstation": CLINICAL_ROLES,
    "console": frozenset({"hospital_admin", "regional_admin", "public_health_officer", "researcher"}),
    "console/audit": DIRECTORY_WRITERS,
    "console/clients": DIRECTORY_WRITERS,
    "console/public-health": frozenset({"public_health_officer", "regional_admin"}),
    "console/research": frozenset({"researcher"}),
}

# Datasets that are not one patient's record: who may have them.
DATASET_ROLES: dict[str, frozenset[str]] = {
    # De-identified records (no names, identifiers, contact details, exact dates or small places).
    "deidentified": frozenset({"researcher"}),
    # Counts by place, period and condition, with small cells suppressed.
    "aggregates": frozenset({"public_health_officer", "regional_admin", "researcher"}),
    # Notifiable-disease case reports and the cases they name.
    "case-reports": frozenset({"public_health_officer"}),
}


def decide_surface(ctx: AccessContext, surface: str) -> None:
    """Allow ctx into a surface (a class of pages and app routes), or raise AccessDenied."""
    allowed = SURFACE_ROLES.get(surface)
    if allowed is None:
        raise AccessDenied(f"Unknown surface {surface}")
    if ctx.kind != "user" or not ctx.roles & allowed:
        raise AccessDenied(f"The {', '.join(sorted(ctx.roles)) or ctx.kind} role cannot open {surface}")


def decide_dataset(ctx: AccessContext, dataset: str) -> None:
    """Allow ctx a dataset that is not one patient's record, or raise AccessDenied."""
    if ctx.is_system:
        return
    allowed = DATASET_ROLES.get(dataset)
    if allowed is None:
        raise AccessDenied(f"Unknown dataset {dataset}")
    if not ctx.roles & allowed:
        raise AccessDenied(f"The {', '.join(sorted(ctx.roles)) or ctx.kind} role cannot have {dataset} data")
