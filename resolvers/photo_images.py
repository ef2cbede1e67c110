"""Uploaded photos: bytes in, clean images out. No database, no storage: pure image work.

What is accepted is decided from the bytes (Pillow's own detection, limited to JPEG, PNG,
WebP and HEIC/HEIF), never from the file name. The size is checked while reading, and the
pixel count from the header before anything is decoded, so a decompression bomb is refused
at once. What comes out is re-encoded from pixels alone: turned upright (EXIF orientation),
converted to sRGB, with no EXIF, GPS, XMP or ICC data left, as a display image and a
thumbnail (JPEG, or WebP when the photo has transparency).
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Protocol

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from errors import BadInput

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
DISPLAY_LONG_SIDE = 2048
THUMBNAIL_LONG_SIDE = 400
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 25 * 1024 * 1024

# Pillow's own ceiling, set explicitly rather than left at its default (about 89 MP).
# Past twice this, Image.open itself raises DecompressionBombError; between once and twice
# it only warns, and `_open` below refuses those images itself, so the warning is noise.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Image work is CPU- and memory-heavy (a 50 MP photo decodes to 150 MB): at most two at a
# time, in threads (Pillow releases the GIL while it decodes and resamples).
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="photo-images")

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

NOT_A_PHOTO = "This file is not a photo we can use. Please upload a JPEG, PNG, WebP or HEIC."
DAMAGED = "This photo could not be read; the file may be damaged or incomplete."


@dataclass(frozen=True)
class PhotoHeader:
    format: str  # "JPEG", "PNG", "WEBP" or "HEIF"
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes  # long side at most DISPLAY_LONG_SIDE
    thumbnail: bytes  # long side at most THUMBNAIL_LONG_SIDE
    width: int  # of the display image, upright
    height: int
    content_type: str  # "image/jpeg" or "image/webp", for both images
    extension: str  # "jpg" or "webp", for storage keys
    # EXIF DateTimeOriginal; in UTC when the camera did not record its offset.
    taken_at: datetime | None


class Readable(Protocol):
    """A Starlette/Strawberry `Upload`."""

    async def read(self, size: int = -1) -> bytes: ...


async def process_upload(
    upload: Readable, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ProcessedPhoto:
    """Read at most `max_bytes` of the upload, then process it off the event loop."""
    data = await read_limited(upload, max_bytes)
    return await process_async(data, max_pixels=max_pixels)


async def process_async(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ProcessedPhoto:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, partial(process, data, max_pixels=max_pixels))


async def read_limited(upload: Readable, max_bytes: int, *, chunk_size: int = 1 << 20) -> bytes:
    """The upload's bytes, read in chunks and never more than `max_bytes` + 1 of them."""
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise _too_large(max_bytes)
    buffer = bytearray()
    while chunk := await upload.read(min(chunk_size, max_bytes + 1 - len(buffer))):
        buffer += chunk
        if len(buffer) > max_bytes:
            raise _too_large(max_bytes)
    if not buffer:
        raise BadInput("The file is empty.", field="file")
    return bytes(buffer)


def inspect(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoHeader:
    """The format and size from the header alone; raises BadInput for anything refused."""
    with _open(data, max_pixels) as image:
        return PhotoHeader(format=image.format or "", width=image.width, height=image.height)


def process(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ProcessedPhoto:
    """Blocking: call `process_async` from async code."""
    with _open(data, max_pixels) as image:
        taken_at = _taken_at(image)
        try:
            upright = _upright_srgb(image)
        except Exception:
            log.info("could not decode an uploaded %s image", image.format, exc_info=True)
            raise BadInput(DAMAGED, field="file") from None

    display = _fitted(upright, DISPLAY_LONG_SIDE)
    thumbnail = _fitted(display, THUMBNAIL_LONG_SIDE)
    file_format, content_type, extension = (
        ("WEBP", "image/webp", "webp") if display.mode == "RGBA" else ("JPEG", "image/jpeg", "jpg")
    )
    return ProcessedPhoto(
        display=_encoded(display, file_format),
        thumbnail=_encoded(thumbnail, file_format),
        width=display.width,
        height=display.height,
        content_type=content_type,
        extension=extension,
        taken_at=taken_at,
    )


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Image.open reads the header only; nothing is decoded here."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise BadInput(_too_many_pixels(max_pixels), field="file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise BadInput(NOT_A_PHOTO, field="file") from None
    if image.width * image.height > max_pixels:
        size = (image.width, image.height)
        image.close()
        raise BadInput(_too_many_pixels(max_pixels, size), field="file")
    if image.width < 1 or image.height < 1:
        image.close()
        raise BadInput(NOT_A_PHOTO, field="file")
    return image


def _upright_srgb(image: Image.Image) -> Image.Image:
    """Decoded, turned by its EXIF orientation, in sRGB, as RGB or (with real
    transparency) RGBA."""
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the display size.
        scale = min(1.0, DISPLAY_LONG_SIDE / max(image.size))
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    image = ImageOps.exif_transpose(image)
    icc_profile = image.info.get("icc_profile")

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):  # 16-bit grey: down to 8 bits
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    mode = "RGBA" if image.has_transparency_data else "RGB"
    if mode == "RGBA":
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[0] == 255:  # an alpha channel that hides nothing
            mode = "RGB"
            image = image.convert("RGB")

    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
                image = image.convert(mode)
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.info("ignoring an unusable ICC profile in an uploaded photo", exc_info=True)
    return image.convert(mode)


def _fitted(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encoded(image: Image.Image, file_format: str) -> bytes:
    # A fresh image from the pixels alone, so no metadata (EXIF, GPS, XMP, ICC) can ride
    # along into what is served.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if file_format == "JPEG":
        clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        clean.save(out, "WEBP", quality=85, method=4)
    return out.getvalue()


def _taken_at(image: Image.Image) -> datetime | None:
    try:
        exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
        raw = exif.get(ExifTags.Base.DateTimeOriginal)
        if not isinstance(raw, str):
            return None
        taken = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        subseconds = str(exif.get(ExifTags.Base.SubsecTimeOriginal) or "").strip("\x00 ")
        if subseconds.isdigit():
            taken = taken.replace(microsecond=int(subseconds[:6].ljust(6, "0")))
        return taken.replace(tzinfo=_offset(exif.get(ExifTags.Base.OffsetTimeOriginal)))
    except Exception:  # EXIF from the wild is often malformed; a photo without a date is fine
        return None


def _offset(raw: object) -> timezone:
    """`+02:00` as a timezone; UTC when the camera recorded none."""
    text = str(raw or "").strip("\x00 ")
    if len(text) == 6 and text[0] in "+-" and text[3] == ":":
        hours, minutes = int(text[1:3]), int(text[4:6])
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if text[0] == "-" else delta)
    return UTC


def _too_large(max_bytes: int) -> BadInput:
    if max_bytes >= 1024 * 1024:
        limit = f"{max_bytes / (1024 * 1024):.3g} MB"
    else:
        limit = f"{max_bytes / 1024:.3g} KB"
    return BadInput(
        f"This photo is larger than {limit}. Please upload a smaller file.", field="file"
    )


def _too_many_pixels(max_pixels: int, size: tuple[int, int] | None = None) -> str:
    megapixels = f"{max_pixels / 1_000_000:.3g}"
    if size:
        return (
            f"This image is {size[0]} × {size[1]} pixels; photos can have at most "
            f"{megapixels} megapixels. Please upload a smaller image."
        )
    return f"This image has too many pixels; photos can have at most {megapixels} megapixels."
