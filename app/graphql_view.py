"""The GraphQL endpoint: builds each request's context and closes its transaction.

Every answer is JSON: a malformed request or a refusal of the transport (Strawberry raises
those as HTTPException, and would answer plain text) is a GraphQL error with its status;
anything unexpected outside GraphQL's own error handling (the session check with the
database down, say) is a masked INTERNAL_SERVER_ERROR with the request id. A client that
accepts `application/graphql-response+json` gets it, and a request error (the document or
its variables refused: nothing ran) then answers 400 without `data` (GraphQL over HTTP).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.http_errors import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    http_refusal,
    internal_error_response,
    response_media_type,
)
from app.services import Services
from app.subscriptions import LegacyWSHandler, LimitedMessages, Realtime, TransportWSHandler
from db import RequestTransaction
from readpath import planner
from readpath.declarations import Fallback
from resolvers.context import RequestContext

log = logging.getLogger(__name__)
# A body with anything else (`extensions`, say) takes the normal way.
REPEATABLE_KEYS = frozenset({"query", "variables", "operationName"})
# Deeper variables than any input type of the schema nests are refused before coercion.
MAX_VARIABLES_DEPTH = 32


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_ip(request: Request | WebSocket, trusted_hops: int) -> str:
    if trusted_hops:
        forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= trusted_hops:
            return forwarded[-trusted_hops][:64]
    return (request.client.host if request.client else "unknown")[:64]


class PortalWebSocketAdapter(LimitedMessages):
    async def close(self, code: int, reason: str) -> None:
        # The legacy graphql-ws protocol closes a refused connection with 1011 (server error);
        # API.md promises 4403 on every protocol.
        if code == 1011 and getattr(self.ws.state, "refused", False):
            code, reason = 4403, "Forbidden"
        await super().close(code, reason)


class PortalGraphQL(GraphQL):
    websocket_adapter_class = PortalWebSocketAdapter
    # Subscriptions are delivered by the fan-out (app/subscriptions.py); the rest is Strawberry's.
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, schema: Any, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
        self.services = services
        self.realtime = Realtime(services, schema)
        self.connection_init_wait_timeout = timedelta(
            seconds=services.settings.WS_CONNECTION_INIT_SECONDS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        accept = request.headers.get("accept")
        try:
            response = await self._repeat(request) or await self.run(request)
        except HTTPException as error:
            response = http_refusal(error, accept)
        except Exception:
            context = getattr(request.state, "portal_context", None)
            request_id = context.request_id if context else uuid.uuid4().hex[:16]
            log.exception("request %s: failed outside GraphQL's error handling", request_id)
            response = internal_error_response(request_id, accept=accept)
        await response(scope, receive, send)

    async def _repeat(self, request: Request) -> Response | None:
        """A query this viewer asked before with the same document and variables, answered
        from its cached plan (readpath/) without going through GraphQL again: the plan
        exists only because that operation was parsed, validated and planned the first
        time. Anything else (or any doubt) returns None and takes the normal way."""
        if (
            request.method != "POST"
            or not self.services.settings.COMPILED_READS
            or request.headers.get("content-type", "").split(";")[0].strip() != JSON
        ):
            return None
        body = await request.body()  # kept by the request for the normal way
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not data.keys() <= REPEATABLE_KEYS:
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name = data.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        if not isinstance(operation_name, str | None):
            return None
        if _depth(variables) > MAX_VARIABLES_DEPTH:
            return None  # the normal way refuses it, as a 400
        try:
            return await self._answer_from_plan(request, query, operation_name, variables)
        except BaseException:
            await self._close(request, commit=False)
            raise

    async def _answer_from_plan(
        self, request: Request, query: str, operation_name: str | None, variables: Any
    ) -> Response | None:
        context = await self.get_context(request, None)
        plan = planner.cached_plan(context, query, operation_name, variables)
        if plan is None:
            return None  # get_context keeps the context for the normal way
        try:
            answered = await planner.answer(context, plan)
        except Fallback:
            return None  # this row's data needs execution (a null where one cannot be)
        except Exception:
            log.exception("request %s: a cached plan failed", context.request_id)
            await context.tx.discard()
            return None
        context.read_path = "compiled"
        response = Response(
            self.encode_json({"data": answered}),
            media_type=response_media_type(request.headers.get("accept")),
        )
        return await self._finish(request, context, response)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[Any]:
        """Strawberry's parsing, with what it lets through as a 500 refused as a 400: a
        body that is JSON but not an object, invalid UTF-8, nesting too deep for the
        decoder, a multipart map into a value that is no list or object."""
        try:
            data = await super().parse_http_body(request)
        except HTTPException:
            raise
        except RecursionError:
            raise HTTPException(400, "The request body is nested too deeply.") from None
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            raise HTTPException(
                400, "The request body must be a JSON object with a `query` string."
            ) from None
        if isinstance(data, GraphQLRequestData) and _depth(data.variables) > MAX_VARIABLES_DEPTH:
            raise HTTPException(400, "The variables are nested too deeply.")
        return data

    def encode_json(self, data: object) -> str:
        # orjson: a response of a few thousand values is encoded in a tenth of the time.
        # Text, not bytes: WebSocket messages are sent as what this returns, and
        # graphql-transport-ws speaks in text frames.
        return orjson.dumps(data).decode()

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = process_result(result)
        if response_media_type(request.headers.get("accept")) != GRAPHQL_RESPONSE_JSON:
            return response
        request.state.media_type = GRAPHQL_RESPONSE_JSON
        if result.data is None and result.errors and not any(e.path for e in result.errors):
            # A request error: the document or its variables were refused, nothing ran.
            del response["data"]
            codes = {(e.extensions or {}).get("code") for e in result.errors}
            request.state.status_code = 500 if "INTERNAL_SERVER_ERROR" in codes else 400
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        made = getattr(request.state, "portal_context", None)
        if made is not None:
            return made  # made by `_repeat` for a request it left to the normal way
        settings = self.services.settings
        context = RequestContext(
            services=self.services,
            tx=RequestTransaction(self.services.engine),
            client_ip=client_ip(request, settings.TRUSTED_PROXY_HOPS),
            user_agent=request.headers.get("user-agent"),
            request=request,
        )
        request.state.portal_context = context
        token = bearer_token(request.headers.get("authorization"))
        if token:
            context.act_as(await self.services.session_cache.authenticate(context.tx, token))
        return context

    async def on_ws_connect(self, context: RequestContext) -> None:
        """A WebSocket must authenticate in `connection_init`; otherwise it is closed."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        header = next((v for k, v in params.items() if k.lower() == "authorization"), None)
        token = bearer_token(header if isinstance(header, str) else None)
        cache = self.services.session_cache
        principal = await cache.authenticate(context.tx, token) if token else None
        # The lookup's transaction must not stay open for the life of the socket.
        await context.tx.close()
        if principal is None:
            context.request.state.refused = True
            raise ConnectionRejectionError({"message": "Sign in first."})
        context.bearer_token = token
        context.act_as(principal)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            response = await super().run(request, context, root_value)
        except BaseException:
            await self._close(request, commit=False)
            raise
        context = getattr(request.state, "portal_context", None)
        if context is None:
            return response
        return await self._finish(request, context, response)

    async def _finish(self, request: Any, context: RequestContext, response: Any) -> Any:
        try:
            # Commit before the response goes out: a client never sees a success that is
            # not durable. Failed mutations already rolled back their own savepoints.
            await context.tx.close()
        except Exception:
            log.exception("request %s: commit failed", context.request_id)
            return internal_error_response(
                context.request_id, accept=request.headers.get("accept"), with_data=True
            )
        if isinstance(response, Response):
            media_type = getattr(request.state, "media_type", None)
            if media_type:
                response.headers["content-type"] = media_type
            response.status_code = getattr(request.state, "status_code", response.status_code)
        if self.services.settings.SERVER_TIMING and isinstance(response, Response):
            response.headers["Server-Timing"] = (
                f'sql;desc="statements={context.tx.statements}", {context.read_path}'
            )
        return response

    async def _close(self, request: Any, *, commit: bool) -> None:
        context = getattr(request.state, "portal_context", None)
        if context is not None:
            await context.tx.close(commit=commit)


def _depth(value: object) -> int:
    """How deeply lists and objects nest in a decoded JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_VARIABLES_DEPTH:
                break
            stack.extend((child, level + 1) for child in children)
    return deepest
