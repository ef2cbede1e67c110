"""Bearer and emailed tokens: random, shown once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, bytes]:
    """256 random bits, URL-safe; returns (token to hand out, digest to store)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> bytes:
    # surrogatepass: whatever a client sends hashes (to nothing that matches) without error
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
