"""What a resolver gets for one request: the transaction, the viewer, loaders and services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from auth.login_limits import LoginLimits
from auth.principal import Principal
from config import Settings
from db import RequestTransaction
from errors import Forbidden, Unauthenticated
from mail import Mailer
from resolvers.loaders import Loaders


class Services(Protocol):
    """What resolvers use of the process's wiring. The app makes it (app/services.py);
    resolvers only name the shape, so they never import the app."""

    settings: Settings
    engine: AsyncEngine
    mailer: Mailer
    login_limits: LoginLimits


@dataclass
class RequestContext:
    services: Services
    tx: RequestTransaction
    client_ip: str
    user_agent: str | None = None
    principal: Principal | None = None
    request: Any = None
    # Set by the WebSocket handshake (`connection_init` payload).
    connection_params: dict | None = None
    bearer_token: str | None = None
    # Made for one WebSocket operation, whose end commits it (app/operations.py).
    one_operation: bool = False
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    loaders: Loaders = field(init=False)
    # Which read path answered: "compiled" (readpath/) or "executed" (Strawberry).
    read_path: str = "executed"

    def __post_init__(self) -> None:
        self.act_as(self.principal)

    def for_operation(self) -> RequestContext:
        """A fresh context for one operation on this (WebSocket) context's connection."""
        return RequestContext(
            services=self.services,
            tx=RequestTransaction(self.services.engine),
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            request=self.request,
            one_operation=True,
        )

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def compiled_reads(self) -> bool:
        return self.services.settings.COMPILED_READS

    def act_as(self, principal: Principal | None) -> None:
        """Make `principal` the viewer for the rest of the request (after a sign-in, say).
        Loaders are rebuilt: what they cached was read under the previous scope."""
        self.principal = principal
        if principal is None:
            self.tx.set_scope(None, None)
        else:
            self.tx.set_scope(principal.business_id, principal.customer_id)
        self.loaders = Loaders(self.tx, principal)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """A mutation's writes: all or nothing (a savepoint). Afterwards, kept or rolled
        back, the loaders start afresh: what they cached — a customer's appointments, a
        count, a row primed inside — may no longer be true."""
        try:
            async with self.tx.savepoint():
                yield
        finally:
            self.loaders = Loaders(self.tx, self.principal)

    @contextmanager
    def acting_for(self, business_id: uuid.UUID, job: str) -> Iterator[Principal]:
        """Do one job for a business before anyone of it is signed in (redeeming an
        emailed link, say) as its system principal (`Principal.system`): scopes give it
        the business's rows, and it is no viewer (`viewer()`, `staff()` refuse it). The
        previous viewer is back afterwards, unless the work signs someone in (`act_as`)
        after this block."""
        previous = self.principal
        system = Principal.system(business_id, job)
        self.act_as(system)
        try:
            yield system
        finally:
            self.act_as(previous)

    def viewer(self) -> Principal:
        if self.principal is None or self.principal.is_system:
            raise Unauthenticated()
        return self.principal

    def staff(self) -> Principal:
        viewer = self.viewer()
        if not viewer.is_staff:
            raise Forbidden()
        return viewer

    def team_manager(self) -> Principal:
        viewer = self.staff()
        if not viewer.can_manage_team:
            raise Forbidden("Only an owner or admin can do this.")
        return viewer

    def customer(self) -> Principal:
        viewer = self.viewer()
        if not viewer.is_customer:
            raise Forbidden("Only the customer can do this.")
        return viewer
