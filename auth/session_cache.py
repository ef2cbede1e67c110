"""Signed-in sessions remembered for a few seconds, so that most requests authenticate
without a round trip to the database.

An entry is keyed by the token's digest and lives `seconds` at most, never past its
session's own expiry. It goes as soon as its session ends: `sessions.end_sessions` NOTIFYs
every server process (realtime/listener.py hands the payload to `sessions_ended`), and the
process that ended it also forgets at once after its commit (`forget_after_commit`).
A notification is only heard while the listener is connected, so while it is not, the
cache is not trusted — nothing is read from it or stored in it — and it starts empty again
on every reconnection: a lost notification cannot keep an ended session alive.

Unknown tokens are never remembered: a token is looked up again until it works.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from auth import tokens
from auth.principal import Principal
from db import RequestTransaction

if TYPE_CHECKING:  # sessions imports this module (to forget what it ends)
    from auth.sessions import LiveSession

Lookup = Callable[[RequestTransaction, str], Awaitable["LiveSession | None"]]


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    session_id: uuid.UUID
    until: float  # time.monotonic() deadline


class SessionCache:
    """`lookup` reads a token's live session from the database (`sessions.live_session`).
    `listening()` says whether ended sessions are being heard of right now (the listener's
    `connected`); the cache is only used while it is true."""

    def __init__(
        self,
        seconds: float,
        lookup: Lookup,
        *,
        listening: Callable[[], bool] = lambda: False,
        max_entries: int = 10_000,
    ) -> None:
        self.seconds = seconds
        self._lookup = lookup
        self.max_entries = max_entries
        self._listening = listening
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._by_session: dict[uuid.UUID, bytes] = {}
        # Changes whenever a session may have ended. A lookup that began before a change
        # may have read a session that is gone by now: its result is not remembered.
        self._version = 0
        _caches.add(self)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    @property
    def trusted(self) -> bool:
        return self.enabled and self._listening()

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, tx: RequestTransaction, token: str) -> Principal | None:
        """The token's viewer, from memory when possible, else from the database."""
        key = tokens.digest(token)
        principal = self.get(key)
        if principal is not None:
            return principal
        since = self._version
        live = await self._lookup(tx, token)
        if live is None:
            return None
        self.remember(key, live.principal, live.expires_at, since=since)
        return live.principal

    def get(self, key: bytes) -> Principal | None:
        if not self.trusted:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.principal

    @property
    def version(self) -> int:
        return self._version

    def remember(
        self, key: bytes, principal: Principal, expires_at: datetime, *, since: int
    ) -> None:
        """Keep a session read from the database, unless something may have ended since the
        read began (`since`, from `version`) or the listener is not connected."""
        if not self.trusted or since != self._version or principal.session_id is None:
            return
        left = (expires_at - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return
        self._drop(key)
        previous = self._by_session.get(principal.session_id)
        if previous is not None:
            self._drop(previous)
        self._entries[key] = _Entry(
            principal, principal.session_id, time.monotonic() + min(self.seconds, left)
        )
        self._by_session[principal.session_id] = key
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def forget(self, session_ids: list[uuid.UUID]) -> None:
        self._version += 1
        for session_id in session_ids:
            key = self._by_session.get(session_id)
            if key is not None:
                self._drop(key)

    def sessions_ended(self, payload: str) -> None:
        """A `portal_sessions_ended` notification: comma-separated session ids."""
        try:
            ended = [uuid.UUID(part) for part in payload.split(",") if part.strip()]
        except ValueError:
            self.clear()  # cannot tell which (a payload cut at its size limit): all
            return
        self.forget(ended)

    def listener_state(self, connected: bool) -> None:
        """Lost, or back after a gap in which notifications may have been missed: start
        afresh either way."""
        self.clear()

    def clear(self) -> None:
        self._version += 1
        self._entries.clear()
        self._by_session.clear()

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and self._by_session.get(entry.session_id) == key:
            del self._by_session[entry.session_id]


# Every cache of this process (tests run several apps in one process).
_caches: weakref.WeakSet[SessionCache] = weakref.WeakSet()


def forget_after_commit(tx: RequestTransaction, session_ids: list[uuid.UUID]) -> None:
    """Sessions ended by `tx`: once it commits, this process forgets them without waiting
    for its own notification (which a client's very next request might outrun)."""

    async def forget() -> None:
        for cache in list(_caches):
            cache.forget(session_ids)

    tx.after_commit(forget)
