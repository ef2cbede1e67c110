"""Process-wide things, made once per app: the settings, the database engines, the mailer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from auth.login_limits import LoginLimits
from config import Settings
from db import create_app_engine
from mail import Mailer, create_mailer


@dataclass
class Services:
    """What resolvers see as `ctx.services` (the shape `resolvers.context.Services` names)."""

    settings: Settings
    engine: AsyncEngine
    mailer: Mailer
    login_limits: LoginLimits

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self.login_limits.dispose()


def create_services(settings: Settings) -> Services:
    """`settings.DATABASE_URL` must be set (serve.py sets it for the embedded default)."""
    if not settings.DATABASE_URL:
        raise ValueError("create_app needs DATABASE_URL; serve.py provides the embedded one")
    return Services(
        settings=settings,
        engine=create_app_engine(
            settings.DATABASE_URL, settings.DATABASE_APP_URL, pool_size=settings.DATABASE_POOL_SIZE
        ),
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
