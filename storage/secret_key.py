"""SECRET_KEY, or one generated on the first start and kept in DATA_DIR/secret_key."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from config import Settings

log = logging.getLogger(__name__)

MIN_LENGTH = 32


def secret_key(settings: Settings) -> bytes:
    if settings.SECRET_KEY:
        if len(settings.SECRET_KEY) < MIN_LENGTH:
            raise ValueError(
                f"SECRET_KEY is too short to sign URLs safely: use at least {MIN_LENGTH} "
                "random characters (or unset it to have one generated in DATA_DIR)"
            )
        return settings.SECRET_KEY.encode()
    return _kept_key(settings.DATA_DIR / "secret_key")


def _kept_key(path: Path) -> bytes:
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s can be read by others (mode %o); it should be 0600", path, mode)
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise ValueError(f"{path} holds no usable key; delete it to have a new one made")
    return key.encode()


def _create(path: Path) -> None:
    """Written in full to a private temporary file, then linked into place: two servers
    starting together both end up reading the one key that won, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
            log.info("generated a secret key in %s", path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
