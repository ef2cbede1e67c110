"""resolvers/photo_images.py: real image files made here, processed, and (for the served
result) stored and fetched back through both storage backends."""

from __future__ import annotations

import asyncio
import io
import struct
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from PIL import ExifTags, Image, ImageCms
from starlette.applications import Starlette
from starlette.datastructures import UploadFile

from config import Settings
from errors import BadInput
from resolvers.photo_images import (
    DAMAGED,
    NOT_A_PHOTO,
    inspect,
    process,
    process_async,
    process_upload,
    read_limited,
)
from storage import Storage, new_key, undo_on_failure
from storage.local import LocalStorage
from tests.s3_server import s3_endpoint, started_s3_storage  # noqa: F401

# Pillow warns between its limit and twice it; photo_images refuses those itself (and
# silences the warning, which pytest's own warning capture brings back).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

RED, BLUE = (255, 0, 0), (0, 0, 255)
SECRET_PLACE = (40.0, 26.0, 46.0)  # where the roofer lives: must never be served


# --- image files, made for real ------------------------------------------------------------


def camera_jpeg(
    size: tuple[int, int] = (600, 400),
    *,
    orientation: int = 6,
    taken: str | None = "2024:05:01 10:30:00",
    offset: str | None = None,
) -> bytes:
    """What a phone writes: blue with a red top-left corner, stored sideways with an EXIF
    orientation, GPS position, time taken, an XMP packet and an ICC profile."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneCo"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if taken:
        details[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = SECRET_PLACE
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (79.0, 58.0, 56.0)
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif,
        xmp=b"<x:xmpmeta><rdf:Description GPSLatitude='40,26.7N'/></x:xmpmeta>",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    return out.getvalue()


def encoded(image: Image.Image, file_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, file_format, **params)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit PNG of zeros: a few hundred KB that decode to width × height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)
    squeeze = zlib.compressobj(9)
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def assert_no_metadata(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert not image.getexif()
    assert not {"exif", "xmp", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)
    assert b"PhoneCo" not in data
    assert b"GPS" not in data and b"xmpmeta" not in data
    return image


def spooled_upload(data: bytes, *, size: int | None = None) -> UploadFile:
    """Starlette's own UploadFile, as Strawberry hands it to a resolver."""
    file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (the upload owns it)
    file.write(data)
    file.seek(0)
    return UploadFile(file=file, size=size, filename="photo.jpg")


# --- what comes out ------------------------------------------------------------------------


def test_a_phone_photo_is_turned_upright_and_loses_all_metadata() -> None:
    # when
    photo = process(camera_jpeg((600, 400), orientation=6))

    # then: orientation 6 means "turn 90° clockwise", so the red corner ends top right
    assert (photo.width, photo.height) == (400, 600)
    assert photo.content_type == "image/jpeg" and photo.extension == "jpg"
    display = assert_no_metadata(photo.display)
    assert display.size == (400, 600)
    assert _close(display.getpixel((390, 10)), RED)
    assert _close(display.getpixel((10, 10)), BLUE)
    thumbnail = assert_no_metadata(photo.thumbnail)
    assert thumbnail.size == (267, 400)


def test_taken_at_comes_from_exif_date_time_original() -> None:
    with_offset = process(camera_jpeg(taken="2024:05:01 10:30:00", offset="-04:00"))
    without_offset = process(camera_jpeg(taken="2024:05:01 10:30:00"))
    no_date = process(camera_jpeg(taken=None))
    nonsense = process(camera_jpeg(taken="0000:00:00 00:00:00"))

    assert with_offset.taken_at == datetime(
        2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=-4))
    )
    assert without_offset.taken_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert no_date.taken_at is None
    assert nonsense.taken_at is None


def test_large_photos_are_scaled_to_2048_and_400() -> None:
    photo = process(encoded(Image.new("RGB", (5000, 2500), BLUE), "JPEG"))

    assert (photo.width, photo.height) == (2048, 1024)
    assert Image.open(io.BytesIO(photo.display)).size == (2048, 1024)
    assert Image.open(io.BytesIO(photo.thumbnail)).size == (400, 200)


