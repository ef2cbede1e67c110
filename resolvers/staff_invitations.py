"""Team invitations: owners and admins invite staff by email; the invitee picks a password."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from auth import passwords, scopes, tokens
from auth.principal import Principal
from auth.sessions import IssuedSession
from db import violated_constraint
from errors import BadInput, Conflict, Forbidden, Unauthenticated
from mail import templates
from models import StaffRole
from models.columns import utcnow
from resolvers import inputs
from resolvers.accounts import email_taken, start_session
from resolvers.portal_access import INVALID_LINK, business_mail, token_business

if TYPE_CHECKING:
    from resolvers.context import RequestContext

invitations = scopes.staff_invitations
staff_members = scopes.staff_members


async def invite(ctx: RequestContext, *, name: str, email: str, role: StaffRole) -> Row:
    viewer = ctx.team_manager()
    if role is StaffRole.OWNER and viewer.role is not StaffRole.OWNER:
        raise Forbidden("Only an owner can invite another owner.")
    name = inputs.text(name, "name", max_length=200, label="name")
    email = inputs.email(email)
    if await email_taken(ctx, email):
        raise BadInput("This person already has a staff account.", field="email")
    business = await ctx.loaders.business.load(viewer.business_id)
    inviter = await ctx.loaders.staff_member.load(viewer.staff_member_id)
    days = ctx.settings.INVITATION_TTL_DAYS
    token, digest = tokens.new_token()
    async with ctx.unit_of_work():
        await ctx.tx.execute(
            update(invitations)
            .where(
                invitations.c.business_id == viewer.business_id,
                invitations.c.email == email,
                invitations.c.accepted_at.is_(None),
                invitations.c.voided_at.is_(None),
            )
            .values(voided_at=func.now())
        )
        row = await ctx.tx.first(
            insert(invitations)
            .values(
                id=uuid.uuid4(),
                business_id=viewer.business_id,
                name=name,
                email=email,
                role=role,
                token_hash=digest,
                invited_by_id=viewer.staff_member_id,
                expires_at=utcnow() + timedelta(days=days),
            )
            .returning(*scopes.readable(invitations))
        )
        link = f"{ctx.settings.public_url}/team/{business.slug}/accept-invite?token={token}"
        letter = templates.staff_invitation(
            business=business.name, name=name, inviter=inviter.name, link=link, days=days
        )
        await ctx.services.mailer.send(business_mail(ctx, business, email, letter))
    return row


async def accept(ctx: RequestContext, *, token: str, password: str) -> IssuedSession:
    business_id = await token_business(ctx, "staff_invitation_business", token)
    if business_id is None:
        raise Unauthenticated(INVALID_LINK)
    async with ctx.unit_of_work():
        with ctx.acting_for(business_id):
            invitation = await ctx.tx.first(
                select(invitations)
                .where(
                    invitations.c.token_hash == tokens.digest(token),
                    invitations.c.accepted_at.is_(None),
                    invitations.c.voided_at.is_(None),
                    invitations.c.expires_at > func.now(),
                )
                .with_for_update()
            )
            if invitation is None:
                raise Unauthenticated(INVALID_LINK)
            passwords.check_policy(password)
            if await email_taken(ctx, invitation.email):
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
            await ctx.tx.execute(
                update(invitations)
                .where(invitations.c.id == invitation.id)
                .values(accepted_at=func.now(), staff_member_id=staff_id)
            )
        principal = Principal(
            business_id=business_id,
            session_id=None,
            staff_member_id=staff_id,
            role=StaffRole(invitation.role),
        )
        return await start_session(ctx, principal)
