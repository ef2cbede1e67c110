"""storage/: both backends through the one interface, each URL fetched over HTTP.

Local files are served by the app's own route (Starlette, in process); S3 is moto's server
on loopback, reached through aiobotocore and plain HTTP like a browser would.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from config import Settings
from storage import Storage, create_storage, new_key, undo_on_failure
from storage.local import LocalStorage
from storage.s3 import S3Storage
from storage.secret_key import secret_key
from tests.s3_server import s3_endpoint, s3_settings, started_s3_storage  # noqa: F401

PUBLIC_URL = "http://portal.test"
SECRET = "k" * 40


def local_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        **{"DATA_DIR": data_dir, "PUBLIC_URL": PUBLIC_URL, "SECRET_KEY": SECRET, **overrides}
    )


@dataclass
class Backend:
    name: str
    storage: Storage
    http: httpx.AsyncClient


@pytest_asyncio.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        storage = LocalStorage(local_settings(tmp_path))
        await storage.start()
        app = Starlette(routes=storage.routes())
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    else:
        # A plain fixture, so it can be asked for here; moto starts only when S3 runs.
        storage = await started_s3_storage(request.getfixturevalue("s3_endpoint"), tmp_path)
        http = httpx.AsyncClient()
    async with http:
        yield Backend(request.param, storage, http)
    await storage.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(local_settings(tmp_path))


@pytest_asyncio.fixture
async def local_http(local: LocalStorage) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=local.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        yield http


KEY = "businesses/b1/jobs/j1/abc.jpg"
JPEG_BYTES = b"\xff\xd8\xff\xe0 not really a jpeg, storage does not care"


# --- both backends ---------------------------------------------------------------------


async def test_a_put_object_is_served_by_its_signed_url(backend: Backend) -> None:
    # given
    await backend.storage.put(KEY, JPEG_BYTES, "image/jpeg")

    # when
    response = await backend.http.get(await backend.storage.signed_url(KEY))

    # then
    assert response.status_code == 200
    assert response.content == JPEG_BYTES
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("private")


async def test_a_deleted_object_is_404_and_deleting_again_is_fine(backend: Backend) -> None:
    # given
    await backend.storage.put(KEY, JPEG_BYTES, "image/jpeg")
    url = await backend.storage.signed_url(KEY)

    # when
    await backend.storage.delete(KEY)
    await backend.storage.delete(KEY)

    # then
    assert (await backend.http.get(url)).status_code == 404


async def test_put_replaces_what_was_there(backend: Backend) -> None:
    await backend.storage.put(KEY, b"first", "image/jpeg")
    await backend.storage.put(KEY, b"second", "image/jpeg")

    response = await backend.http.get(await backend.storage.signed_url(KEY))

    assert response.content == b"second"


async def test_signed_urls_expire_after_the_configured_ttl_by_default(backend: Backend) -> None:
    before = int(time.time())

    query = parse_qs(urlsplit(await backend.storage.signed_url(KEY)).query)

    if backend.name == "s3":
        assert query["X-Amz-Expires"] == ["900"]
        assert query["X-Amz-Signature"]
    else:
        assert before + 900 <= int(query["expires"][0]) <= int(time.time()) + 900
        assert query["signature"]


async def test_a_failed_block_deletes_what_it_put(backend: Backend) -> None:
    # given
    keys = [new_key("b1", "j1", "jpg"), new_key("b1", "j1", "jpg")]

    # when
    with pytest.raises(RuntimeError, match="the row could not be written"):
        async with undo_on_failure(backend.storage) as put:
            for key in keys:
                await put(key, JPEG_BYTES, "image/jpeg")
            raise RuntimeError("the row could not be written")

    # then
    for key in keys:
        assert (await backend.http.get(await backend.storage.signed_url(key))).status_code == 404


async def test_a_cancelled_block_deletes_what_it_put(backend: Backend) -> None:
    # given: an upload that has stored its object and is waiting on something else
    key = new_key("b1", "j1", "jpg")
    stored = asyncio.Event()

    async def upload() -> None:
        async with undo_on_failure(backend.storage) as put:
            await put(key, JPEG_BYTES, "image/jpeg")
            stored.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(upload())
    await stored.wait()

    # when: the client goes away
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # then
    assert (await backend.http.get(await backend.storage.signed_url(key))).status_code == 404


async def test_a_successful_block_keeps_what_it_put(backend: Backend) -> None:
    key = new_key("b1", "j1", "jpg")

    async with undo_on_failure(backend.storage) as put:
        await put(key, JPEG_BYTES, "image/jpeg")

    assert (await backend.http.get(await backend.storage.signed_url(key))).status_code == 200


async def test_keys_that_could_escape_are_refused(backend: Backend) -> None:
    for key in ["../secret_key", "/etc/passwd", "a/../../b", "a//b", ".hidden", "a/./b", ""]:
        with pytest.raises(ValueError, match="not a storage key"):
            await backend.storage.put(key, b"x", "text/plain")
        with pytest.raises(ValueError, match="not a storage key"):
            await backend.storage.signed_url(key)


# --- keys and backend choice -------------------------------------------------------------


def test_keys_carry_business_job_and_a_random_part() -> None:
    business, job = "4f9c1e2a-0000-4000-8000-000000000001", "9a7d-job"

    first, second = new_key(business, job, "webp"), new_key(business, job, "webp")

    assert first.startswith(f"businesses/{business}/jobs/{job}/")
    assert first.endswith(".webp")
    assert first != second
    assert len(first.rsplit("/", 1)[1]) >= 20


def test_the_backend_follows_s3_bucket(tmp_path: Path) -> None:
    assert isinstance(create_storage(local_settings(tmp_path)), LocalStorage)
    assert isinstance(create_storage(s3_settings("http://127.0.0.1:9", tmp_path, "b")), S3Storage)


# --- local signed URLs ---------------------------------------------------------------------


async def test_local_urls_have_the_documented_shape(local: LocalStorage) -> None:
    url = await local.signed_url(KEY)

    assert url.startswith(f"{PUBLIC_URL}/files/{KEY}?expires=")
    assert "&signature=" in url


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: url.replace("signature=", "signature=A"), id="signature"),
        pytest.param(lambda url: url.replace("expires=", "expires=9"), id="expiry"),
        pytest.param(lambda url: url.replace("/abc.jpg", "/other.jpg"), id="key"),
        pytest.param(lambda url: url.split("&signature=")[0], id="no-signature"),
        pytest.param(lambda url: url.split("?")[0], id="no-query"),
    ],
)
async def test_a_tampered_local_url_is_403(
    local: LocalStorage, local_http: httpx.AsyncClient, tamper
) -> None:
    # given: both objects exist, so only the signature can tell them apart
    await local.put(KEY, JPEG_BYTES, "image/jpeg")
    await local.put(KEY.replace("abc", "other"), b"someone else's", "image/jpeg")

    # when
    response = await local_http.get(tamper(await local.signed_url(KEY)))

    # then
    assert response.status_code == 403
    assert JPEG_BYTES not in response.content


async def test_an_expired_local_url_is_403(
    local: LocalStorage, local_http: httpx.AsyncClient
) -> None:
    await local.put(KEY, JPEG_BYTES, "image/jpeg")

    response = await local_http.get(await local.signed_url(KEY, expires_in=-1))

    assert response.status_code == 403


async def test_a_url_signed_with_another_secret_is_403(
    local: LocalStorage, local_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await local.put(KEY, JPEG_BYTES, "image/jpeg")
    other = LocalStorage(local_settings(tmp_path, SECRET_KEY="o" * 40))

    response = await local_http.get(await other.signed_url(KEY))

    assert response.status_code == 403


async def test_the_local_route_never_leaves_the_files_directory(
    local: LocalStorage, local_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    # given: a file beside DATA_DIR/files, and URLs correctly signed for paths that lead
    # there (percent-encoded, so the client does not normalise the dots away)
    (tmp_path / "secret_key").write_text("do not serve me")
    for path in ["%2e%2e/secret_key", "a/%2E%2E/%2E%2E/secret_key", "a/..%2f..%2fsecret_key"]:
        expires = int(time.time()) + 60
        signature = local.sign(unquote(path), expires)
        url = f"{PUBLIC_URL}/files/{path}?expires={expires}&signature={signature}"

        # when
        response = await local_http.get(url)

        # then
        assert response.status_code == 404
        assert b"do not serve me" not in response.content


async def test_a_symlink_planted_under_files_is_not_followed_out(
    local: LocalStorage, local_http: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("do not serve me")
    (tmp_path / "files" / "businesses").mkdir(parents=True)
    (tmp_path / "files" / "businesses" / "x.jpg").symlink_to(tmp_path / "outside.txt")

    response = await local_http.get(await local.signed_url("businesses/x.jpg"))

    assert response.status_code == 404


async def test_local_files_are_written_whole_under_data_dir(
    local: LocalStorage, tmp_path: Path
) -> None:
    await local.put(KEY, JPEG_BYTES, "image/jpeg")

    assert (tmp_path / "files" / KEY).read_bytes() == JPEG_BYTES
    assert [p.name for p in (tmp_path / "files" / KEY).parent.iterdir()] == ["abc.jpg"]


async def test_head_is_served_too(local: LocalStorage, local_http: httpx.AsyncClient) -> None:
    await local.put(KEY, JPEG_BYTES, "image/jpeg")

    response = await local_http.head(await local.signed_url(KEY))

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(JPEG_BYTES))
    assert response.headers["x-content-type-options"] == "nosniff"


# --- SECRET_KEY ----------------------------------------------------------------------------


def test_an_unset_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(DATA_DIR=tmp_path / "data", SECRET_KEY=None)

    first = secret_key(settings)
    second = secret_key(settings)

    path = tmp_path / "data" / "secret_key"
    assert first == second == path.read_text().strip().encode()
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path / "data") == ["secret_key"]


def test_the_kept_key_signs_across_restarts(tmp_path: Path) -> None:
    settings = Settings(DATA_DIR=tmp_path, PUBLIC_URL=PUBLIC_URL, SECRET_KEY=None)

    before, after = LocalStorage(settings), LocalStorage(settings)

    assert before.sign(KEY, 1) == after.sign(KEY, 1)


def test_a_set_secret_key_is_used_and_a_short_one_refused(tmp_path: Path) -> None:
    assert secret_key(Settings(DATA_DIR=tmp_path, SECRET_KEY=SECRET)) == SECRET.encode()
    assert not (tmp_path / "secret_key").exists()
    with pytest.raises(ValueError, match="SECRET_KEY is too short"):
        secret_key(Settings(DATA_DIR=tmp_path, SECRET_KEY="short"))
