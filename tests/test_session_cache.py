"""Signed-in requests authenticate from memory, and an ended session is refused everywhere:
on every server process within a second, and at once while a process cannot hear of it."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest_asyncio

import embedded
from auth import tokens
from auth.principal import Principal
from auth.session_cache import SessionCache
from auth.sessions import LiveSession
from config import Settings
from realtime.listener import APPLICATION_NAME
from tests import factories
from tests.client import Api
from tests.conftest import RunningServer, free_port
from tests.mailbox import Mailbox
from tests.test_serve import interrupt, start

TYPENAME = "{ __typename }"
VIEWER = "{ viewer { __typename } }"
LOG_OUT = "mutation { logOut }"
STAFF_LOG_IN = "mutation($input: StaffLogInInput!) { staffLogIn(input: $input) { token } }"
REVOKE = "mutation Revoke($id: ID!) { revokePortalAccess(customerId: $id) { portalStatus } }"


@pytest_asyncio.fixture(scope="module")
async def timed(server_settings: Settings, start_server) -> RunningServer:
    """A server of its own (this module cuts its listener) that reports statement counts."""
    return await start_server(
        server_settings.model_copy(update={"PORT": free_port(), "SERVER_TIMING": True})
    )


@pytest_asyncio.fixture
async def api(timed: RunningServer, clean: None) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=timed.url, timeout=30) as http:
        yield Api(http)


async def statements(api: Api, query: str, token: str) -> tuple[dict, int]:
    """The response's data and how many SQL statements the server sent for it."""
    response = await api.http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    found = re.search(r"statements=(\d+)", response.headers["server-timing"])
    assert found, response.headers["server-timing"]
    return body["data"], int(found.group(1))


async def signed_in(api: Api, token: str) -> bool:
    return (await api.gql(VIEWER, token=token))["viewer"] is not None


async def refused_within(api: Api, token: str, seconds: float) -> float:
    """How long until `token` is refused; fails if it is still accepted after `seconds`."""
    started = time.monotonic()
    while await signed_in(api, token):
        assert time.monotonic() - started < seconds, f"still signed in after {seconds} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_request_that_reads_nothing_sends_no_statement(api: Api) -> None:
    staff = await factories.register(api)
    _, first = await statements(api, TYPENAME, staff.token)
    assert first > 0  # the session was read from the database
    for _ in range(3):
        data, again = await statements(api, TYPENAME, staff.token)
        assert data == {"__typename": "Query"}
        assert again == 0  # no connection, no transaction
    # and the viewer is still the one the token belongs to
    assert await signed_in(api, staff.token)


async def test_signing_out_is_refused_at_once_on_the_same_server(api: Api) -> None:
    staff = await factories.register(api)
    await statements(api, TYPENAME, staff.token)
    assert (await statements(api, TYPENAME, staff.token))[1] == 0
    await api.gql(LOG_OUT, token=staff.token)
    assert not await signed_in(api, staff.token)


async def test_an_unknown_token_is_not_remembered(api: Api) -> None:
    for _ in range(2):
        _, count = await statements(api, TYPENAME, "not-a-token")
        assert count > 0


async def test_a_cached_session_ends_when_the_session_expires(
    api: Api, superuser: asyncpg.Connection
) -> None:
    # given a session about to expire, cached
    staff = await factories.register(api)
    await superuser.execute(
        "UPDATE sessions SET expires_at = now() + interval '1 second' WHERE token_hash = $1",
        tokens.digest(staff.token),
    )
    await statements(api, TYPENAME, staff.token)
    assert (await statements(api, TYPENAME, staff.token))[1] == 0
    # when its expiry passes (nothing is notified: expiry is just time)
    await asyncio.sleep(1.1)
    # then it is refused, although the cache's own time is far from up
    assert not await signed_in(api, staff.token)


async def test_while_the_listener_is_cut_off_every_request_asks_the_database(
    api: Api, timed: RunningServer, superuser: asyncpg.Connection
) -> None:
    listener = timed.app.state.services.listener
    # given two cached sessions
    one = await factories.register(api)
    two = await factories.register(api)
    for staff in (one, two):
        await statements(api, TYPENAME, staff.token)
        assert (await statements(api, TYPENAME, staff.token))[1] == 0
    generation = listener.generation
    # Slow the reconnection down, so the requests below surely fall in the gap.
    listener.first_retry_seconds = 1.5
    try:
        # when the listener's connection is killed, and then a session ends unheard
        killed = await superuser.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
            "FROM pg_stat_activity WHERE application_name = $1",
            APPLICATION_NAME,
        )
        assert killed >= 1
        await superuser.execute(
            "DELETE FROM sessions WHERE token_hash = $1", tokens.digest(one.token)
        )
        # then the very next request with it is refused
        assert not await signed_in(api, one.token)
        # and every request checks the database, even with a session that is still live
        for _ in range(2):
            _, count = await statements(api, TYPENAME, two.token)
            assert count > 0
        assert listener.generation == generation, "reconnected too soon to tell"
        assert not listener.connected
    finally:
        listener.first_retry_seconds = 0.2
    # and once the listener is back, remembering resumes
    deadline = time.monotonic() + 10
    while listener.generation == generation:
        assert time.monotonic() < deadline, "the listener did not reconnect"
        await asyncio.sleep(0.05)
    await statements(api, TYPENAME, two.token)
    assert (await statements(api, TYPENAME, two.token))[1] == 0
    assert not await signed_in(api, one.token)


