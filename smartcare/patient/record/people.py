"""Whose record the app shows: the signed-in patient, or the person a caregiver chose, with every institution's
registration of that person.

The Patients come from a search as the caller, so the access policy decides who is in reach. A person registered
at several institutions has several Patient records that the region's master patient index joins with a FHIR
Person; those count as one person here, and their records are read together.
"""

import re
from dataclasses import dataclass
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

PATIENT_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# The same query parameter as the app home (platform/web/homes.py), so the person chosen at the top carries over.
PERSON_PARAM = "person"
PEOPLE_SHOWN = 20
MAX_LINKS = 50


@dataclass(frozen=True, slots=True)
class Person:
    """One person whose record the caller may open: the Patient id that stands for them, and all their ids."""

    id: str
    name: str
    birth_date: str
    gender: str
    ids: tuple[str, ...]

    @property
    def references(self) -> str:
        """Every registration as a comma-separated reference list, for a `patient=` search."""
        return ",".join(f"Patient/{i}" for i in self.ids)


class PersonOutOfReach(Exception):
    """The asked person is not among those the caller may open (or does not exist: the same answer)."""


def _linked(ctx: AccessContext, known: set[str]) -> dict[str, list[str]]:
    """Patient id -> the ids of the registrations the MPI joins with it, among those in reach."""
    try:
        persons = gateway.search(ctx, "Person", [("_count", str(MAX_LINKS))])
    except FhirError:
        return {}  # no identities in reach: every registration stands alone
    joined: dict[str, list[str]] = {}
    for person in persons:
        targets = [str((link.get("target") or {}).get("reference", "")).removeprefix("Patient/")
                   for link in person.get("link") or [] if isinstance(link, dict)]
        targets = [t for t in targets if t in known]
        for target in targets:
            joined.setdefault(target, targets)
    return joined


def people(ctx: AccessContext, *, own: str = "") -> list[Person]:
    """The people whose record ctx may open, each once, the caller's own first (own: their Patient id)."""
    patients = gateway.search(ctx, "Patient", [("_count", str(PEOPLE_SHOWN))])
    by_id: dict[str, dict[str, Any]] = {p["id"]: p for p in patients if isinstance(p.get("id"), str)}
    joined = _linked(ctx, set(by_id))
    found: list[Person] = []
    seen: set[str] = set()
    for patient_id in sorted(by_id, key=lambda i: i != own):
        if patient_id in seen:
            continue
        ids = (patient_id, *[i for i in joined.get(patient_id, []) if i != patient_id])
        seen.update(ids)
        patient = by_id[patient_id]
        found.append(Person(id=patient_id, name=fhir_text.person_name(patient),
                            birth_date=str(patient.get("birthDate") or ""), gender=str(patient.get("gender") or ""),
                            ids=ids))
    return found


def chosen(found: list[Person], wanted: str) -> Person | None:
    """The person asked for by any of their ids, else the first; PersonOutOfReach when an asked one is not there."""
    if not wanted:
        return found[0] if found else None
    person = next((p for p in found if wanted in p.ids), None)
    if person is None:
        raise PersonOutOfReach(wanted[:64])
    return person
