"""A validated query → one SQL statement → the response, without executing fields one by one.

The planner walks the operation with graphql-core's own field collection (so fragments,
aliases, `@include`/`@skip` and field merging behave exactly as in execution), asks each
field's declaration (readpath/declarations.py) for its SQL, and nests everything into one
SELECT: each root field is a scalar subquery, each object a `row(...)`, each list an
`array(SELECT row(...) …)` correlated to its parent. asyncpg decodes those nested records
with their real types. Alongside the SQL the planner writes the source of one small Python
function that turns that row into the response — plain indexing and dict literals, leaves
serialized as their GraphQL types do — and compiles it once.

A plan is made once for a document, operation, variables and viewer, and kept (an LRU):
the SQL text and its parameters are compiled then, so a repeated query costs one statement
and one call of its writer. Everything in a plan follows from those four inputs; anything
that changes with time (`now()`, a status that ends) is evaluated by the statement or the
writer at each run.

Anything the planner cannot answer exactly as execution would — a field without SQL, an
argument a builder refuses, a null where the schema says non-null — raises `Fallback`, and
the operation runs through Strawberry instead. Errors are only ever produced there.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import get_argument_values, get_variable_values
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql

from errors import PortalError
from readpath.declarations import (
    ROOTS,
    TYPES,
    Column,
    Computed,
    Connection,
    Fallback,
    OneOf,
    Related,
    RootObject,
    Rows,
    TypeSQL,
)
from resolvers.pagination import page_args, page_query

ALLOWED_DIRECTIVES = frozenset({"include", "skip"})
# Built-in scalars whose serializer returns what asyncpg gives (str, int, bool, float).
PLAIN = {GraphQLString: str, GraphQLID: str, GraphQLInt: int, GraphQLBoolean: bool}
PLAIN[GraphQLFloat] = float
DIALECT = postgresql.asyncpg.dialect()
PLAN_CACHE_SIZE = 512

Emit = Callable[[str], str]  # row variable name → a Python expression of the response value


def _null() -> Any:
    raise Fallback  # a null where the schema says non-null: execution reports the error


class Code:
    """The writer's source: helper functions, and the values it refers to by name. While
    `write` runs (synchronously), `_ctx` is the request's context and `_pending` collects
    deferred leaves: `run` sets both right before the call."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_null": _null, "_ctx": None, "_pending": None}
        self.namespace.update(_isawaitable=inspect.isawaitable, _Later=_Later)
        exec(_MAYBE_LATER, self.namespace)
        self.functions: list[str] = []
        self._names = itertools.count()

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def value(self, value: Any, prefix: str = "_k") -> str:
        name = self.name(prefix)
        self.namespace[name] = value
        return name

    def function(self, body: list[str], parameter: str = "r") -> str:
        """A named function of one row; `body` ends with a `return`."""
        name = self.name("_f")
        lines = "".join(f"    {line}\n" for line in body)
        self.functions.append(f"def {name}({parameter}):\n{lines}")
        return name

    def compile(self, expression: str) -> Callable[[tuple], Any]:
        source = "\n".join(self.functions) + f"\ndef write(r):\n    return {expression}\n"
        exec(compile(source, "<readpath writer>", "exec"), self.namespace)
        return self.namespace["write"]


_MAYBE_LATER = """
def _maybe_later(serialize, value):
    if not _isawaitable(value):
        return serialize(value)
    later = _Later(serialize, value)
    _pending.append(later)
    return later
"""


class Slots:
    """The values one `row(...)` carries; each gets an index the writer reads."""

    def __init__(self) -> None:
        self.expressions: list = []
        self._named: dict[object, int] = {}

    def add(self, expression: Any, name: object = None) -> int:
        if name is not None and name in self._named:
            return self._named[name]
        self.expressions.append(expression)
        index = len(self.expressions) - 1
        if name is not None:
            self._named[name] = index
        return index


def _object(parts: list[tuple[str, Emit]]) -> Emit:
    return lambda r: "{" + ", ".join(f"{key!r}: {emit(r)}" for key, emit in parts) + "}"


