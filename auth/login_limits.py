"""Brute-force limits on sign-in, kept in PostgreSQL so they hold across server processes.

An account is locked after too many failures in the window, even for the right password,
until the oldest counted failure leaves the window; a client address has a ceiling too.
Each check and record is its own short transaction, outside the request's: a failed sign-in
rolls its mutation back, but the failure must still be counted, and seen at once by others.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta

from sqlalchemy import delete, func, insert, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from errors import RateLimited
from models import LoginFailure
from models.columns import utcnow

failures = LoginFailure.__table__


def account_key(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


class LoginLimits:
    def __init__(
        self, engine: AsyncEngine, *, account_limit: int, ip_limit: int, window_minutes: int
    ) -> None:
        self._engine = engine
        self._account_limit = account_limit
        self._ip_limit = ip_limit
        self._window = timedelta(minutes=window_minutes)

    def _nth_newest(self, column, value, n: int):  # noqa: ANN001, ANN202
        """When the n-th newest failure in the window happened (None if fewer than n)."""
        return (
            select(failures.c.failed_at)
            .where(column == value, failures.c.failed_at > func.now() - self._window)
            .order_by(failures.c.failed_at.desc())
            .offset(n - 1)
            .limit(1)
            .scalar_subquery()
        )

    async def check(self, account: bytes, ip_address: str) -> None:
        """Raise RateLimited while the account or the address is over its limit."""
        statement = select(
            self._nth_newest(failures.c.account_hash, account, self._account_limit).label("a"),
            self._nth_newest(failures.c.ip_address, ip_address, self._ip_limit).label("i"),
            literal_column("now()").label("now"),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).one()
        blocked_since = [t for t in (row.a, row.i) if t is not None]
        if blocked_since:
            until = max(blocked_since) + self._window
            raise RateLimited(max(1, math.ceil((until - row.now).total_seconds())))

    async def record_failure(self, account: bytes, ip_address: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(failures).values(account_hash=account, ip_address=ip_address)
            )
            # Keep the table small: old rows mean nothing to any limit.
            if random.random() < 0.05:
                await connection.execute(
                    delete(failures).where(failures.c.failed_at < utcnow() - self._window)
                )

    async def clear(self, account: bytes) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(failures).where(failures.c.account_hash == account))
