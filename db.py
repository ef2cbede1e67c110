"""The async engine and the per-request transaction that carries the row-level scope.

Every request gets one connection and one transaction. Before the first statement (and
again whenever the viewer changes) the scope is written with `set_config(..., true)`, so
PostgreSQL's row-level policies see exactly the viewer's business and, for a customer,
the customer. With no scope set, every tenant table reads as empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# The role the server acts as: no owner, no superuser, so row-level security applies.
# Migrations (migrations/rls.py) and the embedded bootstrap (embedded.py) use this name.
APP_ROLE = "portal_app"
log = logging.getLogger(__name__)
# Tasks started after a commit; kept referenced until done so they are not collected.
_background: set[asyncio.Task] = set()


def async_url(url: str) -> str:
    """`postgresql://…` (as users write it) → the SQLAlchemy asyncpg URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in ("postgresql", "postgres"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


def create_engine(
    url: str, *, role: str | None = None, pool_size: int = 10, pool_timeout: float = 30
) -> AsyncEngine:
    server_settings = {"application_name": "customer-portal", "jit": "off"}
    if role:
        # Connect with the owner's login but act as the app role, so row-level security
        # applies even when no separate login exists for the app.
        server_settings["role"] = role
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings},
    )


def create_app_engine(
    owner_url: str, app_url: str | None, pool_size: int = 10, pool_timeout: float = 30
) -> AsyncEngine:
    if app_url:
        return create_engine(app_url, pool_size=pool_size, pool_timeout=pool_timeout)
    return create_engine(owner_url, role=APP_ROLE, pool_size=pool_size, pool_timeout=pool_timeout)


Scope = tuple[uuid.UUID | None, uuid.UUID | None]
_SET_SCOPE = (
    "SELECT set_config('app.business_id', $1, true), set_config('app.customer_id', $2, true)"
)