class Planner:
    def __init__(
        self,
        context: Any,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            raise Fallback
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            raise Fallback  # execution reports the coercion errors
        self.context = context
        self.schema = schema
        self.operation = operation
        self.variables = coerced
        self.fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.code = Code()

    # -- the operation ------------------------------------------------------------------

    def plan(self) -> Plan:
        query_type = self.schema.query_type
        assert query_type is not None
        collected = collect_fields(
            self.schema, self.fragments, self.variables, query_type, self.operation
        )
        if collected.new_defer_usages:
            raise Fallback
        slots = Slots()
        parts: list[tuple[str, Emit]] = []
        for key, details in collected.grouped_field_set.items():
            name = details[0].node.name.value
            if name == "__typename":
                parts.append((key, self._constant(query_type.name)))
                continue
            spec = ROOTS.get(name)
            if spec is None:
                raise Fallback
            field = query_type.fields[name]
            arguments = self._arguments(field, details)
            if isinstance(spec, RootObject):
                parts.append((key, self._root_object(spec, field, details, arguments, slots)))
            else:
                parts.append((key, self._connection(spec, field, details, arguments, None, slots)))
        write = self.code.compile(_object(parts)("r"))
        if not slots.expressions:
            return Plan(None, (), write, self.code.namespace)
        compiled = select(*slots.expressions).compile(
            dialect=DIALECT, compile_kwargs={"render_postcompile": True}
        )
        parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
        return Plan(str(compiled), parameters, write, self.code.namespace)

    def _constant(self, value: Any) -> Emit:
        return lambda _r: repr(value)

    def _arguments(self, field: Any, details: list[FieldDetails]) -> dict[str, Any]:
        node = details[0].node
        for directive in node.directives or ():
            if directive.name.value not in ALLOWED_DIRECTIVES:
                raise Fallback
        try:
            return get_argument_values(field, node, self.variables)
        except Exception:
            raise Fallback from None

    def _subfields(self, runtime_type: GraphQLObjectType, details: list[FieldDetails]) -> dict:
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, runtime_type, details
        )
        if collected.new_defer_usages:
            raise Fallback
        for field_details in collected.grouped_field_set.values():
            for directive in field_details[0].node.directives or ():
                if directive.name.value not in ALLOWED_DIRECTIVES:
                    raise Fallback
        return collected.grouped_field_set

    def _source(self, build: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return build(*arguments)
        except PortalError:
            raise Fallback from None

    # -- leaves and objects ---------------------------------------------------------------

    def _leaf_function(self, return_type: Any) -> str:
        """The name of a function that serializes a raw value as the GraphQL type does."""
        nullable = get_nullable_type(return_type)
        if isinstance(nullable, GraphQLList) or not is_leaf_type(nullable):
            raise Fallback
        serialize = self.code.value(nullable.serialize, "_s")
        plain = PLAIN.get(nullable)
        if plain is not None:
            # The value as it is when it already has the type's Python type, as the
            # serializer would return it; anything else goes through the serializer.
            write = f"(v if type(v) is {self.code.value(plain, '_t')} else {serialize}(v))"
        else:
            write = f"{serialize}(v)"
        on_null = "_null()" if isinstance(return_type, GraphQLNonNull) else "None"
        return self.code.function([f"return {on_null} if v is None else {write}"], "v")

    def _leaf(self, return_type: Any, value: Emit) -> Emit:
        """`value`: an expression of the raw value. The common case is inlined (a value
        that is already what the serializer would return), with one call otherwise (null,
        or anything the serializer must convert)."""
        function = self._leaf_function(return_type)
        nullable = get_nullable_type(return_type)
        plain = PLAIN.get(nullable)
        if plain is not None:
            kind = self.code.value(plain, "_t")
            return lambda r: f"(_v if (_v := {value(r)}).__class__ is {kind} else {function}(_v))"
        if isinstance(nullable, GraphQLEnumType) and all(
            name == str(v.value) for name, v in nullable.values.items()
        ):
            # Our enums are StrEnums named by their values: a stored value that is one of
            # the names is written as it is (the serializer returns that same name).
            names = self.code.value(frozenset(nullable.values), "_n")
            return lambda r: f"(str(_v) if (_v := {value(r)}) in {names} else {function}(_v))"
        if nullable.name == "DateTime":
            # Strawberry writes a DateTime as `isoformat()`; asyncpg gives tz-aware datetimes.
            kind = self.code.value(datetime, "_t")
            return lambda r: (
                f"(_v.isoformat() if (_v := {value(r)}).__class__ is {kind} else {function}(_v))"
            )
        return lambda r: f"{function}({value(r)})"

    def _one(self, return_type: Any, alias: Any, inner: Slots, write: Emit, slots: Slots) -> Emit:
        """One object (or none) as a one-element array: asyncpg decodes record[] wherever it
        is, but a bare record holding record[] only once its connection has met record[]."""
        one = func.array(select(func.row(*inner.expressions)).select_from(alias).scalar_subquery())
        index = slots.add(one)
        on_null = "_null()" if isinstance(return_type, GraphQLNonNull) else "None"
        function = self.code.function([f"return {write('r')}"])
        return lambda r: f"({function}({r}[{index}][0]) if {r}[{index}] else {on_null})"

    def _by_id(
        self,
        graphql_type: GraphQLObjectType,
        declared: TypeSQL,
        key: Any,
        parent: Any,
        details: list[FieldDetails],
        slots: Slots,
    ) -> tuple[int, str]:
        """The object of `declared` whose id is `key` (a column of `parent`), read through
        its scope as a one-element array: (its slot in `slots`, the function writing it)."""
        base = self._source(declared.source, self.context.principal)
        target = base.where(base.selected_columns.id == key).correlate(parent).subquery()
        inner = Slots()
        write = self._object(declared, graphql_type, target, details, inner)
        one = func.array(select(func.row(*inner.expressions)).select_from(target).scalar_subquery())
        return slots.add(one), self.code.function([f"return {write('r')}"])

    def _object_type(self, name: str) -> tuple[TypeSQL, GraphQLObjectType]:
        declared = TYPES.get(name)
        graphql_type = self.schema.get_type(name)
        if declared is None or not isinstance(graphql_type, GraphQLObjectType):
            raise Fallback
        return declared, graphql_type

    def _root_object(
        self,
        spec: RootObject,
        field: Any,
        details: list[FieldDetails],
        arguments: dict[str, Any],
        slots: Slots,
    ) -> Emit:
        found = self._source(spec.find, self.context, arguments)
        if found is None:
            if isinstance(field.type, GraphQLNonNull):
                raise Fallback
            return self._constant(None)
        type_name, query = found
        declared, graphql_type = self._object_type(type_name)
        named = get_named_type(field.type)
        if graphql_type is not named and not self.schema.is_sub_type(named, graphql_type):
            raise Fallback
        alias = query.subquery()
        inner = Slots()
        write = self._object(declared, graphql_type, alias, details, inner)
        return self._one(field.type, alias, inner, write, slots)

    def _object(
        self,
        declared: TypeSQL,
        graphql_type: GraphQLObjectType,
        alias: Any,
        details: list[FieldDetails],
        slots: Slots,
    ) -> Emit:
        parts: list[tuple[str, Emit]] = []
        for key, field_details in self._subfields(graphql_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, self._constant(graphql_type.name)))
                continue
            spec = declared.fields.get(name)
            field = graphql_type.fields.get(name)
            if spec is None or field is None:
                raise Fallback
            parts.append((key, self._field(spec, field, field_details, alias, slots)))
        return _object(parts)

    def _field(
        self, spec: Any, field: Any, details: list[FieldDetails], alias: Any, slots: Slots
    ) -> Emit:
        if isinstance(spec, Column):
            index = slots.add(alias.c[spec.name], name=spec.name)
            return self._leaf(field.type, lambda r: f"{r}[{index}]")
        if isinstance(spec, Computed):
            return self._computed(spec, field, alias, slots)
        arguments = self._arguments(field, details)
        if isinstance(spec, Related):
            declared, graphql_type = self._object_type(spec.target)
            if get_named_type(field.type) is not graphql_type:
                raise Fallback
            index, function = self._by_id(
                graphql_type, declared, alias.c[spec.key], alias, details, slots
            )
            on_null = "_null()" if isinstance(field.type, GraphQLNonNull) else "None"
            return lambda r: f"({function}({r}[{index}][0]) if {r}[{index}] else {on_null})"
        if isinstance(spec, OneOf):
            return self._one_of(spec, field, details, alias, slots)
        if isinstance(spec, Connection):
            return self._connection(spec, field, details, arguments, alias, slots)
        if isinstance(spec, Rows):
            return self._rows(spec, field, details, arguments, alias, slots)
        raise Fallback

    def _one_of(
        self, spec: OneOf, field: Any, details: list[FieldDetails], alias: Any, slots: Slots
    ) -> Emit:
        """Each candidate read like `Related` (its fields collected for its own type, so the
        document's inline fragments apply), and the writer picks by the row's `when`."""
        abstract = get_named_type(field.type)
        choices: list[tuple[int | None, str]] = []
        for type_name, key_column, when in spec.candidates:
            declared, graphql_type = self._object_type(type_name)
            if graphql_type is not abstract and not self.schema.is_sub_type(abstract, graphql_type):
                raise Fallback
            found, function = self._by_id(
                graphql_type, declared, alias.c[key_column], alias, details, slots
            )
            index = None if when is None else slots.add(alias.c[when], name=when)
            choices.append((index, f"({function}(r[{found}][0]) if r[{found}] else None)"))
        if not choices or choices[-1][0] is not None:
            raise Fallback  # the last candidate is the default, with no condition
        *conditional, (_, default) = choices
        expression = default
        for index, choice in reversed(conditional):
            expression = f"({choice} if r[{index}] else {expression})"
        pick = self.code.function([f"return {expression}"])
        on_null = "_null()" if isinstance(field.type, GraphQLNonNull) else "None"
        return lambda r: f"(_v if (_v := {pick}({r})) is not None else {on_null})"

    def _computed(self, spec: Computed, field: Any, alias: Any, slots: Slots) -> Emit:
        indexes = [slots.add(alias.c[c], name=c) for c in spec.columns]
        compute = self.code.value(spec.compute, "_c")
        values = [*(["_ctx"] if spec.context else []), *(f"{{r}}[{i}]" for i in indexes)]
        call = f"{compute}({', '.join(values)})"
        if not spec.context:
            return self._leaf(field.type, lambda r: call.format(r=r))
        # With the request's context it may be a coroutine (an S3 signed URL): the writer
        # leaves a placeholder that `run` fills in once all of them are done.
        function = self._leaf_function(field.type)
        return lambda r: f"_maybe_later({function}, {call.format(r=r)})"

    # -- lists ----------------------------------------------------------------------------

    def _base(self, spec: Connection | Rows, arguments: dict[str, Any], parent: Any) -> Select:
        base = self._source(spec.source, self.context, arguments)
        if spec.parent is not None:
            child, parent_column = spec.parent
            base = base.where(base.selected_columns[child] == parent.c[parent_column]).correlate(
                parent
            )
        return base

    def _rows(
        self,
        spec: Rows,
        field: Any,
        details: list[FieldDetails],
        arguments: dict[str, Any],
        parent: Any,
        slots: Slots,
    ) -> Emit:
        nullable = get_nullable_type(field.type)
        if not isinstance(nullable, GraphQLList):
            raise Fallback
        if not isinstance(nullable.of_type, GraphQLNonNull):
            raise Fallback
        declared, graphql_type = self._object_type(spec.target)
        if get_named_type(field.type) is not graphql_type:
            raise Fallback
        ordering = spec.ordering(arguments)
        alias = self._base(spec, arguments, parent).subquery()
        inner = Slots()
        write = self._object(declared, graphql_type, alias, details, inner)
        rows = func.array(
            select(func.row(*inner.expressions or [None]))
            .select_from(alias)
            .order_by(*ordering.order_by(alias.c))
            .scalar_subquery()
        )
        index = slots.add(rows)
        return lambda r: f"[{write('e')} for e in {r}[{index}] or ()]"

    def _connection(
        self,
        spec: Connection,
        field: Any,
        details: list[FieldDetails],
        arguments: dict[str, Any],
        parent: Any,
        slots: Slots,
    ) -> Emit:
        connection_type = get_nullable_type(field.type)
        if not isinstance(connection_type, GraphQLObjectType):
            raise Fallback
        base = self._base(spec, arguments, parent)
        ordering = spec.ordering(arguments)
        try:
            page = page_args(
                arguments.get("first"), arguments.get("after"), ordering, base.selected_columns
            )
        except PortalError:
            raise Fallback from None
        alias = page_query(base, ordering, page).subquery()
        row_slots = Slots()
        cursor_indexes = [row_slots.add(alias.c[name], name=name) for name, _ in ordering.keys]
        cursor_of = self.code.value(ordering.cursor_of, "_cur")

        def cursor(e: str) -> str:
            return f"{cursor_of}([{', '.join(f'{e}[{i}]' for i in cursor_indexes)}])"

        parts: list[tuple[str, Emit]] = []
        total: list[int] = []
        for key, field_details in self._subfields(connection_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, self._constant(connection_type.name)))
            elif name == "edges":
                edge = self._edge(spec, connection_type, field_details, alias, row_slots, cursor)
                parts.append((key, lambda _r, edge=edge: f"[{edge('e')} for e in rows]"))
            elif name == "pageInfo":
                parts.append((key, self._page_info(connection_type, field_details, page, cursor)))
            elif name == "totalCount":
                if not total:
                    count = select(func.count()).select_from(base.subquery()).scalar_subquery()
                    total.append(slots.add(count))
                parts.append((key, lambda r, i=total[0]: f"{r}[{i}]"))
            else:
                raise Fallback
        rows_index = slots.add(
            func.array(
                select(func.row(*row_slots.expressions))
                .select_from(alias)
                .order_by(*ordering.order_by(alias.c))
                .scalar_subquery()
            )
        )
        function = self.code.function(
            [
                f"found = r[{rows_index}] or ()",
                f"has_next = len(found) > {page.first}",
                f"rows = found[:{page.first}]",
                f"return {_object(parts)('r')}",
            ]
        )
        return lambda r: f"{function}({r})"

    def _edge(
        self,
        spec: Connection,
        connection_type: GraphQLObjectType,
        details: list[FieldDetails],
        alias: Any,
        row_slots: Slots,
        cursor: Callable[[str], str],
    ) -> Emit:
        edge_type = get_named_type(connection_type.fields["edges"].type)
        declared, node_type = self._object_type(spec.target)
        parts: list[tuple[str, Emit]] = []
        for key, field_details in self._subfields(edge_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, self._constant(edge_type.name)))
            elif name == "cursor":
                parts.append((key, cursor))
            elif name == "node" and get_named_type(edge_type.fields["node"].type) is node_type:
                parts.append(
                    (key, self._object(declared, node_type, alias, field_details, row_slots))
                )
            else:
                raise Fallback
        return _object(parts)

    def _page_info(
        self,
        connection_type: GraphQLObjectType,
        details: list[FieldDetails],
        page: Any,
        cursor: Callable[[str], str],
    ) -> Emit:
        info_type = get_named_type(connection_type.fields["pageInfo"].type)
        readers: dict[str, str] = {
            "hasNextPage": "has_next",
            "hasPreviousPage": repr(page.after is not None),
            "startCursor": f"({cursor('rows[0]')} if rows else None)",
            "endCursor": f"({cursor('rows[-1]')} if rows else None)",
            "__typename": repr(info_type.name),
        }
        parts = []
        for key, field_details in self._subfields(info_type, details).items():
            reader = readers.get(field_details[0].node.name.value)
            if reader is None:
                raise Fallback
            parts.append((key, lambda _r, reader=reader: reader))
        return _object(parts)


