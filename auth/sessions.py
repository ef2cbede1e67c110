"""Sessions: opaque bearer tokens, stored as SHA-256, with expiry and last-seen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, text

from auth import lookups, session_cache, tokens
from auth.principal import Principal
from auth.scopes import sessions
from db import RequestTransaction
from models import StaffRole
from models.columns import utcnow

# Revocation and sign-out are broadcast so that open WebSocket subscriptions of those
# sessions can be closed by whichever server process holds them (see realtime, later).
SESSIONS_ENDED_CHANNEL = "portal_sessions_ended"


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime
    principal: Principal


@dataclass(frozen=True)
class LiveSession:
    principal: Principal
    expires_at: datetime


async def live_session(tx: RequestTransaction, token: str) -> LiveSession | None:
    # Scope-free: the token decides the business.
    row = await lookups.session(tx, token)
    if row is None:
        return None
    principal = Principal(
        business_id=row.business_id,
        session_id=row.session_id,
        staff_member_id=row.staff_member_id,
        customer_id=row.customer_id,
        role=StaffRole(row.role) if row.role else None,
    )
    return LiveSession(principal=principal, expires_at=row.expires_at)


async def authenticate(tx: RequestTransaction, token: str) -> Principal | None:
    """The bearer token's viewer, from the database (the server asks through its
    session cache: auth/session_cache.py)."""
    live = await live_session(tx, token)
    return live.principal if live else None


async def open_session(
    tx: RequestTransaction,
    *,
    business_id: uuid.UUID,
    ttl_days: int,
    staff_member_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    role: StaffRole | None = None,
    user_agent: str | None = None,
    ip_address: str | None = None,
) -> IssuedSession:
    """Insert a session. The transaction must already be scoped to `business_id`."""
    token, digest = tokens.new_token()
    session_id = uuid.uuid4()
    expires_at = utcnow() + timedelta(days=ttl_days)
    await tx.execute(
        insert(sessions).values(
            id=session_id,
            business_id=business_id,
            staff_member_id=staff_member_id,
            customer_id=customer_id,
            token_hash=digest,
            expires_at=expires_at,
            user_agent=(user_agent or "")[:500] or None,
            ip_address=ip_address,
        )
    )
    principal = Principal(
        business_id=business_id,
        session_id=session_id,
        staff_member_id=staff_member_id,
        customer_id=customer_id,
        role=role,
    )
    return IssuedSession(token=token, expires_at=expires_at, principal=principal)


async def end_sessions(
    tx: RequestTransaction,
    *,
    session_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    staff_member_id: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> None:
    """End one session, or every session of a customer or staff member (but `keep`)."""
    statement = delete(sessions)
    if session_id is not None:
        statement = statement.where(sessions.c.id == session_id)
    elif customer_id is not None:
        statement = statement.where(sessions.c.customer_id == customer_id)
    elif staff_member_id is not None:
        statement = statement.where(sessions.c.staff_member_id == staff_member_id)
    else:
        raise ValueError("say which sessions to end")
    if keep is not None:
        statement = statement.where(sessions.c.id != keep)
    ended = (await tx.rows(statement.returning(sessions.c.id))) or []
    if ended:
        session_cache.forget_after_commit(tx, [row.id for row in ended])
        # NOTIFY is transactional: listeners hear of it only once this commits.
        payload = ",".join(str(row.id) for row in ended)
        await tx.execute(
            text("SELECT pg_notify(:channel, :payload)").bindparams(
                channel=SESSIONS_ENDED_CHANNEL, payload=payload[:7900]
            )
        )
