"""A real GraphQL client library (gql) against the server, over HTTP and over WebSocket
(graphql-transport-ws), as frontends' Apollo/urql/graphql-ws clients would talk to it."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

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


async def test_gql_over_http_with_schema_validation(api: Api, server) -> None:  # noqa: ANN001
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


async def test_gql_over_websocket_authenticates_in_connection_init(api: Api, server) -> None:  # noqa: ANN001
    staff = await factories.register(api)
    await factories.customer(api, staff, "Rae")
    url = server.url.replace("http://", "ws://") + "/graphql"
    transport = WebsocketsTransport(
        url=url,
        init_payload={"authorization": f"Bearer {staff.token}"},  # key matched case-insensitively
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
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


async def test_a_websocket_without_a_valid_token_is_refused(api: Api, server) -> None:  # noqa: ANN001
    url = server.url.replace("http://", "ws://") + "/graphql"
    for payload in ({}, {"Authorization": "Bearer not-a-session"}, {"Authorization": 42}):
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), timeout=5)
        assert closed.value.rcvd.code == 4403, payload


async def test_gql_surfaces_error_codes(api: Api, server) -> None:  # noqa: ANN001
    transport = HTTPXAsyncTransport(url=f"{server.url}/graphql")
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as error:
            await session.execute(CUSTOMERS)
    assert error.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_customer_is_signed_out_on_the_open_socket(
    api: Api,
    server,
    mailbox,  # noqa: ANN001
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    url = server.url.replace("http://", "ws://") + "/graphql"
    transport = WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {person.token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    viewer = gql("{ viewer { ... on Customer { id } } }")
    async with Client(transport=transport) as session:
        assert (await session.execute(viewer))["viewer"] == {"id": person.id}
        await api.gql(
            "mutation($id: ID!) { revokePortalAccess(customerId: $id) { id } }",
            {"id": person.id},
            token=staff.token,
        )
        assert (await session.execute(viewer))["viewer"] is None