class _Later:
    """A deferred leaf's place in the response, filled once its awaitable is done."""

    __slots__ = ("serialize", "awaitable")

    def __init__(self, serialize: Callable[[Any], Any], awaitable: Any) -> None:
        self.serialize = serialize
        self.awaitable = awaitable


@dataclass
class Plan:
    sql: str | None
    parameters: tuple
    write: Callable[[tuple], Any]
    namespace: dict[str, Any]


_plans: OrderedDict[tuple, Plan] = OrderedDict()


# A plan is kept only for a document and variables of modest size: a key holds both, and
# the cache must not become a store for whatever an anonymous client sends.
CACHEABLE_QUERY_CHARACTERS = 32_768
CACHEABLE_VARIABLES_BYTES = 8_192


def _plan_key(context: Any, query: str, operation_name: str | None, variables: Any) -> tuple | None:
    """The cache key, or None when this request's plan is not to be kept."""
    if len(query) > CACHEABLE_QUERY_CHARACTERS:
        return None
    try:
        given = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    if len(given) > CACHEABLE_VARIABLES_BYTES:
        return None
    # Who asks, as far as a plan can depend on it: every field of the viewer but its
    # session (one person's sessions share their plans).
    principal = context.principal
    who = None if principal is None else replace(principal, session_id=None)
    return (query, operation_name, given, who)


