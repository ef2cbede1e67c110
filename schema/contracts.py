"""Contracts: written by staff, sent, signed by the customer in the portal, or voided."""

from __future__ import annotations

import inspect
import uuid
from datetime import datetime

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from models import ContractStatus as ContractStatusValues
from resolvers import contract_documents, contracts, global_ids
from resolvers.context import RequestContext
from schema.customers import Customer, changes_of
from schema.jobs import Job
from schema.relay import Connection, Node, node_type

ContractStatus = strawberry.enum(
    ContractStatusValues,
    name="ContractStatus",
    description="DRAFT (staff only) → SENT (frozen) → SIGNED; DRAFT or SENT → VOID.",
)


@strawberry.type(description="Who signed, when and from where: the audit trail.")
class ContractSignature:
    signer_name: str = strawberry.field(description="The name the customer typed to sign.")
    signer_email: str = strawberry.field(description="The email of the account that signed.")
    signed_at: datetime
    ip_address: str
    user_agent: str | None
    document_sha256: str = strawberry.field(description="The document hash that was signed.")

    @classmethod
    def from_row(cls, row: Row) -> ContractSignature | None:
        if row.signed_at is None:
            return None
        return cls(
            signer_name=row.signer_name,
            signer_email=row.signer_email,
            signed_at=row.signed_at,
            ip_address=row.signer_ip,
            user_agent=row.signer_user_agent,
            document_sha256=row.signed_sha256,
        )


@node_type
@strawberry.type
class Contract(Node):
    title: str
    body: str = strawberry.field(description="Markdown, as written; frozen once sent.")
    status: ContractStatus
    created_at: datetime
    sent_at: datetime | None
    signed_at: datetime | None
    voided_at: datetime | None
    document_sha256: str | None = strawberry.field(
        description="Set when sent: the SHA-256 (hex) of the canonical bytes, the UTF-8 of "
        "the title, two line feeds and the body."
    )
    signed_document_sha256: str | None = strawberry.field(
        description="The SHA-256 (hex) of the signed copy's PDF bytes."
    )
    signature: ContractSignature | None
    row: strawberry.Private[Row]

    @classmethod
    def from_row(cls, row: Row) -> Contract:
        return cls(
            id=global_ids.encode("Contract", row.id),
            title=row.title,
            body=row.body,
            status=ContractStatusValues(row.status),
            created_at=row.created_at,
            sent_at=row.sent_at,
            signed_at=row.signed_at,
            voided_at=row.voided_at,
            document_sha256=row.document_sha256,
            signed_document_sha256=row.signed_document_sha256,
            signature=ContractSignature.from_row(row),
            row=row,
        )

    @strawberry.field(description="The body rendered safely: no raw HTML or script survives.")
    def body_html(self) -> str:
        return contract_documents.body_html(self.row.body)

    @strawberry.field(
        description="The signed copy (PDF): a signed URL that expires "
        "(SIGNED_URL_TTL_SECONDS); null until signed."
    )
    async def signed_document_url(self, info: Info[RequestContext, None]) -> str | None:
        url = contracts.signed_document_url(info.context, self.row.signed_document_key)
        return await url if inspect.isawaitable(url) else url

    @strawberry.field
    async def customer(self, info: Info[RequestContext, None]) -> Customer:
        return Customer.from_row(await info.context.loaders.customer.load(self.row.customer_id))

    @strawberry.field(description="The job this contract is for, if any.")
    async def job(self, info: Info[RequestContext, None]) -> Job | None:
        if self.row.job_id is None:
            return None
        row = await info.context.loaders.job.load(self.row.job_id)
        return None if row is None else Job.from_row(row)


readpath.declare(
    "Contract",
    scopes.contracts_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Contract")),
    title=readpath.Column("title"),
    body=readpath.Column("body"),
    bodyHtml=readpath.Computed(("body",), contract_documents.body_html),
    status=readpath.Column("status"),
    createdAt=readpath.Column("created_at"),
    sentAt=readpath.Column("sent_at"),
    signedAt=readpath.Column("signed_at"),
    voidedAt=readpath.Column("voided_at"),
    documentSha256=readpath.Column("document_sha256"),
    signedDocumentSha256=readpath.Column("signed_document_sha256"),
    # An object of the same row: the row again, through a scope of signed contracts only,
    # so an unsigned contract's signature is null.
    signature=readpath.Related("ContractSignature", "id"),
    signedDocumentUrl=readpath.Computed(
        ("signed_document_key",), contracts.signed_document_url, context=True
    ),
    customer=readpath.Related("Customer", "customer_id"),
    job=readpath.Related("Job", "job_id"),
)
readpath.declare(
    "ContractSignature",
    contracts.signed_contracts_visible_to,
    signerName=readpath.Column("signer_name"),
    signerEmail=readpath.Column("signer_email"),
    signedAt=readpath.Column("signed_at"),
    ipAddress=readpath.Column("signer_ip"),
    userAgent=readpath.Column("signer_user_agent"),
    documentSha256=readpath.Column("signed_sha256"),
)


