"""Files under DATA_DIR/files/, served by this app at `/files/<key>?expires=…&signature=…`.

The signature is an HMAC (SECRET_KEY) over the key and the expiry, so a URL works for the
object it was made for until it expires, and for nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from config import Settings
from storage import check_key, content_type_of
from storage.secret_key import secret_key

ROUTE_PREFIX = "/files"


class LocalStorage:
    def __init__(self, settings: Settings, *, secret: bytes | None = None) -> None:
        self.root = (settings.DATA_DIR / "files").resolve()
        self.base_url = settings.public_url + ROUTE_PREFIX
        self.ttl = settings.SIGNED_URL_TTL_SECONDS
        self._secret = secret if secret is not None else secret_key(settings)

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        pass

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path_of(key), data)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)

    async def signed_url(self, key: str, *, expires_in: int | None = None) -> str:
        check_key(key)
        expires = int(time.time()) + (expires_in if expires_in is not None else self.ttl)
        signature = self.sign(key, expires)
        return f"{self.base_url}/{quote(key)}?expires={expires}&signature={signature}"

    def routes(self) -> list[BaseRoute]:
        return [Route(ROUTE_PREFIX + "/{key:path}", self.serve, methods=["GET", "HEAD"])]

    def sign(self, key: str, expires: int) -> str:
        message = f"files\n{key}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path_of(self, key: str) -> Path:
        path = self.root / check_key(key)
        # check_key already forbids `..` and absolute keys; this also catches a symlink
        # planted inside the tree.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"not a storage key: {key!r}")
        return path

    async def serve(self, request: Request) -> Response:
        """403 for a URL that was not signed here or has expired; 404 when the signed
        object is gone (deleted)."""
        key = request.path_params["key"]
        try:
            expires = int(request.query_params["expires"])
            given = request.query_params["signature"]
        except (KeyError, ValueError):
            return PlainTextResponse("Forbidden", status_code=403)
        if not secrets.compare_digest(given.encode(), self.sign(key, expires).encode()):
            return PlainTextResponse("Forbidden", status_code=403)
        remaining = expires - int(time.time())
        if remaining <= 0:
            return PlainTextResponse("This link has expired", status_code=403)
        try:
            path = self.path_of(key)
            stat = await asyncio.to_thread(os.stat, path)
        except (ValueError, OSError):
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(
            path,
            stat_result=stat,
            media_type=content_type_of(key),
            headers={
                "Cache-Control": f"private, max-age={remaining}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Written beside its final place and renamed: a reader sees the whole file or none."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
        try:
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
