"""Subscriptions over the WebSocket at /graphql, on both protocols (graphql-transport-ws and
legacy graphql-ws), delivered by realtime/fanout.py rather than by Strawberry's per-socket
generators.

Strawberry's protocol handlers stay in charge of the wire: connection_init (the viewer is
signed in by `PortalGraphQL.on_ws_connect`), ping/pong, queries and mutations. These
subclasses take over subscription operations only:

- subscribing: the document is parsed and validated with the schema's own rules, the
  session is checked again, and the viewer's right to what they ask is checked in one short
  transaction (`resolvers/messages.py`: `…_interest`); then the subscription is registered
  with the fan-out and holds no transaction while it waits;
- each event: `render` loads the event under one audience's scope (business, and for a
  customer the customer) and runs each group's selection set with it as root value, in one
  short transaction; the payload is serialized once and wrapped per operation id;
- a socket whose session ends (sign-out, revocation, on any process: `sessions_ended`) or
  expires is closed with 4403; one that sends no connection_init in time with 4408; a
  message larger than WS_MAX_MESSAGE_BYTES closes it with 1009.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict, defaultdict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution import Executor, execute_subscription_event
from graphql.execution.collect_fields import FragmentDetails, collect_fields
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from auth import sessions
from db import RequestTransaction
from errors import PortalError
from realtime import fanout
from realtime.fanout import Event, Fanout, Socket, Subscription
from resolvers import messages
from resolvers.context import RequestContext
from schema import LIMIT_RULES, MAX_TOKENS
from schema.errors import shape
from schema.messages import EVENT_ROOTS

log = logging.getLogger(__name__)
RULES = (*specified_rules, *LIMIT_RULES)
INTERESTS = {
    "messageAdded": lambda ctx, args: messages.message_interest(ctx, args.get("customerId")),
    "jobStatusChanged": lambda ctx, args: messages.job_status_interest(ctx, args.get("jobId")),
}


class LimitedMessages(ASGIWebSocketAdapter):
    """Strawberry's adapter, refusing any client message over WS_MAX_MESSAGE_BYTES."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator:
        limit = self.view.services.settings.WS_MAX_MESSAGE_BYTES
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
                    await self.close(1009, "Message too big")
                    return
                try:
                    yield self.view.decode_json(text)
                except ValueError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass


@dataclass(frozen=True)
class Spec:
    """A subscription's document, as `render` runs it for each event."""

    kind: str
    convert: Callable[[Any], Any]
    document: DocumentNode
    operation_name: str | None
    variables: dict[str, Any] | None


@dataclass(frozen=True)
class Refused:
    errors: list[GraphQLError]
    close: tuple[int, str] | None = None


