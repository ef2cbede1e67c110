"""Contracts: staff write a draft, send it (frozen and hashed), and may void it; the
customer signs it once, in the portal, and both sides keep the same signed PDF.

Signing is the one write a customer makes to a business's table: `scopes.CONTRACT_SIGNING`
(and underneath, migration 0005's policy and triggers) lets it touch only their own SENT
contract and only its signature columns. The signature is one conditional UPDATE (`status =
'SENT'`): of simultaneous calls one changes the row and every other finds nothing to change
(it waits for the winner's commit, then re-reads the row) and is a CONFLICT.

The signed copy is stored before that UPDATE, inside `storage.undo_on_failure`, so a refused
or failed signature deletes it again; a commit that fails afterwards deletes it through
`tx.after_rollback`. Its key is random and never reused: nothing can replace it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Awaitable
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Row, Select, func, insert, update

import storage
from auth import scopes
from auth.principal import Principal
from errors import BadInput, Conflict, NotFound
from mail import from_business, templates
from models import ContractStatus, StaffRole
from models.columns import utcnow
from resolvers import contract_documents, global_ids, inputs, lists, loaders, nodes
from resolvers.pagination import (
    Ordering,
)

if TYPE_CHECKING:
    from resolvers.context import RequestContext

log = logging.getLogger(__name__)

contracts = scopes.contracts

# Newest first.
ORDER = Ordering((("created_at", True), ("id", True)))
BODY_MAX_LENGTH = 100_000


# -- reads ----------------------------------------------------------------------------------


# Every list of contracts: by status, of one customer if named (resolvers/lists.py); a
# customer's never holds a draft (the scope says so).
CONTRACT_LISTS = lists.ByStatus(scopes.contracts_visible_to, ContractStatus, contracts, ORDER)
statuses_of = CONTRACT_LISTS.statuses_of
filtered_visible_to = CONTRACT_LISTS.visible_to
listing = CONTRACT_LISTS.listing
args_for = CONTRACT_LISTS.args_for
list_contracts = CONTRACT_LISTS.page


def signed_contracts_visible_to(viewer: Principal | None) -> Select:
    """The viewer's signed contracts: `Contract.signature` is one of these rows or null."""
    query = scopes.contracts_visible_to(viewer)
    return query.where(query.selected_columns.signed_at.is_not(None))


loaders.register("contract", loaders.by_id(scopes.contracts_visible_to))
CONTRACT_LISTS.register("contract", ["customer_id", "job_id"])
nodes.register("Contract", "contract")


def signed_document_url(ctx: Any, key: str | None) -> Awaitable[str] | None:
    """The signed copy, by a signed URL that expires (SIGNED_URL_TTL_SECONDS); null until
    signed. The row came through `scopes.contracts_visible_to`: only the business's staff
    and that customer ever get one. Both read paths call this."""
    if key is None:
        return None
    return ctx.services.storage.signed_url(key)


async def get(ctx: RequestContext, contract_id: str, *, field: str = "id") -> Row:
    """A contract the viewer may see, or NOT_FOUND (a customer's draft included)."""
    key = global_ids.decode(contract_id, "Contract", field=field)
    row = await ctx.loaders.contract.load(key)
    if row is None:
        raise NotFound("Contract")
    return row


# -- staff writes ---------------------------------------------------------------------------


def _content(changes: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    if "title" in changes:
        values["title"] = inputs.text(changes["title"], "title", max_length=200, label="title")  # type: ignore[arg-type]
    if "body" in changes:
        raw = changes["body"]
        # One kind of line break: the body is hashed as stored (contract_documents).
        text = None if raw is None else str(raw).replace("\r\n", "\n").replace("\r", "\n")
        body = inputs.optional_text(
            text, "body", max_length=BODY_MAX_LENGTH, label="contract text", multiline=True
        )
        if not body:
            raise BadInput("Write the contract text.", field="body")
        values["body"] = body
    return values


async def _job_of(ctx: RequestContext, job_id: str, customer_key: uuid.UUID) -> uuid.UUID:
    key = global_ids.decode(job_id, "Job", field="jobId")
    job = await ctx.loaders.job.load(key)
    if job is None:
        raise NotFound("Job")
    if job.customer_id != customer_key:
        raise BadInput("This job is for another customer.", field="jobId")
    return key


async def create(
    ctx: RequestContext, *, customer_id: str, job_id: str | None, title: str, body: str
) -> Row:
    viewer = ctx.staff()
    customer_key = global_ids.decode(customer_id, "Customer", field="customerId")
    values = _content({"title": title, "body": body})
    if await ctx.loaders.customer.load(customer_key) is None:
        raise NotFound("Customer")
    if job_id is not None:
        values["job_id"] = await _job_of(ctx, job_id, customer_key)
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(contracts)
            .values(
                id=uuid.uuid4(),
                business_id=viewer.business_id,
                customer_id=customer_key,
                status=ContractStatus.DRAFT,
                created_by_staff_id=viewer.staff_member_id,
                **values,
            )
            .returning(*scopes.readable(contracts))
        )
    assert row is not None
    return row


