"""One place that turns exceptions into API.md's error codes, and masks the unexpected."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.utils.str_converters import to_camel_case

from errors import PortalError

log = logging.getLogger("portal.errors")
INTERNAL_MESSAGE = "Something went wrong on our side. Please try again."


# What coercing a variable raises (StrawberryInputCoercionError is a GraphQLError).
_INPUT_ERRORS = (GraphQLError, ValueError, TypeError)
# Refused for what the client asked, wherever raised: e.g. a query or mutation sent over the
# legacy graphql-ws protocol, which carries only subscriptions.
_REQUEST_ERRORS = (InvalidOperationTypeError,)


def shape(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    if isinstance(original, PortalError):
        message, extensions = original.message, original.extensions
        if isinstance(extensions.get("field"), str):
            # Resolvers name inputs in their own (Python) terms; the API's names are the
            # schema's, camelCase, given here at the edge.
            extensions = {**extensions, "field": to_camel_case(extensions["field"])}
    elif (
        original is None
        or isinstance(original, _REQUEST_ERRORS)
        or (not error.path and isinstance(original, _INPUT_ERRORS))
    ):
        # The document or its variables were refused (syntax, validation, limits, types)
        # before any resolver ran; or this error was shaped here already.
        message = error.message
        extensions = {"code": "BAD_USER_INPUT", **(error.extensions or {})}
    else:
        log.error(
            "request %s: unexpected error at %s",
            request_id,
            ".".join(str(p) for p in error.path or ()),
            exc_info=(type(original), original, original.__traceback__),
        )
        return internal_error(request_id, at=error)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def internal_error(request_id: str, *, at: GraphQLError | None = None) -> GraphQLError:
    """The masked error API.md promises for anything unexpected: no detail, only the id
    under which the log has it (`at`: the error it replaces, for its path and location)."""
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=at.nodes if at else None,
        source=at.source if at else None,
        positions=at.positions if at else None,
        path=at.path if at else None,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )
