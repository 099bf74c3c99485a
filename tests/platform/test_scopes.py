"""SMART scopes: parsing v1 and v2 forms, what they permit, and narrowing to what a client may have."""

import pytest

from smartcare.platform.security.scopes import InvalidScope, narrow, parse_scope, parse_scopes


@pytest.mark.parametrize(
    ("text", "context", "res_type", "letters"),
    [
        ("patient/Observation.rs", "patient", "Observation", "rs"),
        ("user/*.cruds", "user", "*", "cruds"),
        ("system/Patient.r", "system", "Patient", "r"),
        ("patient/*.read", "patient", "*", "rs"),
        ("user/Observation.write", "user", "Observation", "cud"),
        ("system/*.*", "system", "*", "cruds"),
    ],
)
def test_scopes_parse_to_permission_letters(text, context, res_type, letters):
    scope = parse_scope(text)
    assert (scope.context, scope.resource_type, "".join(sorted(scope.permissions))) == (
        context,
        res_type,
        "".join(sorted(letters)),
    )


def test_v2_query_restriction_is_kept():
    scope = parse_scope("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
    assert scope.restrictions == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)
    assert str(scope).startswith("patient/Observation.rs?category=")


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.sr",  # wrong order
        "patient/Observation.rr",  # repeated
        "patient/Observation.x",
        "doctor/Observation.rs",
        "patient/observation.rs",
        "patient/Observation",
        "' OR 1=1 --",
        "patient/" + "A" * 200 + ".rs",
        "",
    ],
)
def test_malformed_scopes_are_refused(text):
    with pytest.raises(InvalidScope):
        parse_scope(text)


def test_permits_by_context_interaction_and_type():
    scopes = parse_scopes("openid fhirUser patient/Observation.rs user/Patient.r")
    assert scopes.permits("patient", "search", "Observation")
    assert scopes.permits("patient", "read", "Observation")
    assert not scopes.permits("patient", "create", "Observation")
    assert not scopes.permits("patient", "read", "Condition")
    assert scopes.permits("user", "read", "Patient")
    assert not scopes.permits("user", "search", "Patient")
    assert not scopes.permits("system", "read", "Observation")
    assert scopes.others == {"openid", "fhirUser"}


def test_narrow_never_grants_more_than_allowed():
    allowed = parse_scopes("offline_access patient/*.rs")
    requested = parse_scopes("offline_access openid patient/Observation.cruds patient/Condition.r system/*.rs")
    got = narrow(requested, allowed)
    assert str(got) == "offline_access patient/Observation.rs patient/Condition.r"


def test_too_many_scopes_are_refused():
    with pytest.raises(InvalidScope):
        parse_scopes(" ".join(["patient/Observation.rs"] * 101))
