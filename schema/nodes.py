"""`node(id:)`: any object the viewer may see by its global id."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import readpath
from readpath.declarations import TYPES
from resolvers import global_ids, nodes
from resolvers.context import RequestContext
from schema.relay import NODE_TYPES, Node


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object the viewer may see by its ID; null otherwise.")
    async def node(self, info: Info[RequestContext, None], id: strawberry.ID) -> Node | None:
        found = await nodes.node(info.context, id)
        if found is None:
            return None
        type_name, row = found
        return NODE_TYPES[type_name].from_row(row)


def _find_node(ctx: RequestContext, arguments: dict) -> tuple | None:
    """The compiled path's `node`: the same answer as `nodes.node`, as one SELECT."""
    parsed = global_ids.parse(arguments["id"])
    if parsed is None or ctx.principal is None or not nodes.is_node_type(parsed[0]):
        return None
    type_name, key = parsed
    declared = TYPES.get(type_name)
    if declared is None:
        raise readpath.Fallback(type_name)
    query = declared.source(ctx.principal)
    return type_name, query.where(query.selected_columns.id == key)


readpath.root(node=readpath.RootObject(_find_node))
