"""A real S3 endpoint for tests: moto's server mode on a free loopback port.

Import the fixtures into a test module explicitly:

    from tests.s3_server import s3_endpoint, s3_storage  # noqa: F401

(or call `started_s3_storage` with the `s3_endpoint` URL).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer

from config import Settings
from storage.s3 import S3Storage


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, data_dir: Path, bucket: str, **overrides: object) -> Settings:
    return Settings(
        DATA_DIR=data_dir,
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=endpoint,
        S3_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        **overrides,
    )


async def started_s3_storage(endpoint: str, data_dir: Path) -> S3Storage:
    """A started S3Storage over a fresh, empty bucket; close() it when done."""
    storage = S3Storage(s3_settings(endpoint, data_dir, f"photos-{secrets.token_hex(6)}"))
    await storage.start()
    await storage.client.create_bucket(Bucket=storage.bucket)
    return storage


@pytest_asyncio.fixture
async def s3_storage(s3_endpoint: str, tmp_path: Path) -> AsyncIterator[S3Storage]:
    storage = await started_s3_storage(s3_endpoint, tmp_path)
    yield storage
    await storage.close()
