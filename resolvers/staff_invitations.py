"""Team invitations: owners and admins invite staff by email; the invitee picks a password."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Row, insert
from sqlalchemy.exc import IntegrityError

from auth import emailed_tokens, lookups, passwords, scopes
from auth.principal import Principal
from auth.sessions import IssuedSession
from db import violated_constraint
from errors import BadInput, Conflict, Forbidden
from mail import from_business, templates
from models import StaffRole
from resolvers import inputs
from resolvers.accounts import start_session
from resolvers.context import RequestContext

staff_members = scopes.staff_members


async def invite(ctx: RequestContext, *, name: str, email: str, role: StaffRole) -> Row:
    viewer = ctx.team_manager()
    if role is StaffRole.OWNER and viewer.role is not StaffRole.OWNER:
        raise Forbidden("Only an owner can invite another owner.")
    name = inputs.text(name, "name", max_length=200, label="name")
    email = inputs.email(email)
    if await lookups.staff_email_taken(ctx.tx, email):
        raise BadInput("This person already has a staff account.", field="email")
    business = await ctx.loaders.business.load(viewer.business_id)
    inviter = await ctx.loaders.staff_member.load(viewer.staff_member_id)
    kind, days = emailed_tokens.STAFF_INVITATION, ctx.settings.INVITATION_TTL_DAYS
    async with ctx.unit_of_work():
        issued = await emailed_tokens.issue(
            ctx.tx,
            viewer,
            kind,
            account=email,
            lifetime=timedelta(days=days),
            name=name,
            role=role,
            invited_by_id=viewer.staff_member_id,
        )
        letter = templates.staff_invitation(
            business=business.name,
            name=name,
            inviter=inviter.name,
            link=emailed_tokens.link(ctx.settings.public_url, kind, business.slug, issued.token),
            days=days,
        )
        # Sent inside the unit of work: if the mail server refuses, nothing changes.
        await ctx.services.mailer.send(
            from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=email)
        )
    return issued.row


async def accept(ctx: RequestContext, *, token: str, password: str, field: str) -> IssuedSession:
    kind = emailed_tokens.STAFF_INVITATION
    business_id = await emailed_tokens.business_of(ctx.tx, kind, token)
    async with ctx.unit_of_work():
        with ctx.acting_for(business_id, "redeem a team invitation") as system:
            invitation = await emailed_tokens.claim(ctx.tx, system, kind, token)
            # Checked after the link, and before it is used: a refused password leaves
            # the link working.
            passwords.check_policy(password, field=field)
            if await lookups.staff_email_taken(ctx.tx, invitation.email):
                raise Conflict("This email already has a staff account; sign in instead.")
            staff_id = uuid.uuid4()
            try:
                await ctx.tx.execute(
                    insert(staff_members).values(
                        id=staff_id,
                        business_id=business_id,
                        name=invitation.name,
                        email=invitation.email,
                        role=invitation.role,
                        password_hash=await passwords.hash_password(password),
                    )
                )
            except IntegrityError as error:
                if violated_constraint(error) == "staff_members_email_key":
                    raise Conflict("This email already has a staff account.") from None
                raise
            await emailed_tokens.spend(ctx.tx, system, kind, invitation, staff_member_id=staff_id)
        principal = Principal(
            business_id=business_id,
            session_id=None,
            staff_member_id=staff_id,
            role=StaffRole(invitation.role),
        )
        return await start_session(ctx, principal)
