"""The single-use emailed-token flow, the one behind every link the portal mails: customer
invitations and password resets, staff invitations and password resets.

A token is random, shown once in the link and stored only as its SHA-256. Issuing one for
an account voids that account's earlier links of the same kind. Redeeming is: find the
token's business (a definer lookup, `business_of`), then in that business's scope `claim`
the live row under a row lock, check what the flow needs (a password that passes the
policy, say: a refusal rolls back and leaves the link working), and `spend` it, which also
voids the account's other live links.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import ColumnElement, Row, Select, Table, func, insert, select, update

from auth import lookups, scopes, tokens
from auth.principal import Principal
from db import RequestTransaction
from errors import Unauthenticated
from models import TokenPurpose
from models.columns import utcnow

INVALID_LINK = "This link is invalid, already used or expired. Ask for a new one."


@dataclass(frozen=True)
class Store:
    """A table of emailed tokens, and what its columns mean."""

    table: Table
    account: str  # whom a token is for: "customer_id", "staff_member_id", or an "email"
    spent: str  # set when the link is used
    voided: str  # set when a newer link, or a change of access, makes it moot
    visible_to: Callable[[Principal | None], Select]
    writable_by: Callable[[Principal | None], ColumnElement[bool]]
    # The account's own row, locked while a rate-limited link is issued (None: no account
    # row exists yet, as for an invitation to join a team).
    account_writable_by: Callable[[Principal | None], ColumnElement[bool]] | None = None
    account_table: Table | None = None


PORTAL = Store(
    scopes.portal_tokens,
    "customer_id",
    spent="used_at",
    voided="used_at",
    visible_to=scopes.portal_tokens_visible_to,
    writable_by=scopes.portal_tokens_writable_by,
    account_writable_by=scopes.customers_writable_by,
    account_table=scopes.customers,
)
STAFF = Store(
    scopes.staff_tokens,
    "staff_member_id",
    spent="used_at",
    voided="used_at",
    visible_to=scopes.staff_tokens_visible_to,
    writable_by=scopes.staff_tokens_writable_by,
    account_writable_by=scopes.staff_members_writable_by,
    account_table=scopes.staff_members,
)
INVITATIONS = Store(
    scopes.staff_invitations,
    "email",
    spent="accepted_at",
    voided="voided_at",
    visible_to=scopes.staff_invitations_visible_to,
    writable_by=scopes.staff_invitations_writable_by,
)


@dataclass(frozen=True)
class Kind:
    """One kind of link: where its tokens live, what for, and the page it opens."""

    store: Store
    purpose: TokenPurpose | None
    area: str  # the link's first path segment: "portal" for customers, "team" for staff
    page: str


CUSTOMER_INVITATION = Kind(PORTAL, TokenPurpose.INVITATION, "portal", "accept-invite")
CUSTOMER_RESET = Kind(PORTAL, TokenPurpose.PASSWORD_RESET, "portal", "reset-password")
STAFF_INVITATION = Kind(INVITATIONS, None, "team", "accept-invite")
STAFF_RESET = Kind(STAFF, TokenPurpose.PASSWORD_RESET, "team", "reset-password")


@dataclass(frozen=True)
class Limit:
    count: int
    per: timedelta


# Reset links per account: enough for a lost mail or two, too few to flood a mailbox.
RESETS = Limit(count=3, per=timedelta(hours=1))


@dataclass(frozen=True)
class Issued:
    token: str  # for the link; never stored
    row: Row  # the stored row, without its hash


def link(public_url: str, kind: Kind, slug: str, token: str) -> str:
    return f"{public_url}/{kind.area}/{quote(slug)}/{kind.page}?token={quote(token)}"


def _live(store: Store) -> list[ColumnElement[bool]]:
    table = store.table
    return [
        table.c[store.spent].is_(None),
        table.c[store.voided].is_(None),
        table.c.expires_at > func.now(),
    ]


async def void(
    tx: RequestTransaction,
    viewer: Principal,
    store: Store,
    account: object,
    *,
    purpose: TokenPurpose | None = None,
) -> None:
    """Void the account's live links (of one purpose, or all)."""
    table = store.table
    statement = update(table).where(
        store.writable_by(viewer),
        table.c[store.account] == account,
        table.c[store.spent].is_(None),
        table.c[store.voided].is_(None),
    )
    if purpose is not None:
        statement = statement.where(table.c.purpose == purpose)
    await tx.execute(statement.values({store.voided: func.now()}))


async def issue(
    tx: RequestTransaction,
    viewer: Principal,
    kind: Kind,
    *,
    account: object,
    lifetime: timedelta,
    limit: Limit | None = None,
    **values: object,
) -> Issued | None:
    """A new link of `kind` for `account` in the viewer's business, voiding its earlier
    ones. With a `limit`, the account's row is locked first, so that counting, voiding and
    issuing never interleave with another request's; None when the account has had its
    count of links in the window."""
    store, table = kind.store, kind.store.table
    if limit is not None:
        assert store.account_table is not None and store.account_writable_by is not None
        account_table = store.account_table
        await tx.execute(
            select(account_table.c.id)
            .where(account_table.c.id == account, store.account_writable_by(viewer))
            .with_for_update()
        )
        recent = await tx.scalar(
            select(func.count())
            .select_from(table)
            .where(
                table.c[store.account] == account,
                table.c.purpose == kind.purpose,
                table.c.created_at > func.now() - limit.per,
            )
        )
        if recent >= limit.count:
            return None
    await void(tx, viewer, store, account, purpose=kind.purpose)
    token, digest = tokens.new_token()
    if kind.purpose is not None:
        values["purpose"] = kind.purpose
    row = await tx.first(
        insert(table)
        .values(
            id=uuid.uuid4(),
            business_id=viewer.business_id,
            token_hash=digest,
            expires_at=utcnow() + lifetime,
            **{store.account: account},
            **values,
        )
        .returning(*scopes.readable(table))
    )
    return Issued(token=token, row=row)


async def business_of(tx: RequestTransaction, kind: Kind, token: str) -> uuid.UUID:
    """The business the token belongs to, or Unauthenticated: the scope to redeem it in."""
    business_id = await lookups.token_business(tx, kind.store.table.name, token)
    if business_id is None:
        raise Unauthenticated(INVALID_LINK)
    return business_id


async def claim(tx: RequestTransaction, viewer: Principal, kind: Kind, token: str) -> Row:
    """The link's row (without its hash) if it is unused, not voided and unexpired, locked
    until the transaction ends so it is redeemed once; otherwise Unauthenticated."""
    store, table = kind.store, kind.store.table
    query = store.visible_to(viewer).where(
        table.c.token_hash == tokens.digest(token), *_live(store)
    )
    if kind.purpose is not None:
        query = query.where(table.c.purpose == kind.purpose)
    row = await tx.first(query.with_for_update())
    if row is None:
        raise Unauthenticated(INVALID_LINK)
    return row


async def spend(
    tx: RequestTransaction, viewer: Principal, kind: Kind, row: Row, **values: object
) -> None:
    """Use up a claimed link, recording `values` on it, and void the account's other live
    links: once a password is set by one, the others are moot."""
    store, table = kind.store, kind.store.table
    await tx.execute(
        update(table)
        .where(table.c.id == row.id, store.writable_by(viewer))
        .values({store.spent: func.now(), **values})
    )
    await void(tx, viewer, store, getattr(row, store.account))
