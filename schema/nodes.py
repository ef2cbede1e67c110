from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import nodes
from resolvers.context import RequestContext
from schema.accounts import Business, StaffMember
from schema.appointments import Appointment
from schema.customers import Customer
from schema.portal_access import StaffInvitation
from schema.relay import Node

TYPES = {
    "Business": Business,
    "StaffMember": StaffMember,
    "Customer": Customer,
    "Appointment": Appointment,
    "StaffInvitation": StaffInvitation,
}


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object the viewer may see by its ID; null otherwise.")
    async def node(self, info: Info[RequestContext, None], id: strawberry.ID) -> Node | None:  # noqa: A002
        found = await nodes.node(info.context, id)
        if found is None:
            return None
        type_name, row = found
        return TYPES[type_name].from_row(row)
