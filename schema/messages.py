"""Messages between a customer and the business's team, and the realtime subscriptions.

The subscription fields are delivered by app/subscriptions.py: each event is loaded and
authorized once per audience and their selection sets run with the event as root value
(resolvers here only convert, as everywhere). Their `subscribe` functions check who may
subscribe to what and say which events match; Strawberry's per-socket generators are not
used (see realtime/fanout.py for why).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from errors import BadInput
from resolvers import global_ids, messages
from resolvers.context import RequestContext
from schema.accounts import StaffMember
from schema.customers import Customer
from schema.jobs import Job, JobStatusChange
from schema.relay import Connection, Node, node_type

MessageSender = Annotated[StaffMember | Customer, strawberry.union("MessageSender")]


@node_type
@strawberry.type
class Message(Node):
    body: str = strawberry.field(description="Plain text, as written (clients escape it).")
    created_at: datetime
    read_at: datetime | None = strawberry.field(
        description="When the other side read it; null while unread."
    )
    key: strawberry.Private[uuid.UUID]
    customer_key: strawberry.Private[uuid.UUID]
    job_key: strawberry.Private[uuid.UUID | None]
    from_customer: strawberry.Private[bool]
    staff_key: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Row) -> Message:
        return cls(
            id=global_ids.encode("Message", row.id),
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
            key=row.id,
            customer_key=row.customer_id,
            job_key=row.job_id,
            from_customer=row.from_customer,
            staff_key=row.sender_staff_id,
        )

    @strawberry.field(
        description="The customer, or the staff member who wrote it (null once removed)."
    )
    async def sender(self, info: Info[RequestContext, None]) -> MessageSender | None:
        loaders = info.context.loaders
        if self.from_customer:
            row = await loaders.customer.load(self.customer_key)
            return Customer.from_row(row) if row else None
        if self.staff_key is None:
            return None
        row = await loaders.staff_member.load(self.staff_key)
        return StaffMember.from_row(row) if row else None

    @strawberry.field(description="The job the message is about, if any.")
    async def job(self, info: Info[RequestContext, None]) -> Job | None:
        if self.job_key is None:
            return None
        row = await info.context.loaders.job.load(self.job_key)
        return Job.from_row(row) if row else None


readpath.declare(
    "Message",
    scopes.messages_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Message")),
    body=readpath.Column("body"),
    createdAt=readpath.Column("created_at"),
    readAt=readpath.Column("read_at"),
    job=readpath.Related("Job", "job_id"),
    # As `sender` above: the customer when they wrote it, else the staff member.
    sender=readpath.OneOf(
        (("Customer", "customer_id", "from_customer"), ("StaffMember", "sender_staff_id", None))
    ),
)


def _compiled_thread(ctx: RequestContext, arguments: dict) -> object:
    # The compiled connection pages forwards; `last`/`before` run through execution. So do
    # staff's reads: a customer they may not see is NOT_FOUND, which only execution can say
    # (the statement would answer an empty thread). A customer's own thread needs no check.
    if arguments.get("last") is not None or arguments.get("before") is not None:
        raise readpath.Fallback
    if ctx.principal is None or not ctx.principal.is_customer:
        raise readpath.Fallback
    return messages.listing(ctx, arguments.get("customerId"))


readpath.root(
    messages=readpath.Connection(
        "Message", source=_compiled_thread, ordering=lambda a: messages.ORDER
    )
)


@strawberry.input
class SendMessageInput:
    body: str
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff name the customer; a customer leaves it out."
    )
    job_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer's job the message is about."
    )


@strawberry.input
class MarkMessagesReadInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff name the customer; a customer leaves it out."
    )
    up_to_message_id: strawberry.ID | None = strawberry.field(
        default=None, description="Up to and including this message; all when left out."
    )


@strawberry.type
class MessageQueries:
    @strawberry.field(
        description="One customer's thread, oldest first (by time, then id). A customer "
        "gets their own; staff name the customer. `last: N` is the newest N, still oldest "
        "first."
    )
    async def messages(
        self,
        info: Info[RequestContext, None],
        customer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Message]:
        page, count = await messages.list_messages(
            info.context, customer_id, first=first, after=after, last=last, before=before
        )
        return Connection.of(page, Message.from_row, count)

    @strawberry.field(
        description="The other side's unread messages: a customer's in their thread; staff "
        "in one customer's thread, or across all customers when none is named."
    )
    async def unread_message_count(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID | None = None
    ) -> int:
        return await messages.unread_count(info.context, customer_id)


@strawberry.type
class MessageMutations:
    @strawberry.mutation(description="Staff give `customerId`; a customer does not.")
    async def send_message(
        self, info: Info[RequestContext, None], input: SendMessageInput
    ) -> Message:
        row = await messages.send(info.context, input.body, input.customer_id, input.job_id)
        return Message.from_row(row)

    @strawberry.mutation(
        description="Marks the other side's messages read, up to the one given (all when "
        "none). Returns how many it marked."
    )
    async def mark_messages_read(
        self, info: Info[RequestContext, None], input: MarkMessagesReadInput
    ) -> int:
        return await messages.mark_read(info.context, input.customer_id, input.up_to_message_id)


async def _websocket_only() -> AsyncGenerator:
    raise BadInput("Subscribe over the WebSocket at /graphql.")
    yield  # pragma: no cover  (a generator, as Strawberry's subscriptions are)


@strawberry.type
class MessageSubscriptions:
    @strawberry.subscription(
        description="New messages: a customer's own thread; staff the business's (or one "
        "customer's, when given)."
    )
    async def message_added(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Message, None]:
        async for event in _websocket_only():
            yield event

    @strawberry.subscription(
        description="Status changes of the jobs the viewer may see (or of one job)."
    )
    async def job_status_changed(
        self, info: Info[RequestContext, None], job_id: strawberry.ID | None = None
    ) -> AsyncGenerator[JobStatusChange, None]:
        async for event in _websocket_only():
            yield event


# What each subscription field delivers: the kind of event (migration 0007's triggers),
# how to check the subscriber's arguments, and the row → root value conversion.
EVENT_ROOTS = {
    "messageAdded": ("message", Message.from_row),
    "jobStatusChanged": ("job_status", JobStatusChange.from_row),
}