async def _locked(ctx: RequestContext, contract_id: str) -> Row:
    """The staff viewer's contract, locked until the request ends (FOR UPDATE): a send, an
    edit and a void of one contract happen one after the other, each seeing the last."""
    ctx.staff()
    key = global_ids.decode(contract_id, "Contract", field="id")
    query = scopes.contracts_visible_to(ctx.principal)
    row = await ctx.tx.first(
        query.where(query.selected_columns.id == key).with_for_update(of=contracts)
    )
    if row is None:
        raise NotFound("Contract")
    return row


async def _save(ctx: RequestContext, row: Row, values: dict[str, object]) -> Row:
    updated = await ctx.tx.first(
        update(contracts)
        .where(contracts.c.id == row.id, scopes.contracts_writable_by(ctx.principal))
        .values(**values)
        .returning(*scopes.readable(contracts))
    )
    if updated is None:
        raise NotFound("Contract")
    return updated


_SETTLED = {
    ContractStatus.SENT: "This contract has been sent: its text is frozen. Void it and "
    "write a new one to change it.",
    ContractStatus.SIGNED: "This contract is signed: it belongs to both parties and no "
    "longer changes.",
    ContractStatus.VOID: "This contract is void.",
}


async def change(ctx: RequestContext, contract_id: str, changes: dict[str, object]) -> Row:
    for name in ("title", "body"):
        if name in changes and changes[name] is None:
            raise BadInput(f"The {name} cannot be removed.", field=name)
    values = _content(changes)
    async with ctx.unit_of_work():
        row = await _locked(ctx, contract_id)
        if row.status != ContractStatus.DRAFT:
            raise Conflict(_SETTLED[ContractStatus(row.status)])
        if not values:
            return row
        return await _save(ctx, row, values)


def contract_link(ctx: RequestContext, area: str, slug: str, contract_key: uuid.UUID) -> str:
    """The contract's page in the portal (area "portal") or the team's app ("team")."""
    contract_id = global_ids.encode("Contract", contract_key)
    return f"{ctx.settings.public_url}/{area}/{quote(slug)}/contracts/{quote(contract_id)}"


async def send(ctx: RequestContext, contract_id: str) -> Row:
    viewer = ctx.staff()
    async with ctx.unit_of_work():
        row = await _locked(ctx, contract_id)
        if row.status != ContractStatus.DRAFT:
            raise Conflict(
                "This contract has already been sent."
                if row.status == ContractStatus.SENT
                else _SETTLED[ContractStatus(row.status)]
            )
        customer = await ctx.loaders.customer.load(row.customer_id)
        if not customer.email:
            raise BadInput("Add an email address to this customer first.", field="id")
        business = await ctx.loaders.business.load(row.business_id)
        sent = await _save(
            ctx,
            row,
            {
                "status": ContractStatus.SENT,
                "sent_at": func.now(),
                "sent_by_staff_id": viewer.staff_member_id,
                # Of the row as locked: what the customer reads is exactly what was hashed.
                "document_sha256": contract_documents.document_sha256(row.title, row.body),
            },
        )
        letter = templates.contract_sent(
            business=business.name,
            customer=customer.name,
            title=row.title,
            link=contract_link(ctx, "portal", business.slug, row.id),
        )
        # Inside the unit of work, as invitations are: if the mail server refuses, the
        # contract stays a draft and staff can try again.
        await ctx.services.mailer.send(
            from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=customer.email)
        )
    return sent


async def void(ctx: RequestContext, contract_id: str) -> Row:
    async with ctx.unit_of_work():
        row = await _locked(ctx, contract_id)
        if row.status == ContractStatus.SIGNED:
            raise Conflict(
                "A signed contract cannot be voided: the signed copy belongs to both parties."
            )
        if row.status == ContractStatus.VOID:
            raise Conflict("This contract is already void.")
        return await _save(ctx, row, {"status": ContractStatus.VOID, "voided_at": func.now()})


# -- the customer's signature ---------------------------------------------------------------


def _pdf_key(business_id: uuid.UUID, contract_key: uuid.UUID) -> str:
    """`businesses/<business>/contracts/<contract>/<random>.pdf`: unguessable, never reused."""
    return storage.check_key(
        f"businesses/{business_id}/contracts/{contract_key}/{secrets.token_urlsafe(18)}.pdf"
    )


