"""`node(id)`: any object the viewer may see, through the same scoped loaders as lists.

Each domain registers its node types from its own module: the type name in the global id,
and the loader (resolvers/loaders.py) that reads one by id under the viewer's scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Row

from resolvers import global_ids

if TYPE_CHECKING:
    from resolvers.context import RequestContext

_LOADERS: dict[str, str] = {}


def register(type_name: str, loader: str) -> None:
    _LOADERS[type_name] = loader


def is_node_type(type_name: str) -> bool:
    return type_name in _LOADERS


async def node(ctx: RequestContext, global_id: str) -> tuple[str, Row] | None:
    parsed = global_ids.parse(global_id)
    if parsed is None or ctx.principal is None:
        return None
    type_name, key = parsed
    loader = _LOADERS.get(type_name)
    if loader is None:
        return None
    row = await getattr(ctx.loaders, loader).load(key)
    return None if row is None else (type_name, row)


register("Business", "business")
register("StaffMember", "staff_member")
register("StaffInvitation", "staff_invitation")
