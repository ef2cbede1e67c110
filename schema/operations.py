"""Each operation's transaction and viewer on a long-lived WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from auth import sessions


class OperationTransaction(SchemaExtension):
    """Over HTTP the view opens and closes one transaction per request. A WebSocket carries
    many operations over a long life: each one checks the session again (so a revoked or
    signed-out session stops working on its next operation, as over HTTP), and the
    transaction is committed when the last operation under way ends, never held between."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        over_websocket = context.connection_params is not None
        if over_websocket and context.operations_in_flight == 0 and context.bearer_token:
            context.act_as(await sessions.authenticate(context.tx, context.bearer_token))
        context.operations_in_flight += 1
        try:
            yield
        finally:
            context.operations_in_flight -= 1
            if over_websocket and context.operations_in_flight == 0:
                await context.tx.close()
