"""The schema's assembly: root types merged from each domain, with limits and error codes."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import strawberry
from graphql import GraphQLError, ValidationContext, ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from readpath.extension import CompiledReads
from schema.errors import shape
from schema.parsing import ParseDocument

MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 5000

# The domains, one line each: a domain's module holds its types (registering their SQL, node
# resolution and loaders as it is imported) and its `…Queries` / `…Mutations` classes.
DOMAINS = (
    "accounts",
    "nodes",
    "customers",
    "appointments",
    "jobs",
    "photos",
    "contracts",
    "invoices",
    "messages",
    "portal_access",
    "staff_invitations",
)


def _roots(suffix: str) -> tuple[type, ...]:
    """Every domain's root classes named `…{suffix}`, in domain and definition order."""
    found = []
    for name in DOMAINS:
        module = importlib.import_module(f"schema.{name}")
        found += [
            value
            for key, value in vars(module).items()
            if key.endswith(suffix) and getattr(value, "__module__", None) == module.__name__
        ]
    return tuple(found)


Query = merge_types("Query", _roots("Queries"))
Mutation = merge_types("Mutation", _roots("Mutations"))
Subscription = merge_types("Subscription", _roots("Subscriptions"))


# The limits' rule classes are made once: ValidationCache keys on the rules as well as the
# document, so rules made anew for each request would never let a validation be reused.
def _tolerating_unknown_fragments(rule: type[ValidationRule]) -> type[ValidationRule]:
    """Strawberry's depth rule measures in its constructor and fails with a KeyError on a
    spread of a fragment that does not exist; the standard rule reports that one."""

    class Rule(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            try:
                super().__init__(context)
            except KeyError:
                ValidationRule.__init__(self, context)

    return Rule


LIMIT_RULES = [
    *map(_tolerating_unknown_fragments, QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules),
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


class PortalSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every error of every transport passes here before it is sent: give each its
        API.md code, and mask (and log, with the request id) what was not expected."""
        context = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        errors[:] = [shape(error, request_id) for error in errors]


def build_schema(wiring: Sequence[type[SchemaExtension]] = ()) -> PortalSchema:
    """The schema with its limits and caches. `wiring`: the app's own extensions (the
    per-operation context and transaction of app/operations.py), which run first; the
    schema itself only converts, and never imports the app."""
    return PortalSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *wiring,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Both caches live at module level, shared by every request.
            lambda: ParseDocument(maxsize=1000),
            lambda: AddValidationRules(LIMIT_RULES),
            lambda: ValidationCache(maxsize=1000),
            # Last: it runs once the document is parsed and validated (readpath/).
            CompiledReads,
        ],
    )


# Without wiring: for the SDL (schema/export.py) and for tools.
schema = build_schema()
