"""A real multi-disciplinary session: three headless Chromium pages with fake cameras and microphones (the
requesting doctor and two convened specialists) join one room on a live server; every page's peer connections
with both others reach `connected` and media flows on each of them (inbound RTP bytes grow between two
getStats() polls), and "show to everyone" opens the shared imaging study on the other two pages."""

import uuid
from datetime import timedelta

import pytest

from smartcare.fhir import store
from smartcare.hospital.teleconsult import service
from smartcare.platform import clock, migrate
from smartcare.platform.db import make_engine, unit_of_work, use_engine
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in
from tests.hospital.teleconsult.conftest import SHARED, STAFF, clinic_records, directory
from tests.hospital.video.test_video_browser import DESKTOP, chromium  # noqa: F401
from tests.support import live_server

PASSWORD = "Quiet-Meadow-Compass-37"
TEAM = ("gp", "cardio", "imaging")  # the requesting doctor, the cardiologist, the imaging doctor
STUDY = "ImagingStudy/img-chest"
# Each peer connection of the page: its state and the RTP bytes received on it.
PEERS = """async () => {
  const found = [];
  for (const entry of Object.values(window.smartcareRoom.peers)) {
    let bytes = 0;
    if (entry.pc) (await entry.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp") bytes += r.bytesReceived || 0; });
    found.push({participant: entry.participant, state: entry.pc ? entry.pc.connectionState : "none", bytes});
  }
  return found;
}"""
ALL_CONNECTED = """() => {
  const peers = Object.values(window.smartcareRoom.peers);
  return peers.length === 2 && peers.every((p) => p.pc && p.pc.connectionState === "connected");
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server on a temporary SQLite store holding the remote consultation tests' small region."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('mdt')}/mdt.db")
    migrate.upgrade(engine)
    use_engine(engine)
    with live_server("mdt-uvicorn") as url:
        yield engine, url
    use_engine(None)
    engine.dispose()


@pytest.fixture
def session(server) -> tuple[str, dict[str, str]]:
    """A consultation the community doctor asked, convened an hour from now with the two specialists: (its id,
    usernames by key)."""
    engine, _ = server
    use_engine(engine)
    tag = uuid.uuid4().hex[:6]
    names = {key: f"{STAFF[key][0]}.{tag}" for key in TEAM}
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in directory()])
        made = {key: users.create_user(conn, username=names[key], password=PASSWORD, role="doctor",
                                       fhir_ref=f"Practitioner/{STAFF[key][1]}",
                                       organization=f"Organization/{STAFF[key][2]}") for key in TEAM}
    with unit_of_work(engine) as conn:
        gp = users.context_for(made["gp"])
        store.write_batch(conn, gp, [store.Write("PUT", r["resourceType"], r["id"], r) for r in clinic_records()])
        asked = service.create(conn, ctx=gp, draft=service.Draft(
            patient_id="Patient/pa1", department="HealthcareService/hcs-cardio", question="Heart failure?",
            urgency="urgent", records=tuple(SHARED)))
    with unit_of_work(engine) as conn:
        service.convene(conn, ctx=users.context_for(made["cardio"]), task_id=asked.id,
                        specialists=["Practitioner/prac-li", "Practitioner/prac-sun"],
                        start=clock.now() + timedelta(hours=1))
    return asked.id, names


def test_three_doctors_see_and_hear_each_other_and_look_at_the_study_together(chromium, server, session):  # noqa: F811
    _, base_url = server
    teleconsult_id, names = session
    contexts = [chromium.new_context(viewport=DESKTOP, locale="en-US", base_url=base_url) for _ in TEAM]
    try:
        pages = {key: context.new_page() for key, context in zip(TEAM, contexts, strict=True)}
        for key, page in pages.items():
            sign_in(page, names[key], PASSWORD)
            page.goto(f"/workstation/video/rooms/{teleconsult_id}")
            page.click("#mdt-join")
        for page in pages.values():
            page.wait_for_function(ALL_CONNECTED, timeout=20_000)
        first = {key: page.evaluate(PEERS) for key, page in pages.items()}
        pages["gp"].wait_for_timeout(2000)
        second = {key: page.evaluate(PEERS) for key, page in pages.items()}
        for key in TEAM:
            before = {p["participant"]: p["bytes"] for p in first[key]}
            after = {p["participant"]: p["bytes"] for p in second[key]}
            others = {f"Practitioner/{STAFF[k][1]}" for k in TEAM if k != key}
            assert set(after) == others, (key, after)
            assert all(after[p] > before[p] for p in others), (key, before, after)
        # The joins were said to assistive technology, and the status line counts the connections.
        assert "joined the session" in pages["gp"].text_content("#mdt-announce")
        assert pages["gp"].text_content("#mdt-status") == "Connected with 2 of 2"

        pages["gp"].click(f".mdt-show[data-item='{STUDY}']")
        for key in ("cardio", "imaging"):
            page = pages[key]
            page.wait_for_function(f"() => document.getElementById('mdt-viewing').dataset.item === '{STUDY}'")
            assert "is showing" in page.text_content("#mdt-viewing")
            viewer = page.locator(f".mdt-item[data-item='{STUDY}'] iframe")
            assert viewer.get_attribute("src") == "/workstation/imaging/studies/img-chest/viewer"
            # The viewer may be framed by our own room (frame-ancestors 'self'): its page loads inside.
            page.frame_locator(f".mdt-item[data-item='{STUDY}'] iframe").locator("main").wait_for()
            assert page.locator(f".mdt-item[data-item='{STUDY}']").is_visible()
        pages["cardio"].screenshot(path="/tmp/sc-mdt-room.png", full_page=True)

        # One specialist leaves: the others hear it and drop that connection.
        pages["imaging"].click("#mdt-leave")
        pages["gp"].wait_for_function("() => Object.keys(window.smartcareRoom.peers).length === 1")
        assert "left the session" in pages["gp"].text_content("#mdt-announce")
    finally:
        for context in contexts:
            context.close()
