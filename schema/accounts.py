"""Businesses, staff members and the viewer; registering, signing in and out, passwords
(resolvers/accounts.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from auth.principal import Principal
from auth.sessions import IssuedSession
from models import StaffRole as StaffRoleValues
from resolvers import accounts, global_ids
from resolvers.context import RequestContext
from resolvers.invoices import business_payments_enabled
from schema.customers import Customer
from schema.relay import Node, node_type

StaffRole = strawberry.enum(StaffRoleValues, name="StaffRole")


@node_type
@strawberry.type
class Business(Node):
    name: str
    slug: str = strawberry.field(description="The business's part of portal URLs.")
    time_zone: str = strawberry.field(
        description="IANA name (default UTC): invoices fall overdue by this calendar."
    )
    key: strawberry.Private[uuid.UUID]
    charges_enabled: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: Row) -> Business:
        return cls(
            id=global_ids.encode("Business", row.id),
            name=row.name,
            slug=row.slug,
            time_zone=row.time_zone,
            key=row.id,
            charges_enabled=row.charges_enabled,
        )

    @strawberry.field(description="Whether customers can pay invoices online (Stripe Connect).")
    def payments_enabled(self, info: Info[RequestContext, None]) -> bool:
        # The connected account's charges_enabled, kept from Stripe's webhooks.
        return business_payments_enabled(info.context, self.charges_enabled)


@node_type
@strawberry.type
class StaffMember(Node):
    name: str
    email: str
    role: StaffRole
    business_key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> StaffMember:
        return cls(
            id=global_ids.encode("StaffMember", row.id),
            name=row.name,
            email=row.email,
            role=StaffRoleValues(row.role),
            business_key=row.business_id,
        )

    @strawberry.field
    async def business(self, info: Info[RequestContext, None]) -> Business:
        return Business.from_row(await info.context.loaders.business.load(self.business_key))


Viewer = Annotated[StaffMember | Customer, strawberry.union("Viewer")]


async def viewer_of(ctx: RequestContext, principal: Principal | None):
    if principal is None:
        return None
    if principal.is_staff:
        row = await ctx.loaders.staff_member.load(principal.staff_member_id)
        return StaffMember.from_row(row) if row else None
    if principal.is_customer:
        row = await ctx.loaders.customer.load(principal.customer_id)
        return Customer.from_row(row) if row else None
    return None


@strawberry.type
class AuthPayload:
    token: str = strawberry.field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime
    principal: strawberry.Private[Principal]

    @strawberry.field
    async def viewer(self, info: Info[RequestContext, None]) -> Viewer:
        return await viewer_of(info.context, self.principal)

    @classmethod
    def of(cls, issued: IssuedSession) -> AuthPayload:
        return cls(token=issued.token, expires_at=issued.expires_at, principal=issued.principal)


@strawberry.input
class RegisterBusinessInput:
    business_name: str
    owner_name: str
    email: str
    password: str


@strawberry.input
class StaffLogInInput:
    email: str
    password: str


@strawberry.input
class RequestStaffPasswordResetInput:
    email: str


@strawberry.input
class ResetStaffPasswordInput:
    token: str
    new_password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


readpath.declare(
    "Business",
    scopes.businesses_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Business")),
    name=readpath.Column("name"),
    slug=readpath.Column("slug"),
    timeZone=readpath.Column("time_zone"),
    paymentsEnabled=readpath.Computed(
        ("charges_enabled",), business_payments_enabled, context=True
    ),
)
readpath.declare(
    "StaffMember",
    scopes.staff_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("StaffMember")),
    name=readpath.Column("name"),
    email=readpath.Column("email"),
    role=readpath.Column("role"),
    business=readpath.Related("Business", "business_id"),
)


def _find_viewer(ctx: RequestContext, arguments: dict) -> tuple | None:
    """The compiled path's `viewer`: the same row `viewer_of` loads."""
    principal = ctx.principal
    if principal is None:
        return None
    if principal.staff_member_id is not None:
        query = scopes.staff_visible_to(principal)
        return "StaffMember", query.where(query.selected_columns.id == principal.staff_member_id)
    if principal.customer_id is not None:
        query = scopes.customers_visible_to(principal)
        return "Customer", query.where(query.selected_columns.id == principal.customer_id)
    return None


def _find_business(ctx: RequestContext, arguments: dict) -> tuple | None:
    if ctx.principal is None:
        return None
    query = scopes.businesses_visible_to(ctx.principal)
    return "Business", query.where(query.selected_columns.id == ctx.principal.business_id)


readpath.root(
    viewer=readpath.RootObject(_find_viewer), business=readpath.RootObject(_find_business)
)


@strawberry.type
class AccountQueries:
    @strawberry.field(description="Who is signed in; null when signed out.")
    async def viewer(self, info: Info[RequestContext, None]) -> Viewer | None:
        return await viewer_of(info.context, info.context.principal)

    @strawberry.field(description="The viewer's own business; null when signed out.")
    async def business(self, info: Info[RequestContext, None]) -> Business | None:
        principal = info.context.principal
        if principal is None:
            return None
        row = await info.context.loaders.business.load(principal.business_id)
        return Business.from_row(row) if row else None


@strawberry.type
class AccountMutations:
    @strawberry.mutation
    async def register_business(
        self, info: Info[RequestContext, None], input: RegisterBusinessInput
    ) -> AuthPayload:
        issued = await accounts.register_business(
            info.context,
            business_name=input.business_name,
            owner_name=input.owner_name,
            email=input.email,
            password=input.password,
        )
        return AuthPayload.of(issued)

    @strawberry.mutation
    async def staff_log_in(
        self, info: Info[RequestContext, None], input: StaffLogInInput
    ) -> AuthPayload:
        issued = await accounts.staff_log_in(
            info.context, email=input.email, password=input.password
        )
        return AuthPayload.of(issued)

    @strawberry.mutation(description="Ends the current session.")
    async def log_out(self, info: Info[RequestContext, None]) -> bool:
        return await accounts.log_out(info.context)

    @strawberry.mutation(description="Ends every session of the viewer's account.")
    async def log_out_everywhere(self, info: Info[RequestContext, None]) -> bool:
        return await accounts.log_out_everywhere(info.context)

    @strawberry.mutation(
        description="Any signed-in viewer. Ends every other session of the account."
    )
    async def change_password(
        self, info: Info[RequestContext, None], input: ChangePasswordInput
    ) -> bool:
        return await accounts.change_password(
            info.context,
            current_password=input.current_password,
            new_password=input.new_password,
            field="newPassword",
        )

    @strawberry.mutation(description="Always true; only an existing staff account gets mail.")
    async def request_staff_password_reset(
        self, info: Info[RequestContext, None], input: RequestStaffPasswordResetInput
    ) -> bool:
        return await accounts.request_staff_password_reset(info.context, email=input.email)

    @strawberry.mutation(description="Sets a new password and ends every other session.")
    async def reset_staff_password(
        self, info: Info[RequestContext, None], input: ResetStaffPasswordInput
    ) -> AuthPayload:
        issued = await accounts.reset_staff_password(
            info.context, token=input.token, new_password=input.new_password, field="newPassword"
        )
        return AuthPayload.of(issued)
