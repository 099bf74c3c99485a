"""The one access policy: who may do what to which kind of record, and whose records they may see.

It decides in the language of the domain: an interaction on a resource type, allowed or not,
and when allowed, which patients' records are in reach. The FHIR store turns a decision into
SQL (fhir/access.py), so searches, paging and totals are limited in the database and never
filtered afterwards; everything below is resolved when the query runs, so a revoked consent,
an ended care team or an expired emergency access takes effect at once.

- The platform itself (`system` context) may do anything.
- Backend clients and devices may do what their `system/` scopes allow.
- A user's token scopes must allow the interaction (`patient/` scopes for patients and
  caregivers, `user/` scopes for staff); then the role decides whose records are in reach.
- Patients reach their own compartment. Caregivers (a user linked to RelatedPerson/X) reach
  the compartment of patient P while RelatedPerson/X is about P (`RelatedPerson.patient`, and
  not `active` false) and P has a proxy Consent in force naming RelatedPerson/X: a parent for
  a child and a designated family caregiver alike. Neither creates nor deletes Patient records.
  Family accounts: any patient's or caregiver's account also reaches patient P through a
  RelatedPerson/Y about P whose identifier (ACCOUNT_SID) is the account's user id, on the same
  terms (Y active, a proxy Consent of P in force naming Y): a daughter who is a resident herself
  looks after her father and her child from her own account, and the patient (or their proxy)
  grants and withdraws it by writing those two records (patient/proxies).
- Clinicians (doctor, nurse, pharmacist, lab technician, radiologist) reach the patients of
  their organisation and those in their care: Encounters they took part in, Appointments they
  are an actor in, active CareTeams they are a member of, and referrals (ServiceRequests) with
  them as performer; entered-in-error, cancelled or revoked ones do not count. They also reach the
  patients of open referrals to a department they work in: a ServiceRequest whose performer is a
  HealthcareService named by one of their PractitionerRoles (`healthcareService`, the role not
  `active` false), while the request is `active` or `on-hold` (OPEN_REFERRAL_STATUSES) and no Task
  tracking it (`Task.focus`) has ended (ENDED_TASK_STATUSES). That is what a receiving doctor needs
  to decide on the referral, book the visit and receive the patient; a rejected, cancelled or
  completed referral brings nobody in any more (the visit itself, an Appointment or Encounter with
  the clinician, keeps its own reach). Only referrals count (category REFERRAL_CATEGORY, SNOMED CT
  3457005): a remote-consultation request to a department shares exactly the records its
  teleconsult-share Consent names, never the whole patient. A clinician's
  own break-the-glass grants (platform/security/break_glass.py) add the granted patients until
  the grant expires or is closed. Hospital administrators reach their organisation's patients, and
  the requests addressed to their institution itself that they answer: a Task whose owner is their
  organisation and whose code is in INSTITUTION_TASK_CODES (a patient's request to correct a record
  the hospital sent, hospital/corrections), whoever its patient is, to read, search and update
  (keeping its owner, code and patient), never to create or delete. That brings in nothing else of
  the patient: the Task names the record to correct and carries what the console shows.
- Work needs: doctors and nurses handle every type of personal record; pharmacists, lab
  technicians and radiologists only the types in WORK_NEEDS, and write fewer still.
- Regional sharing follows consent: staff see the records (other than the Patient resource
  itself) that their own organisation sent. A record's sender is `meta.source` written as
  `Organization/<id>`; the store stamps it from the writer's organisation. Records another
  institution sent (any other source) are in reach only while the patient shares regionally, or
  through a break-the-glass grant (which opens everything, withheld categories too). The patient
  shares when they have a regional-sharing permit Consent in force or, where the region's policy is
  opt-out (settings.regional_sharing), when they have not chosen; either way a regional-sharing
  deny Consent of theirs holds back what it covers (below), and under opt-out the sensitive
  categories the region withholds by default (settings.regional_withheld) stay back until the
  resident chooses. Records without a source (what patients and devices report, and what the
  platform loaded without naming an institution) belong to the patient and are not held back.
- One resident, several registrations: the master patient index keeps each golden identity that
  joins source Patient records as a FHIR Person (regional/mpi/person.py) whose link.target names
  them. Whoever reaches one of those Patients reaches the others too (their records still follow
  the rules above), and a choice about sharing made on one of them counts for all. Only the
  platform and backend systems write Person resources, so nobody joins records to widen a reach.
- Roles whose access needs de-identification or case reports (researcher, public-health officer,
  regional administrator) see no identified records here; they have datasets (below).
- Directory records (organisations, practitioners, locations, services, schedules) are
  readable by every signed-in caller and written only by administrators.
- A share link (patient/sharing) is a context of kind SHARE_LINK_KIND for whoever holds a link the
  patient (or their proxy) made: it reads and searches, never writes, only the one patient its
  `patient` names (PatientReach.patients) and only the types its `patient/<Type>.rs` scopes name;
  the link's lifetime and revocation are checked before such a context is made.

Consents the policy reads (a Consent is "in force" when all of this holds):
  status `active`; scope `patient-privacy` from http://terminology.hl7.org/CodeSystem/consentscope;
  a category coding from https://smartcare.example/fhir/CodeSystem/consent-category naming the
  kind below; `patient` the patient; `provision.type` `permit`; and `provision.period`, if
  given, covering now. Kinds:
  - `proxy-access`: `provision.actor` has an actor whose reference is RelatedPerson/X (role, as
    FHIR requires, e.g. v3-RoleCode PRN parent, GUARD guardian or FAMMEMB family member).
  - `regional-sharing`: with provision.type `permit`, the patient lets every institution of the
    region see what the others sent (a policyRule such as v3-ActCode OPTIN records the opt-in, not
    checked). With provision.type `deny` it holds records back: each of provision.actor (the
    institutions that may not see; role v3-ParticipationType IRCP), provision.data with meaning
    `authoredby` (the institutions whose records are held back) and provision.securityLabel (the
    sensitive categories, HL7 v3 ActCode labels the store puts in meta.security,
    platform/security/sensitivity.py) narrows it when present; a deny with none of them holds back
    everything another institution sent. A resident's choices (regional/consent/service.py) are one
    permit-or-deny Consent and deny Consents for the exceptions. Only the resident or their proxy (and the
    platform or a backend system) writes them; staff cannot choose for the resident (fhir/access.py).
  - `teleconsult-share`: a remote consultation (hospital/teleconsult) shares chosen records with
    the specialists asked: `provision.actor` names each Practitioner/X, `provision.data` lists the
    shared records one by one, and `provision.period.end` is when the share expires. While it is in
    force X may read and search exactly those records (not the patient's others, and not write
    them), whatever X's usual reach; the reads are audited as X's like any other.
"""

