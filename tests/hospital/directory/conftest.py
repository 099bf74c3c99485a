"""A directory for the directory tests: the demo region's facilities plus two doctors whose names the tests know.

Known doctors: 张伟 (Zhang Wei), chief physician in Cardiology at org-hosp-1, who speaks English;
Anna Schmidt (a Latin name only), attending physician in Dermatology at org-hosp-2.
"""

import random
from datetime import date
from typing import Any

import pytest

from smartcare.demo.facilities import build_directory
from smartcare.fhir import bundles
from smartcare.hospital.directory import conventions as dc
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

TITLE = dc.PROFESSIONAL_TITLE_SYSTEM
ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"


def _doctor(prac_id: str, names: list[dict], title: tuple[str, str, str], org: str, dept: str, room: str,
            visit_type: str, languages: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    practitioner = {"resourceType": "Practitioner", "id": prac_id, "active": True, "name": names,
                    "communication": [dc.language_concept(*lang) for lang in languages],
                    "photo": [dc.avatar_photo("ZW", prac_id)]}
    dc.set_title(practitioner, *title)
    dc.set_biography(practitioner, "en", "Heart doctor.")
    role = {"resourceType": "PractitionerRole", "id": f"role-{prac_id}", "active": True,
            "practitioner": {"reference": f"Practitioner/{prac_id}"},
            "organization": {"reference": f"Organization/{org}"},
            "code": [{"coding": [{"system": ROLE, "code": "doctor"}]}],
            "location": [{"reference": f"Location/{room}"}],
            "healthcareService": [{"reference": f"HealthcareService/hcs-{org[4:]}-{dept}"}]}
    dc.set_visit_type(role, visit_type)
    return [practitioner, role]


def known_doctors() -> list[dict[str, Any]]:
    """The two doctors the tests search for by name."""
    zhang = _doctor("t-zhangwei", [{"use": "official", "text": "张伟", "family": "张", "given": ["伟"]},
                                   {"use": "official", "text": "Zhang Wei", "family": "Zhang", "given": ["Wei"]}],
                    ("chief-physician", "Chief physician", "主任医师"), "org-hosp-1", "cardiology",
                    "loc-hosp-1-room-cardiology-1", "expert", [("zh-CN", "Chinese", "中文"), ("en", "English", "英语")])
    anna = _doctor("t-anna", [{"use": "official", "family": "Schmidt", "given": ["Anna"]}],
                   ("attending-physician", "Attending physician", "主治医师"), "org-hosp-2", "dermatology",
                   "loc-hosp-2-room-dermatology-1", "ordinary", [("de", "German", "德语")])
    return zhang + anna


def store_resources(resources: list[dict[str, Any]]) -> None:
    """Write resources into the store as the platform, a hundred to a transaction."""
    for start in range(0, len(resources), 100):
        entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                   for r in resources[start:start + 100]]
        with unit_of_work() as conn:
            bundles.transaction(conn, SYSTEM, entries, "")


@pytest.fixture
def directory(engine):
    """The demo facilities and the two known doctors, in the store."""
    built = build_directory(random.Random("directory-tests"), date(2026, 11, 1), set())
    store_resources(built.resources + known_doctors())
    return built
