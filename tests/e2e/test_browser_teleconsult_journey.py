"""A remote consultation between doctors in real browsers, end to end: Dr Zhao of a community health centre asks
the cardiology department of Harbour Hospital about a patient, sharing her echocardiogram report and her chest
X-ray study but not the rest of her record; Dr Li of that department finds it in the incoming list, takes it,
opens the shared study in the image viewer and writes the opinion; Dr Zhao reads the opinion, in Chinese."""

import uuid
from dataclasses import dataclass

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import DESKTOP
from tests.e2e.steps import new_tab, sign_in

PASSWORD = "Quarry-Heron-Almanac-71"
QUESTION = "Breathless on stairs, NT-proBNP 1800: heart failure?"
SUMMARY = "Cardiomegaly on the chest X-ray; EF 35% on the echocardiogram."
OPINION = "Heart failure with reduced ejection fraction, NYHA class II."
ADVICE = "Start an ACE inhibitor and a beta blocker; see cardiology clinic within four weeks."
HOURS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "availableStartTime": "08:00:00",
          "availableEndTime": "17:30:00"}]


@dataclass(frozen=True)
class Region:
    """The ids of this run (tagged so no other browser test meets them) and the usernames of the two doctors."""

    tag: str
    gp: str
    cardiologist: str

    def ref(self, name: str) -> str:
        """The tagged id of one of the region's resources."""
        return f"{self.tag}-{name}"


def _directory(r: Region) -> list[dict]:
    """A community health centre with its GP; a hospital's cardiology department with two cardiologists."""
    services = [(r.ref("hcs-cardio"), "Harbour Hospital - Cardiology", r.ref("org-h")),
                (r.ref("hcs-gp"), "Riverside - General practice", r.ref("org-chc"))]
    staff = [(r.ref("prac-gp"), "Zhao", r.ref("org-chc"), r.ref("hcs-gp")),
             (r.ref("prac-li"), "Li", r.ref("org-h"), r.ref("hcs-cardio")),
             (r.ref("prac-wang"), "Wang", r.ref("org-h"), r.ref("hcs-cardio"))]
    return [
        {"resourceType": "Organization", "id": r.ref("org-chc"), "name": "Riverside Community Health Centre"},
        {"resourceType": "Organization", "id": r.ref("org-h"), "name": "Harbour Hospital"},
        *[{"resourceType": "HealthcareService", "id": sid, "name": name, "availableTime": HOURS,
           "providedBy": {"reference": f"Organization/{org}"}} for sid, name, org in services],
        *[{"resourceType": "Practitioner", "id": prac, "name": [{"family": family}]} for prac, family, _o, _s in staff],
        *[{"resourceType": "PractitionerRole", "id": f"role-{prac}", "active": True,
           "practitioner": {"reference": f"Practitioner/{prac}"}, "organization": {"reference": f"Organization/{org}"},
           "healthcareService": [{"reference": f"HealthcareService/{service}"}]} for prac, _f, org, service in staff],
        {"resourceType": "Patient", "id": r.ref("pat"), "name": [{"family": "Zhou", "given": ["Lan"]}],
         "managingOrganization": {"reference": f"Organization/{r.ref('org-chc')}"}},
    ]


def _clinic_records(r: Region) -> list[dict]:
    """The patient's records as the clinic keeps them: an echo report and a chest X-ray study to share, and a
    pelvis study and a private result kept back."""
    subject = {"reference": f"Patient/{r.ref('pat')}"}

    def study(name: str, text: str) -> dict:
        return {"resourceType": "ImagingStudy", "id": r.ref(name), "status": "available", "subject": subject,
                "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:2.25.{uuid.uuid4().int}"}],
                "description": text}

    return [
        {"resourceType": "DiagnosticReport", "id": r.ref("echo"), "status": "final",
         "code": {"text": "Echocardiogram"}, "subject": subject, "conclusion": "EF 35%"},
        study("chest", "Chest X-ray"),
        study("pelvis", "Pelvis X-ray"),
        {"resourceType": "Observation", "id": r.ref("private"), "status": "final", "code": {"text": "HIV test"},
         "subject": subject},
    ]


