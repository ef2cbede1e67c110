"""One place that turns exceptions into API.md's error codes, and masks the unexpected."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from errors import PortalError

log = logging.getLogger("portal.errors")


def shape(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, PortalError):
        message, extensions = original.message, original.extensions
    elif original is None or not error.path:
        # The document or its variables were refused (syntax, validation, limits, types)
        # before any resolver ran.
        message = error.message
        extensions = {"code": "BAD_USER_INPUT", **(error.extensions or {})}
    else:
        log.error(
            "request %s: unexpected error at %s",
            request_id,
            ".".join(str(p) for p in error.path or ()),
            exc_info=(type(original), original, original.__traceback__),
        )
        message = "Something went wrong on our side. Please try again."
        extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            context = self.execution_context.context
            request_id = getattr(context, "request_id", "-")
            result.errors = [shape(error, request_id) for error in errors]
