"""The one place that wires things: services, lifespan, routes, the GraphQL endpoint.

services.py      process-wide things (settings, engines, mailer, sign-in limits)
graphql_view.py  the HTTP/WebSocket lifecycle: context, viewer, commit, error envelope
operations.py    each WebSocket operation's own context and transaction
request_limits.py  how big a request body may be and how long it may take to arrive
http_errors.py   refusals and failures over HTTP as JSON GraphQL errors
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute

from app.graphql_view import PortalGraphQL
from app.operations import OperationContext
from app.request_limits import RequestLimits
from app.services import create_services
from config import Settings
from db import drain_background
from portal import routes as portal_routes
from schema import build_schema
from webhooks import routes as webhook_routes

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    """`settings.DATABASE_URL` must be set (serve.py sets it for the embedded default)."""
    services = create_services(settings)
    graphql = PortalGraphQL(build_schema(wiring=[OperationContext]), services)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> PlainTextResponse:
        try:
            async with services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("readiness check: the database does not answer", exc_info=True)
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        await graphql.realtime.start()
        # A GraphQL response makes many short-lived objects; with the default thresholds a
        # full collection walks the whole (long-lived) app every dozen requests. Freeze what
        # start-up made and collect the young generation less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        yield
        await graphql.realtime.stop()
        await drain_background()
        await services.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", RequestLimits(graphql, services), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # The local storage backend serves its signed URLs here (S3 needs none).
            *services.storage.routes(),
            # Stripe Connect events (webhooks/): signed, recorded once, dispatched by type.
            *webhook_routes,
            # The customer portal's own pages (/portal/<slug>/…, /team/<slug>/accept-invite).
            *portal_routes(services),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.state.services = services
    return app
