"""Realtime over the WebSocket at /graphql: messageAdded and jobStatusChanged delivered on the
same process and from one server process to another, authorized per event, sockets closed
when their session ends, the listener resuming after its connection is lost, and the
protocol's limits. Real clients (websockets, gql) against real servers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

import embedded
from auth.principal import Principal
from config import Settings
from realtime import fanout
from realtime.listener import APPLICATION_NAME
from tests import factories
from tests.client import Api
from tests.conftest import RunningServer, free_port
from tests.mailbox import Mailbox
from tests.test_serve import interrupt, start

MESSAGE_ADDED = """
subscription Added($customerId: ID) {
  messageAdded(customerId: $customerId) {
    id body
    sender { __typename ... on StaffMember { name } ... on Customer { name } }
    job { id }
  }
}"""
STATUS_CHANGED = """
subscription Changed($jobId: ID) {
  jobStatusChanged(jobId: $jobId) { status message job { id title } }
}"""
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"
CREATE_JOB = "mutation($input: CreateJobInput!) { createJob(input: $input) { id } }"
SET_STATUS = "mutation($input: SetJobStatusInput!) { setJobStatus(input: $input) { id } }"
REVOKE = "mutation($id: ID!) { revokePortalAccess(customerId: $id) { id } }"


def socket_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


class Socket:
    """A raw WebSocket client of either protocol, signed in by connection_init."""

    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.legacy = protocol == "graphql-ws"
        self._ids = 0

    @classmethod
    async def open(cls, base: str, token: str, protocol: str = "graphql-transport-ws") -> Socket:
        ws = await websockets.connect(socket_url(base), subprotocols=[protocol])
        socket = cls(ws, protocol)
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        ack = await socket.receive()
        assert ack["type"] == "connection_ack", ack
        return socket

    async def subscribe(self, query: str, variables: dict | None = None) -> str:
        self._ids += 1
        operation_id = str(self._ids)
        kind = "start" if self.legacy else "subscribe"
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"type": kind, "id": operation_id, "payload": payload}))
        return operation_id

    async def receive(self, within: float = 5) -> dict:
        """The next message that is not a keep-alive (pings are answered)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] not in ("ka", "pong"):
                return message

    async def data(self, within: float = 5) -> dict:
        message = await self.receive(within)
        assert message["type"] == ("data" if self.legacy else "next"), message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def nothing(self, within: float = 0.7) -> None:
        with pytest.raises(TimeoutError):
            message = await self.receive(within)
            raise AssertionError(f"expected nothing, got {message}")

    async def closed(self, within: float) -> int:
        """The close code, once the server closes (fails if it does not within `within`)."""
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                left = within - (time.monotonic() - started)
                await asyncio.wait_for(self.ws.recv(), max(left, 0.01))
        return closed.value.rcvd.code

    async def close(self) -> None:
        await self.ws.close()


async def send(api: Api, token: str, body: str, **ids: str) -> str:
    data = await api.gql(SEND, {"input": {"body": body, **ids}}, token=token)
    return data["sendMessage"]["id"]


async def job_of(api: Api, staff: factories.Staff, customer_id: str, title: str) -> str:
    data = await api.gql(
        CREATE_JOB, {"input": {"customerId": customer_id, "title": title}}, token=staff.token
    )
    return data["createJob"]["id"]


@pytest_asyncio.fixture(scope="module")
async def strict(server_settings: Settings, start_server) -> RunningServer:
    """A server of its own with short limits (and whose listener this module cuts)."""
    return await start_server(
        server_settings.model_copy(
            update={
                "PORT": free_port(),
                "WS_CONNECTION_INIT_SECONDS": 0.5,
                "WS_MAX_SUBSCRIPTIONS": 3,
                "WS_MAX_MESSAGE_BYTES": 2048,
                "WS_KEEPALIVE_SECONDS": 0.3,
            }
        )
    )


