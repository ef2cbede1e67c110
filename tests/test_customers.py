"""Customers: create, update, search and page through them."""

from __future__ import annotations

from tests import factories
from tests.client import Api, code

UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { id name email phone address portalStatus }
}"""
LIST = """
query List($search: String, $first: Int, $after: String) {
  customers(search: $search, first: $first, after: $after) {
    totalCount
    edges { cursor node { name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def test_create_normalises_and_returns_the_customer(api: Api) -> None:
    staff = await factories.register(api)
    created = await factories.customer(
        api,
        staff,
        "  Dana Lee ",
        email=" Dana@Example.com",
        phone=" 555-0100 ",
        address="1 Oak St\nSpringfield",
    )
    assert created["name"] == "Dana Lee"
    assert created["email"] == "dana@example.com"
    assert created["phone"] == "555-0100"
    assert created["address"] == "1 Oak St\nSpringfield"
    assert created["portalStatus"] == "NOT_INVITED"


async def test_email_is_optional_but_valid_and_unique_per_business(api: Api) -> None:
    staff = await factories.register(api)
    other = await factories.register(api)
    no_email = await api.gql(
        factories.CREATE_CUSTOMER, {"input": {"name": "Walk-in"}}, token=staff.token
    )
    assert no_email["createCustomer"]["email"] is None

    bad = await api.error(
        factories.CREATE_CUSTOMER, {"input": {"name": "X", "email": "nope"}}, token=staff.token
    )
    assert bad["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}

    await factories.customer(api, staff, email="twin@example.com")
    dup = await api.error(
        factories.CREATE_CUSTOMER,
        {"input": {"name": "Twin", "email": "TWIN@example.com"}},
        token=staff.token,
    )
    assert dup["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}
    # another business may have a customer with the same address
    await factories.customer(api, other, email="twin@example.com")


async def test_blank_name_is_refused(api: Api) -> None:
    staff = await factories.register(api)
    error = await api.error(factories.CREATE_CUSTOMER, {"input": {"name": "  "}}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}


async def test_update_changes_only_what_is_sent(api: Api) -> None:
    staff = await factories.register(api)
    created = await factories.customer(api, staff, "Eve", phone="1", address="Somewhere")
    data = await api.gql(
        UPDATE, {"input": {"id": created["id"], "phone": "2", "address": None}}, token=staff.token
    )
    updated = data["updateCustomer"]
    assert updated["name"] == "Eve"
    assert updated["email"] == created["email"]
    assert updated["phone"] == "2"
    assert updated["address"] is None
    error = await api.error(
        UPDATE, {"input": {"id": created["id"], "name": None}}, token=staff.token
    )
    assert error["extensions"]["field"] == "name"


async def test_update_of_an_unknown_or_malformed_id(api: Api) -> None:
    staff = await factories.register(api)
    other = await factories.register(api)
    theirs = await factories.customer(api, other)
    error = await api.error(
        UPDATE, {"input": {"id": theirs["id"], "name": "Hijack"}}, token=staff.token
    )
    assert code(error) == "NOT_FOUND"
    error = await api.error(UPDATE, {"input": {"id": "not-an-id", "name": "x"}}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    # an ID of another type is as good as missing
    error = await api.error(UPDATE, {"input": {"id": staff.id, "name": "x"}}, token=staff.token)
    assert code(error) == "NOT_FOUND"


async def test_list_is_by_name_with_search_and_cursor_paging(api: Api) -> None:
    staff = await factories.register(api)
    for name in ("Carol", "Alice", "Bob", "Dave", "Zo_e"):
        await factories.customer(api, staff, name)

    page = (await api.gql(LIST, {"first": 2}, token=staff.token))["customers"]
    assert page["totalCount"] == 5
    assert [e["node"]["name"] for e in page["edges"]] == ["Alice", "Bob"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False

    rest = (
        await api.gql(
            LIST, {"first": 10, "after": page["pageInfo"]["endCursor"]}, token=staff.token
        )
    )["customers"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["Carol", "Dave", "Zo_e"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    assert rest["totalCount"] == 5

    found = (await api.gql(LIST, {"search": "ALI"}, token=staff.token))["customers"]
    assert [e["node"]["name"] for e in found["edges"]] == ["Alice"]
    # a LIKE wildcard in the search is just a character
    found = (await api.gql(LIST, {"search": "o_"}, token=staff.token))["customers"]
    assert [e["node"]["name"] for e in found["edges"]] == ["Zo_e"]
    assert found["totalCount"] == 1


async def test_first_and_after_are_checked(api: Api) -> None:
    # (The cap on `first` is shown by the next test, with more customers than the cap.)
    staff = await factories.register(api)
    error = await api.error(LIST, {"first": -1}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    error = await api.error(LIST, {"after": "garbage!"}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


async def test_first_over_100_returns_100(api: Api) -> None:
    staff = await factories.register(api)
    names = [f"C{i:03}" for i in range(101)]
    for start in range(0, 101, 25):
        chunk = names[start : start + 25]
        batch = " ".join(
            f'c{i}: createCustomer(input: {{name: "{name}"}}) {{ id }}'
            for i, name in enumerate(chunk)
        )
        await api.gql(f"mutation {{ {batch} }}", token=staff.token)
    page = (await api.gql(LIST, {"first": 500}, token=staff.token))["customers"]
    assert len(page["edges"]) == 100
    assert page["totalCount"] == 101
    assert page["pageInfo"]["hasNextPage"] is True
