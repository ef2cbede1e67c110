"""Invitations, customer sign-in, password reset and revocation; team invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from models import StaffRole as StaffRoleValues
from resolvers import global_ids, portal_access, staff_invitations
from resolvers.context import RequestContext
from schema.accounts import StaffMember
from schema.customers import Customer
from schema.enums import StaffRole
from schema.relay import Node
from schema.viewer import AuthPayload


@strawberry.type
class StaffInvitation(Node):
    name: str
    email: str
    role: StaffRole
    expires_at: datetime
    accepted_at: datetime | None
    created_at: datetime
    invited_by_key: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Row) -> StaffInvitation:
        return cls(
            id=global_ids.encode("StaffInvitation", row.id),
            name=row.name,
            email=row.email,
            role=StaffRoleValues(row.role),
            expires_at=row.expires_at,
            accepted_at=row.accepted_at,
            created_at=row.created_at,
            invited_by_key=row.invited_by_id,
        )

    @strawberry.field
    async def invited_by(self, info: Info[RequestContext, None]) -> StaffMember | None:
        if self.invited_by_key is None:
            return None
        row = await info.context.loaders.staff_member.load(self.invited_by_key)
        return StaffMember.from_row(row) if row else None


@strawberry.input
class AcceptPortalInvitationInput:
    token: str
    password: str


@strawberry.input
class AcceptStaffInvitationInput:
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


@strawberry.input
class InviteStaffMemberInput:
    name: str
    email: str
    role: StaffRole


@strawberry.type
class PortalAccessMutations:
    @strawberry.mutation(description="Emails the customer a single-use link to the portal.")
    async def invite_customer_to_portal(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID
    ) -> Customer:
        return Customer.from_row(await portal_access.invite(info.context, customer_id))

    @strawberry.mutation
    async def accept_portal_invitation(
        self, info: Info[RequestContext, None], input: AcceptPortalInvitationInput
    ) -> AuthPayload:
        issued = await portal_access.accept_invitation(
            info.context, token=input.token, password=input.password
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
            info.context, token=input.token, new_password=input.new_password
        )
        return AuthPayload.of(issued)

    @strawberry.mutation(description="Ends the customer's portal access and every session.")
    async def revoke_portal_access(
        self, info: Info[RequestContext, None], customer_id: strawberry.ID
    ) -> Customer:
        return Customer.from_row(await portal_access.revoke(info.context, customer_id))

    @strawberry.mutation(description="Owners and admins only.")
    async def invite_staff_member(
        self, info: Info[RequestContext, None], input: InviteStaffMemberInput
    ) -> StaffInvitation:
        row = await staff_invitations.invite(
            info.context, name=input.name, email=input.email, role=StaffRoleValues(input.role)
        )
        return StaffInvitation.from_row(row)

    @strawberry.mutation
    async def accept_staff_invitation(
        self, info: Info[RequestContext, None], input: AcceptStaffInvitationInput
    ) -> AuthPayload:
        issued = await staff_invitations.accept(
            info.context, token=input.token, password=input.password
        )
        return AuthPayload.of(issued)
