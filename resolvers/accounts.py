"""Accounts: registering a business; staff sign-in and password reset; and what any
signed-in viewer does with their own account (change its password, sign out)."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from auth import emailed_tokens, lookups, passwords, scopes, sessions
from auth.emailed_tokens import INVALID_LINK
from auth.login_limits import account_key
from auth.principal import Principal
from auth.sessions import IssuedSession
from db import RequestTransaction, violated_constraint
from errors import BadInput, Unauthenticated
from mail import from_business, templates
from models import StaffRole
from resolvers import inputs
from resolvers.context import RequestContext

WRONG_CREDENTIALS = "The email or password is incorrect."
WRONG_PASSWORD = "The current password is incorrect."


def staff_lockout_key(email: str) -> bytes:
    """The sign-in lockout's account for a staff login (emails are unique across businesses)."""
    return account_key("staff", email)


def portal_lockout_key(slug: str, email: str) -> bytes:
    """The sign-in lockout's account for a customer's portal login."""
    return account_key("portal", slug, email)


def slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "business"


async def _free_slug(ctx: RequestContext, name: str) -> str:
    base = slug_base(name)
    candidates = [base] + [f"{base}-{n}" for n in range(2, 10)]
    for candidate in candidates:
        if not await lookups.business_slug_taken(ctx.tx, candidate):
            return candidate
    return f"{base}-{secrets.token_hex(3)}"


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


def _sessions_of(account: Principal) -> dict[str, uuid.UUID | None]:
    if account.is_staff:
        return {"staff_member_id": account.staff_member_id}
    return {"customer_id": account.customer_id}


async def store_password(ctx: RequestContext, account: Principal, password_hash: str) -> None:
    """Write the password hash of a staff member's or a customer's account. The server
    writes it for the business: customers write no customer rows themselves."""
    with ctx.acting_for(account.business_id, "store a new password hash") as system:
        if account.is_staff:
            table, key = scopes.staff_members, account.staff_member_id
            writable = scopes.staff_members_writable_by(system)
        else:
            table, key = scopes.customers, account.customer_id
            writable = scopes.customers_writable_by(system)
        await ctx.tx.execute(
            update(table).where(table.c.id == key, writable).values(password_hash=password_hash)
        )


def mail_after_response(
    ctx: RequestContext,
    key: object,
    compose: Callable[[RequestContext], Awaitable[EmailMessage | None]],
) -> None:
    """Once this request has committed, run `compose` in a transaction of its own with no
    viewer, commit, and send the mail it returns (if any). Its work and whether it finds an
    account thus add nothing to the response's timing; and the link is committed before
    anyone can follow it. The same `key` runs once per request."""
    services = ctx.services

    async def run() -> None:
        job = RequestContext(
            services=services, tx=RequestTransaction(services.engine), client_ip="background"
        )
        try:
            message = await compose(job)
        finally:
            await job.tx.close()
        if message is not None:
            await services.mailer.send(message)

    ctx.tx.after_commit(run, key=key)


async def register_business(
    ctx: RequestContext, *, business_name: str, owner_name: str, email: str, password: str
) -> IssuedSession:
    business_name = inputs.text(
        business_name, "business_name", max_length=200, label="business name"
    )
    owner_name = inputs.text(owner_name, "owner_name", max_length=200, label="name")
    email = inputs.email(email)
    passwords.check_policy(password)
    if await lookups.staff_email_taken(ctx.tx, email):
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
            raise BadInput("Please try again.", field="business_name") from None
        raise


async def staff_log_in(ctx: RequestContext, *, email: str, password: str) -> IssuedSession:
    address = inputs.login_email(email)
    account = staff_lockout_key(address)
    limits = ctx.services.login_limits
    await limits.reserve(account, ctx.client_ip)
    row = await lookups.staff_login(ctx.tx, address)
    ok, new_hash = await passwords.verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        raise Unauthenticated(WRONG_CREDENTIALS)  # the reserved attempt stays counted
    await limits.succeeded(account)
    with ctx.acting_for(row.business_id, "sign a staff member in"):
        staff = await ctx.loaders.staff_member.load(row.staff_member_id)
    principal = Principal(
        business_id=staff.business_id,
        session_id=None,
        staff_member_id=staff.id,
        role=StaffRole(staff.role),
    )
    async with ctx.unit_of_work():
        if new_hash:
            await store_password(ctx, principal, new_hash)
        return await start_session(ctx, principal)


async def log_out(ctx: RequestContext) -> bool:
    viewer = ctx.viewer()
    await sessions.end_sessions(ctx.tx, session_id=viewer.session_id)
    ctx.act_as(None)
    return True