def cached_plan(
    context: Any, query: str, operation_name: str | None, variables: Any
) -> Plan | None:
    """The plan made before for this document, operation, variables and viewer, if any: it
    exists only for an operation that was parsed, validated and planned then, so the HTTP
    view may answer a repeat of it without going through GraphQL again. `operation_name`:
    as the request gave it (None when it named none)."""
    key = _plan_key(context, query, operation_name, variables)
    plan = _plans.get(key) if key is not None else None
    if plan is not None:
        _plans.move_to_end(key)
    return plan


async def run(
    context: Any,
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> dict[str, Any]:
    """The operation's `data`, read in one statement; raises Fallback when it cannot.
    `operation_name`: as the request gave it (the planner finds the operation either way)."""
    key = _plan_key(context, query, operation_name, variables) if query is not None else None
    plan = _plans.get(key) if key is not None else None
    if plan is None:
        plan = Planner(context, schema, document, operation_name, variables).plan()
        if key is not None:
            _plans[key] = plan
            if len(_plans) > PLAN_CACHE_SIZE:
                _plans.popitem(last=False)
    else:
        _plans.move_to_end(key)
    return await answer(context, plan)


async def answer(context: Any, plan: Plan) -> dict[str, Any]:
    """Run a plan: its one statement, then its writer."""
    row = () if plan.sql is None else await context.tx.fetch_row(plan.sql, plan.parameters)
    namespace = plan.namespace
    # Nothing awaits between here and the end of `write`: no other request can see these.
    pending: list[_Later] = []
    namespace["_ctx"], namespace["_pending"] = context, pending
    try:
        data = plan.write(row)
    except BaseException:
        for later in pending:  # made, never to be awaited
            close = getattr(later.awaitable, "close", None)
            if close is not None:
                close()
        raise
    finally:
        namespace["_ctx"] = namespace["_pending"] = None
    return await _fill(data, pending) if pending else data


async def _fill(data: Any, pending: list[_Later]) -> Any:
    values = await asyncio.gather(*(later.awaitable for later in pending))
    filled = {id(later): later.serialize(v) for later, v in zip(pending, values, strict=True)}

    def walk(value: Any) -> Any:
        if isinstance(value, _Later):
            return filled[id(value)]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(data)