async def test_with_no_cache_every_request_asks_the_database(
    server_settings: Settings,
    start_server,
    clean: None,
) -> None:
    uncached = await start_server(
        server_settings.model_copy(
            update={"PORT": free_port(), "SERVER_TIMING": True, "SESSION_CACHE_SECONDS": 0}
        )
    )
    async with httpx.AsyncClient(base_url=uncached.url, timeout=30) as http:
        api = Api(http)
        staff = await factories.register(api)
        for _ in range(3):
            assert (await statements(api, TYPENAME, staff.token))[1] > 0


async def test_two_server_processes_refuse_an_ended_session_within_a_second(
    api: Api, mailbox: Mailbox, database: embedded.EmbeddedDatabase, tmp_path: Path
) -> None:
    # given a second server, a separate OS process on the same database
    process, url = await start(
        {
            "DATABASE_URL": database.owner_url,
            "DATABASE_APP_URL": database.app_url,
            "DATA_DIR": str(tmp_path),
            "SERVER_TIMING": "true",
        }
    )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            other = Api(http)
            staff = await factories.register(api)
            customer = await factories.portal_customer(api, mailbox, staff)
            # and both sessions cached on both servers
            for server in (api, other):
                for token in (staff.token, customer.token):
                    await statements(server, TYPENAME, token)
                    assert (await statements(server, TYPENAME, token))[1] == 0

            # when the staff member signs out on the first server
            await api.gql(LOG_OUT, token=staff.token)
            # then the second refuses the token within a second
            elapsed = await refused_within(other, staff.token, 2.0)
            print(f"sign-out heard by the other process after {elapsed * 1000:.0f} ms")
            assert not await signed_in(api, staff.token)

            # when the customer's access is revoked on the first server
            again = await api.gql(
                STAFF_LOG_IN, {"input": {"email": staff.email, "password": factories.PASSWORD}}
            )
            await api.gql(REVOKE, {"id": customer.id}, token=again["staffLogIn"]["token"])
            # then the second refuses the customer within a second too
            elapsed = await refused_within(other, customer.token, 2.0)
            print(f"revocation heard by the other process after {elapsed * 1000:.0f} ms")
    finally:
        assert await interrupt(process) == 0


# The cache's own rules, without a server.


def _live(expires_in: timedelta = timedelta(days=1)) -> LiveSession:
    principal = Principal(business_id=uuid.uuid4(), session_id=uuid.uuid4())
    return LiveSession(principal=principal, expires_at=datetime.now(UTC) + expires_in)


def _cache(sessions: dict[str, LiveSession], **kw: object) -> SessionCache:
    async def lookup(tx: object, token: str) -> LiveSession | None:
        return sessions.get(token)

    return SessionCache(30, lookup, listening=lambda: True, **kw)


async def test_the_least_recently_used_session_makes_room() -> None:
    sessions = {name: _live() for name in ("a", "b", "c")}
    cache = _cache(sessions, max_entries=2)
    for name in ("a", "b", "a", "c"):  # b is the least recently used when c arrives
        await cache.authenticate(None, name)
    assert len(cache) == 2
    assert cache.get(tokens.digest("a")) is not None
    assert cache.get(tokens.digest("b")) is None


async def test_a_lookup_overtaken_by_an_ended_session_is_not_remembered() -> None:
    live = _live()

    async def lookup(tx: object, token: str) -> LiveSession:
        # the session ends (and its notification arrives) while the lookup is under way
        cache.sessions_ended(str(live.principal.session_id))
        return live

    cache = SessionCache(30, lookup, listening=lambda: True)
    assert await cache.authenticate(None, "t") == live.principal
    assert cache.get(tokens.digest("t")) is None


async def test_a_notification_that_cannot_be_read_forgets_everything() -> None:
    sessions = {"a": _live()}
    cache = _cache(sessions)
    await cache.authenticate(None, "a")
    assert len(cache) == 1
    cache.sessions_ended("3f2a")  # a truncated payload, say
    assert len(cache) == 0