from dataclasses import dataclass, field, replace

from smartcare.platform.security.context import AccessContext

CLINICAL_ROLES = frozenset({"doctor", "nurse", "pharmacist", "lab_technician", "radiologist"})
PATIENT_ROLES = frozenset({"patient", "caregiver"})
# Staff of the departments that perform orders (ServiceRequest.performer) for patients managed elsewhere.
PERFORMING_ROLES = frozenset({"lab_technician", "radiologist"})
DIRECTORY_WRITERS = frozenset({"hospital_admin", "regional_admin"})
# Ward staff keep their beds' operational status (occupied, housekeeping ...) current: they update Locations.
BED_KEEPERS = frozenset({"doctor", "nurse"})
READ_INTERACTIONS = frozenset({"read", "vread", "search", "history", "everything", "export"})
# Clinicians whose work needs every type of personal record.
WHOLE_RECORD_ROLES = frozenset({"doctor", "nurse"})
# The personal types other clinicians' work needs: (types they may read, types they may write).
WORK_NEEDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "pharmacist": (
        frozenset({"Patient", "AllergyIntolerance", "Condition", "Observation", "MedicationRequest",
                   "MedicationDispense", "MedicationAdministration", "MedicationStatement", "Immunization",
                   "DetectedIssue", "Flag", "Task"}),
        # Prescription review tasks are accepted or returned; prescriptions themselves stay the prescriber's (the one
        # change a pharmacist makes to one is VERIFICATION_UPDATES below).
        frozenset({"MedicationDispense", "MedicationStatement", "DetectedIssue", "Task"}),
    ),
    "lab_technician": (
        frozenset({"Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport", "Task"}),
        # ServiceRequest: accessioning adds the placer order number and release completes the order.
        frozenset({"ServiceRequest", "Specimen", "Observation", "DiagnosticReport", "Task"}),
    ),
    "radiologist": (
        frozenset({"Patient", "ServiceRequest", "ImagingStudy", "DiagnosticReport", "Observation",
                   "AllergyIntolerance", "Condition", "Procedure", "Media", "DocumentReference"}),
        # ServiceRequest: signing the report completes the order.
        frozenset({"ImagingStudy", "DiagnosticReport", "Observation", "Media", "ServiceRequest"}),
    ),
}
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_SCOPE_PRIVACY = "patient-privacy"
CONSENT_CATEGORY_SYSTEM = "https://smartcare.example/fhir/CodeSystem/consent-category"
PROXY_ACCESS = "proxy-access"
REGIONAL_SHARING = "regional-sharing"
TELECONSULT_SHARE = "teleconsult-share"
# Interactions a teleconsult share allows on the records it names: reading, never writing or exporting.
SHARE_INTERACTIONS = frozenset({"read", "vread", "search", "history"})
# A ServiceRequest to a department brings its patient to the department's clinicians while it has one of these
# statuses and no Task tracking it has one of those (a referral's Task is rejected, cancelled or completed).
OPEN_REFERRAL_STATUSES = ("active", "on-hold")
# ServiceRequest.category of a referral (SNOMED CT 3457005 "Patient referral"), as hospital/referral writes it.
REFERRAL_CATEGORY = ("http://snomed.info/sct", "3457005")
ENDED_TASK_STATUSES = ("rejected", "cancelled", "completed", "failed", "entered-in-error")
# The access context kind of a share link's visitor, and what such a context may do (reading only).
SHARE_LINK_KIND = "share-link"
# The identifier system of a RelatedPerson that stands for a SmartCare account (value: the user id): the
# account reaches the RelatedPerson's patient while that patient's proxy Consent names the RelatedPerson.
ACCOUNT_SID = "https://smartcare.example/fhir/sid/account"
SHARE_LINK_INTERACTIONS = frozenset({"read", "search"})
# The one change a pharmacist makes to a prescription: their check of an online one, which waits as a draft with
# this status reason (knowledge/prescribing/verification.py) and becomes active (accepted) or cancelled
# (returned to the prescriber) with nothing else changed. fhir/access.py check_write holds the update to that.
VERIFICATION_UPDATES = {"pharmacist": frozenset({("MedicationRequest", "update")})}
AWAITING_VERIFICATION = ("https://smartcare.example/fhir/CodeSystem/medication-request-status-reason",
                         "awaiting-pharmacist-review")
