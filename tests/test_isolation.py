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
from tests.test_jobs import create_job
from tests.test_photos import small_jpeg, upload

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
        "createJob",
        'mutation($id: ID!) { createJob(input: {customerId: $id, title: "X"}) { id } }',
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "updateJob",
        'mutation($id: ID!) { updateJob(input: {id: $id, title: "X"}) { id } }',
        lambda side: {"id": side.jobs[0]},
    ),
    (
        "setJobStatus",
        "mutation($id: ID!) { setJobStatus(input: {jobId: $id, status: CANCELLED}) { id } }",
        lambda side: {"id": side.jobs[0]},
    ),
    (
        "addJobNote",
        'mutation($id: ID!) { addJobNote(input: {jobId: $id, body: "X"}) { id } }',
        lambda side: {"id": side.jobs[0]},
    ),
    (
        "updatePhoto",
        'mutation($id: ID!) { updatePhoto(input: {id: $id, caption: "X"}) { id } }',
        lambda side: {"id": side.photos[0]},
    ),
    (
        "deletePhoto",
        "mutation($id: ID!) { deletePhoto(id: $id) }",
        lambda side: {"id": side.photos[0]},
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
    jobs: list[str] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)
    # per customer: {"job": id, "shared_note": id, "internal_note": id, "photo": id}
    job_objects: dict[str, dict[str, str]] = field(default_factory=dict)

    def objects(self) -> dict[str, str]:
        """Every object of this side by a readable label."""
        found = {"business": self.staff.business_id, "staff": self.staff.id}
        for i, person in enumerate(self.customers):
            found[f"customer{i}"] = person.id
            for j, appointment in enumerate(self.by_customer[person.id]):
                found[f"customer{i}.appointment{j}"] = appointment
            for kind, object_id in self.job_objects[person.id].items():
                found[f"customer{i}.{kind}"] = object_id
        return found

    def visible_to(self, person: factories.PortalCustomer) -> set[str]:
        """What of this side the customer may read: never an internal note."""
        objects = self.job_objects[person.id]
        return {
            person.id,
            *self.by_customer[person.id],
            objects["job"],
            objects["shared_note"],
            objects["photo"],
        }


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
            side.job_objects[person.id] = await _job_objects(api, staff, person)
            side.jobs.append(side.job_objects[person.id]["job"])
            side.photos.append(side.job_objects[person.id]["photo"])
        sides[name] = side
    return sides


async def _job_objects(
    api: Api, staff: factories.Staff, person: factories.PortalCustomer
) -> dict[str, str]:
    job = await create_job(api, staff, person.id, title="Roof")
    note = 'mutation($id: ID!, $shared: Boolean) { addJobNote(input: {jobId: $id, body: "n", '
    note += "visibleToCustomer: $shared}) { id } }"
    shared = await api.gql(note, {"id": job["id"], "shared": True}, token=staff.token)
    internal = await api.gql(note, {"id": job["id"]}, token=staff.token)
    photo = await upload(api, staff.token, job["id"], small_jpeg())
    return {
        "job": job["id"],
        "shared_note": shared["addJobNote"]["id"],
        "internal_note": internal["addJobNote"]["id"],
        "photo": photo["data"]["uploadJobPhoto"]["id"],
    }


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
) -> None:
    error = await api.error(document, variables(world["B"]), token=world["A"].staff.token)
    assert code(error) == "NOT_FOUND", name


async def test_a_customer_sees_only_their_own(api: Api, world: dict[str, Side]) -> None:
    a, b = world["A"], world["B"]
    me, neighbour = a.customers
    viewer = await api.gql("{ viewer { ... on Customer { id } } business { id } }", token=me.token)
    assert viewer == {"viewer": {"id": me.id}, "business": {"id": a.staff.business_id}}

    mine = {*a.visible_to(me), a.staff.business_id, a.staff.id}
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
) -> None:
    me = world["A"].customers[0]
    for side in (world["A"], world["B"]):
        error = await api.error(document, variables(side) if variables else {}, token=me.token)
        assert code(error) == "FORBIDDEN", name


