"""The GraphQL endpoint: builds each request's context and closes its transaction."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from app.services import Services
from db import RequestTransaction
from resolvers.context import RequestContext
from schema.errors import internal_error

log = logging.getLogger(__name__)


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


class PortalWebSocketAdapter(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        # The legacy graphql-ws protocol closes a refused connection with 1011 (server error);
        # API.md promises 4403 on every protocol.
        if code == 1011 and getattr(self.ws.state, "refused", False):
            code, reason = 4403, "Forbidden"
        await super().close(code, reason)


class PortalGraphQL(GraphQL):
    websocket_adapter_class = PortalWebSocketAdapter

    def __init__(self, schema: Any, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql", multipart_uploads_enabled=True)
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
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
        try:
            # Commit before the response goes out: a client never sees a success that is
            # not durable. Failed mutations already rolled back their own savepoints.
            await context.tx.close()
        except Exception:
            log.exception("request %s: commit failed", context.request_id)
            return JSONResponse(
                {"data": None, "errors": [internal_error(context.request_id).formatted]},
                status_code=500,
            )
        if self.services.settings.SERVER_TIMING and isinstance(response, Response):
            response.headers["Server-Timing"] = f'sql;desc="statements={context.tx.statements}"'
        return response

    async def _close(self, request: Any, *, commit: bool) -> None:
        context = getattr(request.state, "portal_context", None)
        if context is not None:
            await context.tx.close(commit=commit)