VERIFIED_STATUSES = frozenset({"active", "cancelled"})
# Tasks addressed to an institution itself (Task.owner) that its administrators answer, whoever the patient is: a
# patient's request to correct a record the institution sent (FHIR task-code `change`, hospital/corrections).
INSTITUTION_TASK_CODES = (("http://hl7.org/fhir/CodeSystem/task-code", "change"),)
# What an administrator may do to such a Task reached only as its owner: find it, read it and answer it.
OWNED_TASK_INTERACTIONS = frozenset({"read", "vread", "search", "history", "update", "patch"})


class AccessDenied(Exception):
    """The policy refused the interaction; `reveal` is False where even existence must not leak."""

    def __init__(self, message: str, *, reveal: bool = True):
        super().__init__(message)
        self.reveal = reveal


@dataclass(frozen=True, slots=True)
class PatientReach:
    """Whose records a caller may reach, and which senders' records need the patient's consent.

    The patients in reach are the union of every part; fhir/access.py resolves each part in SQL.
    """

    patients: frozenset[str] = field(default_factory=frozenset)  # patient ids
    organizations: frozenset[str] = field(default_factory=frozenset)  # patients managed by these organisations
    practitioner: str | None = None  # practitioner id whose care relationships count
    related_person: str | None = None  # RelatedPerson id: the patients who consented to this proxy
    # User id of a family account: the patients who consented to a RelatedPerson whose identifier names it
    # (ACCOUNT_SID), so one account may look after several people besides its own record.
    account: str | None = None
    # Organisations whose departments' orders bring their patients in reach: a laboratory or radiology works
    # for patients whom other institutions manage (health centres send their samples to the district hospital).
    performing: frozenset[str] = field(default_factory=frozenset)
    grantee: str | None = None  # user id whose unexpired break-the-glass grants count
    # Records another sender than own_source sent are in reach only with the patient's
    # regional-sharing consent or a grant (staff); otherwise every record of a patient in reach is.
    consent_for_others: bool = False
    own_source: str | None = None  # e.g. "Organization/org-a", as in meta.source
    # Practitioner id: the records that teleconsult shares in force name for them are in reach one by one.
    shared_with: str | None = None
    # Organisation id: the Tasks it owns of INSTITUTION_TASK_CODES are in reach, whoever their patient is.
    owned_tasks: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, with the patients in reach (None: every patient, for the platform and backend clients)."""

    reach: PatientReach | None


def _ref_id(reference: str | None, res_type: str) -> str | None:
    prefix = f"{res_type}/"
    if reference and reference.startswith(prefix):
        return reference[len(prefix) :]
    return None


def _role_list(roles: frozenset[str]) -> str:
    return ", ".join(sorted(r.replace("_", " ") for r in roles)) or "caller"


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


def _check_work_needs(roles: frozenset[str], interaction: str, res_type: str) -> None:
    """Refuse personal types a clinician's work does not need (doctors and nurses need them all)."""
    if roles & WHOLE_RECORD_ROLES:
        return
    if any((res_type, interaction) in VERIFICATION_UPDATES.get(r, ()) for r in roles):
        return  # fhir/access.py check_write allows only the verification itself
    needs = [WORK_NEEDS[r] for r in sorted(roles & WORK_NEEDS.keys())]
    if interaction in READ_INTERACTIONS:
        if not any(res_type in reads for reads, _ in needs):
            raise AccessDenied(f"A {_role_list(roles)}'s work does not need {res_type} records")
    elif not any(res_type in writes for _, writes in needs):
        raise AccessDenied(f"A {_role_list(roles)} may read but not write {res_type} records"
                           if any(res_type in reads for reads, _ in needs)
                           else f"A {_role_list(roles)}'s work does not need {res_type} records")


