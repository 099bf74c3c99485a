"""The operations surface of the web server: request ids, JSON access lines without identifiers, /readyz, /metrics."""

import json
import logging

import pytest
from fastapi.testclient import TestClient

from smartcare.platform.ops import logs
from smartcare.platform.web.app import create_app


@pytest.fixture
def web(engine) -> TestClient:
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


@pytest.fixture
def local(engine) -> TestClient:
    """A client calling from the loopback address, as Prometheus on the same host does."""
    return TestClient(create_app(), base_url="http://testserver", client=("127.0.0.1", 40000))


@pytest.fixture
def json_lines():
    """Every record written during the test, as the JSON log format writes it."""
    lines: list[dict] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(self.format(record)))

    handler = Keep(level=logging.DEBUG)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger()
    access = logging.getLogger(logs.ACCESS_LOGGER)
    old_level = access.level
    access.setLevel(logging.INFO)
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)
    access.setLevel(old_level)


def test_each_request_gets_an_id_and_a_well_formed_incoming_one_is_kept(web):
    first, second = web.get("/healthz"), web.get("/healthz")
    assert first.headers["x-request-id"] and first.headers["x-request-id"] != second.headers["x-request-id"]
    kept = web.get("/healthz", headers={"X-Request-ID": "lb-1234abcd-5678"})
    assert kept.headers["x-request-id"] == "lb-1234abcd-5678"
    forged = web.get("/healthz", headers={"X-Request-ID": "x\" injected=1 <script>"})
    assert forged.headers["x-request-id"] != "x\" injected=1 <script>" and "<" not in forged.headers["x-request-id"]


def test_access_lines_are_json_with_the_route_template_and_no_identifiers_or_query(web, json_lines):
    answer = web.get("/fhir/Patient/pa-secret-id?name=Wang&birthdate=1950-01-01",
                     headers={"X-Request-ID": "trace-0001-abcd", "Authorization": "Bearer sekrit-token",
                              "Cookie": "sc_session=cookie-value"})
    assert answer.status_code == 401
    access = [line for line in json_lines if line["logger"] == logs.ACCESS_LOGGER]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "trace-0001-abcd" and line["method"] == "GET" and line["status"] == 401
    assert line["route"] == "/fhir/{path:path}" and isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= set(line)
    written = json.dumps(json_lines)
    for secret in ("pa-secret-id", "Wang", "1950-01-01", "sekrit-token", "cookie-value"):
        assert secret not in written


def test_a_missing_page_is_logged_as_unmatched_not_by_its_path(web, json_lines):
    web.get("/no/such/Patient-123", headers={"accept": "text/html"})
    access = [line for line in json_lines if line["logger"] == logs.ACCESS_LOGGER]
    assert access[-1]["route"] == "(unmatched)" and access[-1]["status"] == 404
    assert "Patient-123" not in json.dumps(json_lines)


def test_log_lines_written_while_serving_carry_the_request_id(engine, json_lines):
    from fastapi import FastAPI

    from smartcare.platform.ops.web import install_request_ops

    app = FastAPI()

    @app.get("/work")
    def work() -> dict:
        logging.getLogger("smartcare.test").warning("working on it")
        return {}

    install_request_ops(app)
    TestClient(app).get("/work", headers={"X-Request-ID": "req-feedface-01"})
    said = [line for line in json_lines if line["message"] == "working on it"]
    assert said and said[0]["request_id"] == "req-feedface-01" and said[0]["level"] == "WARNING"
    logging.getLogger("smartcare.test").warning("outside a request")
    assert json_lines[-1]["request_id"] is None


def test_readyz_is_ready_on_a_migrated_database(web):
    answer = web.get("/readyz")
    assert answer.status_code == 200 and answer.json() == {"status": "ready"}
    assert web.get("/healthz").json() == {"status": "ok"}


def test_readyz_says_503_and_why_on_an_unmigrated_database(tmp_path):
    from smartcare.platform.db import make_engine, use_engine

    use_engine(make_engine(f"sqlite:///{tmp_path}/empty.db"))
    try:
        answer = TestClient(create_app()).get("/readyz")
    finally:
        use_engine(None)
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert [check["name"] for check in body["checks"]] == ["schema"] and "none" in body["checks"][0]["detail"]


def _sample(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_metrics_count_requests_by_route_template_and_status_class(local):
    counter = 'smartcare_http_requests_total{method="GET",route="/healthz",status="2xx"}'
    before = _sample(local.get("/metrics").text, counter)
    for _ in range(3):
        local.get("/healthz")
    text = local.get("/metrics").text
    assert _sample(text, counter) == before + 3
    assert 'smartcare_http_request_duration_seconds_bucket{le="0.005",route="/healthz"}' in text
    assert "smartcare_jobs_due " in text


def test_metrics_are_refused_to_a_caller_from_another_address(web, monkeypatch):
    assert web.get("/metrics").status_code == 404
    monkeypatch.setenv("SMARTCARE_METRICS_TOKEN", "scrape-token-1234")
    assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    allowed = web.get("/metrics", headers={"Authorization": "Bearer scrape-token-1234"})
    assert allowed.status_code == 200 and "smartcare_http_requests_total" in allowed.text


def test_ingest_counters_move():
    from smartcare.platform.ops import metrics

    before = metrics.hl7_received._value.get(), metrics.hl7_acked._value.get()
    metrics.count_hl7_ack("MSH|^~\\&|SMARTCARE\rMSA|AA|123")
    metrics.count_hl7_ack("MSH|^~\\&|SMARTCARE\rMSA|AR|124")
    assert (metrics.hl7_received._value.get(), metrics.hl7_acked._value.get()) == (before[0] + 2, before[1] + 1)
    rejected = metrics.hl7_rejected.labels("AR")._value.get()
    metrics.count_hl7_ack("MSA|AR|125")
    assert metrics.hl7_rejected.labels("AR")._value.get() == rejected + 1


def test_several_processes_counts_add_up_in_multiprocess_mode(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = "from smartcare.platform.ops import metrics; metrics.hl7_received.inc(3)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    show = ("import sqlalchemy as sa; from smartcare.platform.ops import metrics; "
            "print(metrics.exposition(lambda: sa.create_engine('sqlite:///' + sys.argv[1])).decode())")
    shown = subprocess.run([sys.executable, "-c", "import sys; " + show, str(tmp_path / "db" / "none.db")], env=env,
                           check=True, timeout=60, capture_output=True, text=True).stdout
    assert "smartcare_hl7_messages_received_total 6.0" in shown
