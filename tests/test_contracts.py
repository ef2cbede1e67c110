"""Contracts end to end over HTTP, on both storage backends: staff write, send (frozen and
hashed, the customer mailed) and void; the customer signs once, also under simultaneous
calls; the signed PDF read back with a PDF text extractor; every refused path with its
code; and the rules underneath, as the app role in raw SQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pypdf
import pytest
import pytest_asyncio

import embedded
from config import Settings
from resolvers import contract_documents, global_ids
from tests import factories
from tests.client import Api, code
from tests.conftest import RunningServer
from tests.mailbox import Mailbox, link_in, text_of
from tests.s3_server import s3_endpoint  # noqa: F401
from tests.test_jobs import create_job
from tests.test_photos import Backend, s3_servers

FIELDS = """id title body bodyHtml status createdAt sentAt signedAt voidedAt documentSha256
  signedDocumentSha256 signedDocumentUrl customer { id } job { id }
  signature { signerName signerEmail signedAt ipAddress userAgent documentSha256 }"""
CREATE = (
    f"""mutation($input: CreateContractInput!) {{ createContract(input: $input) {{ {FIELDS} }} }}"""
)
UPDATE = (
    f"""mutation($input: UpdateContractInput!) {{ updateContract(input: $input) {{ {FIELDS} }} }}"""
)
SEND = f"mutation($id: ID!) {{ sendContract(id: $id) {{ {FIELDS} }} }}"
VOID = f"mutation($id: ID!) {{ voidContract(id: $id) {{ {FIELDS} }} }}"
SIGN = f"""mutation($input: SignContractInput!) {{ signContract(input: $input) {{ {FIELDS} }} }}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Contract {{ {FIELDS} }} }} }}"
LIST = """query($status: [ContractStatus!], $customerId: ID) {
  contracts(status: $status, customerId: $customerId, first: 10) {
    totalCount edges { node { id status title } }
  }
}"""
NESTED = """query($customer: ID!, $job: ID!) {
  customer: node(id: $customer) { ... on Customer {
    contracts { totalCount edges { node { id status signature { signerName } } } } } }
  job: node(id: $job) { ... on Job {
    contracts(status: [SENT, SIGNED]) { totalCount edges { node { id job { id } } } } } }
}"""

BODY = """# Roof replacement

Tear off the old roof at **1 Main St** and lay *30-year* shingles.

- Price: $12,400, half up front
- Work starts within 14 days

<script>alert("gotcha")</script> [click](javascript:alert(1))"""


async def create_contract(
    api: Api, staff: factories.Staff, customer_id: str, **fields: object
) -> dict:
    values = {"customerId": customer_id, "title": "Roof replacement", "body": BODY, **fields}
    return (await api.gql(CREATE, {"input": values}, token=staff.token))["createContract"]


async def sent_contract(api: Api, staff: factories.Staff, customer_id: str, **fields) -> dict:
    created = await create_contract(api, staff, customer_id, **fields)
    return (await api.gql(SEND, {"id": created["id"]}, token=staff.token))["sendContract"]


def sign_input(contract_id: str, name: str = "Bob Smith", agreed: bool = True) -> dict:
    return {"input": {"contractId": contract_id, "signerName": name, "agreed": agreed}}


@pytest_asyncio.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest,
    api: Api,
    server: RunningServer,
    server_settings: Settings,
    start_server,
) -> AsyncIterator[Backend]:
    if request.param == "local":
        yield Backend("local", api, server)
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    compiled, executed = await s3_servers(endpoint, server_settings, start_server)
    async with (
        httpx.AsyncClient(base_url=compiled.url, timeout=60) as http,
        httpx.AsyncClient(base_url=executed.url, timeout=60) as other,
    ):
        yield Backend("s3", Api(http, executed=other), compiled)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