@pytest.mark.parametrize(("name", "document", "variables"), STAFF_MUTATIONS)
async def test_signed_out_calls_are_unauthenticated(
    api: Api, world: dict[str, Side], name: str, document: str, variables
) -> None:
    error = await api.error(document, variables(world["A"]) if variables else {})
    assert code(error) == "UNAUTHENTICATED", name
    for label, object_id in world["A"].objects().items():
        assert (await api.gql(NODE, {"id": object_id}))["node"] is None, label


async def test_ids_of_unknown_types_or_garbage_are_null(api: Api, world: dict[str, Side]) -> None:
    token = world["A"].staff.token
    for garbage in ("", "x", "Q3VzdG9tZXI6bm90LWEtdXVpZA", "VW5rbm93bjoxMjM"):
        assert (await api.gql(NODE, {"id": garbage}, token=token))["node"] is None


JOB_LISTS = """{
  jobs { totalCount edges { node { id notes { id body } photos { edges { node { id url } } }
    statusHistory { status } } } }
  viewer { ... on Customer { jobs { edges { node { id notes { id } photos { totalCount } } } } } }
}"""


async def test_a_customer_never_gets_an_internal_note_or_another_customers_job(
    api: Api, world: dict[str, Side]
) -> None:
    a, b = world["A"], world["B"]
    me, neighbour = a.customers
    mine = a.job_objects[me.id]

    answer = await api.gql(JOB_LISTS, token=me.token)

    # the root list and the customer's own list hold only my job, with only the shared note
    for jobs in (answer["jobs"], answer["viewer"]["jobs"]):
        assert [e["node"]["id"] for e in jobs["edges"]] == [mine["job"]]
        assert [n["id"] for n in jobs["edges"][0]["node"]["notes"]] == [mine["shared_note"]]
    photos = answer["jobs"]["edges"][0]["node"]["photos"]["edges"]
    assert [p["node"]["id"] for p in photos] == [mine["photo"]]
    # by node: the internal note, and everything of the neighbour's and the other business's
    hidden = [mine["internal_note"]]
    hidden += [*a.job_objects[neighbour.id].values(), *b.job_objects[b.customers[0].id].values()]
    for object_id in hidden:
        assert (await api.gql(NODE, {"id": object_id}, token=me.token))["node"] is None
    # through a nested field from a photo back to its job
    nested = await api.gql(
        """query($id: ID!) { node(id: $id) { ... on Photo { job { notes { id } } } } }""",
        {"id": mine["photo"]},
        token=me.token,
    )
    assert nested["node"]["job"]["notes"] == [{"id": mine["shared_note"]}]
    # and filtering by another customer finds nothing
    for other in (neighbour.id, b.customers[0].id):
        found = await api.gql(
            "query($c: ID) { jobs(customerId: $c) { totalCount } }", {"c": other}, token=me.token
        )
        assert found["jobs"]["totalCount"] == 0


async def test_staff_see_internal_notes_of_their_business_only(
    api: Api, world: dict[str, Side]
) -> None:
    a, b = world["A"], world["B"]
    answer = await api.gql(
        JOB_LISTS.replace("viewer", "business { id } v: viewer"), token=a.staff.token
    )
    assert {e["node"]["id"] for e in answer["jobs"]["edges"]} == set(a.jobs)
    notes = {n["id"] for e in answer["jobs"]["edges"] for n in e["node"]["notes"]}
    expected = {o[k] for o in a.job_objects.values() for k in ("shared_note", "internal_note")}
    assert notes == expected
    for object_id in b.jobs + b.photos:
        assert (await api.gql(NODE, {"id": object_id}, token=a.staff.token))["node"] is None


# -- contracts: drafts are staff's only; a customer reads and signs only their own sent ones.

