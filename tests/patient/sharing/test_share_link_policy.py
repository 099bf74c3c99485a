"""The access policy's share-link context: one patient, the scope's types, reading only; and the scopes' data."""

import pytest

from smartcare.patient.sharing.scopes import ScopeDataError, parse_scopes, share_scopes
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import SHARE_LINK_KIND, AccessDenied, decide


def link_ctx(scope: str = "results", patient: str | None = "Patient/pa1") -> AccessContext:
    return AccessContext(kind=SHARE_LINK_KIND, name="link-1", roles=frozenset({"share_link"}), patient=patient,
                         scopes=share_scopes()[scope].scope_set())


def test_a_link_reaches_only_its_patient_for_the_types_of_its_scope():
    decision = decide(link_ctx(), "search", "Observation", personal=True)
    assert decision.reach is not None and decision.reach.patients == frozenset({"pa1"})
    assert not decision.reach.organizations and decision.reach.related_person is None
    with pytest.raises(AccessDenied, match="does not include MedicationRequest"):
        decide(link_ctx(), "search", "MedicationRequest", personal=True)
    with pytest.raises(AccessDenied):
        decide(link_ctx(), "read", "Condition", personal=True)


@pytest.mark.parametrize("interaction", ["create", "update", "patch", "delete", "history", "everything", "export"])
def test_a_link_never_writes_or_exports(interaction):
    with pytest.raises(AccessDenied, match="only reads"):
        decide(link_ctx("full"), interaction, "Observation", personal=True)


def test_a_link_reads_the_directory_and_nothing_without_a_patient():
    assert decide(link_ctx(), "read", "Organization", personal=False).reach is None
    with pytest.raises(AccessDenied):
        decide(link_ctx(patient=None), "read", "Observation", personal=True)


def test_the_scopes_data_loads_and_every_scope_names_the_patient():
    scopes = share_scopes()
    assert list(scopes) == ["summary", "results", "summary_results", "full"]
    assert all("Patient" in s.types for s in scopes.values())
    assert "MedicationRequest" not in scopes["results"].types and "Observation" not in scopes["summary"].types
    assert set(scopes["summary_results"].types) == set(scopes["summary"].types) | set(scopes["results"].types)
    assert set(scopes["summary_results"].types) < set(scopes["full"].types)
    assert "Consent" not in scopes["full"].types and "AuditEvent" not in scopes["full"].types


@pytest.mark.parametrize("data", [
    {}, {"scopes": []}, {"scopes": [{"key": "x"}]},
    {"scopes": [{"key": "x", "title_en": "", "title_zh": "", "types": ["Observation"], "source": "", "checked": ""}]},
])
def test_bad_scopes_data_is_refused(data):
    with pytest.raises(ScopeDataError):
        parse_scopes(data)
