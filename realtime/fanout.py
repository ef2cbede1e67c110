"""Fan-out: realtime events to this process's WebSocket subscriptions, and sockets closed
when their sessions end.

Events arrive as NOTIFY payloads of ids (realtime/listener.py, the process's one LISTEN
connection; migration 0007's triggers send them on commit). Nothing here knows GraphQL:
subscribers are grouped by *audience* — the row-level scope they read under, a business
and, for a customer, the customer — and by what they asked (document and variables), and
`render` is called once per audience for a batch of events, loading and authorizing them
in one short transaction and serializing each (group, event) once. Every socket of a group
then gets the very same text, wrapped in its own operation id. That is the whole point:
Strawberry's subscriptions run an async generator per socket, so one event is loaded,
resolved and serialized once per socket (p99 651 ms at 1,000 sockets on this machine kind).

Each socket sends through an `Outbox`: a bounded queue drained by a task that exists only
while frames wait. A client too slow to keep up overflows it and is dropped, so no client
can grow the server's memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

# The one channel every event travels on (written out in migration 0007 too).
CHANNEL = "portal_realtime"
# Close codes: the session ended or expired; the client could not keep up.
SESSION_ENDED = 4403
TOO_SLOW = 1013


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "message" | "job_status"
    id: uuid.UUID
    business_id: uuid.UUID
    customer_id: uuid.UUID
    job_id: uuid.UUID | None


def parse_event(payload: str) -> Event | None:
    try:
        raw = json.loads(payload)
        job = raw.get("job")
        return Event(
            kind=str(raw["kind"]),
            id=uuid.UUID(raw["id"]),
            business_id=uuid.UUID(raw["business"]),
            customer_id=uuid.UUID(raw["customer"]),
            job_id=uuid.UUID(job) if job else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("realtime: an event that cannot be read: %.200r", payload)
        return None


class Outbox:
    """A socket's outgoing frames, in order, at most `limit` waiting."""

    __slots__ = ("_send", "_overflow", "_limit", "_queue", "_task", "closed")

    def __init__(
        self, send: Callable[[str], Awaitable[None]], overflow: Callable[[], None], limit: int
    ) -> None:
        self._send = send
        self._overflow = overflow
        self._limit = limit
        self._queue: deque[str] = deque()
        self._task: asyncio.Task | None = None
        self.closed = False

    def put(self, frame: str) -> None:
        if self.closed:
            return
        if self._task is not None:
            if len(self._queue) >= self._limit:
                self.closed = True
                self._queue.clear()
                self._overflow()
                return
            self._queue.append(frame)
            return
        # Nothing waiting: send now. A healthy socket's send completes without suspending
        # (the server only buffers it), so most frames cost no task at all; one that must
        # wait (the client is not reading) continues in a task, and what follows queues.
        coroutine = self._send(frame)
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            self.closed = True
            return
        self._task = asyncio.ensure_future(self._drain(coroutine, yielded))

    async def _drain(self, coroutine: Coroutine[Any, Any, None], yielded: Any) -> None:
        try:
            await _rest(coroutine, yielded)
            while self._queue and not self.closed:
                await self._send(self._queue.popleft())
        except Exception:  # the socket is gone; its handler cleans up
            self.closed = True
            self._queue.clear()
        finally:
            self._task = None

    def close(self) -> None:
        self.closed = True
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()


