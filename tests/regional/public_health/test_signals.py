"""Signals and outbreaks: triage (a reason to discard, If-Match, once only), officers told in their language, the
chart the detector's own output, an outbreak opened from a verified signal linking the right case reports, and the
officers' acts on it; nobody else may do any of it."""

from datetime import date, timedelta

import pytest

from smartcare.fhir import store
from smartcare.knowledge.surveillance import detect
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import detection, outbreaks, signals
from smartcare.regional.public_health.signals import Alarm, SeriesKey, SignalConflict, SignalRefused
from tests.regional.public_health.test_detection import (
    HEDONG,
    HEXI,
    OFFICER,
    YESTERDAY,
    all_signals,
    daily_reports,
)
from tests.regional.public_health.test_review import case, put
from tests.web_support import make_user

ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
WINDOW = detection.config().outbreak_window
STRANGERS = [AccessContext(kind="user", name="r", roles=frozenset({"researcher"})),
             AccessContext(kind="user", name="d", roles=frozenset({"doctor"}))]


def spike(engine):
    """Influenza in Hedong: one case a day for 83 days, then 8 yesterday; Hexi flat; a few reports that must not
    be linked (another district, discarded, another disease). The detection has run once."""
    put(engine, *daily_reports(HEDONG, [1] * 83 + [8], prefix="a"), *daily_reports(HEXI, [1] * 84, prefix="b"),
        case("x-discarded", "px1", state="discarded", district=HEDONG, diagnosed="2026-03-01T08:00:00+08:00"),
        case("x-measles", "px2", disease="measles", district=HEDONG, diagnosed="2026-03-01T08:00:00+08:00"))
    with unit_of_work(engine) as conn:
        detection.run(conn, ctx=OFFICER)
    return engine


@pytest.fixture
def spiked(engine, now):
    """The spiked region (see spike), at 2 March 2026."""
    return spike(engine)


def c1(engine, place: str = HEDONG) -> signals.Signal:
    return next(s for s in all_signals(engine) if s.key.place == place and s.method == "ears-c1")


def triage(engine, signal: signals.Signal, act: str, reason: str = "", version: int | None = None,
           ctx: AccessContext = OFFICER) -> signals.Signal:
    with unit_of_work(engine) as conn:
        return signals.triage(conn, ctx=ctx, signal_id=signal.id, act=act, reason=reason,
                              version=signal.version if version is None else version)


def open_from(engine, signal: signals.Signal, title: str = "Influenza cluster, Hedong") -> outbreaks.Outbreak:
    with unit_of_work(engine) as conn:
        return outbreaks.open_outbreak(conn, ctx=OFFICER, signal_id=signal.id, title=title, version=signal.version,
                                       periods_before=WINDOW)


def outbreak_act(engine, outbreak: outbreaks.Outbreak, act: str, **given) -> outbreaks.Outbreak:
    with unit_of_work(engine) as conn:
        return outbreaks.act(conn, ctx=OFFICER, outbreak_id=outbreak.id, act_name=act, version=outbreak.version,
                             **given)


@ONE_STORE
@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "bad\x07bell"])
def test_discarding_needs_a_reason_of_at_most_500_plain_characters_and_changes_nothing_without_one(spiked, reason):
    signal = c1(spiked)
    with pytest.raises(SignalRefused) as refused:
        triage(spiked, signal, "discard", reason)
    assert refused.value.field == "reason" and c1(spiked).state == "new" and c1(spiked).version == 1


@ONE_STORE
def test_a_discarded_signal_keeps_who_why_and_when_and_cannot_be_triaged_again(spiked):
    signal = triage(spiked, c1(spiked), "discard", "Late reports from one clinic arrived together")
    assert (signal.state, signal.triage["act"], signal.triage["by"]) == ("discarded", "discard", "officer.li")
    assert signal.triage["text"] == "Late reports from one clinic arrived together"
    with unit_of_work(spiked) as conn:
        assert store.read(conn, SYSTEM, res_type="DetectedIssue", res_id=signal.id).resource["status"] == \
            "entered-in-error"
        trail = audit.search(conn, agent="user/officer.li", subtype="update")
    assert trail[0]["event"]["entity"][0]["what"]["reference"] == f"DetectedIssue/{signal.id}"
    with pytest.raises(SignalConflict):
        triage(spiked, signal, "verify")


