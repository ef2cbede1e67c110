"""Every lookup that must look across tenants, before anyone is known: the one caller of
the SECURITY DEFINER functions (migrations/rls.py `definer_function`, owned by a read-only
role). Each answers one narrow question; nothing else of the code base reads around the
row-level scope.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Row, bindparam, text

from auth import tokens
from db import RequestTransaction

_SESSION = text(
    "SELECT session_id, business_id, staff_member_id, customer_id, role, expires_at "
    "FROM auth_session(:digest)"
).bindparams(bindparam("digest", type_=None))
_STAFF_LOGIN = text(
    "SELECT business_id, staff_member_id, password_hash FROM staff_login_account(:email)"
)
_PORTAL_LOGIN = text(
    "SELECT business_id, customer_id, password_hash, portal_status "
    "FROM portal_login_account(:slug, :email)"
)
# Which business an emailed token belongs to, one function per token table.
_TOKEN_BUSINESS = {
    "portal_tokens": text("SELECT portal_token_business(:digest)"),
    "staff_tokens": text("SELECT staff_token_business(:digest)"),
    "staff_invitations": text("SELECT staff_invitation_business(:digest)"),
}


def _plausible(token: str | None) -> bool:
    return bool(token) and len(token) <= 200


async def session(tx: RequestTransaction, token: str) -> Row | None:
    """The bearer token's live session (and touches its last-seen time)."""
    if not _plausible(token):
        return None
    return await tx.first(_SESSION.bindparams(digest=tokens.digest(token)))


async def staff_login(tx: RequestTransaction, email: str) -> Row | None:
    """(business_id, staff_member_id, password_hash) of the staff account with this email."""
    return await tx.first(_STAFF_LOGIN.bindparams(email=email))


async def portal_login(tx: RequestTransaction, slug: str, email: str) -> Row | None:
    """(business_id, customer_id, password_hash, portal_status) of a business's customer."""
    return await tx.first(_PORTAL_LOGIN.bindparams(slug=slug, email=email))


async def business_slug_taken(tx: RequestTransaction, slug: str) -> bool:
    return bool(await tx.scalar(text("SELECT business_slug_taken(:slug)").bindparams(slug=slug)))


async def business_name(tx: RequestTransaction, slug: str) -> str | None:
    """The name of the business with this slug (its portal pages show it before sign-in)."""
    if not _plausible(slug):
        return None
    return await tx.scalar(text("SELECT business_name_by_slug(:slug)").bindparams(slug=slug))


async def staff_email_taken(tx: RequestTransaction, email: str) -> bool:
    return bool(await tx.scalar(text("SELECT staff_email_taken(:email)").bindparams(email=email)))


async def token_business(tx: RequestTransaction, table: str, token: str) -> uuid.UUID | None:
    """The business of the emailed token kept in `table`, whatever its state (the caller
    then reads it in that business's scope, where its state is checked)."""
    if not _plausible(token):
        return None
    return await tx.scalar(_TOKEN_BUSINESS[table].bindparams(digest=tokens.digest(token)))


async def business_for_stripe_account(tx: RequestTransaction, account: str) -> uuid.UUID | None:
    """The business whose Stripe connected account this is (a webhook names only that)."""
    if not _plausible(account):
        return None
    return await tx.scalar(
        text("SELECT business_for_stripe_account(:account)").bindparams(account=account)
    )
