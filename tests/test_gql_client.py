"""A real GraphQL client library (gql) against the server, over HTTP and over WebSocket
(graphql-transport-ws), as frontends' Apollo/urql/graphql-ws clients would talk to it."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from resolvers import global_ids
from tests import factories
from tests.client import Api

CUSTOMERS = gql(
    """
    query Customers($first: Int) {
      customers(first: $first) { totalCount edges { node { id name portalStatus } } }
    }
    """
)
CREATE = gql(
    """
    mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { id name } }
    """
)


def socket_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


def socket_transport(server, token: str, header: str = "Authorization") -> WebsocketsTransport:
    """graphql-transport-ws, signed in through the `connection_init` payload."""
    return WebsocketsTransport(
        url=socket_url(server),
        init_payload={header: f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


async def test_gql_over_http_with_schema_validation(api: Api, server) -> None:
    staff = await factories.register(api)
    transport = HTTPXAsyncTransport(
        url=f"{server.url}/graphql", headers={"Authorization": f"Bearer {staff.token}"}
    )
    # fetch_schema_from_transport: the client validates documents against introspection
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        created = await session.execute(
            GraphQLRequest(CREATE, variable_values={"input": {"name": "Quinn"}})
        )
        assert created["createCustomer"]["name"] == "Quinn"
        listed = await session.execute(GraphQLRequest(CUSTOMERS, variable_values={"first": 10}))
        assert listed["customers"]["totalCount"] == 1
        assert listed["customers"]["edges"][0]["node"]["portalStatus"] == "NOT_INVITED"


async def test_gql_over_websocket_authenticates_in_connection_init(api: Api, server) -> None:
    staff = await factories.register(api)
    await factories.customer(api, staff, "Rae")
    # the payload's key is matched case-insensitively
    transport = socket_transport(server, staff.token, header="authorization")
    async with Client(transport=transport) as session:
        listed = await session.execute(CUSTOMERS)
        assert [e["node"]["name"] for e in listed["customers"]["edges"]] == ["Rae"]
        created = await session.execute(
            GraphQLRequest(CREATE, variable_values={"input": {"name": "Sid"}})
        )
        assert created["createCustomer"]["name"] == "Sid"
    # the mutation over the socket was committed
    data = await api.gql("{ customers { totalCount } }", token=staff.token)
    assert data["customers"]["totalCount"] == 2


async def test_a_websocket_without_a_valid_token_is_refused(api: Api, server) -> None:
    url = socket_url(server)
    payloads = ({}, {"Authorization": "Bearer not-a-session"}, {"Authorization": 42})
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        for payload in payloads:
            async with websockets.connect(url, subprotocols=[protocol]) as socket:
                await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:  # the legacy protocol says connection_error first
                        await asyncio.wait_for(socket.recv(), timeout=5)
            assert closed.value.rcvd.code == 4403, (protocol, payload)


async def test_gql_surfaces_error_codes(api: Api, server) -> None:
    transport = HTTPXAsyncTransport(url=f"{server.url}/graphql")
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as error:
            await session.execute(CUSTOMERS)
    assert error.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_customer_is_signed_out_on_the_open_socket(
    api: Api,
    server,
    mailbox,
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    transport = socket_transport(server, person.token)
    viewer = gql("{ viewer { ... on Customer { id } } }")
    async with Client(transport=transport) as session:
        assert (await session.execute(viewer))["viewer"] == {"id": person.id}
        await api.gql(
            "mutation($id: ID!) { revokePortalAccess(customerId: $id) { id } }",
            {"id": person.id},
            token=staff.token,
        )
        # the server closes the socket (4403) at once, not only at its next operation
        await asyncio.sleep(1.0)
        with pytest.raises((TransportClosed, TransportConnectionFailed)):
            await session.execute(viewer)


async def test_operations_on_one_socket_do_not_share_a_viewer(
    api: Api,
    server,
    mailbox,
) -> None:
    # given a customer of A on a socket, who also holds a portal account at B
    a = await factories.register(api, "Alpha")
    b = await factories.register(api, "Beta")
    at_a = await factories.portal_customer(api, mailbox, a)
    at_b = await factories.portal_customer(api, mailbox, b)
    await factories.appointment(
        api, b, at_b.id, "2031-01-01T09:00:00Z", "2031-01-01T10:00:00Z", title="B only"
    )
    transport = socket_transport(server, at_a.token)
    look = gql("{ business { name } appointments { edges { node { title } } } }")
    sign_in_at_b = GraphQLRequest(
        gql("mutation($i: PortalLogInInput!) { portalLogIn(input: $i) { token } }"),
        variable_values={
            "i": {"businessSlug": b.slug, "email": at_b.email, "password": factories.PASSWORD}
        },
    )
    # when sign-ins at B run on the same socket, interleaved with reads
    async with Client(transport=transport) as session:
        results = await asyncio.gather(
            *[session.execute(look) for _ in range(15)],
            *[session.execute(sign_in_at_b) for _ in range(5)],
            *[session.execute(look) for _ in range(15)],
        )
    # then every read still saw A, as the socket's own viewer
    reads = [r for r in results if "business" in r]
    assert len(reads) == 30
    assert all(r["business"]["name"] == "Alpha" for r in reads)
    assert all(r["appointments"]["edges"] == [] for r in reads)


async def test_errors_over_the_socket_carry_codes(api: Api, server) -> None:
    staff = await factories.register(api)
    transport = socket_transport(server, staff.token)
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(
                GraphQLRequest(CREATE, variable_values={"input": {"name": "Line\nbreak"}})
            )
        assert refused.value.errors[0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "name",
        }
        with pytest.raises(TransportQueryError) as missing:
            await session.execute(
                GraphQLRequest(
                    gql("mutation($id: ID!) { cancelAppointment(id: $id) { id } }"),
                    variable_values={"id": global_ids.encode("Appointment", uuid.UUID(int=0))},
                )
            )
        assert missing.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_query_over_the_legacy_protocol_is_a_client_error(api: Api, server) -> None:
    staff = await factories.register(api)
    url = socket_url(server)
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {staff.token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        start = {"type": "start", "id": "1", "payload": {"query": "{ viewer { __typename } }"}}
        await socket.send(json.dumps(start))
        while (message := json.loads(await asyncio.wait_for(socket.recv(), 5)))["type"] == "ka":
            pass
    errors = message["payload"].get("errors") or [message["payload"]]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", message