def _nested(parent: str):
    return readpath.Connection(
        "Contract",
        source=lambda ctx, a: contracts.filtered_visible_to(
            ctx.principal, contracts.statuses_of(a.get("status"))
        ),
        ordering=lambda a: contracts.ORDER,
        parent=(parent, "id"),
    )


# Customer.contracts and Job.contracts (their modules hold the fields; the SQL is here).
readpath.declare("Customer", scopes.customers_visible_to, contracts=_nested("customer_id"))
readpath.declare("Job", scopes.jobs_visible_to, contracts=_nested("job_id"))


async def contracts_of(
    info: Info[RequestContext, None],
    parent: str,
    key: uuid.UUID,
    status: list[ContractStatusValues] | None,
    first: int | None,
    after: str | None,
) -> Connection[Contract]:
    """Customer.contracts or Job.contracts (`parent`: "customer" or "job") for the executed
    path: each parent's page through one loader."""
    loaders = info.context.loaders
    statuses = contracts.statuses_of(status)
    pages = getattr(loaders, f"contracts_by_{parent}")
    page = await pages.load((key, statuses, contracts.args_for(first, after)))

    async def count() -> int:
        return await getattr(loaders, f"contract_count_by_{parent}").load((key, statuses))

    return Connection.of(page, Contract.from_row, count)


@strawberry.input
class CreateContractInput:
    customer_id: strawberry.ID
    job_id: strawberry.ID | None = strawberry.field(
        default=None, description="A job of the same customer that this contract is for."
    )
    title: str
    body: str = strawberry.field(description="Markdown.")


@strawberry.input
class UpdateContractInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET


@strawberry.input
class SignContractInput:
    contract_id: strawberry.ID
    signer_name: str = strawberry.field(description="The name to sign with, as typed.")
    agreed: bool = strawberry.field(description="Must be true: the customer agrees to sign.")


@strawberry.type
class ContractQueries:
    @strawberry.field(
        description="Newest first. A customer gets their own, never a draft; staff get the "
        "business's."
    )
    async def contracts(
        self,
        info: Info[RequestContext, None],
        status: list[ContractStatus] | None = None,
        customer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Contract]:
        page, count = await contracts.list_contracts(
            info.context,
            statuses=contracts.statuses_of(status),
            customer_id=customer_id,
            first=first,
            after=after,
        )
        return Connection.of(page, Contract.from_row, count)


readpath.root(
    contracts=readpath.Connection(
        "Contract",
        source=lambda ctx, a: contracts.listing(
            ctx, statuses=contracts.statuses_of(a.get("status")), customer_id=a.get("customerId")
        ),
        ordering=lambda a: contracts.ORDER,
    )
)


@strawberry.type
class ContractMutations:
    @strawberry.mutation(description="A DRAFT, which only staff see.")
    async def create_contract(
        self, info: Info[RequestContext, None], input: CreateContractInput
    ) -> Contract:
        row = await contracts.create(
            info.context,
            customer_id=input.customer_id,
            job_id=input.job_id,
            title=input.title,
            body=input.body,
        )
        return Contract.from_row(row)

    @strawberry.mutation(description="Drafts only: a sent contract is frozen (CONFLICT).")
    async def update_contract(
        self, info: Info[RequestContext, None], input: UpdateContractInput
    ) -> Contract:
        return Contract.from_row(await contracts.change(info.context, input.id, changes_of(input)))

    @strawberry.mutation(
        description="DRAFT → SENT: the text is frozen and hashed, and the customer gets an "
        "email with a link to the portal."
    )
    async def send_contract(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
    ) -> Contract:
        return Contract.from_row(await contracts.send(info.context, id))

    @strawberry.mutation(description="DRAFT or SENT → VOID. A signed contract stays (CONFLICT).")
    async def void_contract(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
    ) -> Contract:
        return Contract.from_row(await contracts.void(info.context, id))

    @strawberry.mutation(
        description="The contract's own customer, once, while SENT: records the signature "
        "and stores the signed copy (PDF), which both parties receive by email."
    )
    async def sign_contract(
        self, info: Info[RequestContext, None], input: SignContractInput
    ) -> Contract:
        row = await contracts.sign(info.context, input.contract_id, input.signer_name, input.agreed)
        return Contract.from_row(row)