CONTRACT_LIST = """query($customerId: ID, $status: [ContractStatus!]) {
  contracts(customerId: $customerId, status: $status) { totalCount edges { node { id } } }
}"""
CONTRACT_MUTATIONS = [
    (
        "createContract",
        'mutation($id: ID!) { createContract(input: {customerId: $id, title: "X", body: "Y"})'
        " { id } }",
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "updateContract",
        'mutation($id: ID!) { updateContract(input: {id: $id, title: "X"}) { id } }',
        lambda side: {"id": side.contracts[0]["draft"]},
    ),
    (
        "sendContract",
        "mutation($id: ID!) { sendContract(id: $id) { id } }",
        lambda side: {"id": side.contracts[0]["draft"]},
    ),
    (
        "voidContract",
        "mutation($id: ID!) { voidContract(id: $id) { id } }",
        lambda side: {"id": side.contracts[0]["sent"]},
    ),
]
SIGN_CONTRACT = """mutation($id: ID!) {
  signContract(input: {contractId: $id, signerName: "Mallory", agreed: true}) { id }
}"""


@pytest.fixture
async def contract_world(api: Api, world: dict[str, Side]) -> dict[str, Side]:
    """The world, each customer with a draft and a sent contract (`side.contracts[i]`)."""
    from tests.test_contracts import create_contract, sent_contract

    for side in world.values():
        side.contracts = [  # type: ignore[attr-defined]
            {
                "draft": (await create_contract(api, side.staff, person.id))["id"],
                "sent": (await sent_contract(api, side.staff, person.id))["id"],
            }
            for person in side.customers
        ]
    return world


async def test_contracts_staff_see_their_business_and_nothing_of_another(
    api: Api, contract_world: dict[str, Side]
) -> None:
    a, b = contract_world["A"], contract_world["B"]
    listed = (await api.gql(CONTRACT_LIST, token=a.staff.token))["contracts"]
    assert {e["node"]["id"] for e in listed["edges"]} == {
        c[k] for c in a.contracts for k in ("draft", "sent")
    }
    for contract in b.contracts:
        for object_id in contract.values():
            assert (await api.gql(NODE, {"id": object_id}, token=a.staff.token))["node"] is None
    foreign = await api.gql(CONTRACT_LIST, {"customerId": b.customers[0].id}, token=a.staff.token)
    assert foreign["contracts"] == {"totalCount": 0, "edges": []}


async def test_a_customer_gets_only_their_own_sent_contracts(
    api: Api, contract_world: dict[str, Side]
) -> None:
    a, b = contract_world["A"], contract_world["B"]
    me = a.customers[0]
    mine = a.contracts[0]["sent"]
    listed = (await api.gql(CONTRACT_LIST, token=me.token))["contracts"]
    assert listed == {"totalCount": 1, "edges": [{"node": {"id": mine}}]}
    drafts = await api.gql(CONTRACT_LIST, {"status": ["DRAFT"]}, token=me.token)
    assert drafts["contracts"]["totalCount"] == 0
    hidden = [a.contracts[0]["draft"], *a.contracts[1].values()]
    hidden += [object_id for contract in b.contracts for object_id in contract.values()]
    for object_id in hidden:
        assert (await api.gql(NODE, {"id": object_id}, token=me.token))["node"] is None
    nested = await api.gql(
        "{ viewer { ... on Customer { contracts { totalCount edges { node { id } } } } } }",
        token=me.token,
    )
    assert nested["viewer"]["contracts"] == listed
    # Signing: only their own SENT contract; anything else does not exist for them
    for object_id in hidden:
        error = await api.error(SIGN_CONTRACT, {"id": object_id}, token=me.token)
        assert code(error) == "NOT_FOUND", object_id
    error = await api.error(SIGN_CONTRACT, {"id": mine}, token=a.staff.token)
    assert code(error) == "FORBIDDEN"
    assert code(await api.error(SIGN_CONTRACT, {"id": mine})) == "UNAUTHENTICATED"


