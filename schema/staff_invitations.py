"""Team invitations: owners and admins invite staff by email (resolvers/staff_invitations.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from models import StaffRole as StaffRoleValues
from resolvers import global_ids, staff_invitations
from resolvers.context import RequestContext
from schema.accounts import AuthPayload, StaffMember, StaffRole
from schema.relay import Node, node_type


@node_type
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
class InviteStaffMemberInput:
    name: str
    email: str
    role: StaffRole


@strawberry.input
class AcceptStaffInvitationInput:
    token: str
    password: str


@strawberry.type
class StaffInvitationMutations:
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
            info.context, token=input.token, password=input.password, field="password"
        )
        return AuthPayload.of(issued)
