"""Job photo galleries end to end, on both storage backends: multipart uploads by staff,
real image files (a phone photo with GPS and an orientation, a PNG bomb, a renamed text
file, HEIC when the encoder is there, an oversize file), what the signed URLs serve, who
gets URLs at all, and that nothing is left behind when an upload fails."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from PIL import ExifTags, Image

from config import Settings
from db import RequestTransaction, create_engine
from tests import factories
from tests.client import Api, code
from tests.conftest import RunningServer, free_port
from tests.mailbox import Mailbox
from tests.s3_server import s3_endpoint  # noqa: F401
from tests.test_dataloaders import statements
from tests.test_jobs import create_job
from tests.test_photo_images import (
    BLUE,
    RED,
    SECRET_PLACE,
    _close,
    assert_no_metadata,
    camera_jpeg,
    encoded,
    png_bomb,
)

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

UPLOAD = """mutation($input: UploadJobPhotoInput!) {
  uploadJobPhoto(input: $input) {
    id caption takenAt stage url thumbnailUrl width height contentType createdAt job { id }
  }
}"""
PHOTOS = """query($id: ID!) { node(id: $id) { ... on Job {
  photos(first: 10) { totalCount edges { node { id caption stage takenAt url thumbnailUrl } } }
} } }"""
PHOTO = """query($id: ID!) { node(id: $id) { ... on Photo { id url thumbnailUrl job { id } } } }"""
UPDATE = """mutation($input: UpdatePhotoInput!) {
  updatePhoto(input: $input) { id caption stage takenAt }
}"""
DELETE = "mutation($id: ID!) { deletePhoto(id: $id) }"


@dataclass
class Backend:
    name: str
    api: Api
    server: RunningServer

    @property
    def storage(self):
        return self.server.app.state.services.storage

    async def fetch(self, url: str) -> httpx.Response:
        # Local URLs name the public address (PUBLIC_URL); the test server is on loopback.
        url = url.replace(self.server.settings.public_url, self.server.url)
        async with httpx.AsyncClient() as http:
            return await http.get(url)

    async def keys(self, prefix: str) -> set[str]:
        """What is stored under `prefix`: no orphans may hide here."""
        if self.name == "local":
            root = self.storage.root
            return {str(p.relative_to(root)) for p in (root / prefix).rglob("*") if p.is_file()}
        found = await self.storage.client.list_objects_v2(Bucket=self.storage.bucket, Prefix=prefix)
        return {item["Key"] for item in found.get("Contents", [])}


_S3_SERVERS: dict[str, tuple[RunningServer, RunningServer]] = {}


async def s3_servers(
    endpoint: str, settings: Settings, start_server
) -> tuple[RunningServer, RunningServer]:
    """The app twice (compiled and executed reads) with S3 storage on moto's server,
    started once for the session (start_server stops them at its end)."""
    if endpoint not in _S3_SERVERS:
        bucket = f"photos-{secrets.token_hex(4)}"
        s3 = {
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        compiled = await start_server(settings.model_copy(update={**s3, "PORT": free_port()}))
        await compiled.app.state.services.storage.client.create_bucket(Bucket=bucket)
        executed = await start_server(
            settings.model_copy(update={**s3, "PORT": free_port(), "COMPILED_READS": False})
        )
        _S3_SERVERS[endpoint] = (compiled, executed)
    return _S3_SERVERS[endpoint]


@pytest_asyncio.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest,
    api: Api,
    server: RunningServer,
    server_settings: Settings,
    start_server,
) -> AsyncIterator[Backend]:
    if request.param == "local":
        yield Backend("local", api, server)
        return
    # A plain fixture, so it can be asked for here; moto starts only when S3 runs.
    endpoint = request.getfixturevalue("s3_endpoint")
    compiled, executed = await s3_servers(endpoint, server_settings, start_server)
    async with (
        httpx.AsyncClient(base_url=compiled.url, timeout=60) as http,
        httpx.AsyncClient(base_url=executed.url, timeout=60) as other,
    ):
        yield Backend("s3", Api(http, executed=other), compiled)


async def upload(
    api: Api,
    token: str | None,
    job_id: str,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    **fields: object,
) -> dict:
    """A GraphQL multipart request (the spec's operations, map and file parts)."""
    operations = {
        "query": UPLOAD,
        "variables": {"input": {"jobId": job_id, "file": None, **fields}},
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (filename, data, content_type)},
        headers=headers,
    )
    return response.json()


