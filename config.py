"""One typed settings object, read from the environment (names as in API.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    HOST: str = "127.0.0.1"
    PORT: int = 8000
    DATA_DIR: Path = REPO_ROOT / ".data"
    # Owner credentials: migrations run as this role. Unset means an embedded PostgreSQL.
    DATABASE_URL: str | None = None
    # The server's own, less privileged role. Unset means DATABASE_URL's login with
    # `SET ROLE portal_app`, so row-level security applies either way.
    DATABASE_APP_URL: str | None = None
    DATABASE_POOL_SIZE: int = 10
    PUBLIC_URL: str | None = None

    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_FROM: str = "portal@localhost"
    # Unset: STARTTLS when the server offers it. Port 465 means TLS from the first byte.
    SMTP_STARTTLS: bool | None = None
    SMTP_TIMEOUT_SECONDS: float = 15.0
    # Extra CA certificates to trust for the SMTP server's TLS (an internal relay's own CA).
    SMTP_CA_FILE: Path | None = None

    S3_BUCKET: str | None = None
    S3_ENDPOINT_URL: str | None = None
    S3_REGION: str | None = None
    AWS_ACCESS_KEY_ID: str | None = None
    AWS_SECRET_ACCESS_KEY: str | None = None
    # Signed photo and file URLs (S3 presigned or HMAC-signed local ones) expire after this.
    SIGNED_URL_TTL_SECONDS: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # Uploaded photos: bytes read at most, and pixels (width × height) before decoding.
    PHOTO_MAX_BYTES: int = Field(default=25 * 1024 * 1024, ge=1)
    PHOTO_MAX_PIXELS: int = Field(default=50_000_000, ge=1)

    STRIPE_SECRET_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_API_BASE: str | None = None
    STRIPE_APPLICATION_FEE_BPS: int = 0
    # The platform's publishable key (pk_…), for Stripe.js on the portal's Pay page.
    STRIPE_PUBLISHABLE_KEY: str | None = None

    SECRET_KEY: str | None = None

    SESSION_TTL_DAYS: int = Field(default=30, ge=1)
    # A signed-in session is remembered in each process this long (0: the database every time).
    SESSION_CACHE_SECONDS: float = Field(default=30, ge=0, le=3600)
    INVITATION_TTL_DAYS: int = Field(default=7, ge=1)
    PASSWORD_RESET_TTL_MINUTES: int = Field(default=60, ge=5)
    LOGIN_ACCOUNT_FAILURE_LIMIT: int = Field(default=10, ge=1)
    LOGIN_IP_FAILURE_LIMIT: int = Field(default=100, ge=1)
    LOGIN_FAILURE_WINDOW_MINUTES: int = Field(default=15, ge=1)
    # Set to 1 behind a reverse proxy so the client address comes from X-Forwarded-For.
    TRUSTED_PROXY_HOPS: int = Field(default=0, ge=0)
    LOG_LEVEL: str = "INFO"
    # Adds `Server-Timing: sql;desc="statements=N"` to GraphQL responses (for bench/).
    SERVER_TIMING: bool = False
    # Request bodies on /graphql: JSON at most MAX_REQUEST_BYTES; a multipart body (an upload,
    # staff only) at most UPLOAD_MAX_BYTES (a 25 MiB file and its form); either must arrive
    # whole within REQUEST_BODY_TIMEOUT_SECONDS of its headers.
    MAX_REQUEST_BYTES: int = Field(default=1_000_000, ge=1024)
    UPLOAD_MAX_BYTES: int = Field(default=26 * 1024 * 1024, ge=1024)
    REQUEST_BODY_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0)
    # Query operations the planner covers are answered from one SQL statement (readpath/);
    # off, every operation runs through Strawberry's execution (the differential tests
    # compare the two).
    COMPILED_READS: bool = True
    # Realtime (WebSocket /graphql): a socket must send connection_init within this long; at
    # most this many subscriptions each and messages of this size; this many events may
    # wait for a slow client before its socket is dropped; pings this often.
    WS_CONNECTION_INIT_SECONDS: float = Field(default=3.0, gt=0)
    WS_MAX_SUBSCRIPTIONS: int = Field(default=20, ge=1)
    WS_MAX_MESSAGE_BYTES: int = Field(default=64 * 1024, ge=1024)
    WS_QUEUE_LIMIT: int = Field(default=100, ge=1)
    WS_KEEPALIVE_SECONDS: float = Field(default=15.0, gt=0)
    # A staff message no open portal received within this long is emailed to the customer.
    MESSAGE_EMAIL_GRACE_SECONDS: float = Field(default=3.0, ge=0)

    @property
    def public_url(self) -> str:
        return (self.PUBLIC_URL or f"http://{self.HOST}:{self.PORT}").rstrip("/")

    @property
    def outbox_dir(self) -> Path:
        return self.DATA_DIR / "outbox"