async def test_the_whole_flow_draft_sent_signed_with_the_signed_copy(
    backend: Backend, mailbox: Mailbox
) -> None:
    api = backend.api
    # Given a business, a portal customer and a job of theirs
    staff = await factories.register(api, "Ακμή Roofing")
    me = await factories.portal_customer(api, mailbox, staff, "Zoë Łukasiewicz")
    job = await create_job(api, staff, me.id)

    # When staff write a draft, the customer sees nothing of it
    draft = await create_contract(api, staff, me.id, jobId=job["id"], title="Roof — Дом")
    assert draft["status"] == "DRAFT"
    assert draft["documentSha256"] is None and draft["signature"] is None
    assert draft["signedDocumentUrl"] is None and draft["job"] == {"id": job["id"]}
    # The body is returned as written, and as HTML with nothing that runs
    assert draft["body"] == BODY
    html = draft["bodyHtml"]
    assert "<strong>1 Main St</strong>" in html and "<h1>Roof replacement</h1>" in html
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    assert (await api.gql(NODE, {"id": draft["id"]}, token=me.token))["node"] is None
    assert (await api.gql(LIST, token=me.token))["contracts"]["totalCount"] == 0
    assert (await api.gql(LIST, {"status": ["DRAFT"]}, token=me.token))["contracts"] == {
        "totalCount": 0,
        "edges": [],
    }

    # Drafts can be edited; line breaks are stored as line feeds
    body = BODY + "\r\n\r\nSigned copies go to both parties."
    edited = await api.gql(UPDATE, {"input": {"id": draft["id"], "body": body}}, token=staff.token)
    body = body.replace("\r\n", "\n")
    assert edited["updateContract"]["body"] == body

    # Sending freezes it with the hash of the canonical bytes and mails the customer
    sent = (await api.gql(SEND, {"id": draft["id"]}, token=staff.token))["sendContract"]
    canonical = f"Roof — Дом\n\n{body}".encode()
    assert sent["status"] == "SENT" and sent["sentAt"] is not None
    assert sent["documentSha256"] == hashlib.sha256(canonical).hexdigest()
    assert contract_documents.canonical_bytes("Roof — Дом", body) == canonical
    mail = (await mailbox.wait_for(me.email, 2))[-1]  # after the invitation
    assert "Roof — Дом" in mail["Subject"]
    assert link_in(mail).endswith(f"/portal/{staff.slug}/contracts/{draft['id']}")
    frozen = await api.error(
        UPDATE, {"input": {"id": draft["id"], "title": "X"}}, token=staff.token
    )
    assert code(frozen) == "CONFLICT"

    # The customer reads it, through every path
    seen = (await api.gql(NODE, {"id": draft["id"]}, token=me.token))["node"]
    assert seen == sent
    nested = await api.gql(NESTED, {"customer": me.id, "job": job["id"]}, token=me.token)
    assert nested["customer"]["contracts"]["edges"] == [
        {"node": {"id": draft["id"], "status": "SENT", "signature": None}}
    ]
    assert nested["job"]["contracts"]["totalCount"] == 1

    # When the customer signs (behind the trusted proxy: the forwarded address counts)
    signed = await api.gql(
        SIGN,
        sign_input(draft["id"], "  Zoë Łukasiewicz-Дмитриев "),
        token=me.token,
        ip="203.0.113.9",
    )
    signed = signed["signContract"]

    # Then the signature is recorded whole
    assert signed["status"] == "SIGNED" and signed["signedAt"] is not None
    signature = signed["signature"]
    assert signature["signerName"] == "Zoë Łukasiewicz-Дмитриев"
    assert signature["signerEmail"] == me.email
    assert signature["ipAddress"] == "203.0.113.9"
    assert signature["userAgent"].startswith("python-httpx/")
    assert signature["documentSha256"] == sent["documentSha256"]
    assert signature["signedAt"] == signed["signedAt"]

    # And the signed copy is a PDF with the text, the signature and the audit trail
    response = await backend.fetch(signed["signedDocumentUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert hashlib.sha256(pdf).hexdigest() == signed["signedDocumentSha256"]
    text = pdf_text(pdf)
    for expected in (
        "Zoë Łukasiewicz-Дмитриев",
        sent["documentSha256"],
        "Certificate of signature",
        "Ακμή Roofing",
        "203.0.113.9",
        draft["id"],
        "Tear off the old roof",
        me.email,
    ):
        assert expected in text, expected
    attached = pypdf.PdfReader(io.BytesIO(pdf)).attachments["contract.txt"][0]
    assert attached == canonical

    # Staff get a URL to the very same bytes
    theirs = (await api.gql(NODE, {"id": draft["id"]}, token=staff.token))["node"]
    assert theirs == {**signed, "signedDocumentUrl": theirs["signedDocumentUrl"]}
    assert (await backend.fetch(theirs["signedDocumentUrl"])).content == pdf

    # Both parties are mailed, with the copy attached
    for address, area in ((me.email, "portal"), (staff.email, "team")):
        mail = (await mailbox.wait_for(address, 3 if address == me.email else 1))[-1]
        assert mail["Subject"] == "Signed: Roof — Дом"
        assert "Zoë Łukasiewicz-Дмитриев" in text_of(mail)
        assert link_in(mail).endswith(f"/{area}/{staff.slug}/contracts/{draft['id']}")
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content() == pdf

    # The signed copy never changes: signing again, voiding or editing is refused
    for document, variables, token in (
        (SIGN, sign_input(draft["id"], "Someone Else"), me.token),
        (VOID, {"id": draft["id"]}, staff.token),
        (SEND, {"id": draft["id"]}, staff.token),
        (UPDATE, {"input": {"id": draft["id"], "body": "new"}}, staff.token),
    ):
        assert code(await api.error(document, variables, token=token)) == "CONFLICT"
    again = (await api.gql(NODE, {"id": draft["id"]}, token=me.token))["node"]
    assert again["signedDocumentSha256"] == signed["signedDocumentSha256"]
    assert (await backend.fetch(again["signedDocumentUrl"])).content == pdf


async def test_simultaneous_signatures_make_one(
    api: Api, mailbox: Mailbox, server: RunningServer
) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    contract = await sent_contract(api, staff, me.id)

    answers = await asyncio.gather(
        *(
            api.post(SIGN, sign_input(contract["id"], f"Signer {n}"), token=me.token)
            for n in range(6)
        )
    )

    won = [a for a in answers if not a.get("errors")]
    lost = [a for a in answers if a.get("errors")]
    assert len(won) == 1
    assert {code(a["errors"][0]) for a in lost} == {"CONFLICT"}
    final = (await api.gql(NODE, {"id": contract["id"]}, token=staff.token))["node"]
    assert (
        final["signature"]["signerName"]
        == won[0]["data"]["signContract"]["signature"]["signerName"]
    )
    # Only the winner's copy is stored: the losers' were deleted again
    root = server.app.state.services.storage.root
    business = global_ids.parse(staff.business_id)[1]
    stored = [p for p in (root / f"businesses/{business}/contracts").rglob("*") if p.is_file()]
    assert len(stored) == 1
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == final["signedDocumentSha256"]


async def test_every_refused_signature_has_its_code(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    neighbour = await factories.portal_customer(api, mailbox, staff)
    other_staff = await factories.register(api)
    stranger = await factories.portal_customer(api, mailbox, other_staff)
    mine = await sent_contract(api, staff, me.id)
    draft = await create_contract(api, staff, me.id)
    voided = await sent_contract(api, staff, me.id)
    await api.gql(VOID, {"id": voided["id"]}, token=staff.token)
    signed = await sent_contract(api, staff, me.id)
    await api.gql(SIGN, sign_input(signed["id"]), token=me.token)

    cases = [
        ("agreed: false", sign_input(mine["id"], agreed=False), me.token, "BAD_USER_INPUT"),
        ("blank name", sign_input(mine["id"], name="   "), me.token, "BAD_USER_INPUT"),
        ("staff", sign_input(mine["id"]), staff.token, "FORBIDDEN"),
        ("another business's staff", sign_input(mine["id"]), other_staff.token, "FORBIDDEN"),
        ("another customer", sign_input(mine["id"]), neighbour.token, "NOT_FOUND"),
        ("another business's customer", sign_input(mine["id"]), stranger.token, "NOT_FOUND"),
        ("a draft", sign_input(draft["id"]), me.token, "NOT_FOUND"),
        ("a void one", sign_input(voided["id"]), me.token, "CONFLICT"),
        ("a signed one", sign_input(signed["id"]), me.token, "CONFLICT"),
        ("signed out", sign_input(mine["id"]), None, "UNAUTHENTICATED"),
        ("not a contract id", sign_input(me.id), me.token, "NOT_FOUND"),
    ]
    for label, variables, token, expected in cases:
        error = await api.error(SIGN, variables, token=token)
        assert code(error) == expected, label
        if expected == "BAD_USER_INPUT":
            assert error["extensions"]["field"] in {"agreed", "signerName"}, label
    # None of them changed anything
    still = (await api.gql(NODE, {"id": mine["id"]}, token=me.token))["node"]
    assert still["status"] == "SENT" and still["signature"] is None


async def test_staff_lifecycle_send_void_and_their_conflicts(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    other = await factories.customer(api, staff)
    others_job = await create_job(api, staff, other["id"])

    wrong_job = await api.error(
        CREATE,
        {"input": {"customerId": me.id, "jobId": others_job["id"], "title": "T", "body": "B"}},
        token=staff.token,
    )
    assert (code(wrong_job), wrong_job["extensions"]["field"]) == ("BAD_USER_INPUT", "jobId")
    for field, values in (("title", {"title": " "}), ("body", {"body": "\n "})):
        error = await api.error(
            CREATE,
            {"input": {"customerId": me.id, "title": "T", "body": "B", **values}},
            token=staff.token,
        )
        assert (code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)

    draft = await create_contract(api, staff, me.id)
    voided = (await api.gql(VOID, {"id": draft["id"]}, token=staff.token))["voidContract"]
    assert voided["status"] == "VOID" and voided["voidedAt"] is not None
    for document in (VOID, SEND):
        assert code(await api.error(document, {"id": draft["id"]}, token=staff.token)) == "CONFLICT"
    # A voided draft was never the customer's to see
    assert (await api.gql(NODE, {"id": draft["id"]}, token=me.token))["node"] is None

    sent = await sent_contract(api, staff, me.id)
    assert code(await api.error(SEND, {"id": sent["id"]}, token=staff.token)) == "CONFLICT"
    voided = (await api.gql(VOID, {"id": sent["id"]}, token=staff.token))["voidContract"]
    assert voided["status"] == "VOID" and voided["documentSha256"] == sent["documentSha256"]
    # A sent one that was voided stays visible to the customer, as void
    listed = await api.gql(LIST, {"status": ["VOID"]}, token=me.token)
    assert [e["node"]["id"] for e in listed["contracts"]["edges"]] == [sent["id"]]

    # Sending needs somewhere to send it
    no_email = await factories.customer(api, staff, email="")
    unsendable = await create_contract(api, staff, no_email["id"])
    assert code(await api.error(SEND, {"id": unsendable["id"]}, token=staff.token)) == (
        "BAD_USER_INPUT"
    )

    # Staff filter by status and customer
    everything = await api.gql(LIST, {"customerId": me.id}, token=staff.token)
    assert everything["contracts"]["totalCount"] == 2
    drafts = await api.gql(LIST, {"status": ["DRAFT"]}, token=staff.token)
    assert [e["node"]["id"] for e in drafts["contracts"]["edges"]] == [unsendable["id"]]


async def _as_app_role(
    database: embedded.EmbeddedDatabase, business: uuid.UUID, customer: uuid.UUID | None
) -> asyncpg.Connection:
    connection = await asyncpg.connect(database.app_url)
    await connection.execute(
        "SELECT set_config('app.business_id', $1, false), set_config('app.customer_id', $2, false)",
        str(business),
        str(customer or ""),
    )
    return connection


async def test_the_rules_hold_in_raw_sql_as_the_app_role(
    api: Api, mailbox: Mailbox, database: embedded.EmbeddedDatabase
) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    draft = await create_contract(api, staff, me.id)
    sent = await sent_contract(api, staff, me.id)
    business = global_ids.parse(staff.business_id)[1]
    customer = global_ids.parse(me.id)[1]
    sent_key = global_ids.parse(sent["id"])[1]

    as_customer = await _as_app_role(database, business, customer)
    try:
        # No draft, by any path
        ids = {r["id"] for r in await as_customer.fetch("SELECT id FROM contracts")}
        assert ids == {sent_key}
        # The text of a sent contract is not theirs to change, nor its status but to sign
        # (the text by two rules at once: sent means frozen, and not a signature column)
        with pytest.raises((asyncpg.CheckViolationError, asyncpg.InsufficientPrivilegeError)):
            await as_customer.execute("UPDATE contracts SET body = 'new terms'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_customer.execute("UPDATE contracts SET status = 'VOID'")
        assert (
            await as_customer.execute(
                "UPDATE contracts SET signer_name = 'x' WHERE id = $1",
                global_ids.parse(draft["id"])[1],
            )
            == "UPDATE 0"
        )
    finally:
        await as_customer.close()

    await api.gql(SIGN, sign_input(sent["id"]), token=me.token)
    as_staff = await _as_app_role(database, business, None)
    try:
        # A signed contract no longer changes, whoever asks
        with pytest.raises(asyncpg.CheckViolationError):
            await as_staff.execute(
                "UPDATE contracts SET signed_document_key = 'x' WHERE id = $1", sent_key
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await as_staff.execute("UPDATE contracts SET status = 'VOID' WHERE id = $1", sent_key)
    finally:
        await as_staff.close()
