"""Shared pieces of the health supervision tests: the people acting, and facilities registered as an inspector would."""

from typing import Any

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.regional.supervision import registry
from tests.web_support import make_user

HEXI, HEDONG = "339902", "339901"
INSPECTOR = AccessContext(kind="user", name="insp.wang", roles=frozenset({"health_inspector"}), subject="u-insp")
ADMIN = AccessContext(kind="user", name="region.test", roles=frozenset({"regional_admin"}), subject="u-admin")
OFFICER = AccessContext(kind="user", name="cdc.test", roles=frozenset({"public_health_officer"}), subject="u-cdc")
DOCTOR = AccessContext(kind="user", name="dr.test", roles=frozenset({"doctor"}), subject="u-doc")


@pytest.fixture
def inspector(engine) -> AccessContext:
    """The inspector insp.wang, with an account (plans name their inspectors by account)."""
    make_user(engine, "health_inspector", username="insp.wang")
    return INSPECTOR


def register(engine, kind: str = "public_venue", name: str = "Hexi Swimming Pool", district: str = HEXI,
             **fields: Any) -> dict[str, Any]:
    """A facility registered by the inspector."""
    with unit_of_work(engine) as conn:
        return registry.register_facility(conn, ctx=INSPECTOR, kind=kind, name=name, district=district, **fields)
