"""`node(id)`: any object the viewer may see, through the same scoped loaders as lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Row

from resolvers import global_ids

if TYPE_CHECKING:
    from resolvers.context import RequestContext


async def node(ctx: RequestContext, global_id: str) -> tuple[str, Row] | None:
    parsed = global_ids.parse(global_id)
    if parsed is None or ctx.principal is None:
        return None
    type_name, key = parsed
    loader = {
        "Business": ctx.loaders.business,
        "StaffMember": ctx.loaders.staff_member,
        "Customer": ctx.loaders.customer,
        "Appointment": ctx.loaders.appointment,
        "StaffInvitation": ctx.loaders.staff_invitation,
    }.get(type_name)
    if loader is None:
        return None
    row = await loader.load(key)
    return None if row is None else (type_name, row)
