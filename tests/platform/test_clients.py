"""OAuth2 clients and refresh tokens: secrets kept as digests, rotation, reuse detection, disabling."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.clients import (
    ClientError,
    authenticate_client,
    issue_refresh_token,
    list_clients,
    register_client,
    revoke_user_tokens,
    set_disabled,
    use_refresh_token,
)
from smartcare.platform.security.scopes import parse_scopes


def test_registered_client_authenticates_only_with_its_secret(engine):
    with unit_of_work(engine) as conn:
        client, secret = register_client(conn, name="Ward monitor gateway", kind="device", scopes="system/Observation.c")
    with unit_of_work(engine) as conn:
        assert authenticate_client(conn, client_id=client.client_id, secret=secret).name == "Ward monitor gateway"
        with pytest.raises(ClientError):
            authenticate_client(conn, client_id=client.client_id, secret=secret + "x")
        with pytest.raises(ClientError):
            authenticate_client(conn, client_id="nobody", secret=secret)
        stored = conn.exec_driver_sql("SELECT secret_hash FROM oauth_client").scalar_one()
        assert secret not in stored
        assert [c.client_id for c in list_clients(conn)] == [client.client_id]


def test_disabled_client_is_refused(engine):
    with unit_of_work(engine) as conn:
        client, secret = register_client(conn, name="Lab analyser", kind="system", scopes="system/*.rs")
        set_disabled(conn, client_id=client.client_id, disabled=True)
    with unit_of_work(engine) as conn, pytest.raises(ClientError, match="disabled"):
        authenticate_client(conn, client_id=client.client_id, secret=secret)


@pytest.mark.parametrize(
    ("name", "kind", "scopes"),
    [("x", "system", "system/*.rs"), ("Good name", "robot", "system/*.rs"), ("Good name", "system", "bad scope"),
     ("<script>alert(1)</script>", "app", "patient/*.rs")],
)
def test_bad_registrations_are_refused(engine, name, kind, scopes):
    with unit_of_work(engine) as conn, pytest.raises(ValueError):
        register_client(conn, name=name, kind=kind, scopes=scopes)


def test_refresh_tokens_rotate_and_reuse_revokes_the_family(engine):
    scopes = parse_scopes("offline_access patient/*.rs")
    with unit_of_work(engine) as conn:
        first = issue_refresh_token(conn, client_id="app-1", user_id="u-1", scopes=scopes)
    with unit_of_work(engine) as conn:
        grant = use_refresh_token(conn, token=first, client_id="app-1")
        assert grant.user_id == "u-1" and str(grant.scopes) == str(scopes)
    with unit_of_work(engine) as conn, pytest.raises(ClientError, match="already used"):
        use_refresh_token(conn, token=first, client_id="app-1")
    with unit_of_work(engine) as conn, pytest.raises(ClientError):
        use_refresh_token(conn, token=grant.new_token, client_id="app-1")


def test_refresh_token_expires_and_belongs_to_its_client(engine):
    scopes = parse_scopes("patient/*.rs")
    try:
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC))
        with unit_of_work(engine) as conn:
            token = issue_refresh_token(conn, client_id="app-1", user_id="u-1", scopes=scopes)
        with unit_of_work(engine) as conn, pytest.raises(ClientError):
            use_refresh_token(conn, token=token, client_id="app-2")
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=31))
        with unit_of_work(engine) as conn, pytest.raises(ClientError, match="expired"):
            use_refresh_token(conn, token=token, client_id="app-1")
    finally:
        clock.set_clock(None)


def test_revoke_user_tokens_ends_every_session_of_that_user(engine):
    scopes = parse_scopes("patient/*.rs")
    with unit_of_work(engine) as conn:
        a = issue_refresh_token(conn, client_id="app-1", user_id="u-1", scopes=scopes)
        issue_refresh_token(conn, client_id="app-1", user_id="u-1", scopes=scopes)
        other = issue_refresh_token(conn, client_id="app-1", user_id="u-2", scopes=scopes)
    with unit_of_work(engine) as conn:
        assert revoke_user_tokens(conn, user_id="u-1") == 2
    with unit_of_work(engine) as conn, pytest.raises(ClientError):
        use_refresh_token(conn, token=a, client_id="app-1")
    with unit_of_work(engine) as conn:
        use_refresh_token(conn, token=other, client_id="app-1")