def test_small_photos_are_not_enlarged() -> None:
    photo = process(encoded(Image.new("RGB", (300, 200), BLUE), "PNG"))

    assert (photo.width, photo.height) == (300, 200)
    assert Image.open(io.BytesIO(photo.thumbnail)).size == (300, 200)


def test_transparency_is_kept_as_webp_and_an_opaque_alpha_becomes_jpeg() -> None:
    see_through = Image.new("RGBA", (100, 80), (255, 0, 0, 0))
    see_through.paste((0, 0, 255, 255), (0, 0, 50, 80))
    opaque = Image.new("RGBA", (100, 80), (255, 0, 0, 255))

    clear = process(encoded(see_through, "PNG"))
    solid = process(encoded(opaque, "WEBP", lossless=True))

    assert clear.content_type == "image/webp" and clear.extension == "webp"
    assert Image.open(io.BytesIO(clear.display)).mode == "RGBA"
    assert solid.content_type == "image/jpeg"


def test_other_colour_modes_come_out_as_rgb() -> None:
    cmyk = process(encoded(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG"))
    grey16 = process(encoded(Image.new("I;16", (64, 64), 0x8000), "PNG"))
    palette = process(encoded(Image.new("RGB", (64, 64), RED).convert("P"), "PNG"))

    assert _close(Image.open(io.BytesIO(cmyk.display)).getpixel((5, 5)), RED, tolerance=40)
    assert _close(Image.open(io.BytesIO(grey16.display)).getpixel((5, 5)), (128, 128, 128))
    assert _close(Image.open(io.BytesIO(palette.display)).getpixel((5, 5)), RED)


def test_heic_from_a_phone_is_accepted() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2023:12:24 18:00:00"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = SECRET_PLACE
    image = Image.new("RGB", (300, 200), BLUE)
    image.paste(RED, (0, 0, 75, 50))
    try:
        heic = encoded(image, "HEIF", exif=exif.tobytes(), quality=90)
    except (KeyError, OSError, RuntimeError, ValueError) as error:
        pytest.skip(f"this pillow-heif build cannot encode HEIC, so there is none to read: {error}")

    photo = process(heic)

    assert inspect(heic).format == "HEIF"
    assert (photo.width, photo.height) == (200, 300)
    assert photo.taken_at == datetime(2023, 12, 24, 18, 0, tzinfo=UTC)
    display = assert_no_metadata(photo.display)
    assert _close(display.getpixel((190, 10)), RED, tolerance=40)


# --- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(20_000, 20_000, id="400MP-past-pillows-own-limit"),
        pytest.param(8_000, 8_000, id="64MP-past-our-ceiling"),
    ],
)
def test_a_png_bomb_is_refused_from_its_header_at_once(width: int, height: int) -> None:
    # given: a small file that would decode to hundreds of megabytes
    bomb = png_bomb(width, height)
    assert len(bomb) < 200_000

    # when
    started = time.perf_counter()
    with pytest.raises(BadInput) as refused:
        process(bomb)
    elapsed = time.perf_counter() - started

    # then
    assert elapsed < 0.5
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "file"}
    assert "megapixels" in refused.value.message


def test_the_pixel_ceiling_is_configurable() -> None:
    photo = encoded(Image.new("RGB", (1000, 1000), BLUE), "JPEG")

    with pytest.raises(BadInput, match="1000 × 1000 pixels.*at most 0.5 megapixels"):
        process(photo, max_pixels=500_000)
    assert process(photo, max_pixels=1_000_000).width == 1000


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Dear customer,\nthe roof is done.\n" * 20, id="text-renamed-to-jpg"),
        pytest.param(encoded(Image.new("RGB", (40, 40), RED), "GIF"), id="gif"),
        pytest.param(encoded(Image.new("RGB", (40, 40), RED), "BMP"), id="bmp"),
        pytest.param(b"%PDF-1.7\n" + b"0" * 100, id="pdf"),
    ],
)
def test_anything_but_a_photo_is_refused_by_its_bytes(data: bytes) -> None:
    with pytest.raises(BadInput) as refused:
        process(data)

    assert refused.value.message == NOT_A_PHOTO
    assert refused.value.extensions["field"] == "file"


