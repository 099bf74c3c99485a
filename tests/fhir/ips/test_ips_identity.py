"""Whether the Patient of an imported Bundle is the person it is imported for."""

from smartcare.fhir.ips.identity import mismatch

MRN = "https://smartcare.example/fhir/sid/mrn"
LOCAL = {"resourceType": "Patient", "name": [{"family": "王", "given": ["丽"]}, {"family": "Wang", "given": ["Li"]}],
         "birthDate": "1970-05-01", "identifier": [{"system": MRN, "value": "MRN-1"}]}


def test_the_same_name_and_birth_date_is_the_same_person_whatever_the_spelling():
    assert mismatch(LOCAL, {"name": [{"text": "王丽"}], "birthDate": "1970-05-01"}) is None
    assert mismatch(LOCAL, {"name": [{"family": "WANG", "given": ["li"]}], "birthDate": "1970-05-01"}) is None


def test_a_shared_identifier_is_the_same_person():
    assert mismatch(LOCAL, {"identifier": [{"system": MRN, "value": "MRN-1"}]}) is None


def test_a_different_birth_date_or_identifier_or_name_is_another_person():
    assert mismatch(LOCAL, {"name": [{"text": "王丽"}], "birthDate": "1971-05-01"}) == "the birth date differs"
    assert "identifier" in mismatch(LOCAL, {"identifier": [{"system": MRN, "value": "MRN-2"}]})
    assert mismatch(LOCAL, {"name": [{"text": "Zhao Min"}], "birthDate": "1970-05-01"}) == "the name differs"


def test_a_name_alone_is_not_enough():
    assert "cannot be matched" in mismatch(LOCAL, {"name": [{"text": "王丽"}]})
    assert "cannot be matched" in mismatch(LOCAL, {"resourceType": "Patient"})
