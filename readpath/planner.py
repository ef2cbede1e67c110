"""A validated query → one SQL statement → the response, without executing fields one by one.

Per request the planner walks the operation with graphql-core's own field collection (so
fragments, aliases, `@include`/`@skip` and field merging behave exactly as in execution),
asks each field's declaration (readpath/declarations.py) for its SQL, and nests everything
into one SELECT: each root field is a scalar subquery, each object a `row(...)`, each list an
`array(SELECT row(...) …)` correlated to its parent. asyncpg decodes those nested records
with their real types, and a writer made alongside the SQL turns them into the response,
serializing every leaf with its GraphQL type's own serializer.

Anything the planner cannot answer exactly as execution would — a field without SQL, an
argument a builder refuses, a null where the schema says non-null — raises `Fallback`, and
the operation runs through Strawberry instead. Errors are only ever produced there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
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

from errors import PortalError
from readpath.declarations import (
    ROOTS,
    TYPES,
    Column,
    Computed,
    Connection,
    Fallback,
    Related,
    RootObject,
    Rows,
    TypeSQL,
)
from resolvers.pagination import Ordering, page_args, page_query

Row = tuple
Writer = Callable[[Row], Any]
ALLOWED_DIRECTIVES = frozenset({"include", "skip"})


class Slots:
    """The values one `row(...)` carries; each gets an index the writers read."""

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


def _leaf(return_type: Any, read: Callable[[Row], Any]) -> Writer:
    nullable = get_nullable_type(return_type)
    if isinstance(nullable, GraphQLList) or not is_leaf_type(nullable):
        raise Fallback
    serialize = nullable.serialize
    non_null = isinstance(return_type, GraphQLNonNull)

    def write(row: Row) -> Any:
        value = read(row)
        if value is None:
            if non_null:
                raise Fallback  # execution would report an error here
            return None
        return serialize(value)

    return write


def _nullable(return_type: Any, index: int, write_object: Writer) -> Writer:
    non_null = isinstance(return_type, GraphQLNonNull)

    def write(row: Row) -> Any:
        value = row[index]
        if value is None:
            if non_null:
                raise Fallback
            return None
        return write_object(value)

    return write


def _object_writer(parts: list[tuple[str, Writer]]) -> Writer:
    def write(row: Row) -> dict[str, Any]:
        return {key: part(row) for key, part in parts}

    return write


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

    # -- the operation ------------------------------------------------------------------

    def plan(self) -> tuple[Select | None, Writer]:
        """The statement (None when nothing needs reading) and the writer of its row."""
        query_type = self.schema.query_type
        assert query_type is not None
        collected = collect_fields(
            self.schema, self.fragments, self.variables, query_type, self.operation
        )
        if collected.new_defer_usages:
            raise Fallback
        slots = Slots()
        parts: list[tuple[str, Writer]] = []
        for key, details in collected.grouped_field_set.items():
            name = details[0].node.name.value
            if name == "__typename":
                parts.append((key, lambda _row, n=query_type.name: n))
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
        statement = select(*slots.expressions) if slots.expressions else None
        return statement, _object_writer(parts)

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

    def _source(self, build: Callable[..., Select], *arguments: Any) -> Select:
        try:
            return build(*arguments)
        except PortalError:
            raise Fallback from None

    # -- objects --------------------------------------------------------------------------

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
    ) -> Writer:
        found = self._source(spec.find, self.context, arguments)
        if found is None:
            if isinstance(field.type, GraphQLNonNull):
                raise Fallback
            return lambda _row: None
        type_name, query = found
        declared, graphql_type = self._object_type(type_name)
        if graphql_type is not get_named_type(field.type) and not self.schema.is_sub_type(
            get_named_type(field.type), graphql_type
        ):
            raise Fallback
        alias = query.subquery()
        inner = Slots()
        write = self._object(declared, graphql_type, alias, details, inner)
        expression = select(func.row(*inner.expressions)).select_from(alias).scalar_subquery()
        return _nullable(field.type, slots.add(expression), write)

    def _object(
        self,
        declared: TypeSQL,
        graphql_type: GraphQLObjectType,
        alias: Any,
        details: list[FieldDetails],
        slots: Slots,
    ) -> Writer:
        parts: list[tuple[str, Writer]] = []
        for key, field_details in self._subfields(graphql_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, lambda _row, n=graphql_type.name: n))
                continue
            spec = declared.fields.get(name)
            field = graphql_type.fields.get(name)
            if spec is None or field is None:
                raise Fallback
            parts.append((key, self._field(spec, field, field_details, alias, slots)))
        return _object_writer(parts)

    def _field(
        self, spec: Any, field: Any, details: list[FieldDetails], alias: Any, slots: Slots
    ) -> Writer:
        if isinstance(spec, Column):
            index = slots.add(alias.c[spec.name], name=spec.name)
            return _leaf(field.type, lambda row: row[index])
        if isinstance(spec, Computed):
            indexes = [slots.add(alias.c[c], name=c) for c in spec.columns]
            compute = spec.compute
            return _leaf(field.type, lambda row: compute(*(row[i] for i in indexes)))
        arguments = self._arguments(field, details)
        if isinstance(spec, Related):
            declared, graphql_type = self._object_type(spec.target)
            if get_named_type(field.type) is not graphql_type:
                raise Fallback
            base = self._source(declared.source, self.context.principal)
            target = (
                base.where(base.selected_columns.id == alias.c[spec.key])
                .correlate(alias)
                .subquery()
            )
            inner = Slots()
            write = self._object(declared, graphql_type, target, details, inner)
            expression = select(func.row(*inner.expressions)).select_from(target).scalar_subquery()
            return _nullable(field.type, slots.add(expression), write)
        if isinstance(spec, Connection):
            return self._connection(spec, field, details, arguments, alias, slots)
        if isinstance(spec, Rows):
            return self._rows(spec, field, details, arguments, alias, slots)
        raise Fallback

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
    ) -> Writer:
        nullable = get_nullable_type(field.type)
        if not isinstance(nullable, GraphQLList):
            raise Fallback
        declared, graphql_type = self._object_type(spec.target)
        if get_named_type(field.type) is not graphql_type:
            raise Fallback
        ordering = spec.ordering(arguments)
        alias = self._base(spec, arguments, parent).subquery()
        inner = Slots()
        write = self._object(declared, graphql_type, alias, details, inner)
        rows = func.array(
            select(func.row(*inner.expressions))
            .select_from(alias)
            .order_by(*ordering.order_by(alias.c))
            .scalar_subquery()
        )
        index = slots.add(rows)
        item_non_null = isinstance(nullable.of_type, GraphQLNonNull)

        def write_rows(row: Row) -> list:
            if not item_non_null:
                raise Fallback
            return [write(item) for item in row[index] or ()]

        return write_rows

    def _connection(
        self,
        spec: Connection,
        field: Any,
        details: list[FieldDetails],
        arguments: dict[str, Any],
        parent: Any,
        slots: Slots,
    ) -> Writer:
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
        cursor = _cursor_reader(ordering, alias, row_slots)
        parts: list[tuple[str, Callable[[list, bool, Row], Any]]] = []
        total_index: list[int] = []
        for key, field_details in self._subfields(connection_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, lambda _r, _n, _p, t=connection_type.name: t))
            elif name == "edges":
                parts.append(
                    (
                        key,
                        self._edges(spec, connection_type, field_details, alias, row_slots, cursor),
                    )
                )
            elif name == "pageInfo":
                parts.append((key, self._page_info(connection_type, field_details, page, cursor)))
            elif name == "totalCount":
                if not total_index:
                    count = select(func.count()).select_from(base.subquery()).scalar_subquery()
                    total_index.append(slots.add(count))
                parts.append((key, lambda _r, _n, p, i=total_index[0]: p[i]))
            else:
                raise Fallback
        rows_index = slots.add(
            func.array(
                select(func.row(*row_slots.expressions or [None]))
                .select_from(alias)
                .order_by(*ordering.order_by(alias.c))
                .scalar_subquery()
            )
        )
        first = page.first

        def write(row: Row) -> dict[str, Any]:
            found = row[rows_index] or []
            has_next = len(found) > first
            rows = found[:first]
            return {key: part(rows, has_next, row) for key, part in parts}

        return write

    def _edges(
        self,
        spec: Connection,
        connection_type: GraphQLObjectType,
        details: list[FieldDetails],
        alias: Any,
        row_slots: Slots,
        cursor: Callable[[Row], str],
    ) -> Callable[[list, bool, Row], Any]:
        edge_type = get_named_type(connection_type.fields["edges"].type)
        declared, node_type = self._object_type(spec.target)
        parts: list[tuple[str, Writer]] = []
        for key, field_details in self._subfields(edge_type, details).items():
            name = field_details[0].node.name.value
            if name == "__typename":
                parts.append((key, lambda _row, n=edge_type.name: n))
            elif name == "cursor":
                parts.append((key, cursor))
            elif name == "node" and get_named_type(edge_type.fields["node"].type) is node_type:
                parts.append(
                    (key, self._object(declared, node_type, alias, field_details, row_slots))
                )
            else:
                raise Fallback
        write_edge = _object_writer(parts)
        return lambda rows, _has_next, _parent: [write_edge(r) for r in rows]

    def _page_info(
        self,
        connection_type: GraphQLObjectType,
        details: list[FieldDetails],
        page: Any,
        cursor: Callable[[Row], str],
    ) -> Callable[[list, bool, Row], Any]:
        info_type = get_named_type(connection_type.fields["pageInfo"].type)
        has_previous = page.after is not None
        readers: dict[str, Callable[[list, bool], Any]] = {
            "hasNextPage": lambda rows, has_next: has_next,
            "hasPreviousPage": lambda rows, has_next: has_previous,
            "startCursor": lambda rows, has_next: cursor(rows[0]) if rows else None,
            "endCursor": lambda rows, has_next: cursor(rows[-1]) if rows else None,
            "__typename": lambda rows, has_next: info_type.name,
        }
        parts = []
        for key, field_details in self._subfields(info_type, details).items():
            reader = readers.get(field_details[0].node.name.value)
            if reader is None:
                raise Fallback
            parts.append((key, reader))

        def write(rows: list, has_next: bool, _parent: Row) -> dict[str, Any]:
            return {key: reader(rows, has_next) for key, reader in parts}

        return write


def _cursor_reader(ordering: Ordering, alias: Any, slots: Slots) -> Callable[[Row], str]:
    indexes = [slots.add(alias.c[name], name=name) for name, _ in ordering.keys]
    return lambda row: ordering.cursor_of([row[i] for i in indexes])


async def run(
    context: Any,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> dict[str, Any]:
    """The operation's `data`, read in one statement; raises Fallback when it cannot."""
    statement, write = Planner(context, schema, document, operation_name, variables).plan()
    if statement is None:
        return write(())
    row = await context.tx.first(statement)
    return write(tuple(row))