async def log_out_everywhere(ctx: RequestContext) -> bool:
    """Every session of the viewer's account ends, this one included."""
    viewer = ctx.viewer()
    await sessions.end_sessions(ctx.tx, **_sessions_of(viewer))
    ctx.act_as(None)
    return True


async def change_password(
    ctx: RequestContext, *, current_password: str, new_password: str, field: str
) -> bool:
    """Any signed-in viewer. A wrong current password counts toward the sign-in lockout, as
    a failed sign-in does; on success every other session of the account ends."""
    viewer = ctx.viewer()
    passwords.check_policy(new_password, field=field)
    if viewer.is_staff:
        staff = await ctx.loaders.staff_member.load(viewer.staff_member_id)
        account = staff_lockout_key(staff.email)
        login = await lookups.staff_login(ctx.tx, staff.email)
    else:
        customer = await ctx.loaders.customer.load(viewer.customer_id)
        business = await ctx.loaders.business.load(viewer.business_id)
        account = portal_lockout_key(business.slug, customer.email)
        login = await lookups.portal_login(ctx.tx, business.slug, customer.email)
    limits = ctx.services.login_limits
    await limits.reserve(account, ctx.client_ip)
    ok, _ = await passwords.verify_password(
        login.password_hash if login else None, current_password
    )
    if not ok:
        raise Unauthenticated(WRONG_PASSWORD)  # the reserved attempt stays counted
    password_hash = await passwords.hash_password(new_password)
    async with ctx.unit_of_work():
        await store_password(ctx, viewer, password_hash)
        await sessions.end_sessions(ctx.tx, keep=viewer.session_id, **_sessions_of(viewer))
    await limits.succeeded(account)
    return True


async def request_staff_password_reset(ctx: RequestContext, *, email: str) -> bool:
    """Always true, whether or not the account exists; only an existing one gets mail. All
    the work happens after the response, so its timing tells nothing about the account."""
    address = inputs.login_email(email)
    mail_after_response(ctx, ("staff-reset", address), lambda job: _staff_reset_mail(job, address))
    return True


async def _staff_reset_mail(ctx: RequestContext, address: str) -> EmailMessage | None:
    row = await lookups.staff_login(ctx.tx, address)
    if row is None:
        return None
    kind, minutes = emailed_tokens.STAFF_RESET, ctx.settings.PASSWORD_RESET_TTL_MINUTES
    with ctx.acting_for(row.business_id, "mail a staff password reset link") as system:
        async with ctx.unit_of_work():
            issued = await emailed_tokens.issue(
                ctx.tx,
                system,
                kind,
                account=row.staff_member_id,
                lifetime=timedelta(minutes=minutes),
                limit=emailed_tokens.RESETS,
            )
        if issued is None:
            return None
        staff = await ctx.loaders.staff_member.load(row.staff_member_id)
        business = await ctx.loaders.business.load(row.business_id)
    letter = templates.staff_password_reset(
        business=business.name,
        name=staff.name,
        link=emailed_tokens.link(ctx.settings.public_url, kind, business.slug, issued.token),
        minutes=minutes,
    )
    return from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=staff.email)


async def reset_staff_password(
    ctx: RequestContext, *, token: str, new_password: str, field: str
) -> IssuedSession:
    """A new password from an emailed link; every session of the account ends, and the
    reply signs in anew."""
    kind = emailed_tokens.STAFF_RESET
    business_id = await emailed_tokens.business_of(ctx.tx, kind, token)
    async with ctx.unit_of_work():
        with ctx.acting_for(business_id, "redeem a staff password reset link") as system:
            link = await emailed_tokens.claim(ctx.tx, system, kind, token)
            staff = await ctx.loaders.staff_member.load(link.staff_member_id)
            if staff is None:
                raise Unauthenticated(INVALID_LINK)
            # Checked after the link, and before it is used: a refused password leaves
            # the link working.
            passwords.check_policy(new_password, field=field)
            password_hash = await passwords.hash_password(new_password)
            await emailed_tokens.spend(ctx.tx, system, kind, link)
            account = Principal(
                business_id=business_id,
                session_id=None,
                staff_member_id=staff.id,
                role=StaffRole(staff.role),
            )
            await store_password(ctx, account, password_hash)
            await sessions.end_sessions(ctx.tx, staff_member_id=staff.id)
        issued = await start_session(ctx, account)
    # A new password ends any lockout, once the change itself is in.
    await ctx.services.login_limits.succeeded(staff_lockout_key(staff.email))
    return issued
