"""Invoices: amounts computed by the server (and how a line rounds), drafts changed and sent
with gap-free numbers, payments recorded by staff, overdue by the business's calendar,
voiding, and what a customer sees (never a draft)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox

FIELDS = """id number status isOverdue currency subtotalCents taxCents totalCents
  amountPaidCents amountDueCents dueDate issuedAt paidAt canPayOnline
  lineItems { description quantity unitPriceCents amountCents }
  payments { id amountCents method status paidAt }
  customer { id } job { id }"""
CREATE = f"mutation($input: CreateInvoiceInput!) {{ createInvoice(input: $input) {{ {FIELDS} }} }}"
UPDATE = f"mutation($input: UpdateInvoiceInput!) {{ updateInvoice(input: $input) {{ {FIELDS} }} }}"
SEND = f"mutation($id: ID!) {{ sendInvoice(id: $id) {{ {FIELDS} }} }}"
VOID = f"mutation($id: ID!) {{ voidInvoice(id: $id) {{ {FIELDS} }} }}"
RECORD = f"mutation($input: RecordPaymentInput!) {{ recordPayment(input: $input) {{ {FIELDS} }} }}"
INVOICE = f"query($id: ID!) {{ node(id: $id) {{ ... on Invoice {{ {FIELDS} }} }} }}"
INVOICES = f"""query($status: [InvoiceStatus!], $customerId: ID, $first: Int, $after: String) {{
  invoices(status: $status, customerId: $customerId, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }}
  }}
}}"""
TIME_ZONE = "mutation($tz: String!) { setBusinessTimeZone(timeZone: $tz) { timeZone } }"
CREATE_JOB = 'mutation($id: ID!) { createJob(input: {customerId: $id, title: "Roof"}) { id } }'

LINES = [{"description": "Labour", "quantity": 2, "unitPriceCents": 4500}]


async def create(api: Api, staff: factories.Staff, customer_id: str, **fields: object) -> dict:
    data = await api.gql(
        CREATE,
        {"input": {"customerId": customer_id, "lineItems": LINES, **fields}},
        token=staff.token,
    )
    return data["createInvoice"]


async def send(api: Api, staff: factories.Staff, invoice_id: str) -> dict:
    return (await api.gql(SEND, {"id": invoice_id}, token=staff.token))["sendInvoice"]


async def sent_invoice(
    api: Api, staff: factories.Staff, customer_id: str, **fields: object
) -> dict:
    return await send(api, staff, (await create(api, staff, customer_id, **fields))["id"])


async def record(
    api: Api, staff: factories.Staff, invoice_id: str, cents: int, method: str = "CASH"
) -> dict:
    variables = {"input": {"invoiceId": invoice_id, "amountCents": cents, "method": method}}
    return (await api.gql(RECORD, variables, token=staff.token))["recordPayment"]


async def test_amounts_are_computed_by_the_server_and_lines_round_half_up(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)

    invoice = await create(
        api,
        staff,
        customer["id"],
        taxCents=100,
        lineItems=[
            # 1.5 × 333 = 499.5 → 500 (a tie rounds up)
            {"description": "Gutter clips", "quantity": 1.5, "unitPriceCents": 333},
            # "0.33" × 1001 = 330.33 → 330
            {"description": "Sealant", "quantity": "0.33", "unitPriceCents": 1001},
            # 2.25 × 10 = 22.5 → 23; 0.01 × 49 = 0.49 → 0
            {"description": "Screws", "quantity": "2.250", "unitPriceCents": 10},
            {"description": "Washer", "quantity": 0.01, "unitPriceCents": 49},
        ],
        dueDate="2031-01-31",
    )

    assert [(i["quantity"], i["amountCents"]) for i in invoice["lineItems"]] == [
        ("1.5", 500),
        ("0.33", 330),
        ("2.25", 23),
        ("0.01", 0),
    ]
    assert invoice["subtotalCents"] == 853
    assert invoice["taxCents"] == 100
    assert invoice["totalCents"] == 953
    assert invoice["amountDueCents"] == 953
    assert invoice["amountPaidCents"] == 0
    assert invoice["status"] == "DRAFT"
    assert invoice["number"] is None and invoice["issuedAt"] is None
    assert invoice["currency"] == "usd"
    assert invoice["dueDate"] == "2031-01-31"
    assert invoice["canPayOnline"] is False
    # and both read paths say the same of it
    read = (await api.gql(INVOICE, {"id": invoice["id"]}, token=staff.token))["node"]
    assert read == invoice


async def test_bad_line_items_are_refused_with_their_field(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)

    async def refused(lines: list[dict], **more: object) -> dict:
        return await api.error(
            CREATE,
            {"input": {"customerId": customer["id"], "lineItems": lines, **more}},
            token=staff.token,
        )

    for quantity in ("1.234", "abc", "NaN", True, "1e400"):
        error = await refused([{"description": "X", "quantity": quantity, "unitPriceCents": 1}])
        assert code(error) == "BAD_USER_INPUT", quantity
    error = await refused([{"description": "X", "quantity": 0, "unitPriceCents": 1}])
    assert (code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", "lineItems.0.quantity")
    error = await refused([{"description": "X", "quantity": 1, "unitPriceCents": -5}])
    assert error["extensions"]["field"] == "lineItems.0.unitPriceCents"
    error = await refused([{"description": " ", "quantity": 1, "unitPriceCents": 5}])
    assert error["extensions"]["field"] == "lineItems.0.description"
    assert (await refused([]))["extensions"]["field"] == "lineItems"
    error = await refused(LINES, taxCents=-1)
    assert error["extensions"]["field"] == "taxCents"
    error = await refused(LINES, currency="dollars")
    assert error["extensions"]["field"] == "currency"
    error = await refused([{"description": "X", "quantity": 999999, "unitPriceCents": 2**31 - 1}])
    assert code(error) == "BAD_USER_INPUT"


async def test_a_draft_changes_until_it_is_sent_with_a_number_and_an_email(
    api: Api, mailbox: Mailbox
) -> None:
    staff = await factories.register(api, "Acme Roofing")
    customer = await factories.customer(api, staff, "Bob Smith")
    job = (await api.gql(CREATE_JOB, {"id": customer["id"]}, token=staff.token))["createJob"]
    draft = await create(api, staff, customer["id"], currency="EUR")

    changed = (
        await api.gql(
            UPDATE,
            {
                "input": {
                    "id": draft["id"],
                    "jobId": job["id"],
                    "taxCents": 50,
                    "dueDate": "2031-02-01",
                    "lineItems": [
                        {"description": "Inspection", "quantity": "1", "unitPriceCents": 12000},
                        {"description": "Report", "quantity": "1", "unitPriceCents": 3000},
                    ],
                }
            },
            token=staff.token,
        )
    )["updateInvoice"]
    assert changed["currency"] == "eur"
    assert changed["job"] == {"id": job["id"]}
    assert [i["description"] for i in changed["lineItems"]] == ["Inspection", "Report"]
    assert (changed["subtotalCents"], changed["totalCents"]) == (15000, 15050)
    only_tax = (
        await api.gql(UPDATE, {"input": {"id": draft["id"], "taxCents": 0}}, token=staff.token)
    )["updateInvoice"]
    assert (only_tax["subtotalCents"], only_tax["totalCents"]) == (15000, 15000)

    sent = await send(api, staff, draft["id"])

    assert sent["status"] == "OPEN"
    assert sent["number"] == "INV-0001"
    assert sent["issuedAt"] is not None
    messages = await mailbox.wait_for(customer["email"], 1)
    text = messages[-1].get_body(preferencelist=("plain",)).get_content()
    assert "INV-0001" in messages[-1]["Subject"] and "Acme Roofing" in messages[-1]["Subject"]
    assert "150.00 EUR" in text and "2031-02-01" in text
    assert f"/portal/{staff.slug}/invoices/{draft['id']}" in text
    again = await api.error(SEND, {"id": draft["id"]}, token=staff.token)
    assert code(again) == "CONFLICT"
    late = await api.error(UPDATE, {"input": {"id": draft["id"], "taxCents": 1}}, token=staff.token)
    assert code(late) == "CONFLICT"
    # the job lists it too
    listed = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on Job { invoices { totalCount "
        "edges { node { id number } } } } } }",
        {"id": job["id"]},
        token=staff.token,
    )
    assert listed["node"]["invoices"]["edges"] == [
        {"node": {"id": draft["id"], "number": "INV-0001"}}
    ]


async def test_concurrent_sends_take_consecutive_numbers_without_gaps(api: Api) -> None:
    staff = await factories.register(api)
    other = await factories.register(api)
    customer = await factories.customer(api, staff)
    drafts = [(await create(api, staff, customer["id"]))["id"] for _ in range(10)]

    sent = await asyncio.gather(*(send(api, staff, invoice_id) for invoice_id in drafts))

    assert sorted(s["number"] for s in sent) == [f"INV-{n:04d}" for n in range(1, 11)]
    # each business counts on its own
    elsewhere = await factories.customer(api, other)
    assert (await sent_invoice(api, other, elsewhere["id"]))["number"] == "INV-0001"
    # a refused send takes no number
    assert code(await api.error(SEND, {"id": drafts[0]}, token=staff.token)) == "CONFLICT"
    assert (await sent_invoice(api, staff, customer["id"]))["number"] == "INV-0011"


async def test_partial_payments_keep_it_open_and_full_payment_makes_it_paid(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    draft = await create(api, staff, customer["id"])  # 2 × 45.00 = 90.00
    refused = await api.error(
        RECORD,
        {"input": {"invoiceId": draft["id"], "amountCents": 100, "method": "CASH"}},
        token=staff.token,
    )
    assert code(refused) == "CONFLICT"  # a draft takes no payments
    await send(api, staff, draft["id"])

    partial = await record(api, staff, draft["id"], 4000, "CHECK")

    assert partial["status"] == "OPEN"
    assert (partial["amountPaidCents"], partial["amountDueCents"]) == (4000, 5000)
    assert partial["paidAt"] is None
    assert [(p["amountCents"], p["method"], p["status"]) for p in partial["payments"]] == [
        (4000, "CHECK", "SUCCEEDED")
    ]
    too_much = await api.error(
        RECORD,
        {"input": {"invoiceId": draft["id"], "amountCents": 5001, "method": "CASH"}},
        token=staff.token,
    )
    assert (code(too_much), too_much["extensions"]["field"]) == ("BAD_USER_INPUT", "amountCents")
    card = await api.error(
        RECORD,
        {"input": {"invoiceId": draft["id"], "amountCents": 100, "method": "CARD"}},
        token=staff.token,
    )
    assert (code(card), card["extensions"]["field"]) == ("BAD_USER_INPUT", "method")
    zero = await api.error(
        RECORD,
        {"input": {"invoiceId": draft["id"], "amountCents": 0, "method": "CASH"}},
        token=staff.token,
    )
    assert code(zero) == "BAD_USER_INPUT"

    paid = await record(api, staff, draft["id"], 5000, "BANK_TRANSFER")

    assert paid["status"] == "PAID"
    assert (paid["amountPaidCents"], paid["amountDueCents"]) == (9000, 0)
    assert paid["paidAt"] is not None
    assert paid["isOverdue"] is False
    assert code(await api.error(VOID, {"id": draft["id"]}, token=staff.token)) == "CONFLICT"
    again = await api.error(
        RECORD,
        {"input": {"invoiceId": draft["id"], "amountCents": 1, "method": "CASH"}},
        token=staff.token,
    )
    assert code(again) == "CONFLICT"


async def test_concurrent_payments_never_overpay(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    invoice = await sent_invoice(api, staff, customer["id"])  # 9000

    results = await asyncio.gather(
        *(
            api.post(
                RECORD,
                {"input": {"invoiceId": invoice["id"], "amountCents": 2000, "method": "CASH"}},
                token=staff.token,
            )
            for _ in range(6)
        )
    )

    assert sum(1 for r in results if not r.get("errors")) == 4
    final = (await api.gql(INVOICE, {"id": invoice["id"]}, token=staff.token))["node"]
    assert (final["amountPaidCents"], final["status"]) == (8000, "OPEN")


def _local_today(time_zone: str) -> date:
    return datetime.now(ZoneInfo(time_zone)).date()


async def test_overdue_is_open_and_past_due_in_the_business_time_zone(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    # Today where the day ends last (UTC−12): never yet past anywhere on Earth's west edge,
    # always past at the east edge (UTC+14, a day or more ahead).
    west, east = "Etc/GMT+12", "Pacific/Kiritimati"
    due = _local_today(west).isoformat()
    await api.gql(TIME_ZONE, {"tz": west}, token=staff.token)
    on_time = await sent_invoice(api, staff, customer["id"], dueDate=due)
    late = await sent_invoice(
        api, staff, customer["id"], dueDate=(_local_today(west) - timedelta(days=1)).isoformat()
    )
    undated = await sent_invoice(api, staff, customer["id"])
    draft = await create(api, staff, customer["id"], dueDate="2020-01-01")

    assert on_time["isOverdue"] is False
    assert late["isOverdue"] is True
    assert undated["isOverdue"] is False
    assert draft["isOverdue"] is False  # only an open invoice is late

    business = await api.gql(TIME_ZONE, {"tz": east}, token=staff.token)
    assert business["setBusinessTimeZone"] == {"timeZone": east}
    read = (await api.gql(INVOICE, {"id": on_time["id"]}, token=staff.token))["node"]
    assert read["isOverdue"] is True
    await record(api, staff, late["id"], late["totalCents"])
    assert (await api.gql(INVOICE, {"id": late["id"]}, token=staff.token))["node"][
        "isOverdue"
    ] is False
    bad = await api.error(TIME_ZONE, {"tz": "Mars/Olympus"}, token=staff.token)
    assert (code(bad), bad["extensions"]["field"]) == ("BAD_USER_INPUT", "timeZone")
    assert (await api.gql("{ business { timeZone } }", token=staff.token))["business"] == {
        "timeZone": east
    }


async def test_voiding(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    invoice = await sent_invoice(api, staff, customer["id"], dueDate="2020-01-01")
    assert invoice["isOverdue"] is True

    voided = (await api.gql(VOID, {"id": invoice["id"]}, token=staff.token))["voidInvoice"]

    assert voided["status"] == "VOID"
    assert (voided["amountDueCents"], voided["isOverdue"]) == (0, False)
    assert code(await api.error(VOID, {"id": invoice["id"]}, token=staff.token)) == "CONFLICT"
    partly_paid = await sent_invoice(api, staff, customer["id"])
    await record(api, staff, partly_paid["id"], 100)
    assert code(await api.error(VOID, {"id": partly_paid["id"]}, token=staff.token)) == "CONFLICT"


async def test_a_customer_sees_their_sent_invoices_and_never_a_draft(
    api: Api, mailbox: Mailbox
) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    sent = await sent_invoice(api, staff, me.id)
    paid = await sent_invoice(api, staff, me.id)
    await record(api, staff, paid["id"], paid["totalCents"])
    draft = await create(api, staff, me.id)
    voided_draft = await create(api, staff, me.id)
    await api.gql(VOID, {"id": voided_draft["id"]}, token=staff.token)

    mine = (await api.gql(INVOICES, token=me.token))["invoices"]
    assert [e["node"]["id"] for e in mine["edges"]] == [paid["id"], sent["id"]]
    assert mine["totalCount"] == 2
    assert (await api.gql(INVOICE, {"id": draft["id"]}, token=me.token))["node"] is None
    assert (await api.gql(INVOICE, {"id": voided_draft["id"]}, token=me.token))["node"] is None
    drafts = await api.gql(INVOICES, {"status": ["DRAFT"]}, token=me.token)
    assert drafts["invoices"]["totalCount"] == 0
    open_only = await api.gql(INVOICES, {"status": ["OPEN"]}, token=me.token)
    assert [e["node"]["id"] for e in open_only["invoices"]["edges"]] == [sent["id"]]
    nested = await api.gql(
        "{ viewer { ... on Customer { invoices { totalCount edges { node { id lineItems "
        "{ description } payments { amountCents } } } } } } }",
        token=me.token,
    )
    edges = nested["viewer"]["invoices"]["edges"]
    assert [e["node"]["id"] for e in edges] == [paid["id"], sent["id"]]
    assert edges[0]["node"]["payments"] == [{"amountCents": paid["totalCents"]}]
    assert edges[1]["node"]["lineItems"] == [{"description": "Labour"}]
    # staff see every one, drafts too, and page through them
    everything = (await api.gql(INVOICES, {"first": 3}, token=staff.token))["invoices"]
    assert everything["totalCount"] == 4 and everything["pageInfo"]["hasNextPage"]
    rest = await api.gql(
        INVOICES, {"first": 3, "after": everything["pageInfo"]["endCursor"]}, token=staff.token
    )
    assert [e["node"]["id"] for e in rest["invoices"]["edges"]] == [sent["id"]]
    by_customer = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on Customer { invoices(status: [DRAFT, VOID]) "
        "{ totalCount } } } }",
        {"id": me.id},
        token=staff.token,
    )
    assert by_customer["node"]["invoices"]["totalCount"] == 2
    # a customer changes nothing of it
    assert code(await api.error(SEND, {"id": draft["id"]}, token=me.token)) == "FORBIDDEN"


async def test_staff_list_of_customers_with_invoices_costs_the_same_statements(
    api: Api,
) -> None:
    staff = await factories.register(api)
    for _ in range(3):
        customer = await factories.customer(api, staff)
        await sent_invoice(api, staff, customer["id"])
    query = """{ customers(first: 50) { edges { node { name invoices(first: 5) { totalCount
      edges { node { number totalCents amountDueCents isOverdue canPayOnline
        lineItems { quantity } payments { amountCents } customer { name } } } } } } } }"""
    data = await api.gql(query, token=staff.token)
    assert len(data["customers"]["edges"]) == 3
    assert all(e["node"]["invoices"]["totalCount"] == 1 for e in data["customers"]["edges"])
    assert api.read_paths[-1] == "compiled"
