"""Prometheus metrics: HTTP traffic by route template, the job outbox, and the counters the ingest edges (HL7 MLLP,
DICOM, MQTT devices) move. With PROMETHEUS_MULTIPROC_DIR set (before the process starts), the processes of
`smartcare serve --workers N` and the listeners write to files there and /metrics adds them all up."""

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Pages answer in tens of milliseconds; FHIR searches, exports and uploads can take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

http_requests = Counter("smartcare_http_requests", "HTTP requests answered, by method, route template and status "
                        "class", ["method", "route", "status"])
http_latency = Histogram("smartcare_http_request_duration_seconds", "Time to answer an HTTP request, by route "
                         "template", ["route"], buckets=LATENCY_BUCKETS)
hl7_received = Counter("smartcare_hl7_messages_received", "HL7 v2 messages received over MLLP")
hl7_acked = Counter("smartcare_hl7_messages_acked", "HL7 v2 messages answered with an AA (application accept)")
hl7_rejected = Counter("smartcare_hl7_messages_rejected", "HL7 v2 messages answered with an AE or AR, by code",
                       ["code"])
dicom_associations = Counter("smartcare_dicom_associations", "DICOM associations accepted by the PACS")
dicom_instances = Counter("smartcare_dicom_instances_stored", "DICOM instances received by C-STORE, by outcome "
                          "(stored or failed)", ["outcome"])
device_frames = Counter("smartcare_device_frames", "MQTT device messages, by what became of them (received, "
                        "stored, duplicates, refused)", ["outcome"])
DEVICE_OUTCOMES = ("received", "stored", "duplicates", "refused")
# From a device reading's arrival to the alert it raised: the care team is to hear within seconds.
alert_latency = Histogram("smartcare_alert_latency_seconds", "Time from a home device reading reaching SmartCare to "
                          "the monitoring alert it raised", buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                                                                       60.0, 300.0))


def count_hl7_ack(ack: str) -> None:
    """Count one received HL7 message by the acknowledgement code (MSA-1) of its ACK."""
    hl7_received.inc()
    at = ack.find("MSA|")
    code = ack[at + 4:at + 6] if at >= 0 else ""
    if code in ("AA", "CA"):
        hl7_acked.inc()
    else:
        hl7_rejected.labels(code if code in ("AE", "AR", "CE", "CR") else "other").inc()


def count_device_frames(**counts: int) -> None:
    """Add the device subscriber's counts (received=, stored=, duplicates=, refused=) to the metrics."""
    for outcome, n in counts.items():
        if n and outcome in DEVICE_OUTCOMES:
            device_frames.labels(outcome).inc(n)


def observe_alert_latency(seconds: float) -> None:
    """Note how long an alert took from its reading's arrival (negative clock skew counts as none)."""
    alert_latency.observe(max(0.0, seconds))


class JobOutboxCollector:
    """The job outbox read at scrape time (not on any request): jobs due now and waiting, and their oldest age."""

    def __init__(self, engine_factory) -> None:
        self.engine_factory = engine_factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import sqlalchemy as sa

        from smartcare.platform import clock
        from smartcare.platform.clock import format_instant
        from smartcare.platform.jobs.service import claimable
        from smartcare.platform.jobs.tables import job

        due = GaugeMetricFamily("smartcare_jobs_due", "Jobs in the outbox that are due and not yet done")
        try:
            with self.engine_factory().connect() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(job)
                                     .where(claimable(format_instant(clock.now())))).scalar_one()
        except sa.exc.SQLAlchemyError:
            return  # the database is away: /readyz says so; the scrape still gives everything else
        due.add_metric([], count)
        yield due


def multiprocess_dir() -> str:
    """The directory of the processes' metric files ('' when each process keeps its own)."""
    return os.environ.get(MULTIPROC_ENV, "")


def exposition(engine_factory) -> bytes:
    """The metrics in Prometheus' text format: this process's (or, in multiprocess mode, every process's) and the
    job outbox."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_Everything())
    registry.register(JobOutboxCollector(engine_factory))
    return generate_latest(registry)


class _Everything:
    """This process's default registry, as one collector of another registry."""

    def collect(self):
        yield from REGISTRY.collect()