async def _rest(coroutine: Coroutine[Any, Any, None], yielded: Any) -> None:
    """Drive a coroutine that was started by hand (`coroutine.send(None)`, Python 3.12's
    eager tasks done by hand) and suspended on `yielded` (a future, or None for a bare
    yield) to its end, as a task would have."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await yielded
        except BaseException as error:
            try:
                yielded = coroutine.throw(error)
            except StopIteration:
                return
            continue
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return


@dataclass(eq=False)
class Socket:
    """One acknowledged WebSocket: its viewer (a Principal), its session's expiry, how to
    send and close, and its subscriptions by operation id."""

    principal: Any
    expires_at: datetime | None
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    keepalive: str  # the protocol's ping frame
    check: Callable[[], Awaitable[datetime | None]]  # the session's expiry now, None if ended
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    outbox: Outbox | None = None
    timer: asyncio.TimerHandle | None = None
    closing: bool = False

    @property
    def audience(self) -> tuple[uuid.UUID, uuid.UUID | None]:
        return (self.principal.business_id, self.principal.customer_id)


@dataclass(eq=False)
class Subscription:
    socket: Socket
    operation_id: str
    kind: str
    matches: Callable[[Event], bool]
    # Subscriptions of one audience with the same group get the same payload: the group is
    # (document, operation name, variables). `spec` is what `render` needs to make it.
    group: Hashable
    spec: Any
    frame: Callable[[str], str]  # the payload's JSON → this protocol's frame for this id


# (principal, events, {(group, event id): spec}) → {(group, event id): payload JSON}: each
# event once per group that wants it; an event the audience may not see (or that no
# longer exists) has no entry.
Render = Callable[[Any, list[Event], dict[tuple, Any]], Awaitable[dict[tuple, str]]]
Delivered = Callable[[Any, list[Event]], None]


class Fanout:
    def __init__(
        self,
        render: Render,
        *,
        queue_limit: int = 100,
        keepalive_seconds: float = 15.0,
        delivered: Delivered | None = None,
        concurrency: int = 4,
    ) -> None:
        self._render = render
        self._queue_limit = queue_limit
        self._keepalive_seconds = keepalive_seconds
        self._delivered = delivered
        self._slots = asyncio.Semaphore(concurrency)
        self._sockets: set[Socket] = set()
        self._by_session: dict[uuid.UUID, set[Socket]] = {}
        self._by_business: dict[uuid.UUID, set[Subscription]] = {}
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self._heard = True
        # Counters for tests and the benchmark.
        self.renders = 0
        self.frames = 0

    # -- sockets and subscriptions --------------------------------------------------------

    def attach(self, socket: Socket) -> None:
        socket.outbox = Outbox(
            socket.send, lambda: self._close(socket, TOO_SLOW, "Too slow"), self._queue_limit
        )
        self._sockets.add(socket)
        session = socket.principal.session_id
        if session is not None:
            self._by_session.setdefault(session, set()).add(socket)
        self._schedule_expiry(socket)

    def detach(self, socket: Socket) -> None:
        for subscription in list(socket.subscriptions.values()):
            self.remove(subscription)
        self._sockets.discard(socket)
        session = socket.principal.session_id
        sockets = self._by_session.get(session)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_session[session]
        if socket.timer is not None:
            socket.timer.cancel()
        if socket.outbox is not None:
            socket.outbox.close()

    def add(self, subscription: Subscription) -> None:
        socket = subscription.socket
        socket.subscriptions[subscription.operation_id] = subscription
        self._by_business.setdefault(socket.principal.business_id, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        socket = subscription.socket
        if socket.subscriptions.get(subscription.operation_id) is subscription:
            del socket.subscriptions[subscription.operation_id]
        subscriptions = self._by_business.get(socket.principal.business_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._by_business[socket.principal.business_id]

    @property
    def sockets(self) -> int:
        return len(self._sockets)

    # -- what the listener hands over -----------------------------------------------------

    def notify(self, payload: str) -> None:
        """A `portal_realtime` notification: queue the event for the delivery task."""
        event = parse_event(payload)
        if event is not None and event.business_id in self._by_business:
            self._pending.append(event)
            self._wake.set()

    def sessions_ended(self, payload: str) -> None:
        """A `portal_sessions_ended` notification: close those sessions' sockets."""
        try:
            ended = [uuid.UUID(part) for part in payload.split(",") if part.strip()]
        except ValueError:
            self._recheck_all()  # cannot tell which (a payload cut at its size limit)
            return
        for session in ended:
            for socket in list(self._by_session.get(session, ())):
                self._close(socket, SESSION_ENDED, "Session ended")

    def listener_state(self, connected: bool) -> None:
        """After a gap, sessions may have ended unheard: check every socket's again."""
        if connected and not self._heard:
            self._recheck_all()
        self._heard = connected

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._deliver_forever(), name="realtime-fanout"),
            asyncio.create_task(self._keep_alive(), name="realtime-keepalive"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _deliver_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            try:
                await self.deliver(batch)
            except Exception:
                log.exception("realtime: delivering %d events failed", len(batch))

    async def deliver(self, batch: list[Event]) -> None:
        """Render each audience's events once and hand the frames to the sockets."""
        work: dict[tuple, _Audience] = {}
        for event in batch:
            for subscription in self._by_business.get(event.business_id, ()):
                socket = subscription.socket
                customer = socket.principal.customer_id
                if subscription.kind != event.kind or socket.closing:
                    continue
                if customer is not None and customer != event.customer_id:
                    continue
                if not subscription.matches(event):
                    continue
                audience = work.get(socket.audience)
                if audience is None:
                    audience = work[socket.audience] = _Audience(socket.principal)
                audience.add(event, subscription)
        if not work:
            return
        results = await asyncio.gather(*(self._render_one(a) for a in work.values()))
        for audience, rendered in zip(work.values(), results, strict=True):
            sent: list[Event] = []
            for event in audience.events:
                hit = False
                for group, subscriptions in audience.targets.get(event.id, {}).items():
                    payload = rendered.get((group, event.id))
                    if payload is None:
                        continue
                    hit = True
                    for subscription in subscriptions:
                        outbox = subscription.socket.outbox
                        if outbox is not None:
                            outbox.put(subscription.frame(payload))
                            self.frames += 1
                if hit:
                    sent.append(event)
            if sent and self._delivered is not None:
                try:
                    self._delivered(audience.principal, sent)
                except Exception:
                    log.exception("realtime: the delivery hook failed")

    async def _render_one(self, audience: _Audience) -> dict[tuple, str]:
        async with self._slots:
            self.renders += 1
            try:
                return await self._render(audience.principal, audience.events, audience.wanted)
            except Exception:
                log.exception("realtime: rendering events failed")
                return {}

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            for socket in list(self._sockets):
                if socket.outbox is not None:
                    socket.outbox.put(socket.keepalive)

    # -- sessions -------------------------------------------------------------------------

    def _schedule_expiry(self, socket: Socket) -> None:
        if socket.expires_at is None:
            return
        delay = max((socket.expires_at - datetime.now(UTC)).total_seconds(), 0)
        loop = asyncio.get_running_loop()
        socket.timer = loop.call_later(delay, lambda: self._spawn(self._recheck(socket)))

    def _recheck_all(self) -> None:
        for socket in list(self._sockets):
            self._spawn(self._recheck(socket))

    async def _recheck(self, socket: Socket) -> None:
        if socket.closing:
            return
        try:
            until = await socket.check()
        except Exception:
            log.warning("realtime: could not check a socket's session", exc_info=True)
            return  # the next reconnection or expiry checks again
        if until is None or until <= datetime.now(UTC):
            self._close(socket, SESSION_ENDED, "Session ended")
        elif socket in self._sockets:
            socket.expires_at = until
            self._schedule_expiry(socket)

    def _close(self, socket: Socket, code: int, reason: str) -> None:
        if socket.closing:
            return
        socket.closing = True
        self.detach(socket)
        self._spawn(socket.close(code, reason))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.debug("realtime: background work failed", exc_info=True)

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class _Audience:
    """One audience's share of a batch: its events in order, and who wants which."""

    __slots__ = ("principal", "events", "wanted", "targets", "_seen")

    def __init__(self, principal: Any) -> None:
        self.principal = principal
        self.events: list[Event] = []
        self.wanted: dict[tuple, Any] = {}
        self.targets: dict[uuid.UUID, dict[Hashable, list[Subscription]]] = {}
        self._seen: set[uuid.UUID] = set()

    def add(self, event: Event, subscription: Subscription) -> None:
        if event.id not in self._seen:
            self._seen.add(event.id)
            self.events.append(event)
        self.wanted[(subscription.group, event.id)] = subscription.spec
        by_group = self.targets.setdefault(event.id, {})
        by_group.setdefault(subscription.group, []).append(subscription)