@pytest.fixture
def region(e2e_engine) -> Region:
    """The region in the e2e store, the doctors' accounts, and the patient's records written by the clinic."""
    tag = f"jt{uuid.uuid4().hex[:6]}"
    r = Region(tag=tag, gp=f"gp.zhao.{tag}", cardiologist=f"dr.li.{tag}")
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", x["resourceType"], x["id"], x) for x in _directory(r)])
        gp = users.create_user(conn, username=r.gp, password=PASSWORD, role="doctor",
                               fhir_ref=f"Practitioner/{r.ref('prac-gp')}",
                               organization=f"Organization/{r.ref('org-chc')}")
        users.create_user(conn, username=r.cardiologist, password=PASSWORD, role="doctor",
                          fhir_ref=f"Practitioner/{r.ref('prac-li')}", organization=f"Organization/{r.ref('org-h')}")
    with unit_of_work(e2e_engine) as conn:
        clinic = users.context_for(users.get_user(conn, user_id=gp.id))
        store.write_batch(conn, clinic, [store.Write("PUT", x["resourceType"], x["id"], x)
                                         for x in _clinic_records(r)])
    return r


def _signed_in(browser, base_url: str, username: str):
    page = new_tab(browser, base_url, viewport=DESKTOP)
    sign_in(page, username, PASSWORD)
    return page


def test_community_doctor_shares_a_study_and_the_cardiologist_answers(browser, base_url, region):
    r = region
    gp = _signed_in(browser, base_url, r.gp)
    cardio = _signed_in(browser, base_url, r.cardiologist)
    try:
        # The GP asks cardiology, choosing the echo report and the chest study and nothing else.
        gp.goto("/workstation/teleconsults?box=outgoing")
        gp.get_by_role("button", name="Request a remote consultation").click()
        gp.get_by_label("Patient").fill(f"Patient/{r.ref('pat')}")
        gp.get_by_role("button", name="Choose records").click()
        offered = gp.locator("fieldset input[name=records]")
        assert {offered.nth(i).get_attribute("value") for i in range(offered.count())} >= {
            f"ImagingStudy/{r.ref('chest')}", f"ImagingStudy/{r.ref('pelvis')}", f"DiagnosticReport/{r.ref('echo')}"}
        gp.get_by_label("Department").select_option(f"HealthcareService/{r.ref('hcs-cardio')}")
        gp.get_by_label("Urgency").select_option("urgent")
        gp.get_by_label("Question").fill(QUESTION)
        gp.get_by_label("ImagingStudy: Chest X-ray").check()
        gp.get_by_label("DiagnosticReport: Echocardiogram").check()
        gp.get_by_role("button", name="Send request").click()
        gp.wait_for_url("**/workstation/teleconsults/*")
        teleconsult = gp.url.rsplit("/", 1)[1]
        assert "Remote consultation: Requested" in gp.locator("h1").inner_text()
        shared = gp.locator("main ul").first.inner_text()
        assert "Chest X-ray" in shared and "Echocardiogram" in shared and "Pelvis" not in shared

        # The cardiologist sees it in the incoming list, takes it and opens the shared study in the viewer.
        cardio.goto("/workstation/teleconsults")
        link = cardio.locator(f"a[href='/workstation/teleconsults/{teleconsult}']")
        row = cardio.locator("tbody tr").filter(has=link)
        assert QUESTION in row.inner_text() and "Urgent" in row.inner_text()
        row.get_by_role("link").click()
        cardio.get_by_label("Specialist").select_option(f"Practitioner/{r.ref('prac-li')}")
        cardio.get_by_role("button", name="Assign").click()
        cardio.wait_for_selector("text=Write the opinion")
        with cardio.expect_response(lambda res: res.url.endswith(f"/studies/{r.ref('chest')}/viewer")) as opened:
            cardio.get_by_role("link", name="ImagingStudy: Chest X-ray").click()
        assert opened.value.status == 200
        cardio.wait_for_load_state()
        assert cardio.request.get(f"/workstation/imaging/studies/{r.ref('pelvis')}/viewer").status == 404
        cardio.go_back()

        cardio.get_by_label("Summary of findings").fill(SUMMARY)
        cardio.get_by_label("Opinion", exact=True).fill(OPINION)
        cardio.get_by_label("Recommendations").fill(ADVICE)
        cardio.get_by_role("button", name="Send the opinion").click()
        cardio.wait_for_load_state()
        assert "Remote consultation: Answered" in cardio.locator("h1").inner_text()

        # The GP reads the opinion on the Chinese page.
        gp.goto(f"/workstation/teleconsults/{teleconsult}?lang=zh-Hans")
        text = gp.locator("main").inner_text()
        assert "远程会诊" in text and "会诊意见" in text
        assert OPINION in text and ADVICE in text and SUMMARY in text
    finally:
        gp.context.close()
        cardio.context.close()
