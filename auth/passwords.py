"""argon2id password hashing. Hashing is CPU-bound, so it runs off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from errors import BadInput

MIN_LENGTH = 10
MAX_LENGTH = 256

# OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def check_policy(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise BadInput(f"Use at least {MIN_LENGTH} characters for the password.", field=field)
    if len(password) > MAX_LENGTH:
        raise BadInput(f"Use at most {MAX_LENGTH} characters for the password.", field=field)
    if not password.strip():
        raise BadInput("The password cannot be blank.", field=field)


def _bytes(password: str) -> bytes:
    # surrogatepass: any string a client can send hashes and verifies without error
    return password.encode("utf-8", "surrogatepass")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, _bytes(password))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("no account has this password")


def _verify(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    secret = _bytes(password)
    if stored_hash is None:
        # No account: spend the same time as a real check, so timing tells nothing.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), secret)
        return False, None
    try:
        _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False, None
    if _hasher.check_needs_rehash(stored_hash):
        return True, _hasher.hash(secret)
    return True, None


async def verify_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash when the parameters changed since the stored one was made)."""
    return await asyncio.to_thread(_verify, stored_hash, password[: MAX_LENGTH * 4])
