"""Each operation on a WebSocket gets its own context: viewer, loaders and transaction.

Over HTTP one request carries one document, and the view makes one context for it. A
WebSocket carries many operations, concurrently, over a long life; Strawberry hands them all
the socket's one context. Sharing it would share the viewer (a sign-in or a token's business
scope in one operation would leak into another), the loaders' caches and one transaction.
So each operation gets a fresh context of its own, with the session checked again — a
revoked or signed-out session stops working on its next operation, as over HTTP — and its
own transaction, committed as soon as execution ends: before the result is sent, so that
the client never hears of a success that is not durable.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from schema.errors import internal_error

log = logging.getLogger(__name__)


class OperationContext(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        socket = self.execution_context.context
        if getattr(socket, "connection_params", None) is None:
            yield  # HTTP: the view owns the context and closes its transaction
            return
        context = socket.for_operation()
        try:
            if socket.bearer_token:
                cache = socket.services.session_cache
                context.act_as(await cache.authenticate(context.tx, socket.bearer_token))
            self.execution_context.context = context
            yield
        finally:
            await context.tx.close()  # a no-op once on_execute committed

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not getattr(context, "one_operation", False):
            return  # HTTP: the view commits before it answers
        try:
            await context.tx.close()
        except Exception:
            log.exception("request %s: commit failed", context.request_id)
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [internal_error(context.request_id)]
