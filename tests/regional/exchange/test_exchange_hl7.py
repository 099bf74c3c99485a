"""A member's HL7 v2 feed goes through the laboratory's HL7 interface, stamped with the member and counted."""

import sqlalchemy as sa

from smartcare.fhir import tables as ft
from smartcare.regional.exchange.tables import exchange_submission

URL = "/api/v1/exchange/hl7"
A04 = ("MSH|^~\\&|HIS|{facility}|SMARTCARE|REGION|20261126080000||ADT^A04^ADT_A01|{cid}|P|2.5\r"
       "EVN|A04|20261126080000\r"
       "PID|1||{mrn}^^^RIVERSIDE^MR||Wang^Li||19750304|F|||1 Jiefang Road^^Riverside^^339100^CN||139 0000 0001\r")


def message(cid: str, mrn: str = "M-1", facility: str = "RIVERSIDE-1") -> bytes:
    return A04.format(cid=cid, mrn=mrn, facility=facility).encode()


def patients(engine) -> list[dict]:
    with engine.connect() as conn:
        return [r.content for r in conn.execute(sa.select(ft.resource.c.content).where(
            ft.resource.c.res_type == "Patient"))]


def test_an_adt_message_is_stored_as_the_member_and_counted_once(anonymous, engine, hospital_a):
    headers = {**hospital_a.headers, "Content-Type": "x-application/hl7-v2+er7"}
    first = anonymous.post(URL, content=message("ADT-1"), headers=headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["ack_code"] == "AA" and "MSA|AA|ADT-1" in report["ack"]
    assert report["message"] == "ADT^A04" and report["counts"]["accepted"] == 1
    [patient] = patients(engine)
    assert patient["meta"]["source"] == "Organization/org-xa" and patient["name"][0]["family"] == "Wang"
    assert report["accepted"][0]["reference"] == f"Patient/{patient['id']}" and report["provenance"]
    again = anonymous.post(URL, content=message("ADT-1"), headers=headers)
    assert again.json() == {**report, "duplicate": True}
    assert len(patients(engine)) == 1
    with engine.connect() as conn:
        rows = conn.execute(sa.select(exchange_submission.c.kind, exchange_submission.c.accepted).where(
            exchange_submission.c.member == "Organization/org-xa")).all()
    assert [tuple(r) for r in rows] == [("hl7", 1)]


def test_a_message_naming_another_facility_is_refused(anonymous, engine, hospital_a, hospital_b):
    refused = anonymous.post(URL, content=message("ADT-2", facility="HEXI-CHC"), headers=hospital_a.headers)
    assert refused.status_code == 403 and "MSH-4 names 'HEXI-CHC'" in refused.json()["issue"][0]["diagnostics"]
    assert patients(engine) == []


def test_a_message_the_interface_cannot_take_is_reported_with_its_reason(anonymous, engine, hospital_a):
    broken = message("ADT-3").replace(b"|2.5\r", b"|2.1\r")  # a version the interface does not take
    answer = anonymous.post(URL, content=broken, headers=hospital_a.headers)
    assert answer.status_code == 422
    body = answer.json()
    assert body["status"] == "rejected" and body["ack_code"] in ("AE", "AR") and body["rejected"][0]["reason"]
    assert patients(engine) == []


def test_a_members_feed_over_mllp_is_stamped_with_the_member_and_counted(engine, hospital_a):
    import smartcare.cli  # noqa: F401  (what `smartcare lis` runs: the exchange routes members' feeds from its start)
    from smartcare.hospital.lab.interface import internal_error_ack, receive
    from smartcare.hospital.lab.mllp import ListenerSettings, safe_receiver, send_all, start_listener
    from tests.support import run_coroutine

    async def scenario() -> list[str]:
        # The listener `smartcare lis` runs: each frame goes to receive(text), with no context of its own.
        server = await start_listener(safe_receiver(lambda text: receive(text).ack, internal_error_ack),
                                      ListenerSettings(port=0))
        async with server:
            port = server.sockets[0].getsockname()[1]
            sent = [message("MLLP-1", mrn="M-7").decode(), message("MLLP-1", mrn="M-7").decode(),
                    message("MLLP-2", mrn="M-8", facility="UNKNOWN-LAB").decode()]
            return await send_all("127.0.0.1", port, sent)

    acks = run_coroutine(scenario())
    assert all("MSA|AA|" in ack for ack in acks)
    sources = sorted(p["meta"].get("source", "-") for p in patients(engine))
    assert sources == ["-", "Organization/org-xa"]  # another sender's message stays the lab interface's own
    with engine.connect() as conn:
        rows = conn.execute(sa.select(exchange_submission.c.kind, exchange_submission.c.accepted)).all()
    assert [tuple(r) for r in rows] == [("hl7", 1)]  # the resent message is not counted twice