def patient_reach(ctx: AccessContext) -> PatientReach:
    """Whose personal records a signed-in user's role reaches; AccessDenied for roles that see none."""
    roles = ctx.roles
    # A signed-in person's account also reaches those who made it their proxy (family accounts).
    account = ctx.subject if ctx.kind == "user" else None
    if "caregiver" in roles:
        return PatientReach(related_person=_ref_id(ctx.fhir_user, "RelatedPerson"), account=account)
    if "patient" in roles:
        own = _ref_id(ctx.patient, "Patient") or _ref_id(ctx.fhir_user, "Patient")
        return PatientReach(patients=frozenset({own} if own else ()), account=account)
    organization = _ref_id(ctx.organization, "Organization")
    staff = dict(
        organizations=frozenset({organization} if organization else ()),
        consent_for_others=True,
        own_source=f"Organization/{organization}" if organization else None,
    )
    if roles & CLINICAL_ROLES:
        performing = staff["organizations"] if roles & PERFORMING_ROLES else frozenset()
        practitioner = _ref_id(ctx.fhir_user, "Practitioner")
        return PatientReach(practitioner=practitioner, grantee=ctx.subject, performing=performing,
                            shared_with=practitioner, **staff)
    if "hospital_admin" in roles:
        return PatientReach(owned_tasks=organization, **staff)
    raise AccessDenied(f"The {_role_list(roles)} role does not see identified patient records")


