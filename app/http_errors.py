"""Refusals over HTTP: every one is a GraphQL error in JSON, never plain text.

A request that is refused before GraphQL runs (too big, too slow, not JSON, an unknown
`operationName`) answers `{"errors": [{"message", "extensions": {"code"}}]}` without a
`data` key, in the media type the client asked for (GraphQL over HTTP)."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse

from schema.errors import internal_error

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


class Refused(HTTPException):
    """A transport refusal with its own code (Strawberry's own refusals are BAD_USER_INPUT)."""

    def __init__(self, status_code: int, reason: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(status_code, reason)
        self.code = code


def response_media_type(accept: str | None) -> str:
    """`application/graphql-response+json` when the client accepts it at least as well as
    `application/json`; otherwise `application/json` (also for no Accept header, or */*)."""
    quality: dict[str, float] = {}
    for part in (accept or "").split(","):
        media_type, *parameters = (p.strip() for p in part.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media_type = media_type.lower()
        quality[media_type] = max(q, quality.get(media_type, 0.0))
    preferred = quality.get(GRAPHQL_RESPONSE_JSON, 0.0)
    if preferred > 0 and preferred >= quality.get(JSON, 0.0):
        return GRAPHQL_RESPONSE_JSON
    return JSON


def refusal(
    status_code: int,
    message: str,
    code: str = "BAD_USER_INPUT",
    *,
    accept: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code=status_code,
        media_type=response_media_type(accept),
        headers=headers,
    )


def internal_error_response(
    request_id: str, *, accept: str | None = None, with_data: bool = False
) -> JSONResponse:
    """500, masked (the log has the detail under `request_id`). `with_data`: the operation
    ran (its commit failed), so the response has a `data` key, null."""
    body: dict[str, Any] = {"data": None} if with_data else {}
    body["errors"] = [internal_error(request_id).formatted]
    return JSONResponse(body, status_code=500, media_type=response_media_type(accept))


def http_refusal(error: HTTPException, accept: str | None) -> JSONResponse:
    code = error.code if isinstance(error, Refused) else "BAD_USER_INPUT"
    headers = {"Allow": "GET, POST"} if error.status_code == 405 else None
    return refusal(error.status_code, error.reason, code, accept=accept, headers=headers)