@pytest_asyncio.fixture
async def sockets() -> AsyncIterator[list[Socket]]:
    opened: list[Socket] = []
    yield opened
    for socket in opened:
        await socket.close()


async def test_a_message_reaches_both_sides_on_the_same_process(
    api: Api, server: RunningServer, mailbox: Mailbox, sockets: list[Socket]
) -> None:
    # given staff and a customer, each subscribed to messageAdded
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff, "Dana")
    team = await Socket.open(server.url, staff.token)
    portal = await Socket.open(server.url, person.token, "graphql-ws")  # the legacy protocol
    sockets += [team, portal]
    await team.subscribe(MESSAGE_ADDED)
    await portal.subscribe(MESSAGE_ADDED)
    await asyncio.sleep(0.1)
    # when the customer writes
    sent = await send(api, person.token, "Is Tuesday fine?")
    # then both receive it, with its sender
    for socket in (team, portal):
        added = (await socket.data())["messageAdded"]
        assert added == {
            "id": sent,
            "body": "Is Tuesday fine?",
            "sender": {"__typename": "Customer", "name": "Dana"},
            "job": None,
        }


async def test_gql_subscribes_and_hears_job_status_changes(
    api: Api, server: RunningServer, mailbox: Mailbox
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    job = await job_of(api, staff, person.id, "Gutters")
    transport = WebsocketsTransport(
        url=socket_url(server.url),
        init_payload={"Authorization": f"Bearer {person.token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        events = session.subscribe(gql(STATUS_CHANGED))

        async def change() -> None:
            await asyncio.sleep(0.3)
            await api.gql(
                SET_STATUS,
                {"input": {"jobId": job, "status": "IN_PROGRESS", "message": "On our way"}},
                token=staff.token,
            )

        changing = asyncio.create_task(change())
        received = await asyncio.wait_for(anext(aiter(events)), 10)
        await changing
    assert received["jobStatusChanged"] == {
        "status": "IN_PROGRESS",
        "message": "On our way",
        "job": {"id": job, "title": "Gutters"},
    }


async def test_every_event_is_authorized_for_each_audience(
    api: Api, server: RunningServer, mailbox: Mailbox, sockets: list[Socket]
) -> None:
    # given two customers of A, and staff of A (one customer only) and of B, subscribed
    a = await factories.register(api, "Alpha")
    b = await factories.register(api, "Beta")
    ann = await factories.portal_customer(api, mailbox, a, "Ann")
    cal = await factories.portal_customer(api, mailbox, a, "Cal")
    anns_job = await job_of(api, a, ann.id, "Ann's roof")
    cals_job = await job_of(api, a, cal.id, "Cal's fence")
    at_ann, at_cal, a_staff, b_staff = [
        await Socket.open(server.url, token) for token in (ann.token, cal.token, a.token, b.token)
    ]
    sockets += [at_ann, at_cal, a_staff, b_staff]
    for socket in (at_ann, at_cal, b_staff):
        await socket.subscribe(MESSAGE_ADDED)
        await socket.subscribe(STATUS_CHANGED)
    await a_staff.subscribe(MESSAGE_ADDED, {"customerId": cal.id})
    await asyncio.sleep(0.1)

    # when A's staff write to Ann, then to Cal
    await send(api, a.token, "For Ann", customerId=ann.id)
    to_cal = await send(api, a.token, "For Cal", customerId=cal.id)
    # then Ann hears only hers, Cal only his, A's staff (narrowed to Cal) only Cal's, B nothing
    assert (await at_ann.data())["messageAdded"]["body"] == "For Ann"
    assert (await at_cal.data())["messageAdded"]["id"] == to_cal
    assert (await a_staff.data())["messageAdded"]["id"] == to_cal

    # when Ann's job changes status
    await api.gql(SET_STATUS, {"input": {"jobId": anns_job, "status": "ON_HOLD"}}, token=a.token)
    assert (await at_ann.data())["jobStatusChanged"]["job"]["id"] == anns_job
    for socket in (at_ann, at_cal, a_staff, b_staff):
        await socket.nothing()

    # subscribing to someone else's thread or job is refused when subscribing
    for socket, query, variables in (
        (at_ann, MESSAGE_ADDED, {"customerId": cal.id}),
        (at_ann, STATUS_CHANGED, {"jobId": cals_job}),
        (b_staff, MESSAGE_ADDED, {"customerId": ann.id}),
    ):
        operation = await socket.subscribe(query, variables)
        refused = await socket.receive()
        assert refused["type"] == "error" and refused["id"] == operation, refused
        assert refused["payload"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_revocation_and_sign_out_close_the_sockets_at_once(
    api: Api, server: RunningServer, mailbox: Mailbox, sockets: list[Socket]
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    portal = await Socket.open(server.url, person.token)
    legacy = await Socket.open(server.url, person.token, "graphql-ws")
    team = await Socket.open(server.url, staff.token)
    sockets += [portal, legacy, team]
    await portal.subscribe(MESSAGE_ADDED)
    # when the customer's access is revoked
    await api.gql(REVOKE, {"id": person.id}, token=staff.token)
    # then their sockets close (4403) within a second, subscribed or not
    assert await portal.closed(1.0) == 4403
    assert await legacy.closed(1.0) == 4403
    # when staff sign out, their socket closes too
    await api.gql("mutation { logOut }", token=staff.token)
    assert await team.closed(1.0) == 4403


async def test_an_expired_session_is_closed(
    api: Api, server: RunningServer, superuser: asyncpg.Connection, sockets: list[Socket]
) -> None:
    from auth import tokens

    staff = await factories.register(api)
    await superuser.execute(
        "UPDATE sessions SET expires_at = now() + interval '1 second' WHERE token_hash = $1",
        tokens.digest(staff.token),
    )
    socket = await Socket.open(server.url, staff.token)
    sockets.append(socket)
    assert await socket.closed(3.0) == 4403


async def test_the_limits_of_a_connection(
    api: Api, strict: RunningServer, sockets: list[Socket]
) -> None:
    staff = await factories.register(api)
    url = socket_url(strict.url)
    # no connection_init in time: 4408, on either protocol
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        async with websockets.connect(url, subprotocols=[protocol]) as silent:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(silent.recv(), 3)
            assert closed.value.rcvd.code == 4408, protocol
    # a subscription before connection_init: 4401
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as early:
        start = {"type": "subscribe", "id": "1", "payload": {"query": MESSAGE_ADDED}}
        await early.send(json.dumps(start))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(early.recv(), 3)
        assert closed.value.rcvd.code == 4401
    # keep-alive pings arrive while idle
    socket = await Socket.open(strict.url, staff.token)
    sockets.append(socket)
    ping = json.loads(await asyncio.wait_for(socket.ws.recv(), 2))
    assert ping == {"type": "ping"}
    # at most three subscriptions on one connection
    for _ in range(3):
        await socket.subscribe(MESSAGE_ADDED)
    operation = await socket.subscribe(MESSAGE_ADDED)
    refused = await socket.receive()
    assert refused["type"] == "error" and refused["id"] == operation
    assert "limit" in refused["payload"][0]["message"]
    # a message over the size limit closes the connection
    await socket.ws.send(json.dumps({"type": "ping", "payload": {"x": "y" * 4096}}))
    assert await socket.closed(2.0) == 1009


async def test_a_slow_consumer_is_dropped_rather_than_buffered() -> None:
    # given a socket whose sends never finish (a client that stopped reading)
    stuck = asyncio.Event()
    closed: list[int] = []

    async def never(frame: str) -> None:
        await stuck.wait()

    async def close(code: int, reason: str) -> None:
        closed.append(code)

    async def check() -> None:
        return None

    hub = fanout.Fanout(lambda *a: None, queue_limit=5)  # type: ignore[arg-type]
    socket = fanout.Socket(
        principal=Principal(business_id=uuid.uuid4(), session_id=uuid.uuid4()),
        expires_at=None,
        send=never,
        close=close,
        keepalive="{}",
        check=check,
    )
    hub.attach(socket)
    assert socket.outbox is not None
    # when more frames wait than the queue holds
    for n in range(7):
        socket.outbox.put(f"frame {n}")
    await asyncio.sleep(0.05)
    # then the socket is closed as too slow, and nothing more is kept for it
    assert closed == [fanout.TOO_SLOW]
    assert hub.sockets == 0
    socket.outbox.put("more")
    assert socket.outbox.closed


@pytest_asyncio.fixture
async def second_process(database: embedded.EmbeddedDatabase, tmp_path: Path) -> AsyncIterator[str]:
    """Another server, a separate OS process on the same database: its base URL."""
    process, url = await start(
        {
            "DATABASE_URL": database.owner_url,
            "DATABASE_APP_URL": database.app_url,
            "DATA_DIR": str(tmp_path),
        }
    )
    try:
        yield url
    finally:
        assert await interrupt(process) == 0


async def test_events_and_revocations_cross_processes(
    api: Api,
    server: RunningServer,
    mailbox: Mailbox,
    second_process: str,
    sockets: list[Socket],
) -> None:
    # given a customer on the second process and staff on both
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    portal = await Socket.open(second_process, person.token)
    team_here = await Socket.open(server.url, staff.token)
    team_there = await Socket.open(second_process, staff.token, "graphql-ws")
    sockets += [portal, team_here, team_there]
    for socket in (portal, team_here, team_there):
        await socket.subscribe(MESSAGE_ADDED)
    await asyncio.sleep(0.2)
    # when staff write through the first process
    started = time.monotonic()
    sent = await send(api, staff.token, "From process one", customerId=person.id)
    # then every subscriber gets it, on both processes
    for socket in (portal, team_there, team_here):
        assert (await socket.data())["messageAdded"]["id"] == sent
    print(f"delivered across processes in {(time.monotonic() - started) * 1000:.0f} ms")
    # and through the second process, back to the first
    async with httpx.AsyncClient(base_url=second_process, timeout=30) as http:
        other = Api(http)
        back = await send(other, person.token, "From process two")
    assert (await team_here.data())["messageAdded"]["id"] == back
    # when the customer is revoked through the first process
    await api.gql(REVOKE, {"id": person.id}, token=staff.token)
    # then their socket on the second process closes within a second
    assert await portal.closed(1.0) == 4403
    await team_there.data()  # the staff sockets stay (they got the customer's message)


async def test_the_listener_resumes_after_losing_its_connection(
    api: Api,
    strict: RunningServer,
    mailbox: Mailbox,
    superuser: asyncpg.Connection,
    sockets: list[Socket],
) -> None:
    from auth import tokens

    listener = strict.app.state.services.listener
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    other = await factories.register(api)
    team = await Socket.open(strict.url, staff.token)
    doomed = await Socket.open(strict.url, other.token)
    sockets += [team, doomed]
    await team.subscribe(MESSAGE_ADDED)
    # given a session that ends unheard (no notification: as if while the listener is away)
    await superuser.execute(
        "DELETE FROM sessions WHERE token_hash = $1", tokens.digest(other.token)
    )
    generation = listener.generation
    listener.first_retry_seconds = 1.0
    try:
        # when the database drops the listener's connection (as a restart does)
        killed = await superuser.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
            "FROM pg_stat_activity WHERE application_name = $1",
            APPLICATION_NAME,
        )
        assert killed >= 1
        deadline = time.monotonic() + 15
        while listener.generation == generation:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.05)
    finally:
        listener.first_retry_seconds = 0.2
    # then, back, it checks the open sockets' sessions again
    assert await doomed.closed(5.0) == 4403
    # and events flow again without anyone's help
    sent = await send(api, person.token, "After the gap")
    assert (await team.data())["messageAdded"]["id"] == sent
