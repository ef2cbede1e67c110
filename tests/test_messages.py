"""Messages: one thread per customer, paged both ways, read state per side, and the email
for a customer who was not there."""

from __future__ import annotations

import asyncio

import pytest

from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox

SEND = """
mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) {
    id body createdAt readAt
    sender { __typename ... on StaffMember { id name } ... on Customer { id name } }
    job { id title }
  }
}"""
THREAD = """
query Thread($customerId: ID, $first: Int, $after: String, $last: Int, $before: String) {
  messages(customerId: $customerId, first: $first, after: $after, last: $last,
           before: $before) {
    totalCount
    edges { cursor node { id body } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
THREAD_COMPILED = """
query Thread($customerId: ID, $first: Int, $after: String) {
  messages(customerId: $customerId, first: $first, after: $after) {
    totalCount edges { cursor node { id body createdAt readAt job { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
MARK_READ = """
mutation Read($input: MarkMessagesReadInput!) { markMessagesRead(input: $input) }"""
UNREAD = "query($customerId: ID) { unreadMessageCount(customerId: $customerId) }"
CREATE_JOB = "mutation($input: CreateJobInput!) { createJob(input: $input) { id title } }"


async def send(api: Api, token: str, body: str, **ids: str) -> dict:
    data = await api.gql(SEND, {"input": {"body": body, **ids}}, token=token)
    return data["sendMessage"]


@pytest.fixture
def quick_email(server, executed_server) -> None:
    for running in (server, executed_server):
        running.app.state.services.settings.MESSAGE_EMAIL_GRACE_SECONDS = 0.3


async def test_staff_and_customer_talk_in_one_thread(api: Api, mailbox: Mailbox) -> None:
    # given a business and a portal customer
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff, "Cass")
    # when each side writes, the customer without naming anyone
    first = await send(api, staff.token, "  Hello Cass  ", customerId=person.id)
    second = await send(api, person.token, "Hi! <b>not html</b>")
    # then the thread is the same for both, oldest first, stored as written (trimmed)
    assert first["body"] == "Hello Cass"
    assert first["sender"]["__typename"] == "StaffMember"
    assert first["sender"]["id"] == staff.id
    assert second["sender"] == {"__typename": "Customer", "id": person.id, "name": "Cass"}
    assert second["body"] == "Hi! <b>not html</b>"
    for token, args in ((staff.token, {"customerId": person.id}), (person.token, {})):
        data = await api.gql(THREAD, args, token=token)
        bodies = [e["node"]["body"] for e in data["messages"]["edges"]]
        assert bodies == ["Hello Cass", "Hi! <b>not html</b>"]
        assert data["messages"]["totalCount"] == 2


async def test_a_message_about_a_job(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    other = await factories.customer(api, staff)
    job = (
        await api.gql(
            CREATE_JOB, {"input": {"customerId": person.id, "title": "Roof"}}, token=staff.token
        )
    )["createJob"]
    sent = await send(api, person.token, "About the roof", jobId=job["id"])
    assert sent["job"] == job
    # another customer's job is not found
    error = await api.error(
        SEND,
        {"input": {"body": "x", "customerId": other["id"], "jobId": job["id"]}},
        token=staff.token,
    )
    assert code(error) == "NOT_FOUND"


async def test_bodies_are_checked(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    for body in ("   ", "x" * 5001):
        error = await api.error(SEND, {"input": {"body": body}}, token=person.token)
        assert code(error) == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "body"
    assert (await send(api, person.token, "y" * 5000))["body"] == "y" * 5000
    # staff must name the customer
    error = await api.error(SEND, {"input": {"body": "hi"}}, token=staff.token)
    assert code(error) == "BAD_USER_INPUT"


async def test_pages_both_ways_oldest_first(api: Api, mailbox: Mailbox) -> None:
    # given seven messages
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    for n in range(7):
        await send(api, staff.token, f"m{n}", customerId=person.id)
    ask = {"customerId": person.id}

    async def page(**args: object) -> dict:
        return (await api.gql(THREAD, {**ask, **args}, token=staff.token))["messages"]

    def bodies(found: dict) -> list[str]:
        return [e["node"]["body"] for e in found["edges"]]

    # forwards
    one = await page(first=3)
    assert bodies(one) == ["m0", "m1", "m2"]
    assert one["pageInfo"]["hasNextPage"] and not one["pageInfo"]["hasPreviousPage"]
    two = await page(first=3, after=one["pageInfo"]["endCursor"])
    assert bodies(two) == ["m3", "m4", "m5"]
    # backwards: the newest three, still oldest first
    newest = await page(last=3)
    assert bodies(newest) == ["m4", "m5", "m6"]
    assert newest["pageInfo"]["hasPreviousPage"] and not newest["pageInfo"]["hasNextPage"]
    older = await page(last=3, before=newest["pageInfo"]["startCursor"])
    assert bodies(older) == ["m1", "m2", "m3"]
    assert older["pageInfo"]["hasPreviousPage"] and older["pageInfo"]["hasNextPage"]
    oldest = await page(last=3, before=older["pageInfo"]["startCursor"])
    assert bodies(oldest) == ["m0"]
    assert not oldest["pageInfo"]["hasPreviousPage"]
    # an edge's cursor works in both directions
    middle = two["edges"][1]["cursor"]  # m4
    assert bodies(await page(first=2, after=middle)) == ["m5", "m6"]
    assert bodies(await page(last=2, before=middle)) == ["m2", "m3"]
    # a customer's forward pages are answered by the compiled read path too
    api.read_paths.clear()
    compiled = (await api.gql(THREAD_COMPILED, {"first": 2}, token=person.token))["messages"]
    assert [e["node"]["body"] for e in compiled["edges"]] == ["m0", "m1"]
    assert api.read_paths == ["compiled"]
    # staff naming a customer of another business: NOT_FOUND on both paths
    other = await factories.register(api)
    error = await api.error(THREAD_COMPILED, ask, token=other.token)
    assert code(error) == "NOT_FOUND"
    error = await api.error(THREAD, {**ask, "before": "garbage"}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "before"}


async def test_read_state_per_side_and_unread_counts(api: Api, mailbox: Mailbox) -> None:
    # given two customers who wrote, and a staff reply to one
    staff = await factories.register(api)
    ann = await factories.portal_customer(api, mailbox, staff)
    bob = await factories.portal_customer(api, mailbox, staff)
    a1 = await send(api, ann.token, "a1")
    await send(api, ann.token, "a2")
    await send(api, bob.token, "b1")
    await send(api, staff.token, "reply", customerId=ann.id)

    async def unread(token: str, customer: str | None = None) -> int:
        args = {"customerId": customer} if customer else {}
        return (await api.gql(UNREAD, args, token=token))["unreadMessageCount"]

    # then staff count the customers' unread messages, across all or per customer
    assert await unread(staff.token) == 3
    assert await unread(staff.token, ann.id) == 2
    # and each customer the team's
    assert await unread(ann.token) == 1
    assert await unread(bob.token) == 0
    # when staff mark Ann's thread read up to her first message
    marked = await api.gql(
        MARK_READ, {"input": {"customerId": ann.id, "upToMessageId": a1["id"]}}, token=staff.token
    )
    assert marked["markMessagesRead"] == 1
    assert await unread(staff.token) == 2
    # and the rest of it; marking again marks nothing
    assert (await api.gql(MARK_READ, {"input": {"customerId": ann.id}}, token=staff.token))[
        "markMessagesRead"
    ] == 1
    assert (await api.gql(MARK_READ, {"input": {"customerId": ann.id}}, token=staff.token))[
        "markMessagesRead"
    ] == 0
    # a customer marks only the team's messages, never their own
    assert (await api.gql(MARK_READ, {"input": {}}, token=ann.token))["markMessagesRead"] == 1
    assert await unread(ann.token) == 0
    assert await unread(staff.token) == 1  # Bob's
    thread = await api.gql(
        "{ messages(last: 5) { edges { node { body readAt } } } }", token=ann.token
    )
    read = {e["node"]["body"]: e["node"]["readAt"] is not None for e in thread["messages"]["edges"]}
    assert read == {"a1": True, "a2": True, "reply": True}
    # a message of another thread is not found
    error = await api.error(
        MARK_READ, {"input": {"customerId": bob.id, "upToMessageId": a1["id"]}}, token=staff.token
    )
    assert code(error) == "NOT_FOUND"


async def test_a_customer_who_was_not_there_gets_one_email_per_quarter_hour(
    api: Api, mailbox: Mailbox, quick_email: None
) -> None:
    staff = await factories.register(api, "Acme Roofing")
    person = await factories.portal_customer(api, mailbox, staff)
    before = len(mailbox.to(person.email))
    # when staff send two messages while no portal of the customer is open
    await send(api, staff.token, "First", customerId=person.id)
    await send(api, staff.token, "Second", customerId=person.id)
    # then one email tells them (without the message itself)
    emails = await mailbox.wait_for(person.email, before + 1)
    assert "Acme Roofing sent you a message" in emails[-1]["Subject"]
    assert "First" not in str(emails[-1])
    await asyncio.sleep(1.0)
    assert len(mailbox.to(person.email)) == before + 1
    # and the customer's own messages email no one
    await send(api, person.token, "Thanks")
    await asyncio.sleep(0.6)
    assert len(mailbox.to(person.email)) == before + 1
