"""Keyset pagination for Relay connections: opaque cursors, `first` capped at 100.

A cursor holds the sort key of its row, so pages stay stable while rows are added. One
query serves one page; a nested list (each customer's appointments) gets every parent's
page in one query, numbered per parent with row_number().
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select

from errors import BadInput

MAX_FIRST = 100
DEFAULT_FIRST = 20


@dataclass(frozen=True)
class Ordering:
    """Sort keys as (column name, descending); the last key must be unique (the id)."""

    keys: tuple[tuple[str, bool], ...]

    def order_by(self, columns) -> list[ColumnElement]:
        return [columns[name].desc() if desc else columns[name].asc() for name, desc in self.keys]

    def after(self, columns, values: Sequence[object]) -> ColumnElement:
        """Rows strictly after `values` in this order."""
        alternatives = []
        for i, (name, desc) in enumerate(self.keys):
            equal = [columns[n] == values[j] for j, (n, _) in enumerate(self.keys[:i])]
            beyond = columns[name] < values[i] if desc else columns[name] > values[i]
            alternatives.append(and_(*equal, beyond))
        return or_(*alternatives)

    def cursor(self, row: Row) -> str:
        return self.cursor_of([getattr(row, name) for name, _ in self.keys])

    def cursor_of(self, values: Sequence[object]) -> str:
        """The cursor of a row whose sort-key values are `values`, in key order."""
        plain = [_plain(value) for value in values]
        return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@dataclass(frozen=True)
class PageArgs:
    first: int
    after: tuple | None = None


def page_args(first: int | None, after: str | None, ordering: Ordering, columns) -> PageArgs:
    if first is None:
        first = DEFAULT_FIRST
    if first < 0:
        raise BadInput("`first` cannot be negative.", field="first")
    first = min(first, MAX_FIRST)
    if after is None:
        return PageArgs(first=first)
    try:
        raw = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
        if not isinstance(raw, list) or len(raw) != len(ordering.keys):
            raise ValueError
        values = tuple(
            _typed(columns[name].type.python_type, value)
            for (name, _), value in zip(ordering.keys, raw, strict=True)
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, NotImplementedError):
        raise BadInput("This cursor is not valid here.", field="after") from None
    return PageArgs(first=first, after=values)


def _typed(python_type: type, value: object) -> object:
    if python_type is datetime:
        parsed = datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            raise ValueError
        return parsed
    if python_type is uuid.UUID:
        return uuid.UUID(str(value))
    if not isinstance(value, python_type) or (isinstance(value, str) and "\x00" in value):
        raise ValueError
    return value


@dataclass
class Page:
    rows: list[Row]
    has_next: bool
    has_previous: bool
    ordering: Ordering
    # All matching rows, when the page's own query could tell (None: ask separately).
    total: int | None = None


def _page(
    rows: Sequence[Row], args: PageArgs, ordering: Ordering, total: int | None = None
) -> Page:
    return Page(
        rows=list(rows[: args.first]),
        has_next=len(rows) > args.first,
        has_previous=args.after is not None,
        ordering=ordering,
        total=total,
    )


def page_query(query: Select, ordering: Ordering, args: PageArgs) -> Select:
    columns = query.selected_columns
    if args.after is not None:
        query = query.where(ordering.after(columns, args.after))
    return query.order_by(*ordering.order_by(columns)).limit(args.first + 1)


def to_page(rows: Sequence[Row], ordering: Ordering, args: PageArgs) -> Page:
    return _page(rows, args, ordering)


def pages_query(query: Select, parent: str, ordering: Ordering, args: PageArgs) -> Select:
    """Each parent's page in one statement (`query` already filtered to the parents), with
    each parent's total count, which the numbering has to read all rows for anyway."""
    total = func.count().over(partition_by=query.selected_columns[parent])
    counted = query.add_columns(total.label("parent_total")).subquery()
    filtered = select(counted)
    if args.after is not None:
        filtered = filtered.where(ordering.after(counted.c, args.after))
    number = func.row_number().over(
        partition_by=counted.c[parent], order_by=ordering.order_by(counted.c)
    )
    ranked = filtered.add_columns(number.label("page_position")).subquery()
    return (
        select(ranked)
        .where(ranked.c.page_position <= args.first + 1)
        .order_by(ranked.c[parent], ranked.c.page_position)
    )


def split_pages(
    rows: Iterable[Row],
    parent: str,
    parents: Iterable[Hashable],
    ordering: Ordering,
    args: PageArgs,
) -> dict[Hashable, Page]:
    grouped: dict[Hashable, list[Row]] = {key: [] for key in parents}
    for row in rows:
        grouped[getattr(row, parent)].append(row)
    # A parent with no rows has none at all, unless a cursor skipped past them.
    empty_total = 0 if args.after is None else None
    return {
        key: _page(found, args, ordering, found[0].parent_total if found else empty_total)
        for key, found in grouped.items()
    }
