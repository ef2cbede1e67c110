"""Messages: one thread per customer, between the customer and the business's team.

Staff name the customer; a customer writes to (and reads) their own thread only. Each side
marks the other side's messages read. A thread lists oldest first, by (created_at, id), and
pages both ways: `first`/`after` forwards, `last`/`before` backwards (still oldest first).

New messages reach open portals through realtime (a trigger NOTIFYs each insert, see
migration 0007); a staff message that no open portal of the customer received soon after
the commit is emailed instead, at most once per thread per quarter hour.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Select, and_, func, insert, select, text, update

from auth import scopes
from auth.principal import Principal
from db import RequestTransaction
from errors import BadInput, NotFound
from mail import from_business, templates
from models import PortalStatus
from models.message import MAX_BODY
from resolvers import global_ids, inputs, jobs, loaders, nodes
from resolvers.loaders import any_of
from resolvers.pagination import DEFAULT_FIRST, MAX_FIRST, Ordering, Page, page_args

if TYPE_CHECKING:
    from resolvers.context import RequestContext

log = logging.getLogger(__name__)

messages = scopes.messages
ORDER = Ordering((("created_at", False), ("id", False)))
# At most one "you have a new message" email per thread in this long.
EMAIL_EVERY = timedelta(minutes=15)


# -- reads ----------------------------------------------------------------------------------


def thread_of(ctx: RequestContext, customer_id: str | None) -> uuid.UUID:
    """The customer whose thread is meant: a customer's own (naming another is NOT_FOUND,
    never FORBIDDEN: it may not exist); staff must name one of the business's."""
    viewer = ctx.viewer()
    if viewer.is_customer:
        if customer_id is not None:
            key = global_ids.decode(customer_id, "Customer", field="customerId")
            if key != viewer.customer_id:
                raise NotFound("Customer")
        assert viewer.customer_id is not None
        return viewer.customer_id
    if customer_id is None:
        raise BadInput("Name the customer.", field="customerId")
    return global_ids.decode(customer_id, "Customer", field="customerId")


async def visible_thread(ctx: RequestContext, customer_id: str | None) -> uuid.UUID:
    key = thread_of(ctx, customer_id)
    if ctx.viewer().is_staff and await ctx.loaders.customer.load(key) is None:
        raise NotFound("Customer")
    return key


def thread(viewer: Principal | None, customer_key: uuid.UUID) -> Select:
    """One customer's thread as the viewer may read it: every list of messages starts here."""
    query = scopes.messages_visible_to(viewer)
    return query.where(query.selected_columns.customer_id == customer_key)


def listing(ctx: RequestContext, customer_id: str | None) -> Select:
    """The root list's rows, for the compiled read path (which pages forwards only)."""
    return thread(ctx.viewer(), thread_of(ctx, customer_id))


def _cursor(value: str | None, field: str) -> tuple | None:
    """A cursor's (created_at, id), as `page_args` reads one."""
    if value is None:
        return None
    try:
        return page_args(1, value, ORDER, messages.c).after
    except BadInput:
        raise BadInput("This cursor is not valid here.", field=field) from None