def _decide_share_link(ctx: AccessContext, interaction: str, res_type: str, *, personal: bool) -> Decision:
    """A share link's visitor: reads of the link's one patient, of the types its scopes name, and the directory."""
    if interaction not in SHARE_LINK_INTERACTIONS:
        raise AccessDenied(f"A share link only reads; it cannot {interaction} {res_type} records")
    if not personal:
        return Decision(reach=None)
    patient = _ref_id(ctx.patient, "Patient")
    if patient is None or ctx.scopes is None or not ctx.scopes.permits("patient", interaction, res_type):
        raise AccessDenied(f"This share link does not include {res_type} records")
    return Decision(reach=PatientReach(patients=frozenset({patient})))


def decide(ctx: AccessContext, interaction: str, res_type: str, *, personal: bool) -> Decision:
    """Decide interaction on res_type for ctx; `personal` marks a type holding patients' health data.

    Raises AccessDenied when refused; otherwise returns whose records are in reach.
    """
    if ctx.is_system:
        return Decision(reach=None)
    if ctx.kind == SHARE_LINK_KIND:
        return _decide_share_link(ctx, interaction, res_type, personal=personal)
    _check_scopes(ctx, interaction, res_type)
    if ctx.kind in ("client", "device"):
        return Decision(reach=None)
    roles = ctx.roles
    if not personal:
        if interaction in READ_INTERACTIONS or roles & DIRECTORY_WRITERS:
            return Decision(reach=None)
        if res_type == "Location" and interaction == "update" and roles & BED_KEEPERS:
            return Decision(reach=None)
        raise AccessDenied(f"Only administrators change {res_type} records")
    if roles & PATIENT_ROLES:
        if res_type == "Patient" and interaction in ("create", "delete"):
            raise AccessDenied("Patients and caregivers cannot create or delete patient records")
    elif roles & CLINICAL_ROLES:
        _check_work_needs(roles, interaction, res_type)
    reach = patient_reach(ctx)
    if reach.shared_with and interaction not in SHARE_INTERACTIONS:
        reach = replace(reach, shared_with=None)  # a share is for reading what was shared, nothing more
    if reach.owned_tasks and (res_type != "Task" or interaction not in OWNED_TASK_INTERACTIONS):
        reach = replace(reach, owned_tasks=None)
    return Decision(reach=reach)


