"""Per-request DataLoaders, all built from the viewer's scopes (auth.scopes).

A domain registers its loaders from its own module (`register("customer", factory)`), and
each request makes a loader only when something first asks for it. Never shared: a loader's
cache is only ever right for one viewer and one state of the data, so a request gets a new,
empty set whenever its viewer changes or a unit of work ends. Named by what they key on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ARRAY, Row, Select, Uuid, any_, bindparam
from strawberry.dataloader import DataLoader

from auth import scopes
from auth.principal import Principal
from db import RequestTransaction

Factory = Callable[[RequestTransaction, Principal | None], DataLoader]
_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make `ctx.loaders.<name>` available to every request, built on first use."""
    if _FACTORIES.get(name, factory) is not factory:
        raise ValueError(f"a loader named {name!r} is registered already")
    _FACTORIES[name] = factory


def any_of(column, keys: Sequence[uuid.UUID]):
    """`column = ANY($1)`: one statement text whatever the number of keys."""
    return column == any_(bindparam(None, list(keys), type_=ARRAY(Uuid)))


def by_id(scope: Callable[[Principal | None], Select]) -> Factory:
    """A loader of rows by id, through the viewer's `scope` builder."""

    def make(tx: RequestTransaction, viewer: Principal | None) -> DataLoader:
        query = scope(viewer)

        async def load(keys: Sequence[uuid.UUID]) -> list[Row | None]:
            rows = await tx.rows(query.where(any_of(query.selected_columns.id, keys)))
            found = {row.id: row for row in rows}
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    return make


class Loaders:
    def __init__(self, tx: RequestTransaction, viewer: Principal | None) -> None:
        self._tx = tx
        self._viewer = viewer

    def __getattr__(self, name: str) -> Any:
        # Only called for loaders not made yet: the made one is then a plain attribute.
        factory = _FACTORIES.get(name)
        if factory is None:
            raise AttributeError(f"no loader named {name!r} is registered")
        loader = factory(self._tx, self._viewer)
        setattr(self, name, loader)
        return loader


# The tenancy's own objects, which every domain refers to.
register("business", by_id(scopes.businesses_visible_to))
register("staff_member", by_id(scopes.staff_visible_to))
register("staff_invitation", by_id(scopes.staff_invitations_visible_to))
