"""Sign-in accounts for the demo region: doctors, a patient, administrators, officers and an app client."""

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, policy, users
from smartcare.platform.security.context import SYSTEM

# Published in the README and printed at start-up: these accounts exist only in demo databases.
DEMO_PASSWORD = "SmartCare-demo-2026"
DEMO_APP_NAME = "SmartCare demo app"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo sign-in and who it is."""

    username: str
    role: str
    fhir_ref: str | None
    description: str


def first_resource(conn, path: str, query: list[tuple[str, str]]) -> dict | None:
    """The first resource a search as the platform finds, or None."""
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=path, query=[*query, ("_count", "1")])).body
    entries = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
    return entries[0]["resource"] if entries else None


def hospital_doctor(conn) -> str | None:
    """The hospital doctor of the demo (doctor.demo): the attending practitioner of a visit to a department of the
    first hospital, so they have seen patients; the demo's laboratory orders are theirs too."""
    visit = first_resource(conn, "Encounter", [("service-provider.partof", "Organization/org-hosp-1")])
    attending = [p["individual"]["reference"] for p in (visit or {}).get("participant", [])
                 if p.get("individual", {}).get("reference", "").startswith("Practitioner/")]
    return attending[0] if attending else None


CLINIC = "Organization/org-chc-1"
CLINIC_GP = "HealthcareService/hcs-chc-1-general-practice"


def family_doctor(conn) -> str | None:
    """The demo's family doctor (gp.demo): the first doctor of the first health centre's general practice (any
    doctor of the centre where it has none). The demo's referrals and remote consultations are theirs."""
    role = first_resource(conn, "PractitionerRole", [("service", CLINIC_GP), ("role", "doctor")]) or first_resource(
        conn, "PractitionerRole", [("organization", CLINIC), ("role", "doctor")])
    return role["practitioner"]["reference"] if role else None


def home_nurse(conn) -> str | None:
    """The demo's community nurse (cnurse.demo): the first nurse of the health centre's general practice, on the care
    teams of the residents monitored at home (smartcare/demo/family.py)."""
    role = first_resource(conn, "PractitionerRole", [("service", CLINIC_GP), ("role", "nurse")])
    return role["practitioner"]["reference"] if role else None


# The daughter smartcare/demo/family.py designates as the family caregiver of a resident living alone.
FAMILY_CAREGIVER_SID = "https://smartcare.example/fhir/sid/demo-account"
FAMILY_CAREGIVER = "family.demo"


def _parent_of(conn, child_id: str) -> str:
    """A parent (RelatedPerson) of the child with a proxy-access Consent, created once; its reference."""
    rp_id, consent_id = f"rp-parent-{child_id}", f"consent-proxy-{child_id}"
    role = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PRN",
                        "display": "parent"}]}
    parent = {"resourceType": "RelatedPerson", "id": rp_id, "active": True,
              "patient": {"reference": f"Patient/{child_id}"}, "relationship": [role],
              "name": [{"family": "林", "given": ["静"]}]}
    consent = {
        "resourceType": "Consent", "id": consent_id, "status": "active",
        "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
        "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
        "patient": {"reference": f"Patient/{child_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "actor": [{"role": role, "reference": {"reference": f"RelatedPerson/{rp_id}"}}]},
    }
    for resource in (parent, consent):
        if first_resource(conn, resource["resourceType"], [("_id", resource["id"])]) is not None:
            continue
        dispatch(conn, SYSTEM, FhirRequest(method="PUT", path=f"{resource['resourceType']}/{resource['id']}",
                                           body=resource))
    return f"RelatedPerson/{rp_id}"


def _family_account_grant(conn, account: users.User, patient_id: str) -> None:
    """The resident patient_id lets account (a resident herself) look after their record, as /app/family-access
    writes it (patient/family_access): a RelatedPerson naming the account and a proxy Consent; made once."""
    rp_id, consent_id = f"rp-account-{patient_id}", f"consent-account-{patient_id}"
    role = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "CHILD",
                        "display": "child"}]}
    person = {"resourceType": "RelatedPerson", "id": rp_id, "active": True,
              "patient": {"reference": f"Patient/{patient_id}"}, "relationship": [role],
              "identifier": [{"system": policy.ACCOUNT_SID, "value": account.id}],
              "name": [{"text": account.username}]}
    consent = {
        "resourceType": "Consent", "id": consent_id, "status": "active",
        "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
        "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "actor": [{"role": role, "reference": {"reference": f"RelatedPerson/{rp_id}"}}]},
    }
    for resource in (person, consent):
        if first_resource(conn, resource["resourceType"], [("_id", resource["id"])]) is None:
            dispatch(conn, SYSTEM, FhirRequest(method="PUT", path=f"{resource['resourceType']}/{resource['id']}",
                                               body=resource))


