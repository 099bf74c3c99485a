"""Demo referrals for the generated region: one up from a community health centre to cardiology, one down at
discharge with a care plan; made through the referral service as the clinicians themselves."""

from datetime import timedelta

from sqlalchemy.engine import Engine

from smartcare.demo.accounts import family_doctor
from smartcare.hospital.referral import service
from smartcare.hospital.referral.service import CarePlanItem, ReferralDraft
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.users import scope_ceiling

CLINIC, HOSPITAL = "Organization/org-chc-1", "Organization/org-hosp-1"
CLINIC_GP, CARDIOLOGY = "HealthcareService/hcs-chc-1-general-practice", "HealthcareService/hcs-hosp-1-cardiology"


def _first(conn, res_type: str, query: list[tuple[str, str]]) -> dict | None:
    found = service._search(conn, service.access_ctx_directory(), res_type, [*query, ("_count", "1")])
    return found[0] if found else None


def _doctor(practitioner: str, organization: str) -> AccessContext:
    return AccessContext(kind="user", name=f"demo-{practitioner.split('/')[-1]}", roles=frozenset({"doctor"}),
                         organization=organization, fhir_user=practitioner, scopes=scope_ceiling("doctor"))


def load_referrals(engine: Engine) -> int:
    """Write the demo's two referrals; how many were made (0 when the region lacks the clinic or the hospital)."""
    with unit_of_work(engine) as conn:
        gp_ref = family_doctor(conn)  # gp.demo
        patient = _first(conn, "Patient", [("organization", CLINIC)])
        cardiologist = _first(conn, "PractitionerRole", [("service", CARDIOLOGY), ("role", "doctor")])
    if not (gp_ref and patient and cardiologist):
        return 0
    gp = _doctor(gp_ref, CLINIC)
    cardio = _doctor(cardiologist["practitioner"]["reference"], HOSPITAL)
    made = 0
    with unit_of_work(engine) as conn:
        service.create(conn, ctx=gp, draft=ReferralDraft(
            direction="upward", patient_id=patient["id"], department=CARDIOLOGY, priority="urgent",
            reason="Exertional chest tightness for two weeks; suspected stable angina",
            summary="Resting ECG without ischaemic change; blood pressure 152/94 mmHg on amlodipine."))
        made += 1
    today = clock.now().date()
    with unit_of_work(engine) as conn:
        up = service.listing(conn, ctx=cardio, box="incoming")
        if up:
            service.transition(conn, ctx=cardio, task_id=up[0].id, action="accept")
    with unit_of_work(engine) as conn:
        service.create(conn, ctx=cardio, draft=ReferralDraft(
            direction="downward", patient_id=patient["id"], department=CLINIC_GP,
            reason="Back to the community after coronary angiography; continue secondary prevention",
            care_plan=(CarePlanItem("Aspirin 100 mg and atorvastatin 20 mg daily; check adherence"),
                       CarePlanItem("Low-salt diet and a daily walk of 30 minutes")),
            follow_ups=(CarePlanItem("Blood pressure and heart rate check", today + timedelta(days=7)),
                        CarePlanItem("Fasting lipid panel", today + timedelta(days=42)))))
        made += 1
    return made
