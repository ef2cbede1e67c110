"""The schema's assembly: root types merged from each domain, with limits and error codes."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from schema.appointments import AppointmentMutations, AppointmentQueries
from schema.customers import CustomerMutations, CustomerQueries
from schema.errors import ErrorCodes
from schema.nodes import NodeQueries
from schema.operations import OperationTransaction
from schema.portal_access import PortalAccessMutations
from schema.viewer import AccountMutations, AccountQueries

MAX_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 5000

Query = merge_types("Query", (AccountQueries, NodeQueries, CustomerQueries, AppointmentQueries))
Mutation = merge_types(
    "Mutation",
    (AccountMutations, CustomerMutations, AppointmentMutations, PortalAccessMutations),
)


# The limits' rule classes are made once: ValidationCache keys on the rules as well as the
# document, so rules made anew for each request would never let a validation be reused.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


class PortalSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorCodes logs what is unexpected, with the request id; the rest is routine.
        return None


schema = PortalSchema(
    query=Query,
    mutation=Mutation,
    extensions=[
        OperationTransaction,
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # Both caches live at module level, shared by every request.
        lambda: ParserCache(maxsize=1000),
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: ValidationCache(maxsize=1000),
    ],
)
