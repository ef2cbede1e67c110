"""Isolation, proven: two businesses, each with staff and two active customers; every query,
`node` lookup and mutation walked by every role that must not reach a thing.

Grow this module with every new domain: add its objects to `world`, its reads to the
node/list checks, and its mutations to STAFF_MUTATIONS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
APPOINTMENTS = """query($customerId: ID) {
  appointments(customerId: $customerId) { totalCount edges { node { id customer { id } } } }
}"""
PAST_APPOINTMENTS = """query { appointments(range: PAST) { totalCount edges { node { id } } } }"""
CUSTOMERS = (
    "{ customers { totalCount edges { node { id appointments { edges { node { id } } } } } } }"
)

# (name, document, variables from a world and a target side) — every staff-only mutation.
STAFF_MUTATIONS = [
    ("createCustomer", 'mutation { createCustomer(input: {name: "X"}) { id } }', None),
    (
        "updateCustomer",
        'mutation($id: ID!) { updateCustomer(input: {id: $id, name: "X"}) { id } }',
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "scheduleAppointment",
        """mutation($id: ID!) { scheduleAppointment(input: {customerId: $id, title: "X",
           startsAt: "2032-01-01T09:00:00Z", endsAt: "2032-01-01T10:00:00Z"}) { id } }""",
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "updateAppointment",
        'mutation($id: ID!) { updateAppointment(input: {id: $id, title: "X"}) { id } }',
        lambda side: {"id": side.appointments[0]},
    ),
    (
        "cancelAppointment",
        "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
        lambda side: {"id": side.appointments[0]},
    ),
    (
        "inviteCustomerToPortal",
        "mutation($id: ID!) { inviteCustomerToPortal(customerId: $id) { id } }",
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "revokePortalAccess",
        "mutation($id: ID!) { revokePortalAccess(customerId: $id) { id } }",
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "inviteStaffMember",
        'mutation { inviteStaffMember(input: {name: "X", email: "x@example.com", role: MEMBER})'
        " { id } }",
        None,
    ),
]


@dataclass
class Side:
    staff: factories.Staff
    customers: list[factories.PortalCustomer]
    # appointment ids by customer index, plus every id of the side
    appointments: list[str] = field(default_factory=list)
    by_customer: dict[str, list[str]] = field(default_factory=dict)

    def objects(self) -> dict[str, str]:
        """Every object of this side by a readable label."""
        found = {"business": self.staff.business_id, "staff": self.staff.id}
        for i, person in enumerate(self.customers):
            found[f"customer{i}"] = person.id
            for j, appointment in enumerate(self.by_customer[person.id]):
                found[f"customer{i}.appointment{j}"] = appointment
        return found


@pytest.fixture
async def world(api: Api, mailbox: Mailbox) -> dict[str, Side]:
    sides = {}
    for name in ("A", "B"):
        staff = await factories.register(api, f"Business {name}")
        people = [await factories.portal_customer(api, mailbox, staff) for _ in range(2)]
        side = Side(staff=staff, customers=people)
        for person in people:
            ids = []
            for starts, ends in (
                ("2031-05-01T09:00:00Z", "2031-05-01T10:00:00Z"),
                ("2020-05-01T09:00:00Z", "2020-05-01T10:00:00Z"),
            ):
                ids.append((await factories.appointment(api, staff, person.id, starts, ends))["id"])
            side.by_customer[person.id] = ids
            side.appointments.extend(ids)
        sides[name] = side
    return sides


async def test_staff_see_all_of_their_business_and_nothing_of_another(
    api: Api, world: dict[str, Side]
) -> None:
    a, b = world["A"], world["B"]
    for label, object_id in a.objects().items():
        node = (await api.gql(NODE, {"id": object_id}, token=a.staff.token))["node"]
        assert node is not None and node["id"] == object_id, label
    for label, object_id in b.objects().items():
        assert (await api.gql(NODE, {"id": object_id}, token=a.staff.token))["node"] is None, label

    customers = (await api.gql(CUSTOMERS, token=a.staff.token))["customers"]
    assert {e["node"]["id"] for e in customers["edges"]} == {p.id for p in a.customers}
    assert customers["totalCount"] == 2
    upcoming = (await api.gql(APPOINTMENTS, token=a.staff.token))["appointments"]
    past = (await api.gql(PAST_APPOINTMENTS, token=a.staff.token))["appointments"]
    seen = {e["node"]["id"] for e in upcoming["edges"] + past["edges"]}
    assert seen == set(a.appointments)
    # filtering by another business's customer finds nothing
    foreign = await api.gql(APPOINTMENTS, {"customerId": b.customers[0].id}, token=a.staff.token)
    assert foreign["appointments"] == {"totalCount": 0, "edges": []}


@pytest.mark.parametrize(("name", "document", "variables"), [m for m in STAFF_MUTATIONS if m[2]])
async def test_staff_reaching_another_business_get_not_found(
    api: Api, world: dict[str, Side], name: str, document: str, variables
) -> None:  # noqa: ANN001
    error = await api.error(document, variables(world["B"]), token=world["A"].staff.token)
    assert code(error) == "NOT_FOUND", name


async def test_a_customer_sees_only_their_own(api: Api, world: dict[str, Side]) -> None:
    a, b = world["A"], world["B"]
    me, neighbour = a.customers
    viewer = await api.gql("{ viewer { ... on Customer { id } } business { id } }", token=me.token)
    assert viewer == {"viewer": {"id": me.id}, "business": {"id": a.staff.business_id}}

    mine = {me.id, *a.by_customer[me.id], a.staff.business_id, a.staff.id}
    for label, object_id in a.objects().items():
        node = (await api.gql(NODE, {"id": object_id}, token=me.token))["node"]
        if object_id in mine:
            assert node is not None and node["id"] == object_id, label
        else:
            assert node is None, label
    for label, object_id in b.objects().items():
        assert (await api.gql(NODE, {"id": object_id}, token=me.token))["node"] is None, label

    upcoming = (await api.gql(APPOINTMENTS, token=me.token))["appointments"]
    past = (await api.gql(PAST_APPOINTMENTS, token=me.token))["appointments"]
    assert {e["node"]["id"] for e in upcoming["edges"] + past["edges"]} == set(a.by_customer[me.id])
    assert upcoming["totalCount"] + past["totalCount"] == 2
    for other in (neighbour.id, b.customers[0].id):
        filtered = await api.gql(APPOINTMENTS, {"customerId": other}, token=me.token)
        assert filtered["appointments"] == {"totalCount": 0, "edges": []}
    assert code(await api.error(CUSTOMERS, token=me.token)) == "FORBIDDEN"
    # and through their own Customer object, the nested lists hold only theirs
    nested = await api.gql(
        """{ viewer { ... on Customer {
            upcoming: appointments { totalCount edges { node { id customer { id } } } }
            past: appointments(range: PAST) { totalCount edges { node { id } } }
        } } }""",
        token=me.token,
    )
    lists = nested["viewer"]["upcoming"]["edges"] + nested["viewer"]["past"]["edges"]
    assert {e["node"]["id"] for e in lists} == set(a.by_customer[me.id])


@pytest.mark.parametrize(("name", "document", "variables"), STAFF_MUTATIONS)
async def test_a_customer_calling_a_staff_operation_is_forbidden(
    api: Api, world: dict[str, Side], name: str, document: str, variables
) -> None:  # noqa: ANN001
    me = world["A"].customers[0]
    for side in (world["A"], world["B"]):
        error = await api.error(document, variables(side) if variables else {}, token=me.token)
        assert code(error) == "FORBIDDEN", name


@pytest.mark.parametrize(("name", "document", "variables"), STAFF_MUTATIONS)
async def test_signed_out_calls_are_unauthenticated(
    api: Api, world: dict[str, Side], name: str, document: str, variables
) -> None:  # noqa: ANN001
    error = await api.error(document, variables(world["A"]) if variables else {})
    assert code(error) == "UNAUTHENTICATED", name
    for label, object_id in world["A"].objects().items():
        assert (await api.gql(NODE, {"id": object_id}))["node"] is None, label


async def test_ids_of_unknown_types_or_garbage_are_null(api: Api, world: dict[str, Side]) -> None:
    token = world["A"].staff.token
    for garbage in ("", "x", "Q3VzdG9tZXI6bm90LWEtdXVpZA", "VW5rbm93bjoxMjM"):
        assert (await api.gql(NODE, {"id": garbage}, token=token))["node"] is None
