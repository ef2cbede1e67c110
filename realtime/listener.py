"""One LISTEN connection per server process, shared by everyone who needs to hear
PostgreSQL's notifications (ended sessions today; subscriptions later).

Subscribers register a callback per channel. A notification is heard only while the
connection is up, and a connection can drop without warning (a database restart, a network
cut), so subscribers are also told when it goes down and when it is back (`watch`): whatever
they derived from notifications is not to be trusted across a gap. While down, the listener
reconnects with backoff; a cheap periodic round trip notices a connection that died quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
OnNotify = Callable[[str], None]
OnState = Callable[[bool], None]

# What the listener's backend is called in pg_stat_activity.
APPLICATION_NAME = "portal-listener"


def connect_as_app(owner_url: str, app_url: str | None, app_role: str) -> Connect:
    """Connect as the server's queries do (db.create_app_engine): the app's own login, or the
    owner's login acting as the app role. LISTEN needs no privilege on any table."""
    server_settings = {"application_name": APPLICATION_NAME}
    if not app_url:
        server_settings["role"] = app_role

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            app_url or owner_url, server_settings=server_settings, timeout=10
        )

    return connect


class Listener:
    def __init__(
        self,
        connect: Connect,
        *,
        check_seconds: float = 2.0,
        first_retry_seconds: float = 0.2,
        max_retry_seconds: float = 10.0,
    ) -> None:
        self._connect = connect
        self._check_seconds = check_seconds
        self.first_retry_seconds = first_retry_seconds
        self._max_retry = max_retry_seconds
        self._subscribers: dict[str, list[OnNotify]] = {}
        self._watchers: list[OnState] = []
        self._connection: asyncpg.Connection | None = None
        self._listening: set[str] = set()
        # One statement at a time on the connection: LISTENs and the health check share it.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        # Counts connections made; a subscriber can tell "the same connection" from "a new
        # one, after a gap in which notifications were lost".
        self.generation = 0

    @property
    def connected(self) -> bool:
        """True while every subscribed channel is being listened to."""
        return self._connection is not None and not self._connection.is_closed()

    async def subscribe(self, channel: str, on_notify: OnNotify) -> Callable[[], None]:
        """Call `on_notify(payload)` for each notification on `channel` from now on (once
        this returns, if connected). Returns the function that unsubscribes."""
        self._subscribers.setdefault(channel, []).append(on_notify)
        if self.connected:
            await self._sync_channels()

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(channel, [])
            with contextlib.suppress(ValueError):
                callbacks.remove(on_notify)
            if not callbacks:
                self._subscribers.pop(channel, None)
                if self.connected:
                    _keep(asyncio.create_task(self._sync_channels()))

        return unsubscribe

    def watch(self, on_state: OnState) -> Callable[[], None]:
        """Call `on_state(True)` on every (re)connection, once its channels are listened to,
        and `on_state(False)` when the connection is lost. Returns the function that stops."""
        self._watchers.append(on_state)
        return lambda: self._watchers.remove(on_state) if on_state in self._watchers else None

    async def start(self, patience: float = 5.0) -> None:
        """Connect in the background; wait up to `patience` seconds for the first connection
        (a server that starts without one works, uncached, until it connects)."""
        first = asyncio.Event()
        stop_waiting = self.watch(lambda connected: connected and first.set())
        self._task = asyncio.create_task(self._run(), name="portal-listener")
        try:
            await asyncio.wait_for(first.wait(), patience)
        except TimeoutError:
            log.warning("listener: not connected yet; carrying on without it")
        finally:
            stop_waiting()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        retry = self.first_retry_seconds
        while True:
            was_up = False
            try:
                connection = await self._connect()
            except Exception as error:
                log.warning("listener: cannot connect (%s)", error)
            else:
                try:
                    await self._serve(connection)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
                    raise
                except Exception as error:
                    log.warning("listener: connection lost (%s)", error)
                finally:
                    was_up = self._connection is not None
                    self._connection = None
                    self._listening.clear()
                    if not connection.is_closed():
                        connection.terminate()
                    if was_up:
                        self._tell(False)
            # Straight back after a working connection drops; slower and slower while the
            # database stays away.
            retry = self.first_retry_seconds if was_up else min(retry * 2, self._max_retry)
            await asyncio.sleep(retry)

    async def _serve(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        async with self._lock:
            for channel in list(self._subscribers):
                await connection.add_listener(channel, self._dispatch)
                self._listening.add(channel)
        self._connection = connection
        self.generation += 1
        if self.generation > 1:
            log.info("listener: reconnected")
        self._tell(True)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._check_seconds)
                continue
            # A connection cut without a word (no FIN) looks alive until something is sent.
            async with self._lock:
                await connection.fetchval("SELECT 1", timeout=self._check_seconds)
        raise ConnectionError("the connection was closed")

    async def _sync_channels(self) -> None:
        async with self._lock:
            connection = self._connection
            if connection is None:
                return  # the next connection listens to whatever is subscribed then
            try:
                for channel in set(self._subscribers) - self._listening:
                    await connection.add_listener(channel, self._dispatch)
                    self._listening.add(channel)
                for channel in self._listening - set(self._subscribers):
                    await connection.remove_listener(channel, self._dispatch)
                    self._listening.discard(channel)
            except Exception:  # the run loop notices and reconnects
                log.warning("listener: could not change channels", exc_info=True)
                if not connection.is_closed():
                    connection.terminate()

    def _dispatch(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        for on_notify in list(self._subscribers.get(channel, ())):
            try:
                on_notify(payload)
            except Exception:
                log.exception("listener: a subscriber of %s failed", channel)

    def _tell(self, connected: bool) -> None:
        for on_state in list(self._watchers):
            try:
                on_state(connected)
            except Exception:
                log.exception("listener: a watcher failed")


_tasks: set[asyncio.Task] = set()


def _keep(task: asyncio.Task) -> None:
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
