"""What each GraphQL field is in SQL: declared by every domain next to its Strawberry type.

A type names its row source (the scope builder from `auth/scopes.py`, so the compiled path
reads exactly the rows the viewer may read) and, per field, one of:

- `Column("name")`: a column of that source; the GraphQL type's own serializer writes it.
- `Computed(("a", "b"), fn)`: a leaf computed in Python from columns of the row, after the
  statement (global ids, derived statuses, signed URLs). `fn` is the very function the
  executed path uses, so both paths write the same value.
- `Related("Target", "target_id")`: one object of another type, by its id.
- `Connection(...)` / `Rows(...)`: a nested list, paged (Relay) or plain, read through a
  builder that both paths call.

A field with no declaration makes the whole operation run through Strawberry's normal
execution: the compiled path never answers differently, it only answers faster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select

from resolvers.pagination import Ordering

# (context, coerced GraphQL arguments) → a scoped SELECT of the target's readable columns.
# It may raise a PortalError (forbidden, bad input): the executed path then answers.
Source = Callable[[Any, dict[str, Any]], Select]


class Fallback(Exception):
    """This operation must run through normal execution (raised by the planner, or by a
    declaration that cannot say something in SQL)."""


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Computed:
    """`compute(*values of columns)`, or with `context=True` `compute(ctx, *values)`, which
    may return an awaitable (awaited after the statement, all of them together)."""

    columns: tuple[str, ...]
    compute: Callable[..., Any]
    context: bool = False


@dataclass(frozen=True)
class Related:
    """The object of `target` whose id is in this row's `key` column (null when none)."""

    target: str
    key: str


@dataclass(frozen=True)
class OneOf:
    """One object of one of several types (a union or interface field, `Message.sender`).
    Each candidate is (type name, key column, when column): the first candidate whose `when`
    column is true in this row — or the last, whose `when` is None — is the object, read by
    its id in the key column like `Related` (null when the key is null or not visible)."""

    candidates: tuple[tuple[str, str, str | None], ...]


@dataclass(frozen=True)
class Connection:
    """A Relay connection of `target` rows. `parent` = (child column, parent column) for a
    nested list; root lists have none."""

    target: str
    source: Source
    ordering: Callable[[dict[str, Any]], Ordering]
    parent: tuple[str, str] | None = None


@dataclass(frozen=True)
class Rows:
    """A plain nested list (not a connection), all rows, in `ordering`."""

    target: str
    source: Source
    ordering: Callable[[dict[str, Any]], Ordering]
    parent: tuple[str, str]


@dataclass(frozen=True)
class RootObject:
    """A root field returning one object or null: `find` gives (type name, SELECT of that
    one row) or None for null. The type name matters for unions and interfaces."""

    find: Callable[[Any, dict[str, Any]], tuple[str, Select] | None]


FieldSQL = Column | Computed | Related | OneOf | Connection | Rows


@dataclass
class TypeSQL:
    name: str
    # The viewer's scope for this type (`auth/scopes.py`): used to fetch one by id.
    source: Callable[[Any], Select]
    fields: dict[str, FieldSQL] = field(default_factory=dict)


TYPES: dict[str, TypeSQL] = {}
ROOTS: dict[str, RootObject | Connection] = {}


def declare(type_name: str, source: Callable[[Any], Select], /, **fields: FieldSQL) -> TypeSQL:
    """Declare the SQL of GraphQL type `name` (fields by their GraphQL names)."""
    declared = TYPES.setdefault(type_name, TypeSQL(type_name, source))
    declared.fields.update(fields)
    return declared


def root(**fields: RootObject | Connection) -> None:
    """Declare root Query fields (by their GraphQL names)."""
    ROOTS.update(fields)
