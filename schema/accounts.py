"""Businesses, staff members, the viewer, and signing in and out."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from models import StaffRole as StaffRoleValues
from resolvers import global_ids
from resolvers.context import RequestContext
from schema.enums import StaffRole
from schema.relay import Node


@strawberry.type
class Business(Node):
    name: str
    slug: str = strawberry.field(description="The business's part of portal URLs.")
    key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> Business:
        return cls(
            id=global_ids.encode("Business", row.id), name=row.name, slug=row.slug, key=row.id
        )

    @strawberry.field(description="Whether customers can pay invoices online (Stripe Connect).")
    def payments_enabled(self) -> bool:
        # Stripe Connect onboarding arrives with invoices and payments.
        return False


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