async def sign(ctx: RequestContext, contract_id: str, signer_name: str, agreed: bool) -> Row:
    viewer = ctx.customer()
    key = global_ids.decode(contract_id, "Contract", field="contractId")
    name = inputs.text(signer_name, "signerName", max_length=200, label="name to sign with")
    if agreed is not True:
        raise BadInput("Agree to the contract to sign it.", field="agreed")
    row = await ctx.loaders.contract.load(key)
    if row is None:
        raise NotFound("Contract")  # another customer's, or a draft: the scope hides both
    if row.status != ContractStatus.SENT:
        raise Conflict(
            "This contract is already signed."
            if row.status == ContractStatus.SIGNED
            else _SETTLED[ContractStatus(row.status)]
        )
    customer = await ctx.loaders.customer.load(row.customer_id)
    business = await ctx.loaders.business.load(row.business_id)
    copy = contract_documents.SignedCopy(
        contract_id=global_ids.encode("Contract", row.id),
        title=row.title,
        body=row.body,
        business=business.name,
        customer=customer.name,
        customer_email=customer.email,
        document_sha256=row.document_sha256,
        sent_at=row.sent_at,
        signer_name=name,
        # The account's own email: the signer is who signed in.
        signer_email=customer.email,
        signed_at=utcnow(),
        ip_address=ctx.client_ip,
        user_agent=ctx.user_agent[:1000] if ctx.user_agent else None,
    )
    pdf = await asyncio.to_thread(contract_documents.signed_pdf, copy)
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    store = ctx.services.storage
    pdf_key = _pdf_key(row.business_id, row.id)
    async with storage.undo_on_failure(store) as put:
        await put(pdf_key, pdf, "application/pdf")
        async with ctx.unit_of_work():
            signed = await ctx.tx.first(
                scopes.CONTRACT_SIGNING.update(
                    viewer,
                    status=ContractStatus.SIGNED,
                    signed_at=copy.signed_at,
                    signer_name=name,
                    signer_email=copy.signer_email,
                    signer_ip=copy.ip_address,
                    signer_user_agent=copy.user_agent,
                    signed_sha256=row.document_sha256,
                    signed_document_key=pdf_key,
                    signed_document_sha256=pdf_sha256,
                )
                # The hash the PDF shows is the one signed (a send cannot change it; this
                # says so in the statement too).
                .where(contracts.c.id == row.id, contracts.c.document_sha256 == row.document_sha256)
                .returning(*scopes.readable(contracts))
            )
            if signed is None:
                # Someone signed (or the business voided) it in between: ours lost.
                raise Conflict("This contract is already signed or no longer open.")
        ctx.tx.after_rollback(lambda: store.delete(pdf_key))
    # Both parties hear of it once the signature is committed, with the copy attached.
    messages = await _signed_letters(ctx, signed, business, customer, pdf)
    mailer = ctx.services.mailer
    ctx.tx.after_commit(lambda: _send_all(mailer, messages))
    return signed


async def _staff_to_tell(ctx: RequestContext, row: Row) -> list[Row]:
    """Who at the business hears of a signature: the one who sent it, else the owners."""
    staff = scopes.staff_members
    query = scopes.staff_visible_to(ctx.principal)
    rows = await ctx.tx.rows(query.where(staff.c.id == row.sent_by_staff_id))
    if not rows:
        rows = await ctx.tx.rows(query.where(staff.c.role == StaffRole.OWNER))
    return list(rows)


async def _signed_letters(
    ctx: RequestContext, row: Row, business: Row, customer: Row, pdf: bytes
) -> list[EmailMessage]:
    filename = f"contract-{row.signed_at:%Y%m%d}-{str(row.id)[:8]}.pdf"
    recipients = [(customer.email, customer.name, "portal")]
    recipients += [(s.email, s.name, "team") for s in await _staff_to_tell(ctx, row)]
    messages = []
    for address, name, area in recipients:
        letter = templates.contract_signed(
            business=business.name,
            recipient=name,
            signer=row.signer_name,
            title=row.title,
            when=contract_documents.utc_text(row.signed_at),
            link=contract_link(ctx, area, business.slug, row.id),
        )
        message = from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=address)
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        messages.append(message)
    return messages


async def _send_all(mailer: Any, messages: list[EmailMessage]) -> None:
    for message in messages:
        try:
            await mailer.send(message)
        except Exception:
            # The signature stands; the copy is in the portal for both sides.
            log.exception("could not send the signed-contract mail to %s", message["To"])
