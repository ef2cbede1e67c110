"""Random query documents over the live schema, for the differential tests of the read paths
(tests/test_read_path_generated.py): random subsets of fields at every level, aliases (the
same field twice with different arguments), arguments as literals or variables (with and
without defaults), inline fragments on objects, interfaces and unions, named fragments,
`__typename` anywhere, `@include`/`@skip`, and now and then a document that breaks a rule
or a limit on purpose.

Documents are text. Fields that share a response key get the same field and arguments (a
`Scope` tree records them), so that almost every document passes validation; the few invalid
ones are made so deliberately (`Generator.broken`).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)

FIRST_VALUES = (None, 0, 1, 2, 3, 150, -1)
SEARCHES = ("", "a", "Ada", "ada", "GRACE", "%", "_", "100%", "\\", "'", "Ödön", "zzz", " ")
GARBAGE_CURSORS = (
    "",
    "nonsense",
    "W10",  # []
    "WzFd",  # [1]
    "WyJ4IiwgInkiXQ",  # ["x", "y"]
    "WyIyMDMxLTAxLTAxVDA5OjAwOjAwKzAwOjAwIiwgIngiXQ",  # [a time, "x"]
    "e30",  # {}
    "!!!",
)


@dataclass
class Pools:
    """What arguments are drawn from: the ids of the seeded objects by GraphQL type, ids that
    name nothing, and cursors seen in earlier answers."""

    ids: dict[str, list[str]]
    garbage_ids: list[str]
    cursors: list[str] = field(default_factory=list)

    def all_ids(self) -> list[str]:
        return [i for ids in self.ids.values() for i in ids]

    def learn(self, answer: Any) -> None:
        """Keep every cursor in `answer` (any string that decodes to a JSON list)."""
        if isinstance(answer, dict):
            for value in answer.values():
                self.learn(value)
        elif isinstance(answer, list):
            for value in answer:
                self.learn(value)
        elif isinstance(answer, str) and answer not in self.cursors and is_cursor(answer):
            self.cursors.append(answer)


def is_cursor(text: str) -> bool:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(raw, list) and len(raw) > 1


# A response key → (field name, arguments as written, return type) and the scope of what is
# selected under it: fields merged under one key must agree (FieldsInSetCanMerge).
Signature = tuple[str, str, str]


class Scope(dict):
    def child(self, key: str, signature: Signature) -> Scope | None:
        """The scope under `key`, or None when `key` is taken by another field."""
        found = self.get(key)
        if found is None:
            found = self[key] = (signature, Scope())
        return found[1] if found[0] == signature else None

    def admits(self, other: Scope) -> bool:
        return all(
            key not in self or (self[key][0] == signature and self[key][1].admits(inner))
            for key, (signature, inner) in other.items()
        )

    def merge(self, other: Scope) -> None:
        for key, (signature, inner) in other.items():
            self.child(key, signature).merge(inner)


@dataclass
class Fragment:
    name: str
    on: str
    text: str
    scope: Scope
    depth: int  # how deep its selection goes


class Generator:
    """One document per `document()` call. `roots`: the Query fields to start from (all,
    when not given)."""

    def __init__(
        self, schema: GraphQLSchema, rng: random.Random, pools: Pools, roots: list[str] = ()
    ) -> None:
        self.schema = schema
        self.rng = rng
        self.pools = pools
        query = schema.query_type
        assert query is not None
        self.query = query
        self.roots = list(roots) or [n for n in query.fields if not n.startswith("__")]

    # -- documents ----------------------------------------------------------------------

    def document(self) -> tuple[str, dict[str, Any]]:
        self.variables: list[tuple[str, str, str | None]] = []  # name, type, default
        self.values: dict[str, Any] = {}
        self.fragments: list[Fragment] = []
        self.counter = 0
        self.max_depth = self.rng.randint(2, 8)
        if self.rng.random() < 0.07:
            return self.broken()
        scope = Scope()
        parts = [self.root_field(scope, self.roots)]
        for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
            parts.append(self.root_field(scope, self.roots))
        if self.rng.random() < 0.1:
            parts.append("__typename")
        document = self.assemble(" ".join(parts))
        return document, self.values

    def assemble(self, selection: str) -> str:
        mentioned = set(re.findall(r"\$(\w+)", selection + self.fragment_text()))
        used = [v for v in self.variables if v[0] in mentioned]
        self.values = {k: v for k, v in self.values.items() if k in mentioned}
        if used or self.rng.random() < 0.5:
            definitions = ", ".join(
                f"${name}: {type_}" + (f" = {default}" if default is not None else "")
                for name, type_, default in used
            )
            head = f"query Q{self.rng.randint(0, 99)}" + (f"({definitions})" if used else "")
        else:
            head = ""
        return f"{head} {{ {selection} }}{self.fragment_text()}".strip()

    def fragment_text(self) -> str:
        return "".join(f"\nfragment {f.name} on {f.on} {{ {f.text} }}" for f in self.fragments)

    def root_field(self, scope: Scope, names: list[str]) -> str:
        name = self.rng.choice(names)
        return self.field(self.query, name, self.query.fields[name], 1, scope)

    # -- selections ---------------------------------------------------------------------

    def selection_set(self, graphql_type: GraphQLNamedType, depth: int, scope: Scope) -> str:
        items: list[str] = []
        for _ in range(self.rng.choice((1, 1, 2, 2, 3, 4))):
            item = self.selection(graphql_type, depth, scope)
            if item:
                items.append(item)
        if not items:
            items.append("__typename")
        return "{ " + " ".join(items) + " }"

    def selection(self, graphql_type: GraphQLNamedType, depth: int, scope: Scope) -> str | None:
        rng = self.rng
        kind = rng.random()
        if kind < 0.08:
            return "__typename" if rng.random() < 0.7 else self.aliased_typename(scope)
        fields = getattr(graphql_type, "fields", None) or {}
        if kind < 0.25 or not fields:
            return self.fragment(graphql_type, depth, scope)
        name = rng.choice(list(fields))
        if depth >= self.max_depth and not is_leaf_type(get_named_type(fields[name].type)):
            leaves = [n for n, f in fields.items() if is_leaf_type(get_named_type(f.type))]
            if not leaves:
                return "__typename"
            name = rng.choice(leaves)
        text = self.field(graphql_type, name, fields[name], depth, scope)
        if fields[name].args and rng.random() < 0.25:
            # The same field again under another alias, with other arguments.
            text += " " + self.field(graphql_type, name, fields[name], depth, scope, alias=True)
        return text

    def aliased_typename(self, scope: Scope) -> str:
        alias = self.alias()
        return f"{alias}: __typename" if scope.child(alias, ("__typename", "", "")) else None

    def alias(self) -> str:
        self.counter += 1
        return self.rng.choice(("a", "x", "item", "first", "id_")) + str(self.counter)

    def field(
        self,
        parent: GraphQLNamedType,
        name: str,
        definition: GraphQLField,
        depth: int,
        scope: Scope,
        *,
        alias: bool = False,
    ) -> str:
        rng = self.rng
        arguments = self.arguments(parent, name, definition)
        signature = (name, arguments, str(definition.type))
        key = name
        if alias or rng.random() < 0.12:
            key = self.alias()
        elif rng.random() < 0.04 and isinstance(parent, GraphQLObjectType):
            key = rng.choice(list(parent.fields))  # an alias that is another field's name
        inner = scope.child(key, signature)
        if inner is None:
            key = self.alias()
            inner = scope.child(key, signature)
        head = name if key == name else f"{key}: {name}"
        text = f"{head}{arguments}{self.directives()}"
        target = get_named_type(definition.type)
        if not is_leaf_type(target):
            text += " " + self.selection_set(target, depth + 1, inner)
        return text

    def fragment(self, graphql_type: GraphQLNamedType, depth: int, scope: Scope) -> str | None:
        """An inline fragment or a fragment spread on a type that overlaps `graphql_type`."""
        rng = self.rng
        on = rng.choice(self.overlapping(graphql_type))
        if rng.random() < 0.35:
            spread = self.named_fragment(on, depth, scope)
            if spread:
                return spread
        condition = "" if rng.random() < 0.1 and on is graphql_type else f" on {on.name}"
        return f"...{condition}{self.directives()} {self.selection_set(on, depth, scope)}"

    def overlapping(self, graphql_type: GraphQLNamedType) -> list[GraphQLNamedType]:
        """Types a fragment inside a selection on `graphql_type` may be on."""
        schema = self.schema
        if is_abstract_type(graphql_type):
            possible = list(schema.get_possible_types(graphql_type))
        else:
            possible = [graphql_type]
        found: list[GraphQLNamedType] = [graphql_type, *possible]
        for other in schema.type_map.values():
            if other.name.startswith("__") or other in found:
                continue
            if isinstance(other, GraphQLInterfaceType | GraphQLUnionType) and any(
                schema.is_sub_type(other, p) for p in possible
            ):
                found.append(other)
        return found

    def named_fragment(self, on: GraphQLNamedType, depth: int, scope: Scope) -> str | None:
        reusable = [
            f
            for f in self.fragments
            if f.on == on.name and f.depth + depth <= self.max_depth + 1 and scope.admits(f.scope)
        ]
        if reusable and self.rng.random() < 0.6:
            chosen = self.rng.choice(reusable)
        else:
            own = Scope()
            mark = len(self.fragments)
            text = self.selection_set(on, depth, own)[2:-2]
            chosen = Fragment(f"F{len(self.fragments)}", on.name, text, own, self.max_depth - depth)
            if not scope.admits(own):
                del self.fragments[mark:]
                return None  # its keys clash here; never spread (and never defined)
            self.fragments.append(chosen)
        scope.merge(chosen.scope)
        return f"...{chosen.name}{self.directives()}"

    def directives(self) -> str:
        rng = self.rng
        if rng.random() > 0.1:
            return ""
        which = rng.choice(("include", "skip"))
        if rng.random() < 0.4:
            return f" @{which}(if: {rng.choice(('true', 'false'))})"
        return f" @{which}(if: {self.variable('Boolean!', rng.random() < 0.5)})"

    # -- arguments ----------------------------------------------------------------------

    def arguments(self, parent: GraphQLNamedType, name: str, definition: GraphQLField) -> str:
        written = []
        for arg_name, argument in definition.args.items():
            required = isinstance(argument.type, GraphQLNonNull)
            if not required and self.rng.random() < 0.45:
                continue
            value = self.value(arg_name, argument.type)
            if self.rng.random() < 0.3:
                written.append(f"{arg_name}: {self.variable_for(argument.type, value)}")
            else:
                written.append(f"{arg_name}: {literal(value, argument.type)}")
        return f"({', '.join(written)})" if written else ""

    def variable(self, type_: str, value: Any, default: str | None = None) -> str:
        name = f"v{len(self.variables)}"
        self.variables.append((name, type_, default))
        self.values[name] = value
        return f"${name}"

    def variable_for(self, arg_type: GraphQLInputType, value: Any) -> str:
        rng = self.rng
        type_ = str(arg_type)
        if isinstance(arg_type, GraphQLNonNull) or value is None:
            return self.variable(type_, value)
        roll = rng.random()
        if roll < 0.15:
            # Not given: the argument's own default applies.
            ref = self.variable(type_, None)
            del self.values[ref[1:]]
            return ref
        if roll < 0.3:
            # Not given, with the variable's default.
            ref = self.variable(type_, None, default=literal(value, arg_type))
            del self.values[ref[1:]]
            return ref
        if roll < 0.4:
            return self.variable(f"{type_}!", value)
        return self.variable(type_, value)

    def value(self, name: str, arg_type: GraphQLInputType) -> Any:
        rng = self.rng
        pools = self.pools
        named = get_named_type(arg_type)
        if name == "first":
            return rng.choice(FIRST_VALUES)
        if name == "after":
            if pools.cursors and rng.random() < 0.7:
                return rng.choice(pools.cursors)
            return rng.choice((None, *GARBAGE_CURSORS))
        if name == "search":
            return rng.choice((None, *SEARCHES))
        if named.name == "ID":
            roll = rng.random()
            if name == "customerId" and roll < 0.6:
                return rng.choice(pools.ids.get("Customer") or pools.all_ids())
            if roll < 0.85:
                return rng.choice(pools.all_ids())
            return rng.choice(pools.garbage_ids)
        if isinstance(named, GraphQLEnumType):
            return rng.choice((None, *named.values))
        if named.name == "Int":
            return rng.choice(FIRST_VALUES)
        if named.name == "Boolean":
            return rng.choice((None, True, False))
        if named.name == "String":
            return rng.choice((None, *SEARCHES))
        return None

    # -- on purpose -----------------------------------------------------------------------

    def broken(self) -> tuple[str, dict[str, Any]]:
        """A document that breaks a rule or a limit: both paths must report the same."""
        rng = self.rng
        ids = self.pools.all_ids()
        which = rng.randrange(8)
        if which == 0:  # deeper than the depth limit
            inner = "id"
            for _ in range(rng.choice((6, 7, 9))):
                inner = f"appointments {{ edges {{ node {{ customer {{ {inner} }} }} }} }}"
            return f'{{ node(id: "{rng.choice(ids)}") {{ ... on Customer {{ {inner} }} }} }}', {}
        if which == 1:  # more aliases than allowed
            aliases = " ".join(f"t{i}: __typename" for i in range(rng.choice((30, 31, 40))))
            return f"{{ viewer {{ {aliases} }} }}", {}
        if which == 2:  # too many tokens
            names = " ".join(["name"] * rng.choice((2000, 2600)))
            return f"{{ business {{ {names} }} }}", {}
        if which == 3:  # an unknown field
            return "{ viewer { ... on Customer { name shoeSize } } }", {}
        if which == 4:  # an argument of the wrong type, as a variable
            return (
                "query Q($first: Int) { customers(first: $first) { totalCount } }",
                {"first": rng.choice(("two", 2.5, [1], 2**40))},
            )
        if which == 5:  # a required variable not given
            return "query Q($id: ID!) { node(id: $id) { id } }", {}
        if which == 6:  # a conflict between two fields of one key
            return "{ customers(first: 1) { totalCount } customers(first: 2) { totalCount } }", {}
        # A fragment on a type that cannot be there. (Not an undefined fragment spread: the
        # depth limiter fails on it with a KeyError, INTERNAL_SERVER_ERROR on both paths.)
        return rng.choice(
            (
                "{ business { ... on Customer { name } } }",
                '{ node(id: "x") { ... on PageInfo { hasNextPage } } }',
            )
        ), {}


def literal(value: Any, arg_type: GraphQLInputType) -> str:
    if value is None:
        return "null"
    if isinstance(get_named_type(arg_type), GraphQLEnumType):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # ASCII with \u escapes, which GraphQL strings share
    return str(value)
