"""Staff accounts: registering a business, signing in and out."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from auth import passwords, scopes, sessions
from auth.login_limits import account_key
from auth.principal import Principal
from auth.sessions import IssuedSession
from db import violated_constraint
from errors import BadInput, Unauthenticated
from models import StaffRole
from resolvers import inputs

if TYPE_CHECKING:
    from resolvers.context import RequestContext

WRONG_CREDENTIALS = "The email or password is incorrect."


def slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "business"


async def _free_slug(ctx: RequestContext, name: str) -> str:
    base = slug_base(name)
    candidates = [base] + [f"{base}-{n}" for n in range(2, 10)]
    for candidate in candidates:
        taken = await ctx.tx.scalar(
            text("SELECT business_slug_taken(:slug)").bindparams(slug=candidate)
        )
        if not taken:
            return candidate
    return f"{base}-{secrets.token_hex(3)}"


async def email_taken(ctx: RequestContext, email: str) -> bool:
    return bool(
        await ctx.tx.scalar(text("SELECT staff_email_taken(:email)").bindparams(email=email))
    )


async def start_session(ctx: RequestContext, principal: Principal) -> IssuedSession:
    """Open a session for `principal` and make it this request's viewer."""
    ctx.act_as(principal)
    issued = await sessions.open_session(
        ctx.tx,
        business_id=principal.business_id,
        staff_member_id=principal.staff_member_id,
        customer_id=principal.customer_id,
        role=principal.role,
        ttl_days=ctx.settings.SESSION_TTL_DAYS,
        user_agent=ctx.user_agent,
        ip_address=ctx.client_ip,
    )
    ctx.act_as(issued.principal)
    return issued


async def register_business(
    ctx: RequestContext, *, business_name: str, owner_name: str, email: str, password: str
) -> IssuedSession:
    business_name = inputs.text(
        business_name, "businessName", max_length=200, label="business name"
    )
    owner_name = inputs.text(owner_name, "ownerName", max_length=200, label="name")
    email = inputs.email(email)
    passwords.check_policy(password)
    if await email_taken(ctx, email):
        raise BadInput("A staff account with this email already exists.", field="email")
    slug = await _free_slug(ctx, business_name)
    password_hash = await passwords.hash_password(password)
    business_id, staff_id = uuid.uuid4(), uuid.uuid4()
    owner = Principal(
        business_id=business_id, session_id=None, staff_member_id=staff_id, role=StaffRole.OWNER
    )
    previous = ctx.principal
    try:
        async with ctx.unit_of_work():
            ctx.act_as(owner)
            await ctx.tx.execute(
                insert(scopes.businesses).values(id=business_id, name=business_name, slug=slug)
            )
            await ctx.tx.execute(
                insert(scopes.staff_members).values(
                    id=staff_id,
                    business_id=business_id,
                    name=owner_name,
                    email=email,
                    role=StaffRole.OWNER,
                    password_hash=password_hash,
                )
            )
            return await start_session(ctx, owner)
    except BaseException as error:
        ctx.act_as(previous)  # the business was rolled back: no one of it is signed in
        if not isinstance(error, IntegrityError):
            raise
        if violated_constraint(error) == "staff_members_email_key":
            raise BadInput(
                "A staff account with this email already exists.", field="email"
            ) from None
        if violated_constraint(error) == "businesses_slug_key":
            raise BadInput("Please try again.", field="businessName") from None
        raise


async def staff_log_in(ctx: RequestContext, *, email: str, password: str) -> IssuedSession:
    address = inputs.login_email(email)
    account = account_key("staff", address)
    limits = ctx.services.login_limits
    await limits.reserve(account, ctx.client_ip)
    row = await ctx.tx.first(
        text(
            "SELECT business_id, staff_member_id, password_hash FROM staff_login_account(:e)"
        ).bindparams(e=address)
    )
    ok, new_hash = await passwords.verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        raise Unauthenticated(WRONG_CREDENTIALS)  # the reserved attempt stays counted
    await limits.succeeded(account)
    with ctx.acting_for(row.business_id):
        staff = await ctx.loaders.staff_member.load(row.staff_member_id)
        if new_hash:
            await ctx.tx.execute(
                update(scopes.staff_members)
                .where(scopes.staff_members.c.id == staff.id)
                .values(password_hash=new_hash)
            )
    principal = Principal(
        business_id=staff.business_id,
        session_id=None,
        staff_member_id=staff.id,
        role=StaffRole(staff.role),
    )
    async with ctx.unit_of_work():
        return await start_session(ctx, principal)


async def log_out(ctx: RequestContext) -> bool:
    viewer = ctx.viewer()
    await sessions.end_sessions(ctx.tx, session_id=viewer.session_id)
    ctx.act_as(None)
    return True
