"""What the sore-throat journey (issue 14, journey 1) needs around the browsers: the ENT hospital's laboratory,
pharmacy and staff beside the triage test's ENT clinic, the patient's record as the hospital registered her, a clock
that ticks and can skip to the afternoon, the analyzer's ORU^R01 messages sent with `smartcare lis send`, the job
worker's steps for her dose reminders, and phone screenshots.

The server runs in this process, so the clock set here is the one it reads; `smartcare lis` runs in its own process
on the same database.
"""

import os
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcare.demo.identifiers import make_resident_id
from smartcare.fhir import store
from smartcare.hospital.lab import critical
from smartcare.hospital.scheduling import service as scheduling
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs.service import claim, run, worker_name
from smartcare.platform.jobs.tables import job
from smartcare.platform.security import signup, users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import MOBILE
from tests.e2e.test_browser_lab_loop import CLI

PASSWORD = "Lantern-Orchard-Willow-48"
SHOTS = Path(os.environ.get("SMARTCARE_SCREENSHOTS", "/tmp/smartcare-shots")) / "journey-sore-throat"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENT = "https://smartcare.example/fhir/CodeSystem/department"
MRN = "https://smartcare.example/fhir/sid/mrn"
# The analyzers' results (female, 36): a white count raised by neutrophils, and a positive rapid strep A test.
CBC = (("6690-2", "Leukocytes", "13.80", "10*9/L"), ("789-8", "Erythrocytes", "4.52", "10*12/L"),
       ("718-7", "Hemoglobin", "132", "g/L"), ("4544-3", "Hematocrit", "40.1", "%"), ("787-2", "MCV", "88.7", "fL"),
       ("777-3", "Platelets", "265", "10*9/L"), ("770-8", "Neutrophils/100 leukocytes", "82.0", "%"),
       ("736-9", "Lymphocytes/100 leukocytes", "12.5", "%"), ("751-8", "Neutrophils", "11.32", "10*9/L"),
       ("731-0", "Lymphocytes", "1.73", "10*9/L"))


@dataclass(frozen=True)
class Patient:
    """The patient as the hospital registered her (the record her sign-up is matched against)."""

    id: str
    resident_id: str
    born: date
    phone: str
    mrn: str
    family: str = "Qiao"
    given: str = "Lan"


@dataclass(frozen=True)
class Hospital:
    """The ENT clinic's hospital with its laboratory, pharmacy and staff accounts, and the patient."""

    tag: str
    patient: Patient
    doctor: str
    technician: str
    pharmacist: str


class StoryClock:
    """The server's clock: ticking from a set moment, moved on when the story skips ahead to later in the day."""

    def __init__(self, start: datetime) -> None:
        self._base, self._started = start, time.monotonic()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._started)

    def skip_to(self, moment: datetime) -> None:
        """Let the clock go on from moment."""
        self._base, self._started = moment, time.monotonic()


def a_patient(tag: str) -> Patient:
    """A woman of 36 with a resident ID, a mobile number and a hospital number no other run has used."""
    rng = random.Random(uuid.uuid4().int)
    born = date(1989, 1, 1) + timedelta(days=rng.randrange(365))
    resident_id = make_resident_id(address_code="330106", birth_date=born, sequence=rng.randrange(500) * 2)
    return Patient(id=f"pat-st-{tag}", resident_id=resident_id, born=born, phone=f"138{rng.randrange(10**8):08d}",
                   mrn=f"MRN-{tag}")