class RequestTransaction:
    """One connection and transaction for one request, opened on first use.

    GraphQL resolves sibling fields concurrently; a connection runs one statement at a time,
    so statements take turns through a lock. The transaction commits when the request ends:
    a mutation that fails rolls back to its own savepoint first (see `savepoint`).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._scope: Scope = (None, None)
        self._applied_scope: Scope | None = None
        self._after_commit: dict[object, Callable[[], Awaitable[None]]] = {}
        self._after_rollback: list[Callable[[], Awaitable[None]]] = []
        # Statements this request sent (the benchmark reads it from Server-Timing).
        self.statements = 0

    def set_scope(self, business_id: uuid.UUID | None, customer_id: uuid.UUID | None) -> None:
        self._scope = (business_id, customer_id)

    @property
    def scope(self) -> Scope:
        return self._scope

    async def _ready(self) -> AsyncConnection:
        self.statements += 1
        if self._connection is None:
            self._connection = await self._engine.connect()
            await self._connection.begin()
        if self._applied_scope != self._scope:
            business_id, customer_id = self._scope
            self.statements += 1
            # One fixed statement, nothing to build or compile. Through SQLAlchemy all the
            # same: its first statement is what opens the transaction on the connection.
            await self._connection.exec_driver_sql(
                _SET_SCOPE, (str(business_id or ""), str(customer_id or ""))
            )
            self._applied_scope = self._scope
        return self._connection

    async def execute(self, statement: Executable) -> Any:
        async with self._lock:
            return await _to_the_end(self._execute(statement))

    async def _execute(self, statement: Executable) -> Any:
        connection = await self._ready()
        return await connection.execute(statement)

    async def discard(self) -> None:
        """Roll back and let go of the connection; the next statement begins anew (with
        the scope set again). For a read whose statement failed: nothing is lost."""
        async with self._lock:
            connection, self._connection = self._connection, None
            self._applied_scope = None
            if connection is not None:
                await asyncio.shield(_close_quietly(connection))

    async def fetch_row(self, sql: str, parameters: Sequence[object]) -> tuple:
        """One row of SQL text already compiled for asyncpg (the compiled read path's
        cached plans), straight through the driver: no statement to build or compile."""
        async with self._lock:
            return await _to_the_end(self._fetch_row(sql, parameters))

    async def _fetch_row(self, sql: str, parameters: Sequence[object]) -> tuple:
        connection = await self._ready()
        raw = await connection.get_raw_connection()
        return tuple(await raw.driver_connection.fetchrow(sql, *parameters))

    async def rows(self, statement: Executable) -> Sequence[Row]:
        return (await self.execute(statement)).all()

    async def first(self, statement: Executable) -> Row | None:
        return (await self.execute(statement)).first()

    async def scalar(self, statement: Executable) -> Any:
        return (await self.execute(statement)).scalar()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Everything inside happens entirely or not at all (a mutation's unit of work)."""
        async with self._lock:
            connection = await self._ready()
            nested = await connection.begin_nested()
        try:
            yield
        except BaseException:
            async with self._lock:
                await nested.rollback()
                # Rolling back also undid any scope set inside: write it again next time.
                self._applied_scope = None
            raise
        else:
            async with self._lock:
                await nested.commit()

    def after_commit(self, action: Callable[[], Awaitable[None]], *, key: object = None) -> None:
        """Run `action` in the background once this request's work is committed (mail
        whose sending must not delay or fail the response). Actions with the same `key`
        run once per request."""
        self._after_commit[key if key is not None else object()] = action

    def after_rollback(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` (awaited, before close returns) if this request's work is not
        committed after all: rolled back, or its commit failed. Undoes what lives outside
        the database (a stored photo whose row did not make it)."""
        self._after_rollback.append(action)

    async def close(self, *, commit: bool = True) -> None:
        # Shielded: a client that goes away mid-commit (a WebSocket closed, an operation
        # cancelled) must not leave the commit half-done or its follow-up work lost. Under
        # the lock: a statement of a cancelled field may still be finishing (`_to_the_end`),
        # and one waiting for the lock must not find the connection half gone.
        await asyncio.shield(self._close_locked(commit))

    async def _close_locked(self, commit: bool) -> None:
        async with self._lock:
            connection, self._connection = self._connection, None
            actions, self._after_commit = list(self._after_commit.values()), {}
            undo, self._after_rollback = self._after_rollback, []
            self._applied_scope = None
            await _finish(connection, commit, actions, undo)


async def _finish(
    connection: AsyncConnection | None,
    commit: bool,
    actions: list[Callable[[], Awaitable[None]]],
    undo: list[Callable[[], Awaitable[None]]],
) -> None:
    if connection is not None:
        try:
            if commit:
                await connection.commit()
            else:
                await connection.rollback()
        except BaseException:
            await _undo(undo)
            raise
        finally:
            await connection.close()
    if not commit:
        await _undo(undo)
        return
    for action in actions:
        task = asyncio.create_task(_run_logged(action))
        _background.add(task)
        task.add_done_callback(_background.discard)


async def _undo(actions: list[Callable[[], Awaitable[None]]]) -> None:
    for action in actions:
        await _run_logged(action)


async def _to_the_end(work: Awaitable[Any]) -> Any:
    """Await `work` even if the caller is cancelled meanwhile, then re-raise the cancel.
    GraphQL execution cancels sibling fields when one fails; a statement abandoned halfway
    would leave the connection unusable and the request's commit failing."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        # asyncio.wait never cancels what it waits for, however often we are cancelled.
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        raise


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.rollback()
    except Exception:
        log.warning("rolling back a failed read did not work", exc_info=True)
    finally:
        await connection.close()


async def drain_background(patience: float = 10.0) -> None:
    """Let work started after commits finish (at shutdown, before the engine goes)."""
    if _background:
        await asyncio.wait(set(_background), timeout=patience)


async def _run_logged(action: Callable[[], Awaitable[None]]) -> None:
    try:
        await action()
    except Exception:
        log.exception("background work after commit failed")


def violated_constraint(error: BaseException) -> str | None:
    """The name of the constraint an IntegrityError broke, if the driver says."""
    cause = getattr(error, "orig", None)
    cause = getattr(cause, "__cause__", None) or cause
    return getattr(cause, "constraint_name", None)
