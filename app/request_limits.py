"""A guard in front of /graphql: how big a request body may be, and how long it may take.

A body is refused before it is read when its Content-Length says it is too big, and as soon
as it passes the limit while streaming (chunked, or a Content-Length that lies): 413. The
whole body must arrive within `REQUEST_BODY_TIMEOUT_SECONDS` of the headers, or 408: a
connection that sends headers and then dribbles (or never finishes) its body does not hold a
worker forever (uvicorn's keep-alive timeout covers only idle connections). A multipart body
(a file upload) may be larger, and is read only for a signed-in staff member: anyone else is
refused from the headers alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http_errors import Refused, internal_error_response, refusal
from app.services import Services
from auth import sessions
from db import RequestTransaction

log = logging.getLogger(__name__)


class BodyTooLarge(Refused):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyTooSlow(Refused):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"The request body did not arrive within {seconds:g} seconds.")


class RequestLimits:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.services.settings
        headers = Headers(scope=scope)
        accept = headers.get("accept")
        limit = settings.MAX_REQUEST_BYTES
        if headers.get("content-type", "").lower().startswith("multipart/"):
            refused = await self._uploads_refused(headers)
            if refused is not None:
                await refused(scope, receive, send)
                return
            limit = settings.UPLOAD_MAX_BYTES
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await refusal(413, BodyTooLarge(limit).reason, accept=accept)(scope, receive, send)
            return

        timeout = settings.REQUEST_BODY_TIMEOUT_SECONDS
        deadline = asyncio.get_running_loop().time() + timeout
        received = 0
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()  # after the body: waiting for a disconnect
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                complete = not message.get("more_body", False)
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (BodyTooLarge, BodyTooSlow) as error:
            # The view answers these itself; this is for a body read outside it.
            if started:
                raise
            response = refusal(error.status_code, error.reason, accept=accept)
            await response(scope, receive, send)

    async def _uploads_refused(self, headers: Headers):
        """None when the bearer token is a staff member's live session; else the answer."""
        accept = headers.get("accept")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return refusal(
                401, "Sign in as staff to upload files.", "UNAUTHENTICATED", accept=accept
            )
        tx = RequestTransaction(self.services.engine)
        try:
            principal = await sessions.authenticate(tx, token)
        except Exception:
            request_id = uuid.uuid4().hex[:16]
            log.exception("request %s: the session check before an upload failed", request_id)
            with contextlib.suppress(Exception):
                await tx.close(commit=False)
            return internal_error_response(request_id, accept=accept)
        await tx.close()
        if principal is None:
            return refusal(
                401, "Sign in as staff to upload files.", "UNAUTHENTICATED", accept=accept
            )
        if not principal.is_staff:
            return refusal(403, "Only staff can upload files.", "FORBIDDEN", accept=accept)
        return None
