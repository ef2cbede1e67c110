"""The compiled read path: which queries it answers, in how many statements, and that its
answers are the executed path's (every query sent through `api` is asked of both servers,
see tests/client.py; these tests add what that cannot show)."""

from __future__ import annotations

import httpx

from tests import factories
from tests.client import Api
from tests.test_dataloaders import DASHBOARD, statements


async def _business_with_visits(api: Api, customers: int) -> factories.Staff:
    staff = await factories.register(api)
    names = " ".join(
        f'c{i}: createCustomer(input: {{name: "Customer {i:02}"}}) {{ id }}'
        for i in range(customers)
    )
    created = await api.gql(f"mutation {{ {names} }}", token=staff.token)
    for n in range(3):
        visits = " ".join(
            f'a{i}: scheduleAppointment(input: {{customerId: "{c["id"]}", title: "Visit {n}", '
            f'startsAt: "2031-01-0{n + 1}T09:00:00Z", endsAt: "2031-01-0{n + 1}T10:00:00Z"}}) '
            "{ id }"
            for i, c in enumerate(created.values())
        )
        await api.gql(f"mutation {{ {visits} }}", token=staff.token)
    return staff


def _statements(response: httpx.Response) -> int:
    timing = response.headers["server-timing"]
    return int(timing.split("statements=")[1].split('"')[0])


async def test_a_list_with_nested_lists_is_one_statement(api: Api) -> None:
    staff = await _business_with_visits(api, 12)
    headers = {"Authorization": f"Bearer {staff.token}"}

    async def ask(first: int) -> httpx.Response:
        body = {"query": DASHBOARD, "variables": {"first": first}}
        response = await api.http.post("/graphql", json=body, headers=headers)
        assert "compiled" in response.headers["server-timing"]
        return response

    await ask(1)  # the session is known from here on (no lookup in the counts below)
    small, large = await ask(2), await ask(12)
    assert len(small.json()["data"]["customers"]["edges"]) == 2
    edges = large.json()["data"]["customers"]["edges"]
    assert len(edges) == 12
    assert all(len(e["node"]["appointments"]["edges"]) == 3 for e in edges)
    # The scope (set_config) and the one statement that reads everything.
    assert _statements(small) == _statements(large) == 2


async def test_the_executed_path_also_costs_a_fixed_number_of_statements(
    api: Api,
    executed_server,
) -> None:
    staff = await _business_with_visits(api, 12)
    async with httpx.AsyncClient(base_url=executed_server.url) as http:
        executed = Api(http)
        with statements(executed_server) as few:
            await executed.gql(DASHBOARD, {"first": 2}, token=staff.token)
        with statements(executed_server) as many:
            await executed.gql(DASHBOARD, {"first": 12}, token=staff.token)
    # Whether the session was checked in the database (and the scope set for it) depends
    # on the session cache: count the reads of data.
    few, many = (
        [s for s in sent if "auth_session" not in s and "set_config" not in s]
        for sent in (few, many)
    )
    assert len(many) == len(few), "\n".join(["first: 2", *few, "first: 12", *many])
    assert len(many) <= 10, "\n".join(many)


async def test_server_timing_names_the_path(api: Api) -> None:
    staff = await factories.register(api)
    headers = {"Authorization": f"Bearer {staff.token}"}
    compiled = await api.http.post(
        "/graphql", json={"query": "{ customers(first: 1) { totalCount } }"}, headers=headers
    )
    executed = await api.http.post(
        "/graphql", json={"query": "{ __schema { queryType { name } } }"}, headers=headers
    )
    assert "compiled" in compiled.headers["server-timing"]
    assert "statements=" in compiled.headers["server-timing"]
    assert "executed" in executed.headers["server-timing"]


async def test_what_the_planner_does_not_cover_is_executed(api: Api) -> None:
    staff = await factories.register(api)
    api.read_paths.clear()
    # Introspection, an error (a customer-only list asked by nobody), a bad cursor.
    await api.post('{ __type(name: "Customer") { name } }')
    await api.post("{ appointments(first: 1) { totalCount } }")
    await api.post('{ customers(first: 1, after: "nonsense") { totalCount } }', token=staff.token)
    await api.post("{ customers(first: -1) { totalCount } }", token=staff.token)
    assert api.read_paths == ["executed"] * 4


async def test_every_node_type_through_both_paths(api: Api, mailbox) -> None:
    staff = await factories.register(api)
    other = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    visit = await factories.appointment(
        api, staff, person.id, "2031-02-01T09:00:00Z", "2031-02-01T10:00:00Z"
    )
    ids = [staff.id, staff.business_id, person.id, visit["id"], other.id, other.business_id]
    document = """
    query One($id: ID!) {
      node(id: $id) {
        __typename id
        ... on Customer { name email portalStatus createdAt appointments { totalCount } }
        ... on Appointment { title status startsAt customer { name } }
        ... on StaffMember { name role business { name slug paymentsEnabled } }
        ... on Business { name slug }
      }
    }"""
    api.read_paths.clear()
    seen = {}
    for viewer in (staff.token, other.token, person.token, None):
        for id_ in ids:
            seen[(viewer, id_)] = (await api.gql(document, {"id": id_}, token=viewer))["node"]
    assert set(api.read_paths) == {"compiled"}
    assert (
        seen[(staff.token, visit["id"])]["customer"]["name"]
        == seen[(staff.token, person.id)]["name"]
    )
    assert seen[(other.token, person.id)] is None
    assert seen[(person.token, other.business_id)] is None
    assert seen[(None, staff.id)] is None


