"""`make run`: start (or find) the database, migrate it, and serve the API.

With no DATABASE_URL an embedded PostgreSQL runs from DATA_DIR for as long as this process,
and is stopped cleanly when the server stops (Ctrl-C, or SIGTERM from docker stop, systemd
or Kubernetes); its data stays for the next run. Either signal exits with status 0 once the
database has stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import uvicorn

import embedded
import migrate
from app import create_app
from config import Settings

log = logging.getLogger("serve")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """What SIGINT and SIGTERM do at each stage of the process.

    uvicorn takes both signals over while it serves and, after its graceful shutdown,
    re-raises the one it caught to the handler it found. Python's default for SIGTERM kills
    the process right there, before our `finally` can stop the embedded PostgreSQL, so the
    handler it finds is this one, and it lets `main` return normally instead.
    """

    def __init__(self) -> None:
        self.stage = "starting"
        self.deferred: int | None = None
        self.server: uvicorn.Server | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.handle)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stage == "starting":
            # Unwinds through main's `finally`, which stops what has been started so far.
            raise SystemExit(128 + signum)
        if self.stage == "deferring":
            self.deferred = self.deferred or signum
        elif self.stage == "serving":
            # Reached only outside uvicorn's own handlers: just before it installs them
            # (it then shuts down right after starting) or when it re-raises after shutdown.
            if self.server is not None:
                self.server.should_exit = True
        else:
            # An impatient second Ctrl-C or a repeated SIGTERM must not cut the database's
            # stop short; SIGKILL remains for a stop that hangs.
            log.warning("%s ignored: already stopping", signal.Signals(signum).name)

    @contextlib.contextmanager
    def deferred_until_done(self) -> Iterator[None]:
        """Hold signals back while an interruption would leave a half-made state behind
        (a half-written initdb, a postmaster started but not yet ours to stop)."""
        self.stage = "deferring"
        try:
            yield
        finally:
            self.stage = "starting"
        if self.deferred is not None:
            raise SystemExit(128 + self.deferred)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--migrate-only", action="store_true", help="migrate, then exit")
    options = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signals = StopSignals()
    signals.install()
    server = None
    try:
        if settings.DATABASE_URL:
            owner_url = settings.DATABASE_URL
        else:
            with signals.deferred_until_done():
                server = embedded.start(settings.DATA_DIR)
            database = asyncio.run(embedded.bootstrap(server))
            owner_url = database.owner_url
            settings = settings.model_copy(
                update={"DATABASE_URL": owner_url, "DATABASE_APP_URL": database.app_url}
            )
            log.info("embedded PostgreSQL ready at %s", owner_url)
        migrate.upgrade(owner_url)
        log.info("database migrated")
        if options.migrate_only:
            return 0
        log.info("GraphQL at %s/graphql", settings.public_url)
        return serve(settings, signals)
    finally:
        signals.stage = "stopping"
        if server is not None:
            log.info("stopping embedded PostgreSQL")
            server.cleanup()
            log.info("embedded PostgreSQL stopped")


def without_query(record: logging.LogRecord) -> bool:
    """uvicorn's access line, with the query string of its path cut (a token in a link)."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
        record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?…", *args[3:])
    return True


def serve(settings: Settings, signals: StopSignals) -> int:
    """uvicorn.run, minus its catching of KeyboardInterrupt, which our handler makes moot."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
        proxy_headers=settings.TRUSTED_PROXY_HOPS > 0,
        # No permessage-deflate on WebSockets: compression is per connection, so one event
        # to 1,000 subscribers is compressed 1,000 times (bench/subscriptions.py: p99 137 ms
        # against 81 ms, and 87 KiB against 46 KiB per idle connection). Frames are small.
        ws_per_message_deflate=False,
    )
    # Emailed links carry their token in the query string: the access log keeps paths only.
    logging.getLogger("uvicorn.access").addFilter(without_query)
    server = uvicorn.Server(config)
    signals.server = server
    signals.stage = "serving"
    server.run()
    return 0 if server.started else 3  # uvicorn's STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(main())