@ONE_STORE
def test_a_triage_on_a_version_since_changed_is_refused_as_a_conflict(spiked):
    signal = c1(spiked)
    with pytest.raises(SignalConflict):
        triage(spiked, signal, "verify", version=signal.version + 1)
    with pytest.raises(SignalRefused):
        triage(spiked, signal, "escalate")
    assert c1(spiked).state == "new"


@ONE_STORE
def test_the_chart_a_signal_keeps_is_the_detectors_output_on_the_series(spiked):
    signal = c1(spiked)
    rows = detect("ears-c1", [1] * 83 + [8], frequency=365)
    chart = signal.chart
    assert chart["counts"] == [1] * 83 + [8] and len(chart["labels"]) == 84
    assert chart["labels"][0] == "2025-12-08" and chart["labels"][-1] == "2026-03-01"
    assert chart["expected"] == [r.expected for r in rows] and chart["upper"] == [r.upper for r in rows]
    assert chart["alarms"] == [r.alarm for r in rows] and chart["alarms"][-1] is True


@ONE_STORE
def test_a_verified_signal_opens_an_outbreak_linking_the_counted_cases_of_its_district_and_window(spiked):
    signal = triage(spiked, c1(spiked), "verify", "Confirmed with the district CDC")
    outbreak = open_from(spiked, signal)
    window = [(YESTERDAY - timedelta(days=n)).isoformat() for n in range(8)]
    expected = {f"a-{83 - n}-{k}" for n in range(8) for k in range(8 if n == 0 else 1)}
    assert set(outbreak.cases) == expected and len(expected) == 15
    assert (outbreak.window_start, outbreak.window_end) == (date.fromisoformat(window[-1]), YESTERDAY)
    assert outbreak.status == "open" and outbreak.key == signal.key and outbreak.signal == f"DetectedIssue/{signal.id}"
    with unit_of_work(spiked) as conn:
        _opened, linked = outbreaks.get(conn, ctx=OFFICER, outbreak_id=outbreak.id)
        listed_for = {e["patient"] for e in audit.search(conn, agent="user/officer.li", limit=200) if e["patient"]}
    assert {r.facts.id for r in linked} == expected
    assert {f"Patient/pat-{c}" for c in expected} <= listed_for
    assert c1(spiked).outbreak == f"List/{outbreak.id}"
    with pytest.raises(SignalConflict):
        open_from(spiked, c1(spiked))


@ONE_STORE
def test_only_a_verified_signal_opens_an_outbreak_and_it_needs_a_title(spiked):
    with pytest.raises(SignalConflict):
        open_from(spiked, c1(spiked))
    signal = triage(spiked, c1(spiked), "verify")
    with pytest.raises(SignalRefused) as refused:
        open_from(spiked, signal, title="  ")
    assert refused.value.field == "title"


@ONE_STORE
def test_officers_add_and_remove_cases_write_notes_and_close_the_outbreak(spiked):
    outbreak = open_from(spiked, triage(spiked, c1(spiked), "verify"))
    outbreak = outbreak_act(spiked, outbreak, "add", case_id="b-83-0")
    assert outbreak.cases[-1] == "b-83-0" and len(outbreak.cases) == 16
    for bad, error in (("b-83-0", SignalConflict), ("x-discarded", SignalRefused), ("nope", SignalRefused)):
        with pytest.raises(error):
            outbreak_act(spiked, outbreak, "add", case_id=bad)
    outbreak = outbreak_act(spiked, outbreak, "remove", case_id="a-83-7")
    assert "a-83-7" not in outbreak.cases and len(outbreak.cases) == 15
    with pytest.raises(SignalRefused):
        outbreak_act(spiked, outbreak, "note", text="")
    outbreak = outbreak_act(spiked, outbreak, "note", text="School A: 6 of the cases <b>same class</b>")
    assert outbreak.notes[-1]["text"] == "School A: 6 of the cases <b>same class</b>"
    assert outbreak.notes[-1]["by"] == "officer.li"
    with pytest.raises(SignalConflict):
        outbreak_act(spiked, _stale(outbreak), "note", text="late")
    closed = outbreak_act(spiked, outbreak, "close", text="Over: no case for 14 days")
    assert closed.status == "closed"
    with pytest.raises(SignalConflict):
        outbreak_act(spiked, closed, "add", case_id="b-82-0")