async def test_a_failing_field_beside_reading_ones_still_answers(api: Api, mailbox) -> None:
    # A customer may not list customers: that field fails while its sibling still reads.
    # The failed field is cancelled mid-statement by the executor; the request must still
    # commit and answer (it used to fail with HTTP 500).
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    body = await api.post(
        "{ customers { totalCount } appointments { totalCount } }", token=person.token
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_an_unknown_fragment_is_a_validation_error(api: Api) -> None:
    error = await api.error("{ viewer { ...Nope } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Nope" in error["message"]


async def test_a_repeated_query_answers_from_its_plan_with_fresh_data(api: Api) -> None:
    # The second ask of the same document, variables and viewer is answered from the plan
    # made the first time (without going through GraphQL again): every answer still equals
    # the executed path's (tests/client.py), and the data is read anew each time.
    staff = await factories.register(api)
    query = "{ customers(first: 10) { totalCount edges { node { name } } } }"
    first = await api.gql(query, token=staff.token)
    await factories.customer(api, staff, "Zed")
    again = await api.gql(query, token=staff.token)
    assert first["customers"]["totalCount"] == 0
    assert [e["node"]["name"] for e in again["customers"]["edges"]] == ["Zed"]
    headers = {"Authorization": f"Bearer {staff.token}"}
    asked = {"query": query}
    for accept, media_type in (
        (None, "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
    ):
        extra = {"Accept": accept} if accept else {}
        response = await api.http.post("/graphql", json=asked, headers={**headers, **extra})
        assert response.headers["content-type"].startswith(media_type)
        assert response.json() == {"data": again}
    other = await factories.register(api)
    theirs = await api.gql(query, token=other.token)
    assert theirs["customers"]["totalCount"] == 0  # a plan is the viewer's own


async def test_a_union_field_is_written_by_the_compiled_path(api: Api, mailbox) -> None:
    # Message.sender is StaffMember | Customer, picked per row (readpath.OneOf).
    from tests.test_messages import send

    staff = await factories.register(api, owner_name="Ann Owner")
    person = await factories.portal_customer(api, mailbox, staff, "Bob Customer")
    await send(api, staff.token, "Tiles arrive Monday", customerId=person.id)
    await send(api, person.token, "Thanks!")
    api.read_paths.clear()
    data = await api.gql(
        """{ messages(first: 10) { edges { node { body sender { __typename
             ... on Customer { name } ... on StaffMember { name role } } } } } }""",
        token=person.token,
    )
    assert api.read_paths == ["compiled"]
    senders = [e["node"]["sender"] for e in data["messages"]["edges"]]
    assert senders == [
        {"__typename": "StaffMember", "name": "Ann Owner", "role": "OWNER"},
        {"__typename": "Customer", "name": "Bob Customer"},
    ]


async def test_deeply_nested_variables_are_refused_on_a_repeat_too(api: Api) -> None:
    # A repeat is looked up by its variables: ones nested too deeply must still get the
    # normal way's 400, not an error that leaves the request's transaction open.
    depth = 990
    body = (
        '{"query": "query($v: [String]) { __typename }", "variables": {"v": '
        + "[" * depth
        + "]" * depth
        + "}}"
    )
    headers = {"Authorization": "Bearer not-a-token", "Content-Type": "application/json"}
    for _ in range(3):
        response = await api.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, response.text


async def test_a_huge_document_is_answered_but_its_plan_not_kept(api: Api) -> None:
    from readpath import planner

    before = len(planner._plans)
    query = "{ __typename }\n#" + "x" * 40_000
    for _ in range(2):
        response = await api.http.post("/graphql", json={"query": query})
        assert response.json() == {"data": {"__typename": "Query"}}
    assert not any(key[0] == query for key in planner._plans)
    assert len(planner._plans) <= max(before, 1) + 1


async def test_a_named_operation_sent_without_its_name_repeats_from_its_plan(api: Api) -> None:
    from readpath import planner

    staff = await factories.register(api)
    query = "query Mine { customers(first: 1) { totalCount } }"
    await api.gql(query, token=staff.token)
    kept = [key for key in planner._plans if key[0] == query]
    assert kept and kept[0][1] is None  # keyed as the request gave it (no operationName)


async def test_a_statement_finishes_however_often_its_field_is_cancelled() -> None:
    import asyncio
    import contextlib

    import db

    finished: list[str] = []

    async def statement() -> None:
        try:
            await asyncio.sleep(0.2)
            finished.append("done")
        except asyncio.CancelledError:
            finished.append("cancelled midway")
            raise

    task = asyncio.ensure_future(db._to_the_end(statement()))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    await asyncio.sleep(0.3)
    assert finished == ["done"]
