"""Verification codes: delivery through the channel, keyed hashes, expiry, single use, tries and send limits."""

import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import verification
from smartcare.platform.security.verification import (
    CodeRejected,
    CodeUnusable,
    OutgoingCode,
    SendThrottled,
    UnknownChannel,
    verification_code,
)
from smartcare.platform.settings import get_settings

PHONE = "13812345678"
CODE_LINE = re.compile(r"Verification code (\d{6}) for (\w+) to (\w+) (\S+)")




@pytest.fixture
def codes(caplog) -> list[str]:
    """The codes the development channel has written to the log so far (a live view)."""
    caplog.set_level(logging.WARNING, logger="smartcare.verification")

    class Codes(list):
        def __getitem__(self, index):
            return [m.group(1) for r in caplog.records if (m := CODE_LINE.search(r.getMessage()))][index]

        def __len__(self) -> int:
            return sum(1 for r in caplog.records if CODE_LINE.search(r.getMessage()))

    return Codes()


def send(engine, address: str = PHONE, *, channel: str = "sms", remote: str | None = "10.1.1.1",
         purpose: str = "signup", details: dict | None = None) -> verification.PendingCode:
    with unit_of_work(engine) as conn:
        verification.limit_sender(conn, remote)
        return verification.issue(conn, purpose=purpose, channel=channel, address=address,
                                  details=details or {"who": "test"})


def enter(engine, ticket: str, code: str, purpose: str = "signup") -> verification.PendingCode | Exception:
    """Check a code the way the flows do: what a wrong try counted is committed even though it raises."""
    with unit_of_work(engine) as conn:
        try:
            return verification.check(conn, ticket=ticket, purpose=purpose, code=code)
        except verification.VerificationError as exc:
            return exc


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_code_is_six_digits_logged_by_the_development_channel_and_stored_only_as_a_keyed_hash(engine, now, codes):
    pending = send(engine, details={"resident_id": "x"})
    assert len(codes) == 1 and re.fullmatch(r"[0-9]{6}", codes[0])
    assert pending.channel == "sms" and pending.address == PHONE
    assert pending.expires == "2026-03-02T08:10:00.000Z"
    with engine.connect() as conn:
        row = conn.execute(sa.select(verification_code)).one()
    assert codes[0] not in "".join(str(value) for value in row)
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    assert row.details == {"resident_id": "x"} and row.attempts == 0 and row.consumed is None


def test_the_hash_depends_on_the_key(engine, now, codes, monkeypatch):
    pending = send(engine)
    monkeypatch.setenv("SMARTCARE_VERIFICATION_KEY", "7f" * 32)
    assert isinstance(enter(engine, pending.ticket, codes[0]), CodeRejected)


def test_the_right_code_is_accepted_once(engine, now, codes):
    pending = send(engine)
    accepted = enter(engine, pending.ticket, codes[0])
    assert accepted.details == {"who": "test"} and accepted.address == PHONE
    with unit_of_work(engine) as conn:
        verification.consume(conn, ticket=pending.ticket)
    used = enter(engine, pending.ticket, codes[0])
    assert isinstance(used, CodeUnusable) and used.reason == "used"
    with unit_of_work(engine) as conn, pytest.raises(CodeUnusable):
        verification.consume(conn, ticket=pending.ticket)


def test_spaces_in_the_entered_code_are_ignored(engine, now, codes):
    pending = send(engine)
    assert not isinstance(enter(engine, pending.ticket, f" {codes[0][:3]} {codes[0][3:]} "), Exception)


def test_a_code_expires_after_ten_minutes(engine, now, codes):
    pending = send(engine)
    now[0] += timedelta(minutes=10)
    expired = enter(engine, pending.ticket, codes[0])
    assert isinstance(expired, CodeUnusable) and expired.reason == "expired"
    with unit_of_work(engine) as conn:
        assert verification.untried(conn, address=PHONE, purpose="signup") is None
        assert verification.find(conn, ticket=pending.ticket, purpose="signup").ticket == pending.ticket


def test_a_code_is_still_good_just_before_it_expires(engine, now, codes):
    pending = send(engine)
    now[0] += timedelta(minutes=9, seconds=59)
    assert not isinstance(enter(engine, pending.ticket, codes[0]), Exception)