@pytest.mark.parametrize(("name", "document", "variables"), CONTRACT_MUTATIONS)
async def test_contract_mutations_are_staffs_of_their_own_business(
    api: Api, contract_world: dict[str, Side], name: str, document: str, variables
) -> None:
    a, b = contract_world["A"], contract_world["B"]
    error = await api.error(document, variables(b), token=a.staff.token)
    assert code(error) == "NOT_FOUND", name
    for side in (a, b):
        error = await api.error(document, variables(side), token=a.customers[0].token)
        assert code(error) == "FORBIDDEN", name
    assert code(await api.error(document, variables(a))) == "UNAUTHENTICATED", name


# -- messages: a thread is its customer's and the business's; nobody else reaches it.

MESSAGE_SEND = """mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"""
MESSAGE_THREAD = """query($customerId: ID) {
  messages(customerId: $customerId, last: 10) { totalCount edges { node { id } } }
}"""
MESSAGE_READ = "mutation($input: MarkMessagesReadInput!) { markMessagesRead(input: $input) }"
MESSAGE_UNREAD = "query($customerId: ID) { unreadMessageCount(customerId: $customerId) }"


@pytest.fixture
async def message_world(api: Api, world: dict[str, Side]) -> dict[str, dict[str, list[str]]]:
    """Each customer's thread: a staff message and a customer message, by customer id."""
    threads: dict[str, dict[str, list[str]]] = {}
    for name, side in world.items():
        threads[name] = {}
        for person in side.customers:
            staff_says = await api.gql(
                MESSAGE_SEND,
                {"input": {"body": "from staff", "customerId": person.id}},
                token=side.staff.token,
            )
            they_say = await api.gql(
                MESSAGE_SEND, {"input": {"body": "from customer"}}, token=person.token
            )
            threads[name][person.id] = [
                staff_says["sendMessage"]["id"],
                they_say["sendMessage"]["id"],
            ]
    return threads


async def test_messages_staff_reach_their_business_threads_only(
    api: Api, world: dict[str, Side], message_world: dict[str, dict[str, list[str]]]
) -> None:
    a, b = world["A"], world["B"]
    for person in a.customers:
        thread = await api.gql(MESSAGE_THREAD, {"customerId": person.id}, token=a.staff.token)
        ids = [e["node"]["id"] for e in thread["messages"]["edges"]]
        assert ids == message_world["A"][person.id]
    assert (await api.gql(MESSAGE_UNREAD, token=a.staff.token))["unreadMessageCount"] == 2
    foreign = b.customers[0].id
    for document, variables in (
        (MESSAGE_THREAD, {"customerId": foreign}),
        (MESSAGE_UNREAD, {"customerId": foreign}),
        (MESSAGE_SEND, {"input": {"body": "x", "customerId": foreign}}),
        (MESSAGE_READ, {"input": {"customerId": foreign}}),
    ):
        assert code(await api.error(document, variables, token=a.staff.token)) == "NOT_FOUND"
    for message_id in message_world["B"][foreign]:
        assert (await api.gql(NODE, {"id": message_id}, token=a.staff.token))["node"] is None


async def test_messages_a_customer_reaches_their_own_thread_only(
    api: Api, world: dict[str, Side], message_world: dict[str, dict[str, list[str]]]
) -> None:
    a, b = world["A"], world["B"]
    me, neighbour = a.customers
    thread = await api.gql(MESSAGE_THREAD, token=me.token)
    assert [e["node"]["id"] for e in thread["messages"]["edges"]] == message_world["A"][me.id]
    assert (await api.gql(MESSAGE_UNREAD, token=me.token))["unreadMessageCount"] == 1
    theirs = message_world["A"][neighbour.id] + message_world["B"][b.customers[0].id]
    for message_id in theirs:
        assert (await api.gql(NODE, {"id": message_id}, token=me.token))["node"] is None
    neighbours_job = a.job_objects[neighbour.id]["job"]
    for document, variables in (
        (MESSAGE_THREAD, {"customerId": neighbour.id}),
        (MESSAGE_UNREAD, {"customerId": neighbour.id}),
        (MESSAGE_SEND, {"input": {"body": "x", "customerId": neighbour.id}}),
        (MESSAGE_SEND, {"input": {"body": "x", "jobId": neighbours_job}}),
        (MESSAGE_READ, {"input": {"upToMessageId": message_world["A"][neighbour.id][0]}}),
    ):
        assert code(await api.error(document, variables, token=me.token)) == "NOT_FOUND"
    # marking read never touches another thread, nor the customer's own messages
    assert (await api.gql(MESSAGE_READ, {"input": {}}, token=me.token))["markMessagesRead"] == 1
    unread = await api.gql(MESSAGE_UNREAD, {"customerId": neighbour.id}, token=a.staff.token)
    assert unread["unreadMessageCount"] == 1


