"""Demo online consultations for the generated region: a week of on-duty rosters for every hospital department with
doctors (the weekly pattern the roster job repeats, duty.roll_rosters), and the demo patient's consultations (one waiting in a pool, one under way, one closed and rated), made
through the consultation services as the patient and the doctor themselves."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.demo.accounts import first_resource, hospital_doctor
from smartcare.fhir import tables
from smartcare.hospital.consultation import attachments, duty, flows, service
from smartcare.hospital.consultation.models import consultation_duty, consultation_thread
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.users import scope_ceiling

# The generator names hospitals org-hosp-<n> (smartcare/demo/facilities.py); the demo patient account is the first
# resident registered at the first community health centre (smartcare/demo/accounts.py).
HOSPITAL_PREFIX = "org-hosp-"
DEMO_PATIENT_CLINIC = "Organization/org-chc-1"
SHIFT_HOURS = 8
SHIFTS = 24 // SHIFT_HOURS
PATTERN_DAYS = 7


def _patient_ctx(patient_id: str) -> AccessContext:
    return AccessContext(kind="user", name=f"demo-{patient_id}", roles=frozenset({"patient"}),
                         fhir_user=f"Patient/{patient_id}", patient=f"Patient/{patient_id}",
                         scopes=scope_ceiling("patient"))


def _doctor_ctx(practitioner_id: str, organization: str) -> AccessContext:
    return AccessContext(kind="user", name=f"demo-{practitioner_id}", roles=frozenset({"doctor"}),
                         organization=organization, fhir_user=f"Practitioner/{practitioner_id}",
                         scopes=scope_ceiling("doctor"))


def hospital_departments(conn: Connection) -> dict[tuple[str, str], list[str]]:
    """Every hospital department with doctors: (hospital, department service) -> its doctors in id order.

    The demo directory names the hospital on each doctor's PractitionerRole and the department as its
    HealthcareService, so the hospital is the consultation pool (service._departments) the duty belongs to.
    """
    ref, tok = tables.idx_reference.c, tables.idx_token.c
    doctors = sa.select(tok.res_pk).where(tok.res_type == "PractitionerRole", tok.param == "role",
                                          tok.code == "doctor")

    def linked(param: str, target_type: str) -> sa.Subquery:
        return sa.select(ref.res_pk, ref.target_id.label("target")).where(
            ref.res_type == "PractitionerRole", ref.param == param, ref.target_type == target_type,
            ref.res_pk.in_(doctors)).subquery()

    org, svc, who = linked("organization", "Organization"), linked("service", "HealthcareService"), \
        linked("practitioner", "Practitioner")
    rows = conn.execute(sa.select(org.c.target, svc.c.target, who.c.target)
                        .join(svc, svc.c.res_pk == org.c.res_pk).join(who, who.c.res_pk == org.c.res_pk)
                        .where(org.c.target.like(HOSPITAL_PREFIX + "%"))
                        .order_by(org.c.target, svc.c.target, who.c.target)).all()
    found: dict[tuple[str, str], list[str]] = {}
    for hospital, department, practitioner in rows:
        found.setdefault((hospital, department), []).append(practitioner)
    return found


def load_rosters(conn: Connection) -> int:
    """Put a doctor of each hospital department on duty round the clock for the next seven days (three shifts a day,
    the department's doctors in turn) in their hospital's pool: the weekly pattern the roster job keeps repeating.
    A hospital with a duty already running is left alone. The duties added."""
    start = clock.now().replace(minute=0, second=0, microsecond=0)
    made = 0
    d = consultation_duty.c
    busy = set(conn.execute(sa.select(d.department_id).where(d.ends > clock.format_instant(start))).scalars())
    for (hospital, _department), doctors in hospital_departments(conn).items():
        if hospital in busy:
            continue
        for shift in range(SHIFTS * PATTERN_DAYS):
            begins = start + timedelta(hours=shift * SHIFT_HOURS)
            duty.add_duty(conn, department_id=hospital, practitioner_id=doctors[shift % len(doctors)],
                          starts=begins, ends=begins + timedelta(hours=SHIFT_HOURS))
            made += 1
    return made


def _consultations(conn: Connection, patient_id: str, doctor_id: str, hospital: str) -> int:
    patient, doctor = _patient_ctx(patient_id), _doctor_ctx(doctor_id, f"Organization/{hospital}")
    flows.open_with_details(conn, patient, patient_id=patient_id, kind="advice", department_id=hospital,
                            question="An itchy red rash on both forearms for two weeks; cream from the pharmacy "
                                     "did not help. Which department should I see?")
    made = 1
    reports = [r["id"] for r in attachments.attachable_reports(conn, patient, patient_id=patient_id)][:2]
    under_way = flows.open_with_details(
        conn, patient, patient_id=patient_id, kind="advice", practitioner_id=doctor_id, report_ids=reports,
        question="My blood pressure readings at home are around 150/95 in the morning. Should I worry?",
        answers={"q-main-symptom": "High blood pressure readings at home", "q-how-long": "1w-1m",
                 "q-medicines": "Amlodipine 5 mg daily", "q-chest-pain": "no", "q-on-exertion": "no",
                 "q-blood-pressure": "150/95"})
    service.pick_up(conn, doctor, consultation_id=under_way["id"])
    service.post_message(conn, doctor, consultation_id=under_way["id"], client_id="demo-1",
                         text="Thank you. How long have you measured this, and do you have headaches or chest pain?")
    service.post_message(conn, patient, consultation_id=under_way["id"], client_id="demo-2",
                         text="For about three weeks. No chest pain, sometimes a mild headache in the morning.")
    made += 1
    closed = flows.open_with_details(conn, patient, patient_id=patient_id, kind="advice", practitioner_id=doctor_id,
                                     question="Can I take ibuprofen for back pain with my blood pressure tablets?")
    service.pick_up(conn, doctor, consultation_id=closed["id"])
    service.post_message(conn, doctor, consultation_id=closed["id"], client_id="demo-1",
                         text="Occasional short use is usually acceptable; paracetamol is the safer first choice.")
    service.close(conn, doctor, consultation_id=closed["id"],
                  summary="Back pain; asks about pain relief alongside antihypertensives.",
                  advice="Paracetamol first; ibuprofen only briefly, with food; see your doctor if the pain lasts "
                         "more than two weeks.")
    service.rate(conn, patient, consultation_id=closed["id"], rating=5, feedback="Clear and quick, thank you.")
    return made + 1


def load_consultation_demo(engine: Engine) -> int:
    """Rosters for every hospital department and the demo patient's three consultations (once); how many
    consultations were made."""
    with unit_of_work(engine) as conn:
        load_rosters(conn)
    with unit_of_work(engine) as conn:
        patient = first_resource(conn, "Patient", [("organization", DEMO_PATIENT_CLINIC)])
        attending = service._ref_id(hospital_doctor(conn), "Practitioner")
        if patient is None or attending is None:
            return 0
        hospital = next((h for (h, _d), docs in hospital_departments(conn).items() if attending in docs), None)
        started = conn.execute(sa.select(consultation_thread.c.encounter_id).where(
            consultation_thread.c.patient_id == patient["id"]).limit(1)).first()
        if hospital is None or started is not None:
            return 0
        return _consultations(conn, patient["id"], attending, hospital)
