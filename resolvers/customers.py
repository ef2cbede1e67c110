"""Customers: the business's address book, and the people who use the portal."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import Row, Select, insert, or_
from sqlalchemy.exc import IntegrityError

from auth import emailed_tokens, scopes
from db import violated_constraint
from errors import BadInput, NotFound
from models import PortalStatus
from resolvers import global_ids, inputs, lists, loaders, nodes
from resolvers.pagination import Ordering, Page
from resolvers.updates import update_row

if TYPE_CHECKING:
    from resolvers.context import RequestContext

customers = scopes.customers

ORDER = Ordering((("name", False), ("id", False)))


def _duplicate_email(error: IntegrityError) -> BadInput | None:
    if violated_constraint(error) == "customers_business_email":
        return BadInput("Another customer already has this email address.", field="email")
    return None


CONTACT = {
    "name": inputs.a_text(max_length=200, label="name"),
    "email": inputs.optional_email,
    "phone": inputs.an_optional_text(max_length=40, label="phone number"),
    "address": inputs.an_optional_text(max_length=1000, label="address", multiline=True),
}


def _contact_values(changes: dict[str, object]) -> dict[str, object]:
    return inputs.checked(changes, CONTACT)


async def create(ctx: RequestContext, changes: dict[str, object]) -> Row:
    viewer = ctx.staff()
    values = _contact_values(changes)
    async with ctx.unit_of_work():
        try:
            row = await ctx.tx.first(
                insert(customers)
                .values(
                    id=uuid.uuid4(),
                    business_id=viewer.business_id,
                    portal_status=PortalStatus.NOT_INVITED,
                    **values,
                )
                .returning(*scopes.customer_columns)
            )
        except IntegrityError as error:
            raise (_duplicate_email(error) or error) from None
    return row


async def get(ctx: RequestContext, customer_id: str, *, field: str = "id") -> Row:
    key = global_ids.decode(customer_id, "Customer", field=field)
    row = await ctx.loaders.customer.load(key)
    if row is None:
        raise NotFound("Customer")
    return row


async def change(ctx: RequestContext, customer_id: str, changes: dict[str, object]) -> Row:
    ctx.staff()
    row = await get(ctx, customer_id)
    values = _contact_values(changes)
    email_changes = "email" in values and values["email"] != row.email
    has_portal = row.portal_status in (PortalStatus.INVITED, PortalStatus.ACTIVE)
    if email_changes and values["email"] is None and has_portal:
        raise BadInput(
            "This customer uses the portal, and their email is their login.", field="email"
        )
    if not values:
        return row
    async with ctx.unit_of_work():
        try:
            updated = await update_row(
                ctx,
                customers,
                row.id,
                writable=scopes.customers_writable_by(ctx.principal),
                values=values,
                columns=scopes.customer_columns,
                loader="customer",
                what="Customer",
            )
        except IntegrityError as error:
            raise (_duplicate_email(error) or error) from None
        if email_changes:
            # Links already mailed went to the old address: they must not work any more.
            await emailed_tokens.void(ctx.tx, ctx.principal, emailed_tokens.PORTAL, row.id)
    return updated


loaders.register("customer", loaders.by_id(scopes.customers_visible_to))
nodes.register("Customer", "customer")


def listing(ctx: RequestContext, *, search: str | None) -> Select:
    """The root list (staff only): the business's customers, matching `search` if given."""
    viewer = ctx.staff()
    query = scopes.customers_visible_to(viewer)
    term = inputs.optional_text(search, "search", max_length=200, label="search") or ""
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                customers.c.name.ilike(pattern),
                customers.c.email.ilike(pattern),
                customers.c.phone.ilike(pattern),
            )
        )
    return query


async def list_customers(
    ctx: RequestContext, *, search: str | None, first: int | None, after: str | None
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    query = listing(ctx, search=search)
    return await lists.root_page(ctx, query, ORDER, first, after)