async def test_messages_signed_out_are_unauthenticated(api: Api) -> None:
    for document, variables in (
        (MESSAGE_THREAD, {}),
        (MESSAGE_UNREAD, {}),
        (MESSAGE_SEND, {"input": {"body": "x"}}),
    ):
        assert code(await api.error(document, variables)) == "UNAUTHENTICATED"


# -- invoices and payments: drafts are staff's only; a customer reads their own sent invoices
# and payments, and pays only their own.

INVOICE_LIST = """query($customerId: ID, $status: [InvoiceStatus!]) {
  invoices(customerId: $customerId, status: $status) {
    totalCount edges { node { id customer { id } payments { id } lineItems { description } } }
  }
}"""
INVOICE_MUTATIONS = [
    (
        "createInvoice",
        """mutation($id: ID!) { createInvoice(input: {customerId: $id,
           lineItems: [{description: "X", quantity: 1, unitPriceCents: 100}]}) { id } }""",
        lambda side: {"id": side.customers[0].id},
    ),
    (
        "updateInvoice",
        "mutation($id: ID!) { updateInvoice(input: {id: $id, taxCents: 1}) { id } }",
        lambda side: {"id": side.invoices[0]["draft"]},
    ),
    (
        "sendInvoice",
        "mutation($id: ID!) { sendInvoice(id: $id) { id } }",
        lambda side: {"id": side.invoices[0]["draft"]},
    ),
    (
        "voidInvoice",
        "mutation($id: ID!) { voidInvoice(id: $id) { id } }",
        lambda side: {"id": side.invoices[0]["open"]},
    ),
    (
        "recordPayment",
        """mutation($id: ID!) { recordPayment(input: {invoiceId: $id, amountCents: 1,
           method: CASH}) { id } }""",
        lambda side: {"id": side.invoices[0]["open"]},
    ),
]
PAY_INVOICE = "mutation($id: ID!) { payInvoice(invoiceId: $id) { clientSecret } }"


@pytest.fixture
async def invoice_world(api: Api, world: dict[str, Side]) -> dict[str, Side]:
    """The world, each customer with a draft, an open (part-paid) invoice and its payment
    (`side.invoices[i]`: draft, open, payment ids)."""
    from tests.test_invoices import create, record, sent_invoice

    for side in world.values():
        side.invoices = []  # type: ignore[attr-defined]
        for person in side.customers:
            opened = await sent_invoice(api, side.staff, person.id)
            paid = await record(api, side.staff, opened["id"], 100)
            side.invoices.append(  # type: ignore[attr-defined]
                {
                    "draft": (await create(api, side.staff, person.id))["id"],
                    "open": opened["id"],
                    "payment": paid["payments"][0]["id"],
                }
            )
    return world


