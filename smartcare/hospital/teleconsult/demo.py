"""Demo remote consultations for the generated region: the demo community doctor asks the first hospital's
specialists about the demo patient three times (one waiting for the department, one convened as a
multi-disciplinary session later today, one answered); made through the teleconsult service as the clinicians."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from smartcare.demo.accounts import family_doctor, first_resource, hospital_doctor
from smartcare.hospital.teleconsult import directory, service
from smartcare.hospital.teleconsult.service import Draft
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.users import scope_ceiling
from smartcare.platform.settings import get_settings

CLINIC, HOSPITAL = "Organization/org-chc-1", "Organization/org-hosp-1"
CARDIOLOGY = "HealthcareService/hcs-hosp-1-cardiology"
INTERNAL_MEDICINE = "HealthcareService/hcs-hosp-1-internal-medicine"
RADIOLOGY = "HealthcareService/hcs-hosp-1-radiology"
WAITING = "Fasting glucose above target on metformin 1 g twice daily for six months; which add-on therapy?"
CONVENED = ("Exertional chest tightness with raised LDL cholesterol; please review the imaging and the lipid "
            "results together and advise on angiography")
ANSWERED = "Blood pressure 152/94 mmHg on amlodipine 5 mg; what should be added?"
OPINION = {
    "summary": "Home and clinic readings consistently above 140/90 mmHg; no sign of target-organ damage in the "
               "shared results.",
    "opinion": "Essential hypertension not controlled on monotherapy.",
    "recommendations": "Add perindopril 4 mg daily; recheck blood pressure, potassium and creatinine in two weeks.",
}


def _doctor(practitioner: str, organization: str) -> AccessContext:
    return AccessContext(kind="user", name=f"demo-{practitioner.split('/')[-1]}", roles=frozenset({"doctor"}),
                         organization=organization, fhir_user=practitioner, scopes=scope_ceiling("doctor"))


def _doctor_of(conn, query: list[tuple[str, str]]) -> str | None:
    role = first_resource(conn, "PractitionerRole", [*query, ("role", "doctor")])
    return role["practitioner"]["reference"] if role else None


def later_today(now: datetime) -> datetime:
    """A session time later today in the region (two hours on, or just before midnight, whichever is sooner)."""
    local = now.astimezone(ZoneInfo(get_settings().region_timezone))
    before_midnight = local.replace(hour=23, minute=30, second=0, microsecond=0)
    return max(min(now + timedelta(hours=2), before_midnight), now + timedelta(minutes=10))


def load_teleconsults(engine: Engine) -> int:
    """Write the demo's three remote consultations; how many were made (0 when already there or the region lacks
    the clinic's doctor, the demo patient or the hospital's specialists)."""
    with unit_of_work(engine) as conn:
        # The accounts' own choices (smartcare/demo/accounts.py), so gp.demo, doctor.demo and rad.demo see them.
        gp_ref = family_doctor(conn)
        patient = first_resource(conn, "Patient", [("organization", CLINIC)])
        cardiologist = _doctor_of(conn, [("service", CARDIOLOGY)])
        radiologist = _doctor_of(conn, [("service", RADIOLOGY)])
        physician = hospital_doctor(conn)
        physician_services = directory.services_of(conn, physician) if physician else []
    if not (gp_ref and patient and cardiologist and radiologist and physician and physician_services):
        return 0
    gp = _doctor(gp_ref, CLINIC)
    with unit_of_work(engine) as conn:
        asked = {t.question for t in service.listing(conn, ctx=gp, box="outgoing")
                 if t.patient == f"Patient/{patient['id']}"}
        records = service.shareable_records(conn, ctx=gp, patient_id=patient["id"])
    reports = [r["reference"] for r in records if r["reference"].startswith("DiagnosticReport/")]
    observations = [r["reference"] for r in records if r["reference"].startswith("Observation/")]
    studies = [r["reference"] for r in records if r["reference"].startswith("ImagingStudy/")]
    if not reports:
        return 0

    def ask(question: str, department: str, urgency: str, shared: list[str]) -> service.Teleconsult | None:
        if question in asked:
            return None
        with unit_of_work(engine) as conn:
            return service.create(conn, ctx=gp, draft=Draft(
                patient_id=patient["id"], department=department, question=question, urgency=urgency,
                records=tuple(dict.fromkeys(shared))))

    made = 0
    # Waiting for the receiving department: the demo hospital doctor's own, so doctor.demo may take it up.
    if ask(WAITING, physician_services[0], "routine", reports[:3]):
        made += 1
    convened = ask(CONVENED, CARDIOLOGY, "urgent", [*reports[:2], *studies[:1]])
    if convened:
        cardio = _doctor(cardiologist, HOSPITAL)
        team = list(dict.fromkeys([cardiologist, physician, radiologist]))
        with unit_of_work(engine) as conn:
            service.convene(conn, ctx=cardio, task_id=convened.id, specialists=team, start=later_today(clock.now()))
        made += 1
    answered = ask(ANSWERED, CARDIOLOGY, "routine", [*observations[:2], *reports[:1]])
    if answered:
        cardio = _doctor(cardiologist, HOSPITAL)
        with unit_of_work(engine) as conn:
            service.assign(conn, ctx=cardio, task_id=answered.id, specialist=cardiologist)
        with unit_of_work(engine) as conn:
            service.answer(conn, ctx=cardio, task_id=answered.id, sections=OPINION)
        made += 1
    return made