def ensure_demo_accounts(engine: Engine) -> tuple[list[DemoAccount], str]:
    """Create the demo accounts and app client if missing; return them and the app's client_id."""
    accounts: list[DemoAccount] = []
    with unit_of_work(engine) as conn:
        wanted = []
        family = family_doctor(conn)
        if family:
            wanted.append(("gp.demo", "doctor", family, CLINIC, "family doctor, Jiefang Road health centre"))
        # A hospital doctor who has seen patients (and ordered the demo's laboratory tests).
        attending = hospital_doctor(conn)
        if attending:
            wanted.append(("doctor.demo", "doctor", attending, "Organization/org-hosp-1",
                           "doctor, Riverside City First Hospital"))
        # A ward nurse: a nurse of the first hospital's internal medicine department, on its ward's care teams.
        nurse = first_resource(conn, "PractitionerRole", [("service", "HealthcareService/hcs-hosp-1-internal-medicine"),
                                                  ("role", "nurse")])
        if nurse:
            wanted.append(("nurse.demo", "nurse", nurse["practitioner"]["reference"], "Organization/org-hosp-1",
                           "ward nurse, internal medicine, Riverside City First Hospital"))
        # The laboratory technician of the first hospital who may release results (smartcare/demo/duties.py).
        releaser = first_resource(conn, "PractitionerRole", [("_id", "duty-release-hosp-1")])
        if releaser:
            wanted.append(("lab.demo", "lab_technician", releaser["practitioner"]["reference"],
                           "Organization/org-hosp-1", "laboratory technician (releases results), Riverside City First Hospital"))
        # A radiologist of the first hospital: reads the demo's imaging studies and signs their reports.
        radiologist = first_resource(conn, "PractitionerRole", [("service", "HealthcareService/hcs-hosp-1-radiology"),
                                                        ("role", "doctor")])
        if radiologist:
            wanted.append(("rad.demo", "radiologist", radiologist["practitioner"]["reference"],
                           "Organization/org-hosp-1", "radiologist (reads and signs imaging), Riverside City First Hospital"))
        # The infection-control nurse of the first hospital (smartcare/demo/duties.py): overdue case reports reach her.
        infection_control = first_resource(conn, "PractitionerRole", [("_id", "duty-infection-control-hosp-1")])
        if infection_control:
            wanted.append(("ic.demo", "nurse", infection_control["practitioner"]["reference"], "Organization/org-hosp-1",
                           "infection-control nurse, Riverside City First Hospital (overdue case reports)"))
        patient = first_resource(conn, "Patient", [("organization", "Organization/org-chc-1")])
        if patient:
            wanted.append(("patient.demo", "patient", f"Patient/{patient['id']}", None,
                           "a resident (patient), who also looks after an elderly parent's record (family access)"))
        child = first_resource(conn, "Patient", [("organization", "Organization/org-chc-1"), ("birthdate", "ge2015-01-01")])
        if child:
            wanted.append(("carer.demo", "caregiver", _parent_of(conn, child["id"]), None,
                           "parent and caregiver of a child resident"))
        # Home monitoring (smartcare/demo/family.py): the centre's nurse on the monitored residents' care teams, and
        # the daughter designated as the family caregiver of a resident living alone.
        community_nurse = home_nurse(conn)
        if community_nurse:
            wanted.append(("cnurse.demo", "nurse", community_nurse, CLINIC,
                           "community nurse (home monitoring), Jiefang Road health centre"))
        daughter = first_resource(conn, "RelatedPerson", [("identifier", f"{FAMILY_CAREGIVER_SID}|{FAMILY_CAREGIVER}")])
        if daughter:
            wanted.append((FAMILY_CAREGIVER, "caregiver", f"RelatedPerson/{daughter['id']}", None,
                           "daughter and designated caregiver of a resident living alone"))
        wanted += [
            ("admin.demo", "hospital_admin", None, "Organization/org-hosp-1",
             "hospital administrator, Riverside City First Hospital"),
            ("pharmacist.demo", "pharmacist", None, "Organization/org-hosp-1",
             "pharmacist, Riverside City First Hospital (prescription review and dispensing)"),
            ("region.demo", "regional_admin", None, None, "regional administrator"),
            ("cdc.demo", "public_health_officer", None, None, "public health officer"),
            ("epi.demo", "public_health_officer", None, None,
             "second public health officer (approves what cdc.demo prepares: releases are decided by four eyes)"),
            ("research.demo", "researcher", None, None, "researcher (de-identified data only)"),
            ("inspector.demo", "health_inspector", None, None,
             "health inspector (卫生监督员): facilities, licences, inspections, findings"),
        ]
        for username, role, ref, org, description in wanted:
            if users.get_by_username(conn, username=username) is None:
                users.create_user(conn, username=username, password=DEMO_PASSWORD, role=role, fhir_ref=ref,
                                  organization=org)
            accounts.append(DemoAccount(username, role, ref, description))
        # Family accounts: an elderly resident of the centre lets patient.demo look after their record too.
        resident = users.get_by_username(conn, username="patient.demo")
        elder = first_resource(conn, "Patient", [("organization", CLINIC), ("birthdate", "lt1960-01-01"),
                                                 ("_sort", "birthdate")])
        if resident is not None and elder is not None and f"Patient/{elder['id']}" != resident.fhir_ref:
            _family_account_grant(conn, resident, elder["id"])
        existing = [c for c in clients.list_clients(conn) if c.name == DEMO_APP_NAME]
        if existing:
            app_id = existing[0].client_id
        else:
            app, _ = clients.register_client(conn, name=DEMO_APP_NAME, kind="app", public=True,
                                             scopes="openid fhirUser offline_access patient/*.cruds user/*.cruds")
            app_id = app.client_id
    return accounts, app_id