# Who may open each part of the web and app surfaces. A surface is a class of routes: every page
# and app API route names the surface it belongs to, and nothing under it answers before this decides.
SURFACE_ROLES: dict[str, frozenset[str]] = {
    "account": frozenset({"patient", "caregiver", *CLINICAL_ROLES, "hospital_admin", "regional_admin",
                          "public_health_officer", "researcher", "health_inspector"}),
    "app": PATIENT_ROLES,
    "workstation": CLINICAL_ROLES,
    "console": frozenset({"hospital_admin", "regional_admin", "public_health_officer", "researcher",
                          "health_inspector"}),
    "console/audit": DIRECTORY_WRITERS,
    "console/clients": DIRECTORY_WRITERS,
    "console/jobs": DIRECTORY_WRITERS,
    "console/public-health": frozenset({"public_health_officer", "regional_admin"}),
    "console/research": frozenset({"researcher"}),
    # Health supervision (regional/supervision): facilities, licences, inspections, findings, quality indicators.
    # Everyone here reads; regional/supervision/access.py lets only inspectors and regional administrators write.
    "console/supervision": frozenset({"regional_admin", "public_health_officer", "health_inspector"}),
    # Counts of residents by latest risk category, small cells hidden (regional/risk/stratify.py).
    "console/risk": frozenset({"regional_admin", "public_health_officer"}),
    "desk": frozenset({"nurse", "hospital_admin"}),  # registration clerks, as nurses and admins for now
    "console/directory": DIRECTORY_WRITERS,
    "console/schedules": frozenset({"hospital_admin"}),  # their own hospital's templates, leave and holidays
    "console/lab-interface": frozenset({"hospital_admin"}),  # HL7 messages the laboratory interface refused
    "console/pacs": frozenset({"hospital_admin"}),  # the PACS's known remote AEs and its reconciliation queue
    # Health news: hospitals write their own organisation's, the health authority everyone's (patient/news).
    "console/news": frozenset({"hospital_admin", "regional_admin", "public_health_officer"}),
    # Home and ward devices: a hospital's own equipment, every device for the region (family/devices).
    "console/devices": DIRECTORY_WRITERS,
    # The hospital's equipment register: what, where, assigned patient, last seen, maintenance due (family/devices).
    "console/equipment": frozenset({"hospital_admin"}),
    # The master patient index's review queue and identities, link/unlink/merge for the region (regional/mpi).
    "console/mpi": frozenset({"regional_admin"}),
    # Member institutions' submissions and data quality: the region's, or a hospital's own (regional/exchange).
    "console/exchange": frozenset({"regional_admin", "hospital_admin"}),
    # Patients' requests to correct a record their hospital sent (FHIR Tasks it owns; hospital/corrections).
    "console/corrections": frozenset({"hospital_admin"}),
}

# Datasets that are not one patient's record: who may have them.
DATASET_ROLES: dict[str, frozenset[str]] = {
    # De-identified records (no names, identifiers, contact details, exact dates or small places).
    "deidentified": frozenset({"researcher"}),
    # Counts by place, period and condition, with small cells suppressed.
    # (health inspectors: the quality indicators of the facilities they supervise, regional/supervision)
    "aggregates": frozenset({"public_health_officer", "regional_admin", "researcher", "health_inspector"}),
    # Notifiable-disease case reports and the cases they name.
    "case-reports": frozenset({"public_health_officer"}),
    # The people in home isolation in a community health centre's districts, for its doctors and nurses
    # (regional/public_health/isolation.py narrows it to their own centre's).
    "home-isolation": frozenset({"doctor", "nurse"}),
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


# What a hospital administrator may register for their own organisation: devices that send readings.
# System clients reach every patient, so only a regional administrator registers those.
HOSPITAL_CLIENT_KINDS = frozenset({"device"})
HOSPITAL_DEVICE_SCOPES = frozenset({"system/Observation.c", "system/Device.r", "system/Device.rs"})


def decide_client_admin(ctx: AccessContext, *, kind: str, scopes: list[str], organization: str | None) -> None:
    """Allow ctx to register (or disable) a client of kind with scopes for organization, or raise AccessDenied."""
    if "regional_admin" in ctx.roles:
        return
    if "hospital_admin" not in ctx.roles:
        raise AccessDenied("Only administrators manage apps and devices")
    if organization is None or organization != ctx.organization:
        raise AccessDenied("Hospital administrators manage only their own organisation's devices")
    if kind not in HOSPITAL_CLIENT_KINDS:
        raise AccessDenied("Only a regional administrator registers systems and apps")
    beyond = sorted(set(scopes) - HOSPITAL_DEVICE_SCOPES)
    if beyond:
        raise AccessDenied(f"A hospital's device may not hold {', '.join(beyond)}")