def _stale(outbreak: outbreaks.Outbreak) -> outbreaks.Outbreak:
    fields = {name: getattr(outbreak, name) for name in outbreaks.Outbreak.__slots__}
    return outbreaks.Outbreak(**{**fields, "version": 1})


@ONE_STORE
def test_an_open_outbreak_and_a_recent_triage_hold_back_new_signals_of_their_series(spiked, now):
    signal = triage(spiked, c1(spiked), "verify")
    open_from(spiked, signal)
    with unit_of_work(spiked) as conn:
        assert signal.key.text in outbreaks.open_series(conn)
    key = SeriesKey("disease", "influenza", HEXI, "onset", "daily")
    later = Alarm(key, "ears-c1", YESTERDAY, 0, [])
    discarded = signals.Signal(id="s", version=2, key=key, method="ears-c1", period_start=YESTERDAY - timedelta(days=3),
                               period_end=YESTERDAY, observed=5, expected=1, upper=2, score=3, state="discarded",
                               identified="", reason_en="", reason_zh="", run=None, outbreak=None)
    assert signals.covered(later, [discarded], hold=7, open_series=set())
    assert not signals.covered(later, [discarded], hold=3, open_series=set())
    assert signals.covered(later, [], hold=0, open_series={key.text})


@ONE_STORE
def test_new_signals_are_sent_to_each_officer_in_their_language(engine, now):
    li = make_user(engine, "public_health_officer", username="officer.li")
    wang = make_user(engine, "public_health_officer", username="officer.wang", locale="zh-Hans")
    make_user(engine, "doctor")
    put(engine, *daily_reports(HEDONG, [0] * 83 + [5], prefix="n", disease="measles"))
    with unit_of_work(engine) as conn:
        raised = detection.run(conn, ctx=SYSTEM, trigger="schedule").signals
        english, chinese = inbox(conn, user_id=li.id), inbox(conn, user_id=wang.id)
    assert 0 < len(raised) <= signals.SUMMARY_OVER and len(english) == len(raised) == len(chinese)
    assert {n["title"] for n in english} == {"New outbreak signal"} and {n["title"] for n in chinese} == {"新的暴发信号"}
    assert any(n["body"].startswith("Measles, Hedong District: 5 cases") for n in english)
    assert any(n["body"].startswith("麻疹，河东区") for n in chinese)
    assert {n["link"] for n in english} == {f"/console/public-health/signals/{r['id']}" for r in raised}


@ONE_STORE
def test_many_signals_at_once_make_one_notice_per_officer(engine, now):
    li = make_user(engine, "public_health_officer", username="officer.li")
    put(engine, *(r for d in ("measles", "mumps", "rubella") for r in
                  daily_reports(HEDONG, [0] * 83 + [5], prefix=f"m-{d}", disease=d)))
    with unit_of_work(engine) as conn:
        raised = detection.run(conn, ctx=OFFICER).signals
        notices = inbox(conn, user_id=li.id)
    assert len(raised) > signals.SUMMARY_OVER
    assert [n["title"] for n in notices] == [f"{len(raised)} new outbreak and syndromic signals"]


@ONE_STORE
@pytest.mark.parametrize("stranger", STRANGERS, ids=["researcher", "doctor"])
def test_nobody_but_officers_may_list_read_triage_or_open_outbreaks(spiked, stranger):
    signal = c1(spiked)
    with unit_of_work(spiked) as conn:
        for call in (lambda: signals.listed(conn, ctx=stranger),
                     lambda: signals.get(conn, ctx=stranger, signal_id=signal.id),
                     lambda: signals.triage(conn, ctx=stranger, signal_id=signal.id, act="verify", version=1),
                     lambda: outbreaks.open_outbreak(conn, ctx=stranger, signal_id=signal.id, title="t", version=1,
                                                     periods_before=WINDOW),
                     lambda: outbreaks.listed(conn, ctx=stranger)):
            with pytest.raises(AccessDenied):
                call()
    assert c1(spiked).state == "new"


@ONE_STORE
def test_an_alarm_whose_signal_was_raised_long_ago_is_not_raised_again(spiked, monkeypatch):
    before = sorted(s.id for s in all_signals(spiked))
    monkeypatch.setattr(signals, "standing", lambda conn: [])  # beyond what the coverage check reads
    with unit_of_work(spiked) as conn:
        again = detection.run(conn, ctx=OFFICER)
    assert again.signals == [] and sorted(s.id for s in all_signals(spiked)) == before