def staff_the_hospital(engine: Engine, clinic: dict[str, str]) -> Hospital:
    """Add to the ENT clinic's hospital (test_browser_triage's ent_clinic) its laboratory with a technician who may
    release reports, the patient's record, and the accounts of the ENT doctor, the technician and a pharmacist."""
    tag, org = clinic["tag"], f"Organization/{clinic['org']}"
    patient = a_patient(tag)
    lab_org, tech = f"dept-lab-{tag}", f"prac-lab-{tag}"
    resources = [
        {"resourceType": "Organization", "id": lab_org, "name": "Laboratory", "partOf": {"reference": org}},
        {"resourceType": "HealthcareService", "id": f"hcs-lab-{tag}", "name": "Laboratory",
         "providedBy": {"reference": f"Organization/{lab_org}"},
         "type": [{"coding": [{"system": DEPARTMENT, "code": "laboratory"}]}]},
        {"resourceType": "Practitioner", "id": tech, "active": True, "name": [{"family": "Zhao", "given": ["Min"]}]},
        {"resourceType": "PractitionerRole", "id": f"role-lab-{tag}", "active": True,
         "practitioner": {"reference": f"Practitioner/{tech}"}, "organization": {"reference": f"Organization/{lab_org}"},
         "code": [{"coding": [{"system": critical.DUTY_SYSTEM, "code": critical.RELEASE}]}]},
        {"resourceType": "Patient", "id": patient.id, "gender": "female", "birthDate": patient.born.isoformat(),
         "identifier": [{"system": signup.RESIDENT_ID_SYSTEM, "value": patient.resident_id},
                        {"system": MRN, "value": patient.mrn}],
         "name": [{"family": patient.family, "given": [patient.given]}],
         "telecom": [{"system": "phone", "value": patient.phone}], "managingOrganization": {"reference": org}},
    ]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
        users.create_user(conn, username=f"dr.lin.{tag}", password=PASSWORD, role="doctor",
                          fhir_ref=f"Practitioner/{clinic['prac']}", organization=org)
        users.create_user(conn, username=f"lab.zhao.{tag}", password=PASSWORD, role="lab_technician",
                          fhir_ref=f"Practitioner/{tech}", organization=org)
        users.create_user(conn, username=f"rx.he.{tag}", password=PASSWORD, role="pharmacist", organization=org)
    return Hospital(tag=tag, patient=patient, doctor=f"dr.lin.{tag}", technician=f"lab.zhao.{tag}",
                    pharmacist=f"rx.he.{tag}")


def phone_tab(browser, base_url: str):
    """A phone-sized tab (390x844, touch, English) with cookies of its own."""
    return browser.new_context(viewport=MOBILE, device_scale_factor=1, is_mobile=True, has_touch=True,
                               locale="en-US", base_url=base_url).new_page()


def desk_tab(browser, base_url: str):
    """A desktop tab (1280x800, English) with cookies of its own."""
    return browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", base_url=base_url).new_page()


# The elements that stick out to the right of the page, outside any scrolling box (for the failure message).
_STICKING_OUT = """() => [...document.querySelectorAll("body *")].filter((e) => {
  if (e.getBoundingClientRect().right <= document.documentElement.clientWidth + 1) return false;
  for (let n = e.parentElement; n && n !== document.body; n = n.parentElement) {
    if (["auto", "hidden", "scroll"].includes(getComputedStyle(n).overflowX)) return false;
  }
  return true;
}).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} "${(e.textContent || "").trim().slice(0, 30)}"`)"""


