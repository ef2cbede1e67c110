"""Process-wide things, made once per app: the settings, the database engines, the mailer,
the LISTEN connection and the sessions it keeps fresh."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from auth import sessions
from auth.login_limits import LoginLimits
from auth.session_cache import SessionCache
from config import Settings
from db import APP_ROLE, create_app_engine
from mail import Mailer, create_mailer
from payments import StripeApi, create_stripe
from realtime.listener import Listener, connect_as_app
from storage import Storage, create_storage


@dataclass
class Services:
    """What resolvers see as `ctx.services` (the shape `resolvers.context.Services` names)."""

    settings: Settings
    engine: AsyncEngine
    mailer: Mailer
    login_limits: LoginLimits
    listener: Listener
    # Bearer tokens → viewers, for a few seconds (auth/session_cache.py).
    session_cache: SessionCache
    # Photos and other files: S3 when S3_BUCKET is set, else DATA_DIR/files (storage/).
    storage: Storage
    # Stripe Connect when STRIPE_SECRET_KEY is set; None means online payment is disabled.
    stripe: StripeApi | None = None

    async def start(self) -> None:
        await self.storage.start()
        await self.listener.subscribe(
            sessions.SESSIONS_ENDED_CHANNEL, self.session_cache.sessions_ended
        )
        self.listener.watch(self.session_cache.listener_state)
        await self.listener.start()

    async def dispose(self) -> None:
        await self.listener.stop()
        await self.engine.dispose()
        await self.login_limits.dispose()
        await self.storage.close()
        if self.stripe is not None:
            await self.stripe.close()


def create_services(settings: Settings) -> Services:
    """`settings.DATABASE_URL` must be set (serve.py sets it for the embedded default)."""
    if not settings.DATABASE_URL:
        raise ValueError("create_app needs DATABASE_URL; serve.py provides the embedded one")
    listener = Listener(connect_as_app(settings.DATABASE_URL, settings.DATABASE_APP_URL, APP_ROLE))
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
        listener=listener,
        session_cache=SessionCache(
            settings.SESSION_CACHE_SECONDS,
            sessions.live_session,
            listening=lambda: listener.connected,
        ),
        storage=create_storage(settings),
        stripe=create_stripe(settings),
    )
