"""Relay plumbing shared by every domain: the Node interface and generic connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry
from sqlalchemy import Row

from resolvers.pagination import Ordering, Page

T = TypeVar("T")


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


# Object types that `node(id:)` can return, by name: each domain's schema module marks its
# own with `@node_type`.
NODE_TYPES: dict[str, type] = {}


def node_type(cls: type) -> type:
    """Mark a Strawberry type (with a `from_row`) as one `node(id:)` returns."""
    NODE_TYPES[cls.__strawberry_definition__.name] = cls  # type: ignore[attr-defined]
    return cls


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    row: strawberry.Private[Row]
    ordering: strawberry.Private[Ordering]

    @strawberry.field
    def cursor(self) -> str:
        # Made only when asked for: nested lists rarely are.
        return self.ordering.cursor(self.row)


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    known_total: strawberry.Private[int | None] = None

    @strawberry.field(description="All matching objects, not only this page.")
    def total_count(self) -> int:
        # Known from the page's own query for nested lists; otherwise one count (awaited by
        # the executor), only when asked for.
        if self.known_total is not None:
            return self.known_total
        return self.count()  # type: ignore[return-value]

    @classmethod
    def of(
        cls,
        page: Page,
        convert: Callable[[Row], T],
        count: Callable[[], Awaitable[int]],
    ) -> Connection[T]:
        rows, ordering = page.rows, page.ordering
        return cls(
            edges=[Edge(node=convert(row), row=row, ordering=ordering) for row in rows],
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=ordering.cursor(rows[0]) if rows else None,
                end_cursor=ordering.cursor(rows[-1]) if rows else None,
            ),
            count=count,
            known_total=page.total,
        )
