"""Portal access: invitations by email, customer sign-in, password reset, revocation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import Row, func, insert, select, text, update

from auth import passwords, scopes, sessions, tokens
from auth.login_limits import account_key
from auth.principal import Principal
from auth.sessions import IssuedSession
from db import RequestTransaction
from errors import BadInput, Conflict, Unauthenticated
from mail import compose, templates
from models import PortalStatus, PortalTokenPurpose
from models.access import PortalToken
from models.columns import utcnow
from resolvers import customers as customer_rules
from resolvers import inputs
from resolvers.accounts import WRONG_CREDENTIALS, start_session
from resolvers.context import RequestContext, Services

portal_tokens = PortalToken.__table__
customers = scopes.customers
INVALID_LINK = "This link is invalid, already used or expired. Ask for a new one."
RESETS_PER_HOUR = 3


def portal_link(ctx: RequestContext, slug: str, page: str, token: str) -> str:
    return f"{ctx.settings.public_url}/portal/{quote(slug)}/{page}?token={quote(token)}"


async def _kill_tokens(ctx: RequestContext, customer_id: uuid.UUID, purpose: str | None) -> None:
    statement = update(portal_tokens).where(
        portal_tokens.c.customer_id == customer_id, portal_tokens.c.used_at.is_(None)
    )
    if purpose is not None:
        statement = statement.where(portal_tokens.c.purpose == purpose)
    await ctx.tx.execute(statement.values(used_at=func.now()))


async def _issue_token(
    ctx: RequestContext, customer: Row, purpose: PortalTokenPurpose, lifetime: timedelta
) -> str:
    await _kill_tokens(ctx, customer.id, purpose)  # a newer link voids older ones
    token, digest = tokens.new_token()
    await ctx.tx.execute(
        insert(portal_tokens).values(
            id=uuid.uuid4(),
            business_id=customer.business_id,
            customer_id=customer.id,
            purpose=purpose,
            token_hash=digest,
            expires_at=utcnow() + lifetime,
        )
    )
    return token


async def _set_status(ctx: RequestContext, customer: Row, **values: object) -> Row:
    updated = await ctx.tx.first(
        update(customers)
        .where(customers.c.id == customer.id, customers.c.business_id == customer.business_id)
        .values(**values)
        .returning(*scopes.customer_columns)
    )
    ctx.loaders.customer.prime(customer.id, updated, force=True)
    return updated


async def invite(ctx: RequestContext, customer_id: str) -> Row:
    ctx.team_manager()
    customer = await customer_rules.get(ctx, customer_id, field="customerId")
    if not customer.email:
        raise BadInput("Add an email address to this customer first.", field="customerId")
    if customer.portal_status == PortalStatus.ACTIVE:
        raise Conflict("This customer already has portal access.")
    business = await ctx.loaders.business.load(customer.business_id)
    days = ctx.settings.INVITATION_TTL_DAYS
    async with ctx.unit_of_work():
        token = await _issue_token(
            ctx, customer, PortalTokenPurpose.INVITATION, timedelta(days=days)
        )
        updated = await _set_status(
            ctx, customer, portal_status=PortalStatus.INVITED, password_hash=None
        )
        letter = templates.portal_invitation(
            business=business.name,
            customer=customer.name,
            link=portal_link(ctx, business.slug, "accept-invite", token),
            days=days,
        )
        # Sent inside the unit of work: if the mail server refuses, nothing changes.
        await ctx.services.mailer.send(business_mail(ctx, business, customer.email, letter))
    return updated


def business_mail(ctx: RequestContext, business: Row, to: str, letter: templates.Letter):  # noqa: ANN202
    return compose(
        sender_name=business.name,
        sender=ctx.settings.SMTP_FROM,
        to=to,
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
    )


async def token_business(ctx: RequestContext, function: str, token: str) -> uuid.UUID | None:
    if not token or len(token) > 200:
        return None
    return await ctx.tx.scalar(
        text(f"SELECT {function}(:digest)").bindparams(digest=tokens.digest(token))
    )


async def _live_token(ctx: RequestContext, token: str, purpose: PortalTokenPurpose) -> Row:
    """The unused, unexpired token row (locked), read in its business's scope."""
    row = await ctx.tx.first(
        select(portal_tokens)
        .where(
            portal_tokens.c.token_hash == tokens.digest(token),
            portal_tokens.c.purpose == purpose,
            portal_tokens.c.used_at.is_(None),
            portal_tokens.c.expires_at > func.now(),
        )
        .with_for_update()
    )
    if row is None:
        raise Unauthenticated(INVALID_LINK)
    return row


async def _use_token(
    ctx: RequestContext,
    token: str,
    purpose: PortalTokenPurpose,
    password: str,
    field: str,
    allowed: tuple[PortalStatus, ...],
) -> IssuedSession:
    business_id = await token_business(ctx, "portal_token_business", token)
    if business_id is None:
        raise Unauthenticated(INVALID_LINK)
    async with ctx.unit_of_work():
        with ctx.acting_for(business_id):
            row = await _live_token(ctx, token, purpose)
            customer = await ctx.loaders.customer.load(row.customer_id)
            if customer is None or customer.portal_status not in allowed:
                raise Unauthenticated(INVALID_LINK)
            # Checked after the token, and before it is used: a refused password leaves
            # the link working.
            passwords.check_policy(password, field=field)
            password_hash = await passwords.hash_password(password)
            await _kill_tokens(ctx, customer.id, None)
            await _set_status(
                ctx, customer, portal_status=PortalStatus.ACTIVE, password_hash=password_hash
            )
            await sessions.end_sessions(ctx.tx, customer_id=customer.id)
            business = await ctx.loaders.business.load(business_id)
        principal = Principal(business_id=business_id, session_id=None, customer_id=customer.id)
        issued = await start_session(ctx, principal)
    # A new password ends any lockout, once the change itself is in.
    await ctx.services.login_limits.succeeded(account_key("portal", business.slug, customer.email))
    return issued


