"""Portal access: invitations by email, customer sign-in, password reset, revocation."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import Row, update

from auth import emailed_tokens, lookups, passwords, scopes, sessions
from auth.emailed_tokens import INVALID_LINK, Kind
from auth.principal import Principal
from auth.sessions import IssuedSession
from errors import BadInput, Conflict, Unauthenticated
from mail import from_business, templates
from models import PortalStatus
from resolvers import customers as customer_rules
from resolvers import inputs
from resolvers.accounts import (
    WRONG_CREDENTIALS,
    mail_after_response,
    portal_lockout_key,
    start_session,
    store_password,
)
from resolvers.context import RequestContext

customers = scopes.customers


async def _set_status(
    ctx: RequestContext, writer: Principal, customer: Row, **values: object
) -> Row:
    updated = await ctx.tx.first(
        update(customers)
        .where(customers.c.id == customer.id, scopes.customers_writable_by(writer))
        .values(**values)
        .returning(*scopes.customer_columns)
    )
    ctx.loaders.customer.prime(customer.id, updated, force=True)
    return updated


async def invite(ctx: RequestContext, customer_id: str, *, field: str) -> Row:
    viewer = ctx.team_manager()
    customer = await customer_rules.get(ctx, customer_id, field=field)
    if not customer.email:
        raise BadInput("Add an email address to this customer first.", field=field)
    if customer.portal_status == PortalStatus.ACTIVE:
        raise Conflict("This customer already has portal access.")
    business = await ctx.loaders.business.load(customer.business_id)
    kind, days = emailed_tokens.CUSTOMER_INVITATION, ctx.settings.INVITATION_TTL_DAYS
    async with ctx.unit_of_work():
        issued = await emailed_tokens.issue(
            ctx.tx, viewer, kind, account=customer.id, lifetime=timedelta(days=days)
        )
        updated = await _set_status(
            ctx, viewer, customer, portal_status=PortalStatus.INVITED, password_hash=None
        )
        letter = templates.portal_invitation(
            business=business.name,
            customer=customer.name,
            link=emailed_tokens.link(ctx.settings.public_url, kind, business.slug, issued.token),
            days=days,
        )
        # Sent inside the unit of work: if the mail server refuses, nothing changes.
        await ctx.services.mailer.send(
            from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=customer.email)
        )
    return updated


async def _redeem(
    ctx: RequestContext,
    kind: Kind,
    token: str,
    password: str,
    field: str,
    allowed: tuple[PortalStatus, ...],
) -> IssuedSession:
    business_id = await emailed_tokens.business_of(ctx.tx, kind, token)
    async with ctx.unit_of_work():
        with ctx.acting_for(business_id, f"redeem a customer's {kind.page} link") as system:
            link = await emailed_tokens.claim(ctx.tx, system, kind, token)
            customer = await ctx.loaders.customer.load(link.customer_id)
            if customer is None or customer.portal_status not in allowed:
                raise Unauthenticated(INVALID_LINK)
            # Checked after the link, and before it is used: a refused password leaves
            # the link working.
            passwords.check_policy(password, field=field)
            password_hash = await passwords.hash_password(password)
            await emailed_tokens.spend(ctx.tx, system, kind, link)
            await _set_status(
                ctx,
                system,
                customer,
                portal_status=PortalStatus.ACTIVE,
                password_hash=password_hash,
            )
            await sessions.end_sessions(ctx.tx, customer_id=customer.id)
            business = await ctx.loaders.business.load(business_id)
        principal = Principal(business_id=business_id, session_id=None, customer_id=customer.id)
        issued = await start_session(ctx, principal)
    # A new password ends any lockout, once the change itself is in.
    await ctx.services.login_limits.succeeded(portal_lockout_key(business.slug, customer.email))
    return issued


async def accept_invitation(
    ctx: RequestContext, *, token: str, password: str, field: str
) -> IssuedSession:
    return await _redeem(
        ctx, emailed_tokens.CUSTOMER_INVITATION, token, password, field, (PortalStatus.INVITED,)
    )


async def reset_password(
    ctx: RequestContext, *, token: str, new_password: str, field: str
) -> IssuedSession:
    return await _redeem(
        ctx, emailed_tokens.CUSTOMER_RESET, token, new_password, field, (PortalStatus.ACTIVE,)
    )


async def log_in(
    ctx: RequestContext, *, business_slug: str, email: str, password: str
) -> IssuedSession:
    slug, address = inputs.lookup_key(business_slug), inputs.login_email(email)
    account = portal_lockout_key(slug, address)
    limits = ctx.services.login_limits
    await limits.reserve(account, ctx.client_ip)
    row = await lookups.portal_login(ctx.tx, slug, address)
    usable = row is not None and row.portal_status == PortalStatus.ACTIVE
    ok, new_hash = await passwords.verify_password(row.password_hash if usable else None, password)
    if not (ok and usable):
        raise Unauthenticated(WRONG_CREDENTIALS)  # the reserved attempt stays counted
    await limits.succeeded(account)
    principal = Principal(business_id=row.business_id, session_id=None, customer_id=row.customer_id)
    async with ctx.unit_of_work():
        if new_hash:
            await store_password(ctx, principal, new_hash)
        return await start_session(ctx, principal)


async def request_password_reset(ctx: RequestContext, *, business_slug: str, email: str) -> bool:
    """Always true, whether or not the account exists; only an active one gets mail. All the
    work happens after the response, so its timing tells nothing about the account."""
    slug, address = inputs.lookup_key(business_slug), inputs.login_email(email)
    mail_after_response(
        ctx, ("reset", slug, address), lambda job: _customer_reset_mail(job, slug, address)
    )
    return True


async def _customer_reset_mail(ctx: RequestContext, slug: str, address: str) -> EmailMessage | None:
    row = await lookups.portal_login(ctx.tx, slug, address)
    if row is None or row.portal_status != PortalStatus.ACTIVE:
        return None
    kind, minutes = emailed_tokens.CUSTOMER_RESET, ctx.settings.PASSWORD_RESET_TTL_MINUTES
    with ctx.acting_for(row.business_id, "mail a customer password reset link") as system:
        async with ctx.unit_of_work():
            issued = await emailed_tokens.issue(
                ctx.tx,
                system,
                kind,
                account=row.customer_id,
                lifetime=timedelta(minutes=minutes),
                limit=emailed_tokens.RESETS,
            )
        if issued is None:
            return None
        customer = await ctx.loaders.customer.load(row.customer_id)
        business = await ctx.loaders.business.load(row.business_id)
    letter = templates.password_reset(
        business=business.name,
        customer=customer.name,
        link=emailed_tokens.link(ctx.settings.public_url, kind, business.slug, issued.token),
        minutes=minutes,
    )
    return from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=customer.email)


async def revoke(ctx: RequestContext, customer_id: str, *, field: str) -> Row:
    viewer = ctx.team_manager()
    customer = await customer_rules.get(ctx, customer_id, field=field)
    async with ctx.unit_of_work():
        await emailed_tokens.void(ctx.tx, viewer, emailed_tokens.PORTAL, customer.id)
        updated = await _set_status(
            ctx, viewer, customer, portal_status=PortalStatus.REVOKED, password_hash=None
        )
        await sessions.end_sessions(ctx.tx, customer_id=customer.id)
    return updated
