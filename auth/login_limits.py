"""Brute-force limits on sign-in, kept in PostgreSQL so they hold across server processes.

An account is locked after too many failures in the window, even for the right password,
until the oldest counted failure leaves the window; a client address has a ceiling too.

Every attempt first reserves its place: under advisory locks on its account and on its
address (always in that order, so they cannot deadlock) it checks the limits and records
itself as a failure, in one short transaction. Parallel attempts thus queue on the locks and
each sees all the others, so no burst slips past either limit. An
attempt that then proves right removes its record (and the account's earlier failures).
The limits use their own small pool: an attempt never waits for the connection pool its
own request already holds one of.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta

from sqlalchemy import delete, func, insert, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from errors import RateLimited
from models import LoginFailure
from models.columns import utcnow

failures = LoginFailure.__table__


def account_key(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()


def _lock_key(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "big", signed=True)


LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired


def _sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE of what PostgreSQL answered; None when it did not answer at all."""
    driver_error = getattr(error.orig, "__cause__", None) or error.orig
    return getattr(driver_error, "sqlstate", None)


class LoginLimits:
    def __init__(
        self, engine: AsyncEngine, *, account_limit: int, ip_limit: int, window_minutes: int
    ) -> None:
        self._engine = engine
        self._account_limit = account_limit
        self._ip_limit = ip_limit
        self._window = timedelta(minutes=window_minutes)

    def _nth_newest(self, column, value, n: int):
        """When the n-th newest failure in the window happened (None if fewer than n)."""
        return (
            select(failures.c.failed_at)
            .where(column == value, failures.c.failed_at > func.now() - self._window)
            .order_by(failures.c.failed_at.desc())
            .offset(n - 1)
            .limit(1)
            .scalar_subquery()
        )

    async def reserve(self, account: bytes, ip_address: str) -> int:
        """Raise RateLimited while the account or the address is over its limit; otherwise
        count this attempt as a failure (until `succeeded`) and return its record's id."""
        locks = [_lock_key(account), _lock_key(account_key("address", ip_address))]
        limits = select(
            self._nth_newest(failures.c.account_hash, account, self._account_limit).label("a"),
            self._nth_newest(failures.c.ip_address, ip_address, self._ip_limit).label("i"),
            literal_column("now()").label("now"),
        )
        try:
            return await self._reserve(locks, limits, account, ip_address)
        except SQLAlchemyTimeoutError:
            # The limiter's few connections are all taken and queued for: a flood. Refuse
            # rather than let the attempt through unchecked.
            raise RateLimited(1) from None
        except DBAPIError as error:
            if _sqlstate(error) != LOCK_NOT_AVAILABLE:
                raise  # the database is down or failing: an internal error, not a lockout
            # The account's or the address's lock is queued for (lock_timeout): a flood.
            raise RateLimited(1) from None

    async def _reserve(self, locks: list[int], limits, account: bytes, ip_address: str) -> int:
        async with self._engine.begin() as connection:
            await connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            for key in locks:
                await connection.execute(select(func.pg_advisory_xact_lock(key)))
            row = (await connection.execute(limits)).one()
            blocked_since = [t for t in (row.a, row.i) if t is not None]
            if blocked_since:
                until = max(blocked_since) + self._window
                raise RateLimited(max(1, math.ceil((until - row.now).total_seconds())))
            attempt = await connection.scalar(
                insert(failures)
                .values(account_hash=account, ip_address=ip_address)
                .returning(failures.c.id)
            )
            # Keep the table small: old rows mean nothing to any limit.
            if random.random() < 0.02:
                await connection.execute(
                    delete(failures).where(failures.c.failed_at < utcnow() - self._window)
                )
        return attempt

    async def succeeded(self, account: bytes) -> None:
        """The right password: the account starts afresh (its reserved attempt included)."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(failures).where(failures.c.account_hash == account))

    async def dispose(self) -> None:
        await self._engine.dispose()
