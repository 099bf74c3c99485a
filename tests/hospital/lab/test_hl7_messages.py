"""Parsing and checking inbound HL7 v2 messages, and the ACK each gets (MSA-1, MSA-2, ERR)."""

import pytest

from smartcare.hospital.lab.hl7_messages import Hl7Error, ack_code_of, build_ack, header_of, parse
from tests.support import need_shared

GOOD = ("MSH|^~\\&|ANALYSER|LAB1|SMARTCARE|HOSP|20261126101500||ORU^R01|CTRL-9|P|2.5.1\r"
        "PID|1||MRN-77^^^HOSP^MR||Lee^Ann\rOBR|1|PO-1|L26112600042|2345-7^Glucose^LN\r"
        "OBX|1|NM|2345-7^Glucose^LN||6.2|mmol/L\r")


def _fields(ack: str, segment: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith(segment)).split("|")


def test_well_formed_message_parses_with_its_header():
    inbound = parse(GOOD.replace("\r", "\n"))  # LF segment ends, as files often have, are accepted
    assert inbound.kind == "ORU^R01"
    assert inbound.header.control_id == "CTRL-9" and inbound.header.sending_facility == "LAB1"
    assert [str(s[0]) for s in inbound.segments] == ["MSH", "PID", "OBR", "OBX"]


def test_aa_ack_echoes_the_control_id_and_swaps_sender_and_receiver():
    ack = build_ack(parse(GOOD).header, ack_code="AA")
    msh, msa = _fields(ack, "MSH"), _fields(ack, "MSA")
    assert msh[4:6] == ["ANALYSER", "LAB1"] and msh[8] == "ACK^R01^ACK" and msh[11] == "2.5.1"
    assert msa[1:3] == ["AA", "CTRL-9"]
    assert "ERR" not in ack and ack_code_of(ack) == "AA"


@pytest.mark.parametrize(("raw", "code", "location"), [
    ("PID|1||MRN-77\rOBR|1|PO-1", 100, "MSH"),  # missing MSH
    (GOOD.replace("MSH|^~\\&|", "MSHA^~\\&|", 1), 102, "MSH^1^1"),  # bad field separator
    (GOOD.replace("MSH|^~\\&|", "MSH|^~|", 1), 102, "MSH^1^2"),  # wrong encoding characters
    (GOOD.replace("MSH|^~\\&|", "MSH|^^\\&|", 1), 102, "MSH^1^2"),  # repeated encoding character
    (GOOD.replace("|CTRL-9|", "||"), 101, "MSH^1^10"),
    (GOOD.replace("ORU^R01", "ORM^O01"), 200, "MSH^1^9"),
    (GOOD.replace("|2.5.1", "|2.1"), 203, "MSH^1^12"),
    (GOOD.replace("|P|2.5.1", "|X|2.5.1"), 202, "MSH^1^11"),
    (GOOD[:-38], 100, "O"),  # truncated mid-segment: a segment id that is no segment id
])
def test_malformed_messages_are_rejected_with_the_problem_named(raw, code, location):
    with pytest.raises(Hl7Error) as caught:
        parse(raw)
    error = caught.value
    assert error.code == code and error.ack_code == "AR"
    ack = build_ack(header_of(raw), ack_code=error.ack_code, error=error)
    msa, err = _fields(ack, "MSA"), _fields(ack, "ERR")
    assert msa[1] == "AR"
    assert msa[2] == ("CTRL-9" if code not in (100, 101) and raw.startswith("MSH|") else msa[2])
    assert err[3].startswith(f"{code}^") and err[3].endswith("^HL70357")
    assert err[2].startswith(location) or err[1].startswith(location)


def test_truncated_message_keeps_its_control_id_in_the_ack():
    raw = GOOD.split("\rOBX")[0][:-10]
    with pytest.raises(Hl7Error) as caught:
        parse(raw + "\rOB")
    ack = build_ack(header_of(raw), ack_code="AR", error=caught.value)
    assert _fields(ack, "MSA")[1:3] == ["AR", "CTRL-9"]


def test_hostile_field_lengths_and_delimiters_in_the_text_are_escaped_in_the_ack():
    error = Hl7Error("bad value |x^y&z~w\\", code=102, segment="OBX", sequence=2, field_no=5)
    ack = build_ack(parse(GOOD).header, ack_code="AE", error=error)
    err = _fields(ack, "ERR")
    assert err[2] == "OBX^2^5" and err[4] == "E"
    assert "\\F\\x\\S\\y\\T\\z\\R\\w\\E\\" in err[8]
    with pytest.raises(Hl7Error) as caught:
        parse(GOOD.replace("Lee^Ann", "L" * 5000))
    assert caught.value.code == 102 and caught.value.segment == "PID"


@pytest.mark.parametrize("name", ["01_ORU_R01_v2.4_glucose_HL7std.hl7", "02_ORU_R01_v2.5_CBC_hemogram.hl7",
                                  "04_ORU_R01_v2.5.1_NIST_LRI_CBC.hl7", "05_ORU_R01_v2.5.1_public_health_lab.hl7",
                                  "14_ADT_A01_v2.4_UHN.hl7", "15_ADT_A04_v2.5_VINAH.hl7", "18_ADT_A08_v2.8_full.hl7"])
def test_real_sample_messages_parse(name):
    raw = need_shared(f"hl7-samples/{name}").read_bytes().decode("ascii")
    inbound = parse(raw)
    assert inbound.header.control_id and inbound.header.message_code in ("ORU", "ADT")


@pytest.mark.parametrize(("name", "code"), [("06_ORM_O01_v2.3_lab_order.hl7", 200),
                                            ("11_OUL_R22_v2.5.1_HL7std_specimen_results.hl7", 200),
                                            ("19_BAR_P01_v2.4_billing.hl7", 200), ("20_ACK_v2.1.hl7", 200)])
def test_real_sample_messages_of_other_types_are_rejected_as_unsupported(name, code):
    raw = need_shared(f"hl7-samples/{name}").read_bytes().decode("ascii")
    with pytest.raises(Hl7Error) as caught:
        parse(raw)
    assert caught.value.code == code and caught.value.ack_code == "AR"
