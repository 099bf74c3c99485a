"""Patient/$ihe-pdq: the IHE PDQm (ITI-78) demographics query on the MPI, under the access policy."""

import pytest

from tests.conftest import bearer
from tests.regional.mpi.test_mpi_fhir_operations import MRN_A, stored_region


@pytest.fixture
def region(client, engine):
    """Li Na at hospital A (pa-1) and in pinyin at hospital B (pb-7), one identity; Wang Fang at A (pa-2)."""
    return stored_region(client, engine)


def test_a_family_and_birth_date_query_finds_the_person_with_their_other_institutions_record(region):
    answer = region.get("/fhir/Patient/$ihe-pdq", params={"family": "Li", "birthdate": "1975-02-03"})
    assert answer.status_code == 200, answer.text[:300]
    bundle = answer.json()
    assert (bundle["type"], bundle["total"]) == ("searchset", 1)
    match = next(e for e in bundle["entry"] if e["search"]["mode"] == "match")
    assert match["resource"]["id"] == "pb-7"
    assert match["resource"]["link"] == [{"other": {"reference": "Patient/pa-1"}, "type": "seealso"}]
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["id"] for e in included] == ["pa-1"]
    assert included[0]["resource"]["identifier"][0] == {"system": MRN_A, "value": "A-001"}


def test_each_pdqm_parameter_narrows_the_answer(region):
    def ids(**params) -> list[str]:
        bundle = region.get("/fhir/Patient/$ihe-pdq", params=params).json()
        return sorted(e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match")

    assert ids(gender="female") == ["pa-1", "pa-2", "pb-7"]
    assert ids(given="Na") == ["pb-7"]
    assert ids(identifier=f"{MRN_A}|A-002") == ["pa-2"]
    assert ids(telecom="13900001111") == ["pa-1", "pb-7"]
    assert ids(birthdate="1990-11-30") == ["pa-2"]
    assert ids(family="L") == ["pb-7"]
    assert ids(family="Li", gender="male") == []
    assert ids(**{"family:exact": "L"}) == []


def test_paging_keeps_to_the_pdqm_operation(region):
    first = region.get("/fhir/Patient/$ihe-pdq", params={"gender": "female", "_count": "2"}).json()
    assert first["total"] == 3
    assert len([e for e in first["entry"] if e["search"]["mode"] == "match"]) == 2
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "/Patient/$ihe-pdq?" in following and "_offset=2" in following
    rest = region.get(following.replace("http://testserver", "")).json()
    assert [e["resource"]["id"] for e in rest["entry"] if e["search"]["mode"] == "match"] == ["pb-7"]


def test_a_form_post_is_the_same_query(region):
    answer = region.post("/fhir/Patient/$ihe-pdq", data={"family": "Li", "birthdate": "1975-02-03"})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["total"] == 1


@pytest.mark.parametrize(("params", "message"), [
    ({}, "at least one demographic"),
    ({"name": "李娜"}, "not a PDQm"),
    ({"family:contains": "李"}, "not a PDQm"),
    ({"family": ""}, "empty value"),
    ({"family": "李" * 201}, "over 200"),
    ({"family": "李", "_count": "0"}, "_count"),
    ({"birthdate": "yesterday"}, "birthdate"),
])
def test_bad_queries_get_an_operation_outcome(region, params, message):
    answer = region.get("/fhir/Patient/$ihe-pdq", params=params)
    assert answer.status_code == 400
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]


def test_a_patient_user_finds_only_her_own_registrations(region):
    headers = bearer("patient/*.rs", kind="user", name="li.na", roles={"patient"}, subject="u-li",
                     fhir_user="Patient/pa-1", patient="Patient/pa-1")
    answer = region.get("/fhir/Patient/$ihe-pdq", params={"gender": "female"}, headers=headers)
    assert answer.status_code == 200, answer.text[:300]
    entries = answer.json()["entry"]
    # Her record at hospital B is hers too (one identity, policy.py); Wang Fang's is neither listed nor linked.
    assert {e["resource"]["id"] for e in entries} == {"pa-1", "pb-7"}
    links = [link["other"]["reference"] for e in entries for link in e["resource"].get("link", [])]
    assert "Patient/pa-2" not in links and "Patient/pb-7" in links