async def accept_invitation(ctx: RequestContext, *, token: str, password: str) -> IssuedSession:
    return await _use_token(
        ctx, token, PortalTokenPurpose.INVITATION, password, "password", (PortalStatus.INVITED,)
    )


async def reset_password(ctx: RequestContext, *, token: str, new_password: str) -> IssuedSession:
    return await _use_token(
        ctx,
        token,
        PortalTokenPurpose.PASSWORD_RESET,
        new_password,
        "newPassword",
        (PortalStatus.ACTIVE,),
    )


async def _portal_account(ctx: RequestContext, slug: str, email: str) -> Row | None:
    return await ctx.tx.first(
        text(
            "SELECT business_id, customer_id, password_hash, portal_status "
            "FROM portal_login_account(:slug, :email)"
        ).bindparams(slug=slug, email=email)
    )


async def log_in(
    ctx: RequestContext, *, business_slug: str, email: str, password: str
) -> IssuedSession:
    slug, address = inputs.lookup_key(business_slug), inputs.login_email(email)
    account = account_key("portal", slug, address)
    limits = ctx.services.login_limits
    await limits.reserve(account, ctx.client_ip)
    row = await _portal_account(ctx, slug, address)
    usable = row is not None and row.portal_status == PortalStatus.ACTIVE
    ok, new_hash = await passwords.verify_password(row.password_hash if usable else None, password)
    if not (ok and usable):
        raise Unauthenticated(WRONG_CREDENTIALS)  # the reserved attempt stays counted
    await limits.succeeded(account)
    principal = Principal(business_id=row.business_id, session_id=None, customer_id=row.customer_id)
    async with ctx.unit_of_work():
        if new_hash:
            with ctx.acting_for(row.business_id):
                await ctx.tx.execute(
                    update(customers)
                    .where(customers.c.id == row.customer_id)
                    .values(password_hash=new_hash)
                )
        return await start_session(ctx, principal)


async def request_password_reset(ctx: RequestContext, *, business_slug: str, email: str) -> bool:
    """Always true, whether or not the account exists; only an active one gets mail. All the
    work happens after the response, so its timing tells nothing about the account."""
    slug, address = inputs.lookup_key(business_slug), inputs.login_email(email)
    services = ctx.services
    ctx.tx.after_commit(
        lambda: _send_password_reset(services, slug, address), key=("reset", slug, address)
    )
    return True


async def _send_password_reset(services: Services, slug: str, address: str) -> None:
    ctx = RequestContext(
        services=services, tx=RequestTransaction(services.engine), client_ip="background"
    )
    try:
        message = await _issue_password_reset(ctx, slug, address)
    finally:
        await ctx.tx.close()  # the token is committed before anyone can follow the link
    if message is not None:
        await services.mailer.send(message)


async def _issue_password_reset(ctx: RequestContext, slug: str, address: str):  # noqa: ANN202
    row = await _portal_account(ctx, slug, address)
    if row is None or row.portal_status != PortalStatus.ACTIVE:
        return None
    minutes = ctx.settings.PASSWORD_RESET_TTL_MINUTES
    with ctx.acting_for(row.business_id):
        # One reset at a time per customer: the count, the voiding of older links and the
        # new link must not interleave with another request's.
        await ctx.tx.execute(
            select(customers.c.id).where(customers.c.id == row.customer_id).with_for_update()
        )
        recent = await ctx.tx.scalar(
            select(func.count())
            .select_from(portal_tokens)
            .where(
                portal_tokens.c.customer_id == row.customer_id,
                portal_tokens.c.purpose == PortalTokenPurpose.PASSWORD_RESET,
                portal_tokens.c.created_at > func.now() - timedelta(hours=1),
            )
        )
        if recent >= RESETS_PER_HOUR:  # no mailbox flooding
            return None
        customer = await ctx.loaders.customer.load(row.customer_id)
        business = await ctx.loaders.business.load(row.business_id)
        async with ctx.unit_of_work():
            token = await _issue_token(
                ctx, customer, PortalTokenPurpose.PASSWORD_RESET, timedelta(minutes=minutes)
            )
    letter = templates.password_reset(
        business=business.name,
        customer=customer.name,
        link=portal_link(ctx, business.slug, "reset-password", token),
        minutes=minutes,
    )
    return business_mail(ctx, business, customer.email, letter)


async def revoke(ctx: RequestContext, customer_id: str) -> Row:
    ctx.team_manager()
    customer = await customer_rules.get(ctx, customer_id, field="customerId")
    async with ctx.unit_of_work():
        await _kill_tokens(ctx, customer.id, None)
        updated = await _set_status(
            ctx, customer, portal_status=PortalStatus.REVOKED, password_hash=None
        )
        await sessions.end_sessions(ctx.tx, customer_id=customer.id)
    return updated
