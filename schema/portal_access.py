"""Customers' portal access: invitations, sign-in, password reset and revocation
(resolvers/portal_access.py)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import portal_access
from resolvers.context import RequestContext
from schema.accounts import AuthPayload
from schema.customers import Customer


@strawberry.input
class AcceptPortalInvitationInput:
    token: str
    password: str


@strawberry.input
class PortalLogInInput:
    business_slug: str
    email: str
    password: str


@strawberry.input
class RequestPasswordResetInput:
    business_slug: str
    email: str


@strawberry.input
class ResetPasswordInput:
    token: str
    new_password: str


@strawberry.type
class PortalAccessMutations:
    @strawberry.mutation(description="Emails the customer a single-use link to the portal.")
    async def invite_customer_to_portal(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID
    ) -> Customer:
        row = await portal_access.invite(info.context, customer_id, field="customerId")
        return Customer.from_row(row)

    @strawberry.mutation
    async def accept_portal_invitation(
        self, info: Info[RequestContext, None], input: AcceptPortalInvitationInput
    ) -> AuthPayload:
        issued = await portal_access.accept_invitation(
            info.context, token=input.token, password=input.password, field="password"
        )
        return AuthPayload.of(issued)

    @strawberry.mutation
    async def portal_log_in(
        self, info: Info[RequestContext, None], input: PortalLogInInput
    ) -> AuthPayload:
        issued = await portal_access.log_in(
            info.context,
            business_slug=input.business_slug,
            email=input.email,
            password=input.password,
        )
        return AuthPayload.of(issued)

    @strawberry.mutation(description="Always true; only an active portal account gets mail.")
    async def request_password_reset(
        self, info: Info[RequestContext, None], input: RequestPasswordResetInput
    ) -> bool:
        return await portal_access.request_password_reset(
            info.context, business_slug=input.business_slug, email=input.email
        )

    @strawberry.mutation(description="Sets a new password and ends every other session.")
    async def reset_password(
        self, info: Info[RequestContext, None], input: ResetPasswordInput
    ) -> AuthPayload:
        issued = await portal_access.reset_password(
            info.context, token=input.token, new_password=input.new_password, field="newPassword"
        )
        return AuthPayload.of(issued)

    @strawberry.mutation(description="Ends the customer's portal access and every session.")
    async def revoke_portal_access(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID
    ) -> Customer:
        row = await portal_access.revoke(info.context, customer_id, field="customerId")
        return Customer.from_row(row)