def test_a_truncated_photo_is_refused_as_damaged() -> None:
    whole = encoded(Image.effect_noise((800, 600), 60).convert("RGB"), "JPEG")

    with pytest.raises(BadInput) as refused:
        process(whole[: len(whole) // 2])

    assert refused.value.message == DAMAGED


# --- reading the upload --------------------------------------------------------------------


async def test_an_oversize_upload_is_refused_without_reading_it_all() -> None:
    # given: 3 MB against a 1 MB limit, its size unknown in advance
    upload = spooled_upload(b"\xff" * (3 * 1024 * 1024))

    # when
    with pytest.raises(BadInput) as refused:
        await read_limited(upload, 1024 * 1024, chunk_size=64 * 1024)

    # then
    assert refused.value.message == "This photo is larger than 1 MB. Please upload a smaller file."
    assert refused.value.extensions["field"] == "file"
    assert upload.file.tell() == 1024 * 1024 + 1


async def test_an_upload_of_known_oversize_is_refused_before_reading() -> None:
    upload = spooled_upload(b"\xff" * 4000, size=4000)

    with pytest.raises(BadInput, match="larger than 2.93 KB"):
        await read_limited(upload, 3000)

    assert upload.file.tell() == 0


async def test_an_upload_at_the_limit_is_read_whole() -> None:
    data = camera_jpeg()

    assert await read_limited(spooled_upload(data), len(data), chunk_size=1000) == data


async def test_an_empty_upload_is_refused() -> None:
    with pytest.raises(BadInput, match="The file is empty"):
        await process_upload(spooled_upload(b""))


async def test_image_work_leaves_the_event_loop_free() -> None:
    # given: a photo that takes a while to decode and scale (about a second)
    big = encoded(
        Image.linear_gradient("L").resize((6000, 4000)).convert("RGB"), "PNG", compress_level=1
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    # when
    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    photo = await process_async(big)
    elapsed = time.perf_counter() - started
    ticker.cancel()

    # then: the loop kept ticking through most of it
    assert photo.width == 2048
    assert ticks >= elapsed / 0.005 / 4


# --- served through storage ----------------------------------------------------------------


@pytest_asyncio.fixture(params=["local", "s3"])
async def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Storage, httpx.AsyncClient]]:
    if request.param == "local":
        settings = Settings(DATA_DIR=tmp_path, PUBLIC_URL="http://portal.test", SECRET_KEY="s" * 40)
        storage: Storage = LocalStorage(settings)
        await storage.start()
        transport = httpx.ASGITransport(app=Starlette(routes=storage.routes()))
        http = httpx.AsyncClient(transport=transport)
    else:
        storage = await started_s3_storage(request.getfixturevalue("s3_endpoint"), tmp_path)
        http = httpx.AsyncClient()
    async with http:
        yield storage, http
    await storage.close()


async def test_what_the_url_serves_is_upright_and_has_no_gps(
    served: tuple[Storage, httpx.AsyncClient],
) -> None:
    # given: a phone photo, uploaded
    storage, http = served
    photo = await process_upload(spooled_upload(camera_jpeg((1200, 800), orientation=6)))
    display_key = new_key("business-1", "job-1", photo.extension)
    thumbnail_key = new_key("business-1", "job-1", photo.extension)
    async with undo_on_failure(storage) as put:
        await put(display_key, photo.display, photo.content_type)
        await put(thumbnail_key, photo.thumbnail, photo.content_type)

    # when
    display = await http.get(await storage.signed_url(display_key))
    thumbnail = await http.get(await storage.signed_url(thumbnail_key))

    # then
    assert display.status_code == thumbnail.status_code == 200
    assert display.headers["content-type"] == "image/jpeg"
    assert assert_no_metadata(display.content).size == (800, 1200)
    assert assert_no_metadata(thumbnail.content).size == (267, 400)


def _close(actual: object, expected: tuple[int, ...], tolerance: int = 12) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True))
