"""The server as a client meets it: health, readiness, GraphiQL, malformed requests, limits."""

from __future__ import annotations

import asyncio

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
    response = await api.http.post(
        "/graphql",
        json={"query": query},
        headers={"Accept": "application/graphql-response+json"},
    )
    # A request error: 400 and no `data` at all (nothing was executed), no field path.
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert code(error) == "BAD_USER_INPUT"
    assert "exceeds maximum operation depth" in error["message"]
    assert "path" not in error


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


async def test_text_that_postgresql_cannot_store_is_bad_input(api: Api) -> None:
    from tests import factories

    staff = await factories.register(api)
    error = await api.error(
        factories.CREATE_CUSTOMER, {"input": {"name": "Nul\x00l"}}, token=staff.token
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    error = await api.error(
        "query($s: String) { customers(search: $s) { totalCount } }",
        {"s": "a\x00"},
        token=staff.token,
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "search"}
    error = await api.error(
        'mutation($e: String!) { staffLogIn(input: {email: $e, password: "whatever!!"})'
        " { token } }",
        {"e": "x\x00@example.com"},
    )
    assert code(error) == "UNAUTHENTICATED"


def test_unexpected_errors_are_masked_and_logged_with_a_request_id(caplog) -> None:
    from graphql import GraphQLError

    from schema.errors import shape

    try:
        raise RuntimeError('asyncpg.exceptions: relation "customers" SELECT * FROM customers')
    except RuntimeError as failure:
        original = failure
    raw = GraphQLError("boom", path=["customers"], original_error=original)
    masked = shape(raw, "req-123").formatted
    assert masked["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"}
    assert "asyncpg" not in str(masked) and "SELECT" not in str(masked)
    logged = [r for r in caplog.records if "req-123" in r.getMessage()]
    assert logged and logged[0].exc_info[1] is original


async def test_a_repeated_document_is_parsed_and_validated_once(api: Api) -> None:
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    caches = {"parse": _get_parse_cache(1000), "validate": _get_validate_cache(1000)}
    # Introspection runs through execution each time (a query the compiled path answers is
    # repeated from its plan without being parsed at all: tests/test_read_path.py).
    query = {"query": "query RepeatMe { __schema { queryType { name } } }"}
    await api.http.post("/graphql", json=query)
    before = {name: cache.cache_info() for name, cache in caches.items()}
    await api.http.post("/graphql", json=query)
    for name, cache in caches.items():
        after = cache.cache_info()
        assert after.hits == before[name].hits + 1, name
        assert after.misses == before[name].misses, name


async def test_control_characters_stay_out_of_single_line_fields(api: Api) -> None:
    from tests import factories

    error = await api.error(
        factories.REGISTER,
        {
            "input": {
                "businessName": "Acme\nBcc: everyone@example.com",
                "ownerName": "A",
                "email": "a@example.com",
                "password": factories.PASSWORD,
            }
        },
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "businessName"}
    staff = await factories.register(api)
    made = await factories.customer(api, staff, address="1 Oak St\nSpringfield\tUSA")
    assert made["address"] == "1 Oak St\nSpringfield\tUSA"


async def test_lone_surrogates_are_refused_not_crashed_on(api: Api) -> None:
    from tests import factories

    staff = await factories.register(api)
    error = await api.error(
        factories.CREATE_CUSTOMER, {"input": {"name": "Bad \ud800"}}, token=staff.token
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    sign_in = "mutation($e: String!, $p: String!) { staffLogIn(input: {email: $e, password: $p})"
    error = await api.error(
        sign_in + " { token } }", {"e": "a\ud800@example.com", "p": "x\ud800y" * 4}
    )
    assert code(error) == "UNAUTHENTICATED"
    accept = (
        "mutation($t: String!) { acceptPortalInvitation(input: {token: $t, password: $t})"
        " { token } }"
    )
    error = await api.error(accept, {"t": "\ud800" * 12})
    assert code(error) == "UNAUTHENTICATED"


async def test_invisible_format_characters_stay_out_of_names(api: Api) -> None:
    from tests import factories

    staff = await factories.register(api)
    # U+202E shows "Acme gnifooR" as "Acme Roofing"; zero-width and other format characters
    # (category Cf) hide a difference between two names that look alike.
    for name in ("Acme \u202egnifooR", "Ac\u200bme", "\ufeffAcme", "Ac\u00adme", "Acme\u2066"):
        error = await api.error(
            factories.CREATE_CUSTOMER, {"input": {"name": name}}, token=staff.token
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}, name
        assert "invisible formatting character" in error["message"]
    # Joiners between letters are spelling (Persian) or an emoji sequence: kept.
    for name in (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Ann \U0001f469\u200d\U0001f527",
    ):
        made = await factories.customer(api, staff, name=name)
        assert made["name"] == name
    error = await api.error(
        factories.CREATE_CUSTOMER, {"input": {"name": "\u200dAnn"}}, token=staff.token
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    # Multi-line text keeps line breaks but not the bidi overrides either
    error = await api.error(
        factories.CREATE_CUSTOMER,
        {"input": {"name": "Bob", "address": "1 Oak St\n\u202eteertS"}},
        token=staff.token,
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "address"}


async def test_healthz_answers_while_a_large_document_is_parsed(api: Api) -> None:
    """A document near the body limit is parsed off the event loop: others are answered
    meanwhile, and it is answered too (no timing asserted, only that both complete)."""
    query = "#" + "x" * 950_000 + "\n{ __typename }"
    big = asyncio.create_task(api.http.post("/graphql", json={"query": query}))
    health = await asyncio.gather(*(api.http.get("/healthz") for _ in range(5)))
    assert all(response.status_code == 200 for response in health)
    assert (await big).json() == {"data": {"__typename": "Query"}}