def small_jpeg(colour: tuple[int, int, int] = BLUE) -> bytes:
    return encoded(Image.new("RGB", (200, 150), colour), "JPEG")


async def a_job(
    api: Api, mailbox: Mailbox
) -> tuple[factories.Staff, factories.PortalCustomer, dict]:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    return staff, me, await create_job(api, staff, me.id)


async def test_a_phone_photo_is_served_upright_without_gps(
    backend: Backend, mailbox: Mailbox
) -> None:
    # given a job, and a phone photo stored sideways with GPS and a time taken
    api = backend.api
    staff, me, job = await a_job(api, mailbox)

    # when staff upload it
    body = await upload(
        api,
        staff.token,
        job["id"],
        camera_jpeg((1200, 800), orientation=6),
        caption="Before",
        stage="BEFORE",
    )

    # then the photo is upright, its time comes from EXIF, and what the URLs serve is clean
    photo = body["data"]["uploadJobPhoto"]
    assert (photo["width"], photo["height"]) == (800, 1200)
    assert photo["contentType"] == "image/jpeg"
    assert photo["takenAt"] == "2024-05-01T10:30:00+00:00"
    assert photo["stage"] == "BEFORE" and photo["job"] == {"id": job["id"]}
    display = await backend.fetch(photo["url"])
    thumbnail = await backend.fetch(photo["thumbnailUrl"])
    assert display.status_code == thumbnail.status_code == 200
    image = assert_no_metadata(display.content)
    assert image.size == (800, 1200)
    assert _close(image.getpixel((790, 10)), RED, tolerance=40)  # the red corner turned too
    assert assert_no_metadata(thumbnail.content).size == (267, 400)
    assert str(SECRET_PLACE[0]).encode() not in display.content

    # and the customer sees it in their job, with URLs that work
    mine = (await api.gql(PHOTOS, {"id": job["id"]}, token=me.token))["node"]["photos"]
    assert mine["totalCount"] == 1
    assert (await backend.fetch(mine["edges"][0]["node"]["url"])).status_code == 200


async def test_photos_list_newest_taken_first_and_can_be_changed(
    backend: Backend, mailbox: Mailbox
) -> None:
    api = backend.api
    staff, me, job = await a_job(api, mailbox)
    ids = {}
    for name, taken in (
        ("old", "2024-01-01T10:00:00Z"),
        ("new", "2024-03-01T10:00:00Z"),
        ("mid", "2024-02-01T10:00:00Z"),
    ):
        body = await upload(api, staff.token, job["id"], small_jpeg(), caption=name, takenAt=taken)
        ids[name] = body["data"]["uploadJobPhoto"]["id"]
    listed = (await api.gql(PHOTOS, {"id": job["id"]}, token=staff.token))["node"]["photos"]
    assert [e["node"]["caption"] for e in listed["edges"]] == ["new", "mid", "old"]
    assert {e["node"]["stage"] for e in listed["edges"]} == {"PROGRESS"}

    changed = await api.gql(
        UPDATE,
        {
            "input": {
                "id": ids["old"],
                "caption": "Newest now",
                "takenAt": "2025-01-01T00:00:00Z",
                "stage": "AFTER",
            }
        },
        token=staff.token,
    )
    assert changed["updatePhoto"]["stage"] == "AFTER"
    listed = (await api.gql(PHOTOS, {"id": job["id"]}, token=me.token))["node"]["photos"]
    assert [e["node"]["caption"] for e in listed["edges"]] == ["Newest now", "new", "mid"]
    assert (
        code(await api.error(UPDATE, {"input": {"id": ids["old"], "caption": "x"}}, token=me.token))
        == "FORBIDDEN"
    )


