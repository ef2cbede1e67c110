"""The one place that wires things: lifespan, routes, the GraphQL endpoint."""

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

from auth.login_limits import LoginLimits
from config import Settings
from db import create_app_engine, drain_background
from mail import create_mailer
from resolvers.context import Services
from schema import schema
from schema.http import PortalGraphQL

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    """`settings.DATABASE_URL` must be set (serve.py sets it for the embedded default)."""
    if not settings.DATABASE_URL:
        raise ValueError("create_app needs DATABASE_URL; serve.py provides the embedded one")
    engine = create_app_engine(
        settings.DATABASE_URL, settings.DATABASE_APP_URL, pool_size=settings.DATABASE_POOL_SIZE
    )
    services = Services(
        settings=settings,
        engine=engine,
        mailer=create_mailer(settings),
        login_limits=LoginLimits(
            # A pool of its own: see auth/login_limits.py.
            create_app_engine(
                settings.DATABASE_URL, settings.DATABASE_APP_URL, pool_size=2, pool_timeout=10
            ),
            account_limit=settings.LOGIN_ACCOUNT_FAILURE_LIMIT,
            ip_limit=settings.LOGIN_IP_FAILURE_LIMIT,
            window_minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES,
        ),
    )
    graphql = PortalGraphQL(schema, services)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> PlainTextResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("readiness check: the database does not answer", exc_info=True)
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A GraphQL response makes many short-lived objects; with the default thresholds a
        # full collection walks the whole (long-lived) app every dozen requests. Freeze what
        # start-up made and collect the young generation less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        yield
        await drain_background()
        await engine.dispose()
        await services.login_limits.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.state.services = services
    return app
