"""The server as a client meets it: health, readiness, GraphiQL, malformed requests, limits."""

from __future__ import annotations

import time

from tests.client import Api, code


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.http.get("/healthz")).status_code == 200
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.text == "ok"


async def test_graphiql_in_a_browser(api: Api) -> None:
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_malformed_json_is_a_400(api: Api) -> None:
    response = await api.http.post(
        "/graphql", content=b'{"query": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_signed_out_viewer_is_null(api: Api) -> None:
    assert await api.gql("{ viewer { __typename } business { id } }") == {
        "viewer": None,
        "business": None,
    }


async def test_a_query_nested_25_deep_is_refused_before_execution(api: Api) -> None:
    # customers → edges → node → appointments → edges → node → customer → …
    selection = "id"
    for _ in range(12):
        selection = f"appointments {{ edges {{ node {{ customer {{ {selection} }} }} }} }}"
    query = "{ customers { edges { node { " + selection + " } } } }"
    started = time.perf_counter()
    error = await api.error(query)
    elapsed = time.perf_counter() - started
    assert code(error) == "BAD_USER_INPUT"
    assert "exceeds maximum operation depth" in error["message"]
    print(f"refused in {elapsed * 1000:.1f} ms")


async def test_too_many_aliases_are_refused_also_through_fragments(api: Api) -> None:
    in_fragment = " ".join(f"a{i}: __typename" for i in range(20))
    outside = " ".join(f"b{i}: __typename" for i in range(20))
    query = f"fragment F on Query {{ {in_fragment} }} query {{ ...F {outside} }}"
    error = await api.error(query)
    assert code(error) == "BAD_USER_INPUT"
    assert "aliases" in error["message"]


async def test_an_enormous_document_is_refused(api: Api) -> None:
    query = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    error = await api.error(query)
    assert code(error) == "BAD_USER_INPUT"


async def test_unknown_fields_are_bad_user_input(api: Api) -> None:
    error = await api.error("{ nope }")
    assert code(error) == "BAD_USER_INPUT"
