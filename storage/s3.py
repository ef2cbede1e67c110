"""S3, or any S3-compatible store (`S3_ENDPOINT_URL`), through aiobotocore.

One client for the process: `start()` opens it, `close()` closes it (the app's lifespan).
Objects are served by presigned GET URLs straight from the store.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from starlette.routing import BaseRoute

from config import Settings
from storage import check_key


class S3Storage:
    def __init__(self, settings: Settings) -> None:
        if not settings.S3_BUCKET:
            raise ValueError("S3Storage needs S3_BUCKET")
        self.bucket = settings.S3_BUCKET
        self.ttl = settings.SIGNED_URL_TTL_SECONDS
        self._settings = settings
        self._client: Any = None
        self._stack: AsyncExitStack | None = None

    async def start(self) -> None:
        settings = self._settings
        config = AioConfig(
            signature_version="s3v4",
            # Read botocore's service models in a thread, not on the event loop.
            warm_up_loader_caches=True,
            # Path-style addressing: what S3-compatible stores (MinIO, Ceph, …) understand
            # without wildcard DNS. AWS itself picks its own style.
            s3={"addressing_style": "path" if settings.S3_ENDPOINT_URL else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        stack = AsyncExitStack()
        # Unset credentials fall through to botocore's usual chain (instance roles, …).
        self._client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=settings.S3_REGION or "us-east-1",
                endpoint_url=settings.S3_ENDPOINT_URL,
                aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
                aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
                config=config,
            )
        )
        self._stack = stack

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("S3Storage.start() has not been called")
        return self._client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.client.put_object(
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl="private",
        )

    async def delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, as the interface wants.
        await self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    async def signed_url(self, key: str, *, expires_in: int | None = None) -> str:
        return await self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key)},
            ExpiresIn=expires_in if expires_in is not None else self.ttl,
        )

    def routes(self) -> list[BaseRoute]:
        return []