class Realtime:
    """The process's subscriptions: what both protocol handlers share."""

    def __init__(self, services: Any, schema: Any) -> None:
        settings = services.settings
        self.services = services
        self.schema = schema
        self.fanout = Fanout(
            self.render,
            queue_limit=settings.WS_QUEUE_LIMIT,
            keepalive_seconds=settings.WS_KEEPALIVE_SECONDS,
            delivered=self._delivered,
        )
        self._validated: OrderedDict[str, list[GraphQLError]] = OrderedDict()
        self._background: set[asyncio.Task] = set()

    async def start(self) -> None:
        listener = self.services.listener
        await listener.subscribe(fanout.CHANNEL, self.fanout.notify)
        await listener.subscribe(sessions.SESSIONS_ENDED_CHANNEL, self.fanout.sessions_ended)
        listener.watch(self.fanout.listener_state)
        await self.fanout.start()

    async def stop(self) -> None:
        # Not unsubscribed from the listener: it stops right after, with the services (and
        # an UNLISTEN racing its shutdown would only fail).
        await self.fanout.stop()

    # -- sockets ----------------------------------------------------------------------------

    async def open_socket(
        self, context: RequestContext, adapter: ASGIWebSocketAdapter, keepalive: dict
    ) -> Socket | None:
        """Register an acknowledged socket, so it closes when its session ends or expires."""
        token, principal = context.bearer_token, context.principal
        if token is None or principal is None:
            return None

        async def check() -> datetime | None:
            tx = RequestTransaction(self.services.engine)
            try:
                live = await sessions.live_session(tx, token)
            finally:
                await tx.close()
            if live is None or live.principal.session_id != principal.session_id:
                return None
            return live.expires_at

        socket = Socket(
            principal=principal,
            expires_at=await check() or datetime.now(UTC),
            send=adapter.ws.send_text,
            close=adapter.close,
            keepalive=orjson.dumps(keepalive).decode(),
            check=check,
        )
        self.fanout.attach(socket)
        return socket

    # -- subscribing ------------------------------------------------------------------------

    async def prepare(
        self,
        context: RequestContext,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> tuple[Spec, Callable[[Event], bool]] | Refused | None:
        """A subscription operation checked and authorized, or why not; None when the
        document is no subscription (Strawberry's own handling answers it)."""
        if not isinstance(query, str):
            return None
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            return Refused([error], close=(4400, error.message[:120]))
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        errors = self._validate(query, document)
        if errors:
            return Refused(errors)
        schema = self.schema._schema
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return Refused(coerced)
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        root = schema.subscription_type
        collected = collect_fields(schema, fragments, coerced, root, operation)
        details = next(iter(collected.grouped_field_set.values()))
        name = details[0].node.name.value
        if name not in INTERESTS:
            return None  # a subscription field without a fan-out: Strawberry's own way
        arguments = get_argument_values(root.fields[name], details[0].node, coerced)
        ctx = context.for_operation()
        try:
            principal = await self.services.session_cache.authenticate(ctx.tx, context.bearer_token)
            if principal is None:
                return Refused([], close=(fanout.SESSION_ENDED, "Session ended"))
            ctx.act_as(principal)
            interest = await INTERESTS[name](ctx, arguments)
        except PortalError as error:
            return Refused([shape(GraphQLError(error.message, original_error=error), "-")])
        finally:
            await ctx.tx.close()
        kind, convert = EVENT_ROOTS[name]
        return Spec(kind, convert, document, operation_name, variables), interest.matches

    def subscribe(
        self,
        socket: Socket,
        operation_id: str,
        prepared: tuple[Spec, Callable[[Event], bool]],
        query: str,
        frame: Callable[[str], str],
    ) -> None:
        spec, matches = prepared
        group = (query, spec.operation_name, orjson.dumps(spec.variables, option=_SORTED))
        self.fanout.add(Subscription(socket, operation_id, spec.kind, matches, group, spec, frame))

    def _validate(self, query: str, document: DocumentNode) -> list[GraphQLError]:
        errors = self._validated.get(query)
        if errors is None:
            errors = validate(self.schema._schema, document, RULES)
            self._validated[query] = errors
            if len(self._validated) > 500:
                self._validated.popitem(last=False)
        return [shape(error, "-") for error in errors]

    # -- each event, once per audience ------------------------------------------------------

    async def render(
        self, principal: Any, events: list[Event], wanted: dict[tuple, Spec]
    ) -> dict[tuple, str]:
        ctx = RequestContext(
            services=self.services,
            tx=RequestTransaction(self.services.engine),
            client_ip="realtime",
            principal=principal,
        )
        try:
            ids: dict[str, list] = defaultdict(list)
            for event in events:
                ids[event.kind].append(event.id)
            rows: dict = {}
            for kind, keys in ids.items():
                rows.update(await messages.event_rows(ctx.tx, principal, kind, keys))
            executors: dict[Any, Any] = {}
            work = []
            for (group, event_id), spec in wanted.items():
                row = rows.get(event_id)
                if row is None:
                    continue  # not this audience's to see (or gone)
                executor = executors.get(group)
                if executor is None:
                    executor = executors[group] = Executor.build(
                        self.schema._schema,
                        spec.document,
                        context_value=ctx,
                        raw_variable_values=spec.variables,
                        operation_name=spec.operation_name,
                    )
                work.append(((group, event_id), executor, spec.convert(row)))
            # Together, so that the loaders batch what the events share (senders, jobs).
            results = await asyncio.gather(*(_run(executor, root) for _, executor, root in work))
        finally:
            await ctx.tx.close()
        return {
            key: _payload(result, ctx.request_id)
            for (key, _, _), result in zip(work, results, strict=True)
        }

    def _delivered(self, principal: Any, events: list[Event]) -> None:
        """A customer's open portal received these: no email about the messages among them."""
        if principal.customer_id is None:
            return
        ids = [event.id for event in events if event.kind == "message"]
        if ids:
            task = asyncio.create_task(
                messages.mark_delivered(self.services, principal.business_id, ids)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)


_SORTED = orjson.OPT_SORT_KEYS


async def _run(executor: Any, root: Any) -> Any:
    if isinstance(executor, list):  # the variables were refused (checked when subscribing)
        return executor
    result = execute_subscription_event(executor.build_per_event_executor(root))
    return await result if inspect.isawaitable(result) else result


def _payload(result: Any, request_id: str) -> str:
    if isinstance(result, list):
        return orjson.dumps({"errors": [shape(e, request_id).formatted for e in result]}).decode()
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [shape(e, request_id).formatted for e in result.errors]
    return orjson.dumps(payload).decode()


def _next_frame(operation_id: str) -> Callable[[str], str]:
    head = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
    return lambda payload: head + payload + "}"


def _data_frame(operation_id: str) -> Callable[[str], str]:
    head = '{"type":"data","id":' + orjson.dumps(operation_id).decode() + ',"payload":'
    return lambda payload: head + payload + "}"


class TransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, with subscriptions through the fan-out."""

    socket: Socket | None = None

    @property
    def realtime(self) -> Realtime:
        return self.view.realtime  # type: ignore[attr-defined]

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.socket is None:
            self.socket = await self.realtime.open_socket(
                self.context, self.websocket, {"type": "ping"}
            )

    async def handle_subscribe(self, message: Any) -> None:
        socket = self.socket
        if not self.connection_acknowledged or socket is None:
            await super().handle_subscribe(message)
            return
        operation_id, payload = message["id"], message["payload"]
        if operation_id in self.operations or operation_id in socket.subscriptions:
            await self.websocket.close(4409, f"Subscriber for {operation_id} already exists")
            return
        query = payload["query"]
        prepared = await self.realtime.prepare(
            self.context, query, payload.get("variables"), payload.get("operationName")
        )
        if prepared is None:
            await super().handle_subscribe(message)
            return
        if isinstance(prepared, Refused):
            if prepared.close is not None:
                await self.websocket.close(*prepared.close)
            else:
                await self._error(operation_id, prepared.errors)
            return
        # Subscriptions only (in-flight queries and mutations have Strawberry's own cap).
        if len(socket.subscriptions) >= self.realtime.services.settings.WS_MAX_SUBSCRIPTIONS:
            await self._error(operation_id, [GraphQLError("Subscription limit reached")])
            return
        if not socket.closing:
            self.realtime.subscribe(
                socket, operation_id, prepared, query, _next_frame(operation_id)
            )

    async def handle_complete(self, message: Any) -> None:
        subscription = self.socket.subscriptions.get(message["id"]) if self.socket else None
        if subscription is not None:
            self.realtime.fanout.remove(subscription)
            return
        await super().handle_complete(message)

    async def shutdown(self) -> None:
        if self.socket is not None:
            self.realtime.fanout.detach(self.socket)
        await super().shutdown()

    async def _error(self, operation_id: str, errors: list[GraphQLError]) -> None:
        await self.send_message(
            {"id": operation_id, "type": "error", "payload": [e.formatted for e in errors]}
        )


class LegacyWSHandler(BaseGraphQLWSHandler):
    """The legacy graphql-ws protocol: the same authentication, subscriptions and limits."""

    socket: Socket | None = None

    @property
    def realtime(self) -> Realtime:
        return self.view.realtime  # type: ignore[attr-defined]

    async def handle(self) -> None:
        deadline = asyncio.create_task(self._connection_init_deadline())
        try:
            await super().handle()
        finally:
            deadline.cancel()
            if self.socket is not None:
                self.realtime.fanout.detach(self.socket)

    async def _connection_init_deadline(self) -> None:
        await asyncio.sleep(self.realtime.services.settings.WS_CONNECTION_INIT_SECONDS)
        if not self.connection_acknowledged:
            await self.websocket.close(4408, "Connection initialisation timeout")

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_acknowledged:
            return  # once is enough (graphql-transport-ws closes with 4429)
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.socket is None:
            self.socket = await self.realtime.open_socket(
                self.context, self.websocket, {"type": "ka"}
            )

    async def handle_start(self, message: Any) -> None:
        socket = self.socket
        if not self.connection_acknowledged or socket is None:
            await super().handle_start(message)
            return
        operation_id, payload = message["id"], message["payload"]
        previous = socket.subscriptions.get(operation_id)
        if previous is not None:
            self.realtime.fanout.remove(previous)
        query = payload["query"]
        prepared = await self.realtime.prepare(
            self.context, query, payload.get("variables"), payload.get("operationName")
        )
        if prepared is None:
            await super().handle_start(message)
            return
        if isinstance(prepared, Refused):
            if prepared.close is not None and prepared.close[0] == fanout.SESSION_ENDED:
                await self.websocket.close(*prepared.close)
                return
            errors = prepared.errors or [GraphQLError(prepared.close[1] if prepared.close else "")]
            await self._error(operation_id, errors[0])
            return
        # Subscriptions only (in-flight queries and mutations have Strawberry's own cap).
        if len(socket.subscriptions) >= self.realtime.services.settings.WS_MAX_SUBSCRIPTIONS:
            await self._error(operation_id, GraphQLError("Subscription limit reached"))
            return
        if not socket.closing:
            self.realtime.subscribe(
                socket, operation_id, prepared, query, _data_frame(operation_id)
            )

    async def handle_stop(self, message: Any) -> None:
        subscription = self.socket.subscriptions.get(message["id"]) if self.socket else None
        if subscription is not None:
            self.realtime.fanout.remove(subscription)
            await self.send_message({"type": "complete", "id": message["id"]})
            return
        await super().handle_stop(message)

    async def _error(self, operation_id: str, error: GraphQLError) -> None:
        await self.send_message({"type": "error", "id": operation_id, "payload": error.formatted})