async def test_delete_removes_the_row_and_the_stored_images(
    backend: Backend, mailbox: Mailbox
) -> None:
    api = backend.api
    staff, me, job = await a_job(api, mailbox)
    photo = (await upload(api, staff.token, job["id"], small_jpeg()))["data"]["uploadJobPhoto"]
    prefix = f"businesses/{_key_of(photo['url'])[1]}/"
    assert len(await backend.keys(prefix)) == 2

    assert code(await api.error(DELETE, {"id": photo["id"]}, token=me.token)) == "FORBIDDEN"
    assert (await api.gql(DELETE, {"id": photo["id"]}, token=staff.token)) == {"deletePhoto": True}

    assert (await api.gql(PHOTO, {"id": photo["id"]}, token=staff.token))["node"] is None
    for _ in range(100):  # removed once the deletion is committed, in the background
        if not await backend.keys(prefix):
            break
        await asyncio.sleep(0.05)
    assert await backend.keys(prefix) == set()
    assert (await backend.fetch(photo["url"])).status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "filename"),
    [
        ("png bomb", png_bomb(20_000, 20_000), "bomb.png"),
        ("renamed text", b"Dear customer, this is not a photo at all.\n" * 40, "photo.jpg"),
        ("truncated", small_jpeg()[:300], "photo.jpg"),
    ],
)
async def test_what_is_not_a_usable_photo_is_refused_and_leaves_nothing(
    backend: Backend, mailbox: Mailbox, name: str, data: bytes, filename: str
) -> None:
    api = backend.api
    staff, _, job = await a_job(api, mailbox)
    body = await upload(api, staff.token, job["id"], data, filename=filename)
    assert code(body["errors"][0]) == "BAD_USER_INPUT", name
    assert len(body["errors"][0]["message"]) < 200 and "photo" in body["errors"][0]["message"]
    listed = (await api.gql(PHOTOS, {"id": job["id"]}, token=staff.token))["node"]["photos"]
    assert listed["totalCount"] == 0
    assert await backend.keys(job_prefix(staff, job)) == set()


async def test_an_oversize_upload_is_refused(
    api: Api, mailbox: Mailbox, server: RunningServer
) -> None:
    staff, _, job = await a_job(api, mailbox)
    limit = server.settings.PHOTO_MAX_BYTES
    data = small_jpeg() + b"\x00" * (limit + 1)
    body = await upload(api, staff.token, job["id"], data)
    assert code(body["errors"][0]) == "BAD_USER_INPUT"
    assert "MB" in body["errors"][0]["message"]


async def test_heic_is_accepted_when_the_encoder_is_available(
    backend: Backend, mailbox: Mailbox
) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = SECRET_PLACE
    try:
        heic = encoded(Image.new("RGB", (300, 200), BLUE), "HEIF", exif=exif.tobytes())
    except (KeyError, OSError, RuntimeError, ValueError) as error:
        pytest.skip(f"no HEIC encoder in this pillow-heif build: {error}")
    api = backend.api
    staff, _, job = await a_job(api, mailbox)
    body = await upload(
        api, staff.token, job["id"], heic, filename="IMG_0001.HEIC", content_type="image/heic"
    )
    photo = body["data"]["uploadJobPhoto"]
    assert (photo["width"], photo["height"]) == (200, 300)
    assert assert_no_metadata((await backend.fetch(photo["url"])).content).size == (200, 300)