def shoot(page, name: str) -> Path:
    """A full-page screenshot of what the patient sees, into SHOTS; asserts the page does not scroll sideways."""
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (f"{name}: the page scrolls sideways ({widths[0]} > {widths[1]} px): "
                                    f"{page.evaluate(_STICKING_OUT)}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up(phone, outbox, patient: Patient, username: str) -> None:
    """Create the app account from the login page with the code the development channel logs, then sign in."""
    phone.goto("/login")
    phone.get_by_role("link", name="Create an account").click()
    phone.wait_for_url("**/signup")
    phone.get_by_label("Mobile number", exact=True).fill(patient.phone)
    phone.get_by_label("Resident identity card number", exact=True).fill(patient.resident_id)
    phone.get_by_label("Family name", exact=True).fill(patient.family)
    phone.get_by_label("Given name", exact=True).fill(patient.given)
    phone.get_by_label("Date of birth", exact=True).fill(patient.born.isoformat())
    shoot(phone, "01-sign-up")
    phone.get_by_role("button", name="Send verification code").click()
    phone.wait_for_url("**/signup/verify")
    phone.get_by_label("Verification code", exact=True).fill(outbox.code_for(patient.phone))
    phone.get_by_label("Choose a username", exact=True).fill(username)
    phone.get_by_label("Choose a password", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Create account").click()
    assert phone.locator("h1").inner_text() == "Your account is ready"
    phone.get_by_role("link", name="Sign in").last.click()
    phone.wait_for_url("**/login")
    phone.get_by_label("Username", exact=True).fill(username)
    phone.get_by_label("Password", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url("**/app")


def doctor_link(phone, practitioner_id: str, day: date):
    """The triage result's link that books this doctor. Other browser tests of the session write an ENT doctor of
    the same name at a hospital of the same name (test_browser_triage's), so the link is told by the slot it books."""
    with unit_of_work() as conn:
        slots = {s["slot"].removeprefix("Slot/") for s in scheduling.list_slots(conn, day=day.isoformat(),
                                                                               practitioner_id=practitioner_id)}
    links = phone.locator("a.tr-doctor")
    for n in range(links.count()):
        if (links.nth(n).get_attribute("href") or "").rsplit("=", 1)[-1] in slots:
            return links.nth(n)
    raise AssertionError(f"the triage result offers no slot of Practitioner/{practitioner_id}")


def place_order(desk, search: str, key: str) -> None:
    """On the patient's orders page: search the catalogue, tick one order and place it."""
    desk.get_by_label("Find a test, scan, procedure or referral").fill(search)
    desk.get_by_role("button", name="Search", exact=True).click()
    desk.locator(f"input[name=order][value={key}]").check()
    desk.get_by_role("button", name="Place orders").click()
    desk.wait_for_load_state()


def take_specimen(lab, test: str, patient_name: str) -> str:
    """On the laboratory worklist: accession the patient's order of test, collect and receive its specimen; the
    accession number printed on its label (what the analyzer reads from the barcode)."""
    lab.goto("/workstation/lab")
    row = lab.locator("tr", has_text=patient_name).filter(has_text=test).first
    row.get_by_role("button", name="Accession and print label").click()
    lab.wait_for_load_state()
    accession = re.search(r"L\d{11}", lab.locator("main").inner_text()).group(0)
    lab.get_by_role("button", name="Collected now").click()
    lab.get_by_role("button", name="Received in the laboratory").click()
    lab.wait_for_load_state()
    return accession


def _stamp(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S+0800")


def result_messages(patient: Patient, *, cbc: str, strep: str, measured: datetime, tag: str) -> list[str]:
    """The ORU^R01 messages the haematology analyzer and the rapid-test reader send, each naming its specimen by the
    accession number on its label (OBR-3) and the patient by her hospital number (PID-3)."""
    when = _stamp(measured)
    pid = f"PID|1||{patient.mrn}^^^HARBOUR^MR||{patient.family}^{patient.given}||{patient.born:%Y%m%d}|F"
    blood = [f"OBX|{n}|NM|{code}^{name}^LN||{value}|{unit}^^UCUM|||||F|||{when}"
             for n, (code, name, value, unit) in enumerate(CBC, start=1)]
    return [
        "\r".join([f"MSH|^~\\&|HEMA-XN|LAB|SMARTCARE|HARBOUR|{when}||ORU^R01|CBC-{tag}|P|2.5.1", pid,
                   f"OBR|1||{cbc}|58410-2^CBC panel - Blood by Automated count^LN|||{when}", *blood]) + "\r",
        "\r".join([f"MSH|^~\\&|RAPID-READER|LAB|SMARTCARE|HARBOUR|{when}||ORU^R01|GAS-{tag}|P|2.5.1", pid,
                   f"OBR|1||{strep}|78012-2^Streptococcus pyogenes Ag^LN|||{when}",
                   f"OBX|1|CWE|78012-2^Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay^LN||"
                   f"POS^Positive^99LAB||||||F|||{when}"]) + "\r",
    ]


def send_over_mllp(messages: list[str], *, port: int, env: dict[str, str], folder: Path) -> None:
    """Send the messages to the HL7 listener with `smartcare lis send`, as an analyzer's interface would, and check
    that every one was acknowledged AA (stored)."""
    file = folder / "results.hl7"
    file.write_text("".join(messages), encoding="utf-8")
    sent = subprocess.run([str(CLI), "lis", "send", str(file), "--port", str(port)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.count("MSA|AA|") == len(messages), sent.stdout


def run_jobs(engine: Engine, kind: str, key_prefix: str) -> int:
    """Run the due jobs of one kind whose key starts with key_prefix, as the job worker does (claimed, then run); how
    many ran. Only these: other tests' jobs in the same database are left alone."""
    with unit_of_work(engine) as conn:
        ids = conn.execute(sa.select(job.c.id).where(job.c.kind == kind, job.c.key.startswith(key_prefix))
                           .order_by(job.c.run_at)).scalars().all()
    ran = 0
    for job_id in ids:
        claimed = claim(engine, worker=worker_name(), job_id=job_id)
        if claimed is not None:
            assert run(engine, claimed), f"the {kind} job {job_id} failed"
            ran += 1
    return ran


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai on day, as an instant."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)