def _count(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise BadInput(f"`{name}` cannot be negative.", field=name)
    return min(value, MAX_FIRST)


async def list_messages(
    ctx: RequestContext,
    customer_id: str | None,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """A page of the thread, oldest first either way. `last: N` is the newest N (before
    `before`, if given); `first: N` the oldest N (after `after`)."""
    first, last = _count(first, "first"), _count(last, "last")
    if first is not None and last is not None:
        raise BadInput("Give `first` or `last`, not both.", field="last")
    after_key, before_key = _cursor(after, "after"), _cursor(before, "before")
    key = await visible_thread(ctx, customer_id)
    query = thread(ctx.principal, key)
    columns = query.selected_columns
    if after_key is not None:
        query = query.where(ORDER.after(columns, after_key))
    if before_key is not None:
        query = query.where(_earlier(columns, before_key))
    backwards = last is not None or (first is None and before is not None)
    wanted = last if backwards else first
    size = DEFAULT_FIRST if wanted is None else wanted
    if backwards:
        ordered = query.order_by(columns.created_at.desc(), columns.id.desc())
        rows = list(await ctx.tx.rows(ordered.limit(size + 1)))
        page = Page(
            rows=list(reversed(rows[:size])),
            has_next=before_key is not None,
            has_previous=len(rows) > size,
            ordering=ORDER,
        )
    else:
        rows = list(await ctx.tx.rows(query.order_by(*ORDER.order_by(columns)).limit(size + 1)))
        page = Page(
            rows=rows[:size],
            has_next=len(rows) > size,
            has_previous=after_key is not None,
            ordering=ORDER,
        )
    whole = thread(ctx.principal, key)

    async def total() -> int:
        return await ctx.tx.scalar(select(func.count()).select_from(whole.subquery()))

    return page, total


def _earlier(columns: Any, values: Sequence[object]) -> Any:
    """Rows strictly before `values` in (created_at, id) order."""
    created_at, key = values
    return (columns.created_at < created_at) | and_(
        columns.created_at == created_at, columns.id < key
    )


def _unread(viewer: Principal) -> Select:
    """The other side's unread messages, as the viewer may read them."""
    query = scopes.messages_visible_to(viewer)
    columns = query.selected_columns
    return query.where(columns.read_at.is_(None), columns.from_customer.is_(viewer.is_staff))


async def unread_count(ctx: RequestContext, customer_id: str | None) -> int:
    """A customer: the team's messages they have not read. Staff: customers' messages
    nobody of the team has read, in one thread or (no id) across all of them."""
    viewer = ctx.viewer()
    query = _unread(viewer)
    if customer_id is not None or viewer.is_customer:
        key = await visible_thread(ctx, customer_id)
        query = query.where(query.selected_columns.customer_id == key)
    return await ctx.tx.scalar(select(func.count()).select_from(query.subquery()))


loaders.register("message", loaders.by_id(scopes.messages_visible_to))
nodes.register("Message", "message")


# -- realtime: who may subscribe to what, and each event as its audience may see it ------


@dataclass(frozen=True)
class Interest:
    """What one subscription wants: events of `kind`, of one customer or one job if set.
    (The audience's scope narrows further: a customer only ever hears of their own.)"""

    kind: str
    customer_id: uuid.UUID | None = None
    job_id: uuid.UUID | None = None

    def matches(self, event: Any) -> bool:
        return (self.customer_id is None or event.customer_id == self.customer_id) and (
            self.job_id is None or event.job_id == self.job_id
        )


async def message_interest(ctx: RequestContext, customer_id: str | None) -> Interest:
    """messageAdded: a customer's own thread; staff the business's, or one customer's."""
    viewer = ctx.viewer()
    if viewer.is_staff and customer_id is None:
        return Interest("message")
    return Interest("message", customer_id=await visible_thread(ctx, customer_id))


async def job_status_interest(ctx: RequestContext, job_id: str | None) -> Interest:
    """jobStatusChanged: the jobs the viewer may see, or one of them."""
    viewer = ctx.viewer()
    if job_id is None:
        return Interest("job_status", customer_id=viewer.customer_id)
    job = await jobs.get(ctx, job_id, field="jobId")
    return Interest("job_status", customer_id=job.customer_id, job_id=job.id)


# Each kind of event as rows of the viewer's scope: every event is authorized here again,
# under the subscriber's own scope, when it is delivered.
EVENT_SOURCES: dict[str, Callable[[Principal | None], Select]] = {
    "message": scopes.messages_visible_to,
    "job_status": scopes.job_status_changes_visible_to,
}


async def event_rows(
    tx: RequestTransaction, viewer: Principal, kind: str, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    query = EVENT_SOURCES[kind](viewer)
    rows = await tx.rows(query.where(any_of(query.selected_columns.id, list(ids))))
    return {row.id: row for row in rows}


# -- writes ---------------------------------------------------------------------------------


async def send(ctx: RequestContext, body: str, customer_id: str | None, job_id: str | None) -> Row:
    viewer = ctx.viewer()
    text_ = inputs.optional_text(body, "body", max_length=MAX_BODY, label="message", multiline=True)
    if not text_:
        raise BadInput("Write the message.", field="body")
    customer_key = await visible_thread(ctx, customer_id)
    job_key = None
    if job_id is not None:
        job_key = global_ids.decode(job_id, "Job", field="jobId")
        job = await ctx.loaders.job.load(job_key)
        if job is None or job.customer_id != customer_key:
            raise NotFound("Job")
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(messages)
            .values(
                id=uuid.uuid4(),
                business_id=viewer.business_id,
                customer_id=customer_key,
                job_id=job_key,
                body=text_,
                from_customer=viewer.is_customer,
                sender_staff_id=viewer.staff_member_id if viewer.is_staff else None,
                # The statement's own clock: messages of one transaction keep their order.
                created_at=func.clock_timestamp(),
            )
            .returning(*scopes.readable(messages))
        )
    assert row is not None
    if viewer.is_staff:
        services = ctx.services
        message_id, business_id = row.id, row.business_id

        async def email_later() -> None:
            await email_if_unseen(services, business_id, message_id)

        ctx.tx.after_commit(email_later)
    return row


async def mark_read(ctx: RequestContext, customer_id: str | None, up_to: str | None) -> int:
    """Mark the other side's unread messages of the thread read, up to and including
    `up_to` (all when none). Returns how many were marked."""
    viewer = ctx.viewer()
    key = await visible_thread(ctx, customer_id)
    limit = None
    if up_to is not None:
        message_key = global_ids.decode(up_to, "Message", field="upToMessageId")
        limit = await ctx.loaders.message.load(message_key)
        if limit is None or limit.customer_id != key:
            raise NotFound("Message")
    now = func.clock_timestamp()
    if viewer.is_customer:
        statement = scopes.customer_reads_messages.update(viewer, read_at=now)
    else:
        statement = (
            update(messages)
            .values(read_at=now)
            .where(scopes.messages_writable_by(viewer), messages.c.from_customer.is_(True))
        )
    statement = statement.where(messages.c.customer_id == key, messages.c.read_at.is_(None))
    if limit is not None:
        statement = statement.where(
            (messages.c.created_at < limit.created_at)
            | and_(messages.c.created_at == limit.created_at, messages.c.id <= limit.id)
        )
    async with ctx.unit_of_work():
        result = await ctx.tx.execute(statement)
    return result.rowcount or 0


# -- the email for a customer who was not there ---------------------------------------------


async def email_if_unseen(services: Any, business_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """After a staff message commits: wait a moment for open portals to receive it live
    (realtime marks it delivered); if none did, email the customer — unless the thread was
    emailed about within EMAIL_EVERY. Runs in the background, after the response."""
    await asyncio.sleep(services.settings.MESSAGE_EMAIL_GRACE_SECONDS)
    tx = RequestTransaction(services.engine)
    system = Principal.system(business_id, "message email")
    tx.set_scope(business_id, None)
    letter = None
    try:
        row = await tx.first(scopes.messages_visible_to(system).where(messages.c.id == message_id))
        if row is None or row.delivered_at is not None or row.read_at is not None:
            return
        # One decision per thread at a time: two messages at once make one email.
        await tx.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(text(":k")))).params(
                k=f"message-email:{row.customer_id}"
            )
        )
        recent = await tx.scalar(
            select(func.count())
            .select_from(messages)
            .where(
                messages.c.customer_id == row.customer_id,
                messages.c.emailed_at > func.now() - EMAIL_EVERY,
            )
        )
        customers = scopes.customers_visible_to(system)
        customer = await tx.first(customers.where(customers.selected_columns.id == row.customer_id))
        business = await tx.first(
            scopes.businesses_visible_to(system).where(scopes.businesses.c.id == business_id)
        )
        if recent or customer is None or business is None:
            return
        if customer.portal_status != PortalStatus.ACTIVE or not customer.email:
            return
        await tx.execute(
            update(messages).where(messages.c.id == message_id).values(emailed_at=func.now())
        )
        letter = from_business(
            business.name,
            templates.new_message(
                business=business.name,
                customer=customer.name,
                link=f"{services.settings.public_url}/portal/{business.slug}/",
            ),
            sender=services.settings.SMTP_FROM,
            to=customer.email,
        )
    finally:
        await tx.close()
    if letter is not None:
        await services.mailer.send(letter)


async def mark_delivered(services: Any, business_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    """Messages an open portal of their customer received live (no email needed)."""
    tx = RequestTransaction(services.engine)
    tx.set_scope(business_id, None)
    try:
        await tx.execute(
            update(messages)
            .where(any_of(messages.c.id, ids), messages.c.delivered_at.is_(None))
            .values(delivered_at=func.now())
        )
    finally:
        await tx.close()