async def test_a_failed_store_leaves_no_row_and_no_object(
    backend: Backend, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a storage whose second put (the thumbnail) fails
    api = backend.api
    staff, _, job = await a_job(api, mailbox)
    real_put = backend.storage.put
    calls = []

    async def failing_put(key: str, data: bytes, content_type: str) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        await real_put(key, data, content_type)

    monkeypatch.setattr(backend.storage, "put", failing_put)
    body = await upload(api, staff.token, job["id"], small_jpeg())
    monkeypatch.undo()

    # then the error is masked, no row was kept and the display image put first is gone
    assert code(body["errors"][0]) == "INTERNAL_SERVER_ERROR"
    assert len(calls) == 2
    listed = (await api.gql(PHOTOS, {"id": job["id"]}, token=staff.token))["node"]["photos"]
    assert listed["totalCount"] == 0
    business = calls[0].split("/")[1]
    assert await backend.keys(f"businesses/{business}/") == set()


async def test_a_transaction_that_does_not_commit_undoes_what_it_registered(database) -> None:
    engine = create_engine(database.owner_url)
    undone: list[str] = []

    async def undo() -> None:
        undone.append("undone")

    try:
        # rolled back
        tx = RequestTransaction(engine)
        await tx.execute(_select_one())
        tx.after_rollback(undo)
        await tx.close(commit=False)
        assert undone == ["undone"]
        # a commit that fails (the connection is gone)
        tx = RequestTransaction(engine)
        await tx.execute(_select_one())
        tx.after_rollback(undo)
        with pytest.raises(Exception):  # noqa: B017
            await tx.execute(_terminate_self())
            await tx.close()
        if len(undone) == 1:
            with pytest.raises(Exception):  # noqa: B017
                await tx.close()
        assert undone == ["undone", "undone"]
        # committed: nothing is undone
        tx = RequestTransaction(engine)
        await tx.execute(_select_one())
        tx.after_rollback(undo)
        await tx.close()
        assert len(undone) == 2
    finally:
        await engine.dispose()


def _select_one():
    from sqlalchemy import text

    return text("SELECT 1")


def _terminate_self():
    from sqlalchemy import text

    return text("SELECT pg_terminate_backend(pg_backend_pid())")


async def test_uploads_are_for_staff_and_check_the_job_first(api: Api, mailbox: Mailbox) -> None:
    staff, me, job = await a_job(api, mailbox)
    other = await factories.register(api)
    # a customer's and an anonymous multipart body are refused before they are read
    for token in (me.token, None):
        response = await api.http.post(
            "/graphql",
            data={"operations": "{}", "map": "{}"},
            files={"0": ("a.jpg", small_jpeg(), "image/jpeg")},
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        assert response.status_code in (401, 403)
    # another business's staff cannot reach the job
    body = await upload(api, other.token, job["id"], small_jpeg())
    assert code(body["errors"][0]) == "NOT_FOUND"


async def test_signed_urls_are_tamper_proof_and_expire(
    api: Api, mailbox: Mailbox, server: RunningServer
) -> None:
    staff, _, job = await a_job(api, mailbox)
    photo = (await upload(api, staff.token, job["id"], small_jpeg()))["data"]["uploadJobPhoto"]
    backend = Backend("local", api, server)
    url = photo["url"]
    assert (await backend.fetch(url)).status_code == 200
    tampered = url.replace("signature=", "signature=x")
    assert (await backend.fetch(tampered)).status_code == 403
    other_key = url.replace(photo["url"].split("?")[0], photo["thumbnailUrl"].split("?")[0])
    assert (await backend.fetch(other_key)).status_code == 403
    expires = int(url.split("expires=")[1].split("&")[0])
    assert 14 * 60 <= expires - __import__("time").time() <= 15 * 60 + 5
    expired = url.replace(f"expires={expires}", f"expires={expires - 3600}")
    assert (await backend.fetch(expired)).status_code == 403


def _uuid(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1]


def job_prefix(staff: factories.Staff, job: dict) -> str:
    """Where a job's objects are stored (storage.new_key)."""
    return f"businesses/{_uuid(staff.business_id)}/jobs/{_uuid(job['id'])}/"


def _key_of(url: str) -> list[str]:
    """The storage key's parts from a signed URL (local or S3 path style)."""
    path = url.split("?")[0]
    return path[path.index("businesses/") :].split("/")


async def test_the_dashboard_costs_the_same_statements_for_2_or_12_jobs(
    api: Api, mailbox: Mailbox, server: RunningServer, executed_server: RunningServer
) -> None:
    staff, me, _ = await a_job(api, mailbox)
    for n in range(12):
        job = await create_job(api, staff, me.id, title=f"Job {n}")
        await upload(api, staff.token, job["id"], small_jpeg())
        await api.gql(
            "mutation($id: ID!) { addJobNote(input: "
            '{jobId: $id, body: "shared", visibleToCustomer: true}) { id } }',
            {"id": job["id"]},
            token=staff.token,
        )
    dashboard = """query($first: Int) { jobs(first: $first) { edges { node {
      photos(first: 10) { edges { node { id url } } }
      statusHistory { status } notes { body } } } } }"""
    headers = {"Authorization": f"Bearer {me.token}"}

    async def compiled(first: int) -> int:
        body = {"query": dashboard, "variables": {"first": first}}
        response = await api.http.post("/graphql", json=body, headers=headers)
        assert "compiled" in response.headers["server-timing"]
        assert len(response.json()["data"]["jobs"]["edges"]) == min(first, 13)
        return int(response.headers["server-timing"].split("statements=")[1].split('"')[0])

    await compiled(1)
    assert await compiled(2) == await compiled(50) == 2

    async with httpx.AsyncClient(base_url=executed_server.url) as http:
        executed = Api(http)
        with statements(executed_server) as few:
            await executed.gql(dashboard, {"first": 2}, token=me.token)
        with statements(executed_server) as many:
            await executed.gql(dashboard, {"first": 50}, token=me.token)
    few, many = (
        [s for s in sent if "auth_session" not in s and "set_config" not in s]
        for sent in (few, many)
    )
    assert len(few) == len(many), "\n".join(["first: 2", *few, "first: 50", *many])