async def test_invoices_and_payments_of_another_business_are_not_there(
    api: Api, invoice_world: dict[str, Side]
) -> None:
    a, b = invoice_world["A"], invoice_world["B"]
    for side, visible in ((a, True), (b, False)):
        for objects in side.invoices:  # type: ignore[attr-defined]
            for label, object_id in objects.items():
                node = (await api.gql(NODE, {"id": object_id}, token=a.staff.token))["node"]
                assert (node is not None) is visible, label
    listed = (await api.gql(INVOICE_LIST, token=a.staff.token))["invoices"]
    mine = {i for objects in a.invoices for k, i in objects.items() if k != "payment"}  # type: ignore[attr-defined]
    assert {e["node"]["id"] for e in listed["edges"]} == mine
    foreign = await api.gql(INVOICE_LIST, {"customerId": b.customers[0].id}, token=a.staff.token)
    assert foreign["invoices"] == {"totalCount": 0, "edges": []}
    for name, document, variables in INVOICE_MUTATIONS:
        if name != "createInvoice":
            error = await api.error(document, variables(b), token=a.staff.token)
            assert code(error) == "NOT_FOUND", name
    error = await api.error(INVOICE_MUTATIONS[0][1], {"id": b.customers[0].id}, token=a.staff.token)
    assert code(error) == "NOT_FOUND"


async def test_a_customer_sees_only_their_own_sent_invoices_and_payments(
    api: Api, invoice_world: dict[str, Side]
) -> None:
    a, b = invoice_world["A"], invoice_world["B"]
    me, neighbour = a.customers
    own = a.invoices[0]  # type: ignore[attr-defined]
    for label in ("open", "payment"):
        node = (await api.gql(NODE, {"id": own[label]}, token=me.token))["node"]
        assert node is not None and node["id"] == own[label], label
    assert (await api.gql(NODE, {"id": own["draft"]}, token=me.token))["node"] is None
    others = [*a.invoices[1].values(), *b.invoices[0].values()]  # type: ignore[attr-defined]
    for object_id in others:
        assert (await api.gql(NODE, {"id": object_id}, token=me.token))["node"] is None

    listed = (await api.gql(INVOICE_LIST, token=me.token))["invoices"]
    assert [e["node"]["id"] for e in listed["edges"]] == [own["open"]]
    assert listed["edges"][0]["node"]["payments"] == [{"id": own["payment"]}]
    assert listed["edges"][0]["node"]["customer"] == {"id": me.id}
    for other in (neighbour.id, b.customers[0].id):
        filtered = await api.gql(INVOICE_LIST, {"customerId": other}, token=me.token)
        assert filtered["invoices"] == {"totalCount": 0, "edges": []}
    drafts = await api.gql(INVOICE_LIST, {"status": ["DRAFT"]}, token=me.token)
    assert drafts["invoices"]["totalCount"] == 0
    # paying someone else's is as if it did not exist; their own draft too
    for invoice_id in (a.invoices[1]["open"], b.invoices[0]["open"], own["draft"]):  # type: ignore[attr-defined]
        assert code(await api.error(PAY_INVOICE, {"id": invoice_id}, token=me.token)) == "NOT_FOUND"


@pytest.mark.parametrize(("name", "document", "variables"), INVOICE_MUTATIONS)
async def test_invoice_mutations_are_for_staff(
    api: Api, invoice_world: dict[str, Side], name: str, document: str, variables
) -> None:
    me = invoice_world["A"].customers[0]
    for side in invoice_world.values():
        error = await api.error(document, variables(side), token=me.token)
        assert code(error) == "FORBIDDEN", name
    error = await api.error(document, variables(invoice_world["A"]))
    assert code(error) == "UNAUTHENTICATED", name


async def test_paying_and_onboarding_are_refused_to_the_wrong_roles(
    api: Api, invoice_world: dict[str, Side]
) -> None:
    a = invoice_world["A"]
    own = {"id": a.invoices[0]["open"]}  # type: ignore[attr-defined]
    assert code(await api.error(PAY_INVOICE, own, token=a.staff.token)) == "FORBIDDEN"
    assert code(await api.error(PAY_INVOICE, own)) == "UNAUTHENTICATED"
    onboard = "mutation { startStripeOnboarding { url } }"
    assert code(await api.error(onboard, token=a.customers[0].token)) == "FORBIDDEN"
    assert code(await api.error(onboard)) == "UNAUTHENTICATED"
