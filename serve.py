"""`make run`: start (or find) the database, migrate it, and serve the API.

With no DATABASE_URL an embedded PostgreSQL runs from DATA_DIR for as long as this process,
and is stopped cleanly when the server stops (Ctrl-C); its data stays for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import uvicorn

import embedded
import migrate
from app import create_app
from config import Settings

log = logging.getLogger("serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--migrate-only", action="store_true", help="migrate, then exit")
    options = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = None
    try:
        if settings.DATABASE_URL:
            owner_url = settings.DATABASE_URL
        else:
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
        uvicorn.run(
            create_app(settings),
            host=settings.HOST,
            port=settings.PORT,
            log_level=settings.LOG_LEVEL.lower(),
            proxy_headers=settings.TRUSTED_PROXY_HOPS > 0,
        )
        return 0
    finally:
        if server is not None:
            log.info("stopping embedded PostgreSQL")
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
