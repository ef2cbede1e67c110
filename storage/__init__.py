"""Stored files (job photos, later documents) behind one small interface.

Two backends: S3 or any S3-compatible store when `S3_BUCKET` is set (storage/s3.py), and
otherwise files under `DATA_DIR/files/` served by HMAC-signed URLs (storage/local.py).
Objects are only ever handed out as signed, expiring URLs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.routing import BaseRoute

from config import Settings

log = logging.getLogger(__name__)

# Keys are made by `new_key`; anything else is refused, so a key can never climb out of
# DATA_DIR/files or surprise an S3 console: plain segments of safe characters.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,15}")

# What a served object is, by the extension of its key (the same on every machine,
# unlike the `mimetypes` tables).
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "pdf": "application/pdf",
}


class Storage(Protocol):
    async def start(self) -> None:
        """Open connections (the app's lifespan calls it once)."""

    async def close(self) -> None:
        """Close them again."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there."""

    async def delete(self, key: str) -> None:
        """Remove the object; a key that is already gone is fine."""

    async def signed_url(self, key: str, *, expires_in: int | None = None) -> str:
        """A GET URL for the object that stops working after `expires_in` seconds
        (default `SIGNED_URL_TTL_SECONDS`)."""

    def routes(self) -> list[BaseRoute]:
        """Routes the app must mount to serve the signed URLs (none for S3)."""


def create_storage(settings: Settings) -> Storage:
    if settings.S3_BUCKET:
        from storage.s3 import S3Storage

        return S3Storage(settings)
    from storage.local import LocalStorage

    return LocalStorage(settings)


def new_key(business_id: object, job_id: object, extension: str) -> str:
    """`businesses/<business>/jobs/<job>/<random>.<extension>`: the random part makes keys
    unguessable and never reused, so a deleted photo's key cannot come back."""
    key = f"businesses/{business_id}/jobs/{job_id}/{secrets.token_urlsafe(18)}.{extension}"
    check_key(key)
    return key


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or any(part in {".", ".."} for part in key.split("/")):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(key.rpartition(".")[2].lower(), "application/octet-stream")


class PutUndoneOnFailure:
    """Puts objects and remembers them, so `undo_on_failure` can delete them again."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.keys: list[str] = []

    async def __call__(self, key: str, data: bytes, content_type: str) -> None:
        # Remembered before the put: a put that fails halfway may still leave an object.
        self.keys.append(check_key(key))
        await self._storage.put(key, data, content_type)


@asynccontextmanager
async def undo_on_failure(storage: Storage) -> AsyncIterator[PutUndoneOnFailure]:
    """Objects put through the yielded callable are deleted again when the block fails
    (an exception, a cancellation), so a failed upload leaves no orphan behind:

        async with undo_on_failure(storage) as put:
            await put(display_key, photo.display, photo.content_type)
            await put(thumbnail_key, photo.thumbnail, photo.content_type)
            session.add(Photo(...)); await session.flush()

    Keep the block open over everything that can still fail, the flush included.
    """
    put = PutUndoneOnFailure(storage)
    try:
        yield put
    except BaseException:
        # Shielded: a second cancellation must not stop the clean-up halfway.
        await asyncio.shield(_delete_all(storage, put.keys))
        raise


async def _delete_all(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.exception("could not delete %s after a failed upload; it is orphaned", key)
