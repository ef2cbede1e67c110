"""How every domain lists its rows, said once: a root list's page with its count, each
parent's page and count in one statement per distinct filter (DataLoaders, so a nested list
costs the same whatever the number of parents), and a parent's plain rows.

A domain gives a `build(viewer, filter)`: its scope builder narrowed by the list's filter
(statuses, a range), the start of every list of it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ARRAY, Row, Select, String, Table, any_, bindparam, func, select
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from db import RequestTransaction
from resolvers import global_ids, loaders
from resolvers.loaders import Factory, any_of
from resolvers.pagination import (
    Ordering,
    Page,
    PageArgs,
    page_args,
    page_query,
    pages_query,
    split_pages,
    to_page,
)

if TYPE_CHECKING:
    from resolvers.context import RequestContext

Build = Callable[[Principal | None, Any], Select]
Orders = Ordering | Callable[[Any], Ordering]


def _ordering(orders: Orders, chosen: Any) -> Ordering:
    return orders if isinstance(orders, Ordering) else orders(chosen)


E = TypeVar("E", bound=enum.Enum)


def statuses(value: Sequence[object] | None, kind: type[E]) -> tuple[E, ...] | None:
    """A `status` filter as given: null (or absent) means every status."""
    if value is None:
        return None
    return tuple(sorted({kind(getattr(s, "value", s)) for s in value}, key=lambda s: s.value))


def with_status(query: Select, wanted: Sequence[enum.Enum] | None) -> Select:
    """Rows whose `status` is one of `wanted` (all when None). `= ANY($1)`, not IN: one
    statement text whatever the number of statuses."""
    if wanted is None:
        return query
    values = bindparam(None, [str(s.value) for s in wanted], type_=ARRAY(String))
    return query.where(query.selected_columns.status == any_(values))


async def root_page(
    ctx: RequestContext, query: Select, ordering: Ordering, first: int | None, after: str | None
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """A root list's page, and its total count, read only when asked for."""
    args = page_args(first, after, ordering, query.selected_columns)
    rows = await ctx.tx.rows(page_query(query, ordering, args))

    async def total() -> int:
        return await ctx.tx.scalar(select(func.count()).select_from(query.subquery()))

    return to_page(rows, ordering, args), total


def pages_by(build: Build, parent: str, orders: Orders) -> Factory:
    """A loader factory. Key: (parent id, filter, PageArgs) → that parent's Page, where
    `parent` is the column naming it (customer_id, job_id)."""

    def make(tx: RequestTransaction, viewer: Principal | None) -> DataLoader:
        async def load(keys: Sequence[tuple]) -> list[Page]:
            results: dict[tuple, Page] = {}
            for chosen, args in {(chosen, args) for _, chosen, args in keys}:
                parents = [p for p, c, a in keys if (c, a) == (chosen, args)]
                ordering = _ordering(orders, chosen)
                base = build(viewer, chosen)
                query = base.where(any_of(base.selected_columns[parent], parents))
                rows = await tx.rows(pages_query(query, parent, ordering, args))
                for key, page in split_pages(rows, parent, parents, ordering, args).items():
                    results[(key, chosen, args)] = page
            return [results[key] for key in keys]

        return DataLoader(load_fn=load)

    return make


def counts_by(build: Build, parent: str) -> Factory:
    """A loader factory. Key: (parent id, filter) → how many rows."""

    def make(tx: RequestTransaction, viewer: Principal | None) -> DataLoader:
        async def load(keys: Sequence[tuple]) -> list[int]:
            counts: dict[tuple, int] = {}
            for chosen in {chosen for _, chosen in keys}:
                parents = [p for p, c in keys if c == chosen]
                visible = build(viewer, chosen).subquery()
                query = (
                    select(visible.c[parent], func.count())
                    .where(any_of(visible.c[parent], parents))
                    .group_by(visible.c[parent])
                )
                found = {row[0]: row[1] for row in await tx.rows(query)}
                for key in parents:
                    counts[(key, chosen)] = found.get(key, 0)
            return [counts[key] for key in keys]

        return DataLoader(load_fn=load)

    return make


def rows_by(
    scope: Callable[[Principal | None], Select], parent: str, ordering: Ordering
) -> Factory:
    """A loader factory: parent id → all of its rows of `scope`, in `ordering`."""

    def make(tx: RequestTransaction, viewer: Principal | None) -> DataLoader:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[Row]]:
            query = scope(viewer)
            columns = query.selected_columns
            rows = await tx.rows(
                query.where(any_of(columns[parent], keys)).order_by(*ordering.order_by(columns))
            )
            grouped: dict[Hashable, list[Row]] = {key: [] for key in keys}
            for row in rows:
                grouped[getattr(row, parent)].append(row)
            return [grouped[key] for key in keys]

        return DataLoader(load_fn=load)

    return make


@dataclass(frozen=True)
class ByStatus:
    """The lists of a domain filtered by status and by customer (jobs, contracts,
    invoices): the root list, its page, and each parent's pages and counts."""

    scope: Callable[[Principal | None], Select]
    status: type[enum.Enum]
    table: Table
    ordering: Ordering

    def statuses_of(self, value: Sequence[object] | None) -> tuple[enum.Enum, ...] | None:
        """The `status` filter as given: null (or absent) means every status."""
        return statuses(value, self.status)

    def visible_to(self, viewer: Principal | None, wanted: Sequence[enum.Enum] | None) -> Select:
        """A viewer's rows of these statuses: every list of the domain starts here."""
        return with_status(self.scope(viewer), wanted)

    def listing(
        self, ctx: RequestContext, *, statuses: Sequence[enum.Enum] | None, customer_id: str | None
    ) -> Select:
        """The root list: the viewer's rows, of one customer if named."""
        query = self.visible_to(ctx.viewer(), statuses)
        if customer_id is not None:
            key = global_ids.decode(customer_id, "Customer", field="customer_id")
            query = query.where(self.table.c.customer_id == key)
        return query

    def args_for(self, first: int | None, after: str | None) -> PageArgs:
        return page_args(first, after, self.ordering, self.table.c)

    async def page(
        self,
        ctx: RequestContext,
        *,
        statuses: Sequence[enum.Enum] | None,
        customer_id: str | None,
        first: int | None,
        after: str | None,
    ) -> tuple[Page, Callable[[], Awaitable[int]]]:
        query = self.listing(ctx, statuses=statuses, customer_id=customer_id)
        return await root_page(ctx, query, self.ordering, first, after)

    def register(self, noun: str, parents: Sequence[str]) -> None:
        """Loaders `<noun>s_by_<parent>` and `<noun>_count_by_<parent>` for each parent
        column (`customer_id` → `…_by_customer`)."""
        for parent in parents:
            name = parent.removesuffix("_id")
            loaders.register(f"{noun}s_by_{name}", pages_by(self.visible_to, parent, self.ordering))
            loaders.register(f"{noun}_count_by_{name}", counts_by(self.visible_to, parent))
