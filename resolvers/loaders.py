"""Per-request DataLoaders, all built from the viewer's scopes (auth.scopes).

Made anew for every request and whenever the viewer changes, never shared: a loader's cache
is only ever right for one viewer. Named by what they key on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ARRAY, Row, Select, Uuid, any_, bindparam
from strawberry.dataloader import DataLoader

from auth import scopes
from auth.principal import Principal
from db import RequestTransaction


def any_of(column, keys: Sequence[uuid.UUID]):  # noqa: ANN001, ANN201
    """`column = ANY($1)`: one statement text whatever the number of keys."""
    return column == any_(bindparam(None, list(keys), type_=ARRAY(Uuid)))


def by_id(tx: RequestTransaction, query: Select) -> DataLoader[uuid.UUID, Row | None]:
    async def load(keys: Sequence[uuid.UUID]) -> list[Row | None]:
        rows = await tx.rows(query.where(any_of(query.selected_columns.id, keys)))
        found = {row.id: row for row in rows}
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, tx: RequestTransaction, viewer: Principal | None) -> None:
        # Imported here: domain modules define their relation loaders next to their rules.
        from resolvers import appointments

        self.business = by_id(tx, scopes.businesses_visible_to(viewer))
        self.staff_member = by_id(tx, scopes.staff_visible_to(viewer))
        self.staff_invitation = by_id(tx, scopes.staff_invitations_visible_to(viewer))
        self.customer = by_id(tx, scopes.customers_visible_to(viewer))
        self.appointment = by_id(tx, scopes.appointments_visible_to(viewer))
        self.appointments_by_customer = appointments.pages_by_customer(tx, viewer)
        self.appointment_count_by_customer = appointments.counts_by_customer(tx, viewer)
