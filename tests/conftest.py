"""Real components for every test: an embedded PostgreSQL (fresh per run), an SMTP server,
and the app served by uvicorn on a loopback port. Tests talk to it over HTTP."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn

import embedded
import migrate
from app import create_app
from config import Settings
from tests.client import Api
from tests.mailbox import Mailbox

TABLES_TO_KEEP = {"alembic_version"}


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="portal-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(scope="session")
async def database(data_dir: Path) -> AsyncIterator[embedded.EmbeddedDatabase]:
    server = await asyncio.to_thread(embedded.start, data_dir)
    db = await embedded.bootstrap(server, database="portal_test")
    await migrate.upgrade_async(db.owner_url)
    yield db
    await asyncio.to_thread(server.cleanup)


@pytest_asyncio.fixture(scope="session")
async def superuser(database: embedded.EmbeddedDatabase) -> AsyncIterator[asyncpg.Connection]:
    """Raw SQL that bypasses row-level security: for setup, time travel and inspection."""
    connection = await asyncpg.connect(database.superuser_url)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.url = f"http://127.0.0.1:{settings.PORT}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=settings.PORT, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task


@pytest.fixture(scope="session")
def server_settings(
    database: embedded.EmbeddedDatabase, mailbox: Mailbox, data_dir: Path
) -> Settings:
    return Settings(
        HOST="127.0.0.1",
        PORT=free_port(),
        DATA_DIR=data_dir / "app",
        DATABASE_URL=database.owner_url,
        DATABASE_APP_URL=database.app_url,
        PUBLIC_URL="https://portal.example.com",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mailbox.port,
        SMTP_FROM="portal@example.com",
        SMTP_TIMEOUT_SECONDS=5,
        LOGIN_IP_FAILURE_LIMIT=30,
        # Tests play several clients by sending X-Forwarded-For.
        TRUSTED_PROXY_HOPS=1,
        # The header names the read path (compiled or executed) of each answer.
        SERVER_TIMING=True,
    )


@pytest_asyncio.fixture(scope="session")
async def start_server():
    """Start more servers (other settings, or a second process-like instance)."""
    started: list[RunningServer] = []

    async def start(settings: Settings) -> RunningServer:
        running = RunningServer(settings)
        await running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


@pytest_asyncio.fixture(scope="session")
async def server(server_settings: Settings, start_server) -> RunningServer:
    return await start_server(server_settings)


@pytest_asyncio.fixture
async def clean(superuser: asyncpg.Connection, mailbox: Mailbox) -> None:
    """Empty tables (truncation, as some tests need real commits) and an empty mailbox."""
    tables = [
        row["tablename"]
        for row in await superuser.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        if row["tablename"] not in TABLES_TO_KEEP
    ]
    await superuser.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    mailbox.clear()


@pytest_asyncio.fixture(scope="session")
async def executed_server(server_settings: Settings, start_server) -> RunningServer:
    """The same app on the same database with the compiled read path off: every query a
    test sends through `api` is answered by both, and the answers must be equal."""
    settings = server_settings.model_copy(update={"PORT": free_port(), "COMPILED_READS": False})
    return await start_server(settings)


@pytest_asyncio.fixture
async def api(
    server: RunningServer, executed_server: RunningServer, clean: None
) -> AsyncIterator[Api]:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        httpx.AsyncClient(base_url=executed_server.url, timeout=30) as executed,
    ):
        yield Api(http, executed=executed)