def test_five_wrong_tries_kill_the_code_even_for_the_right_one(engine, now, codes):
    pending = send(engine)
    left = [enter(engine, pending.ticket, wrong(codes[0])) for _ in range(4)]
    assert [exc.attempts_left for exc in left] == [4, 3, 2, 1]
    fifth = enter(engine, pending.ticket, wrong(codes[0]))
    assert isinstance(fifth, CodeUnusable) and fifth.reason == "exhausted"
    dead = enter(engine, pending.ticket, codes[0])
    assert isinstance(dead, CodeUnusable) and dead.reason == "exhausted"
    with engine.connect() as conn:
        assert conn.execute(sa.select(verification_code.c.attempts)).scalar_one() == 5


def test_the_right_code_on_the_last_allowed_try_still_works(engine, now, codes):
    pending = send(engine)
    for _ in range(4):
        enter(engine, pending.ticket, wrong(codes[0]))
    assert not isinstance(enter(engine, pending.ticket, codes[0]), Exception)


@pytest.mark.parametrize("entered", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "9" * 10_000, "' OR '1'='1"])
def test_malformed_codes_are_wrong_tries(engine, now, codes, entered):
    pending = send(engine)
    assert isinstance(enter(engine, pending.ticket, entered), CodeRejected)


@pytest.mark.parametrize("ticket", ["", "not-a-ticket", "x" * 5000, "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_hostile_tickets_are_refused(engine, now, codes, ticket):
    send(engine)
    refused = enter(engine, ticket, codes[0])
    assert isinstance(refused, CodeUnusable) and refused.reason == "expired"


def test_a_code_for_one_purpose_is_no_good_for_another(engine, now, codes):
    pending = send(engine, purpose="signup")
    assert isinstance(enter(engine, pending.ticket, codes[0], purpose="reset"), CodeUnusable)


def test_one_code_a_minute_per_address(engine, now, codes):
    send(engine)
    now[0] += timedelta(seconds=20)
    with pytest.raises(SendThrottled) as refused:
        send(engine)
    assert refused.value.retry_after_seconds == 40 and refused.value.status_code == 429
    send(engine, "13900001111")  # another address is not held up
    now[0] += timedelta(seconds=40)
    send(engine)
    assert len(codes) == 3


def test_a_few_codes_an_hour_per_address(engine, now, codes):
    for _ in range(verification.DESTINATION_HOURLY_LIMIT):
        send(engine, "someone@example.org", channel="email")
        now[0] += timedelta(minutes=2)
    with pytest.raises(SendThrottled):
        send(engine, "someone@example.org", channel="email")
    now[0] += timedelta(hours=1)
    send(engine, "someone@example.org", channel="email")


def test_codes_a_network_address_may_ask_for_are_limited(engine, now, codes):
    for n in range(verification.SENDER_HOURLY_LIMIT):
        send(engine, f"1390000{n:04d}", remote="192.0.2.7")
    with pytest.raises(SendThrottled):
        send(engine, "13700000000", remote="192.0.2.7")
    send(engine, "13700000000", remote="192.0.2.8")
    assert len(codes) == verification.SENDER_HOURLY_LIMIT + 1


def test_resending_makes_a_new_code_and_retires_the_old_one(engine, now, codes):
    first = send(engine)
    for _ in range(5):
        enter(engine, first.ticket, wrong(codes[0]))  # exhausted: resending is the way on
    now[0] += timedelta(seconds=61)
    with unit_of_work(engine) as conn:
        second = verification.resend(conn, ticket=first.ticket, purpose="signup")
    assert second.ticket != first.ticket and second.details == first.details and second.address == PHONE
    assert len(codes) == 2
    assert isinstance(enter(engine, first.ticket, codes[1]), CodeUnusable)
    assert not isinstance(enter(engine, second.ticket, codes[1]), Exception)


def test_resending_is_held_to_the_same_minute(engine, now, codes):
    first = send(engine)
    with unit_of_work(engine) as conn, pytest.raises(SendThrottled):
        verification.resend(conn, ticket=first.ticket, purpose="signup")


def test_a_used_code_cannot_be_resent(engine, now, codes):
    first = send(engine)
    with unit_of_work(engine) as conn:
        verification.consume(conn, ticket=first.ticket)
    now[0] += timedelta(minutes=2)
    with unit_of_work(engine) as conn, pytest.raises(CodeUnusable):
        verification.resend(conn, ticket=first.ticket, purpose="signup")


def test_a_decoy_sends_nothing_counts_tries_like_a_code_and_accepts_nothing(engine, now, codes):
    with unit_of_work(engine) as conn:
        decoy = verification.issue_decoy(conn, purpose="reset", address="nobody")
    assert len(codes) == 0
    tries = [enter(engine, decoy.ticket, f"{n:06d}", purpose="reset") for n in range(5)]
    assert [type(t) for t in tries] == [CodeRejected] * 4 + [CodeUnusable]
    with unit_of_work(engine) as conn, pytest.raises(CodeUnusable):
        verification.resend(conn, ticket=decoy.ticket, purpose="reset")


def test_decoys_are_held_to_the_same_send_limits_unless_told_otherwise(engine, now, codes):
    with unit_of_work(engine) as conn:
        verification.issue_decoy(conn, purpose="reset", address="nobody")
    with unit_of_work(engine) as conn, pytest.raises(SendThrottled):
        verification.issue_decoy(conn, purpose="reset", address="nobody")
    with unit_of_work(engine) as conn:
        verification.issue_decoy(conn, purpose="reset", address="nobody", limited=False)


def test_the_newest_untried_code_for_an_address_is_found_and_a_tried_one_is_not(engine, now, codes):
    first = send(engine, purpose="reset")
    with unit_of_work(engine) as conn:
        assert verification.untried(conn, address=PHONE, purpose="reset").ticket == first.ticket
        assert verification.untried(conn, address=PHONE, purpose="signup") is None
    enter(engine, first.ticket, wrong(codes[0]), purpose="reset")
    with unit_of_work(engine) as conn:
        assert verification.untried(conn, address=PHONE, purpose="reset") is None


def test_a_code_that_was_used_is_not_found_again(engine, now, codes):
    first = send(engine)
    with unit_of_work(engine) as conn:
        verification.consume(conn, ticket=first.ticket)
        assert verification.find(conn, ticket=first.ticket, purpose="signup") is None
        assert verification.untried(conn, address=PHONE, purpose="signup") is None


def test_a_decoy_never_matches_even_its_own_hash(engine, now, monkeypatch):
    monkeypatch.setattr(verification, "_new_code", lambda: "424242")
    with unit_of_work(engine) as conn:
        decoy = verification.issue_decoy(conn, purpose="reset", address="nobody")
    assert isinstance(enter(engine, decoy.ticket, "424242", purpose="reset"), CodeRejected)


def test_rows_long_expired_are_deleted_when_codes_are_sent(engine, now, codes):
    old = send(engine, details={"resident_id": "11010519491231002X"})
    now[0] += timedelta(days=1, minutes=11)
    send(engine, "13900001111")
    with engine.connect() as conn:
        tickets = conn.execute(sa.select(verification_code.c.id)).scalars().all()
    assert old.ticket not in tickets and len(tickets) == 1


class Recorder:
    sent: list[OutgoingCode] = []

    def deliver(self, message: OutgoingCode) -> None:
        Recorder.sent.append(message)


@pytest.fixture
def channel_named(monkeypatch) -> Iterator:
    def choose(name: str) -> None:
        monkeypatch.setenv("SMARTCARE_VERIFICATION_CHANNEL", name)
        get_settings.cache_clear()

    yield choose
    get_settings.cache_clear()


def test_the_channel_is_chosen_by_setting(engine, now, codes, channel_named):
    verification.register_channel("recorder", Recorder)
    channel_named("recorder")
    Recorder.sent.clear()
    pending = send(engine, "Someone@Example.org", channel="email", purpose="reset")
    assert len(codes) == 0, "the log channel was not used"
    [message] = Recorder.sent
    assert (message.channel, message.address, message.purpose) == ("email", "Someone@Example.org", "reset")
    assert not isinstance(enter(engine, pending.ticket, message.code, purpose="reset"), Exception)


def test_an_unknown_channel_sends_nothing_and_stores_nothing(engine, now, channel_named):
    channel_named("carrier-pigeon")
    with pytest.raises(UnknownChannel, match="carrier-pigeon"):
        send(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(verification_code)).scalar_one() == 0


def test_the_migration_builds_the_table_the_code_uses(engine):
    migrated = {column["name"]: column for column in sa.inspect(engine).get_columns("verification_code")}
    assert set(migrated) == {column.name for column in verification_code.columns}
    for column in verification_code.columns:
        assert migrated[column.name]["nullable"] == column.nullable, column.name
