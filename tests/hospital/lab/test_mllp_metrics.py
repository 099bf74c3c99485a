"""The MLLP listener counts HL7 messages received, accepted (AA) and rejected (AE/AR) for Prometheus."""


from smartcare.hospital.lab.interface import internal_error_ack, receive
from smartcare.hospital.lab.mllp import ListenerSettings, safe_receiver, send_all, start_listener
from smartcare.platform.ops import metrics
from tests.support import run_coroutine

A04 = ("MSH|^~\\&|HIS|HOSP|SMARTCARE|LIS|20261126080000||ADT^A04^ADT_A01|MET-1|P|2.5\r"
       "PID|1||M-MET-1^^^HOSP^MR||Wang^Li||19750304|M\r")
NOT_HL7 = "MSH|^~\\&|HIS|HOSP|SMARTCARE|LIS|20261126080000||ZZZ^Z99|MET-2|P|2.5\r"


def _rejected() -> float:
    return sum(metrics.hl7_rejected.labels(code)._value.get() for code in ("AE", "AR", "CE", "CR", "other"))


def test_an_accepted_and_a_refused_message_move_the_counters(engine):
    before = metrics.hl7_received._value.get(), metrics.hl7_acked._value.get(), _rejected()

    async def scenario() -> list[str]:
        server = await start_listener(safe_receiver(lambda text: receive(text).ack, internal_error_ack),
                                      ListenerSettings(port=0))
        async with server:
            return await send_all("127.0.0.1", server.sockets[0].getsockname()[1], [A04, NOT_HL7])

    acks = run_coroutine(scenario())
    assert "MSA|AA|" in acks[0] and "MSA|AA|" not in acks[1]
    after = metrics.hl7_received._value.get(), metrics.hl7_acked._value.get(), _rejected()
    assert after == (before[0] + 2, before[1] + 1, before[2] + 1)
