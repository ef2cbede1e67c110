"""One way to change a row: UPDATE what the viewer may write, return it as reads see it,
and let the request's loader know, so later fields of the same request see the change."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Row, Table, update

from errors import NotFound

if TYPE_CHECKING:
    from resolvers.context import RequestContext


async def update_row(
    ctx: RequestContext,
    table: Table,
    key: uuid.UUID,
    *,
    writable: ColumnElement[bool],
    values: dict[str, object],
    columns: Sequence,
    loader: str,
    what: str,
) -> Row:
    """`writable`: the scope's target rule (`scopes.<things>_writable_by(viewer)`)."""
    updated = await ctx.tx.first(
        update(table).where(table.c.id == key, writable).values(**values).returning(*columns)
    )
    if updated is None:
        raise NotFound(what)
    getattr(ctx.loaders, loader).prime(key, updated, force=True)
    return updated
