"""Registering a walk-in as a new patient of the clerk's hospital, or finding the one already registered.

Both the look-up and the create go through the FHIR gateway as the clerk, so the access policy decides
(the look-up sees only patients within the clerk's reach; a new Patient must be managed by the clerk's
own organisation) and both are audited. A record with the same resident ID outside the clerk's reach
is neither shown nor hinted at: the hospital registers the person as its own patient.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.desk.registration import WalkIn, identifier_search, patient_resource
from smartcare.platform.db import get_engine, unit_of_work
from smartcare.platform.security.context import AccessContext


class NoOrganisation(Exception):
    """The clerk's account belongs to no organisation, so no patient can be registered as its own."""


@dataclass(frozen=True, slots=True)
class Registered:
    """The patient the desk goes on with: the new one (created) or the one already in reach."""

    patient_id: str
    created: bool
    several: bool = False


@contextmanager
def _one_registration_per_id(resident_id: str) -> Iterator[None]:
    """Registrations of one resident ID take turns, so a form sent twice at once cannot make two patients.

    The look-up and the create each run in the gateway's own transaction; on PostgreSQL an advisory lock held
    by a transaction around both keeps a second registration of the number waiting until the first has
    committed. SQLite needs nothing more: its writers take turns, and the create is conditional on the number.
    """
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield
        return
    digest = hashlib.sha256(f"smartcare.desk.register:{resident_id}".encode()).digest()
    with unit_of_work(engine) as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": int.from_bytes(digest[:8], "big", signed=True)})
        yield


def register_walk_in(*, ctx: AccessContext, walk_in: WalkIn) -> Registered:
    """The clerk's existing patient with walk_in's resident ID if there is one in reach; else a new Patient
    managed by the clerk's hospital. FhirError when the policy refuses, NoOrganisation without a hospital."""
    organization = (ctx.organization or "").removeprefix("Organization/")
    if not organization:
        raise NoOrganisation()
    search = identifier_search(walk_in.resident_id)
    with _one_registration_per_id(walk_in.resident_id):
        found = gateway.search(ctx, "Patient", [search, ("_count", "2")])
        if found:
            return Registered(found[0]["id"], created=False, several=len(found) > 1)
        answer = gateway.serve(ctx, FhirRequest(
            method="POST", path="Patient", headers={"if-none-exist": urlencode([search])},
            body=patient_resource(walk_in, organization=organization)))
    body = answer.body or {}
    return Registered(body["id"], created=answer.status == 201)
