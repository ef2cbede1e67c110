"""The viewer (who is signed in), sign-in results, and the staff account mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from auth.principal import Principal
from resolvers import accounts
from resolvers.context import RequestContext
from schema.accounts import Business, StaffMember
from schema.customers import Customer

Viewer = Annotated[StaffMember | Customer, strawberry.union("Viewer")]


async def viewer_of(ctx: RequestContext, principal: Principal | None):  # noqa: ANN201
    if principal is None:
        return None
    if principal.staff_member_id is not None:
        row = await ctx.loaders.staff_member.load(principal.staff_member_id)
        return StaffMember.from_row(row) if row else None
    if principal.customer_id is not None:
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
    def of(cls, issued: accounts.IssuedSession) -> AuthPayload:
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
