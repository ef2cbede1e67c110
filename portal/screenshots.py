"""`make screenshots`: every portal page at phone and desktop width, into docs/screenshots/.

It starts what `make run` starts (an embedded PostgreSQL in a temporary directory, the app
with PUBLIC_URL at its own address), makes a sample business through the API, follows the
invitation link from the outbox like a customer would, and photographs each page in
Debian's headless Chromium (CHROMIUM=… to use another).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import socket
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import uvicorn
from PIL import Image, ImageDraw

import embedded
import migrate
from app import create_app
from config import REPO_ROOT, Settings

OUT = REPO_ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


class Client:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def gql(self, query: str, variables: dict | None = None, **files: bytes) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if files:
            operations = {"query": query, "variables": variables}
            response = await self.http.post(
                "/graphql",
                headers=headers,
                data={
                    "operations": json.dumps(operations),
                    "map": json.dumps({"0": ["variables.input.file"]}),
                },
                files={"0": ("photo.jpg", files["file"], "image/jpeg")},
            )
        else:
            body = {"query": query, "variables": variables or {}}
            response = await self.http.post("/graphql", json=body, headers=headers)
        answer = response.json()
        if answer.get("errors"):
            raise RuntimeError(f"{query.split('(')[0]}: {answer['errors']}")
        return answer["data"]


def photo(colour: tuple[int, int, int], label: str) -> bytes:
    image = Image.new("RGB", (800, 600), colour)
    ImageDraw.Draw(image).text((30, 30), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def at(days: int, hour: int) -> str:
    start = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=days)).isoformat()


async def seed(api: Client, outbox: Path) -> dict[str, str]:
    """A roofing business, a customer with an appointment, a job with photos, a contract,
    an invoice and a few messages. Returns the pages' paths by name and the invitation."""
    data = await api.gql(
        "mutation($i: RegisterBusinessInput!) { registerBusiness(input: $i) { token viewer {"
        " ... on StaffMember { business { slug } } } } }",
        {
            "i": {
                "businessName": "Acme Roofing",
                "ownerName": "Ann Lee",
                "email": "ann@acme.example",
                "password": PASSWORD,
            }
        },
    )
    api.token = data["registerBusiness"]["token"]
    slug = data["registerBusiness"]["viewer"]["business"]["slug"]
    customer = (
        await api.gql(
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            {"i": {"name": "Bob Smith", "email": "bob@example.com", "address": "1 Main St"}},
        )
    )["createCustomer"]["id"]
    job = (
        await api.gql(
            "mutation($i: CreateJobInput!) { createJob(input: $i) { id } }",
            {
                "i": {
                    "customerId": customer,
                    "title": "Roof replacement",
                    "description": "Strip the old shingles, replace the underlayment, new "
                    "architectural shingles and ridge vents.",
                    "scheduledStart": at(-2, 13),
                    "scheduledEnd": at(5, 21),
                }
            },
        )
    )["createJob"]["id"]
    for title, days, hour in (("Final inspection", 6, 14), ("Site visit", -9, 15)):
        await api.gql(
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
            {
                "i": {
                    "customerId": customer,
                    "jobId": job,
                    "title": title,
                    "startsAt": at(days, hour),
                    "endsAt": at(days, hour + 1),
                    "location": "1 Main St, Springfield",
                }
            },
        )
    await api.gql(
        "mutation($i: SetJobStatusInput!) { setJobStatus(input: $i) { id } }",
        {"i": {"jobId": job, "status": "IN_PROGRESS", "message": "The crew started today."}},
    )
    await api.gql(
        "mutation($i: AddJobNoteInput!) { addJobNote(input: $i) { id } }",
        {"i": {"jobId": job, "body": "Shingles arrive Monday morning.", "visibleToCustomer": True}},
    )
    upload = "mutation($input: UploadJobPhotoInput!) { uploadJobPhoto(input: $input) { id } }"
    for colour, caption, stage in (
        ((120, 70, 50), "Old shingles", "BEFORE"),
        ((90, 90, 100), "Underlayment going on", "PROGRESS"),
        ((60, 80, 120), "North side done", "PROGRESS"),
    ):
        await api.gql(
            upload,
            {"input": {"jobId": job, "file": None, "caption": caption, "stage": stage}},
            file=photo(colour, caption),
        )
    contract = (
        await api.gql(
            "mutation($i: CreateContractInput!) { createContract(input: $i) { id } }",
            {
                "i": {
                    "customerId": customer,
                    "jobId": job,
                    "title": "Roof replacement agreement",
                    "body": "1. Acme Roofing replaces the roof of 1 Main St.\n"
                    "2. The work takes about a week, weather permitting.\n"
                    "3. Payment is due within 30 days of completion.",
                }
            },
        )
    )["createContract"]["id"]
    await api.gql("mutation($id: ID!) { sendContract(id: $id) { id } }", {"id": contract})
    invoice = (
        await api.gql(
            "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
            {
                "i": {
                    "customerId": customer,
                    "jobId": job,
                    "dueDate": (datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
                    "taxCents": 6000,
                    "lineItems": [
                        {"description": "Deposit", "quantity": 1, "unitPriceCents": 150000},
                        {"description": "Ridge vents", "quantity": 4, "unitPriceCents": 3500},
                    ],
                }
            },
        )
    )["createInvoice"]["id"]
    await api.gql("mutation($id: ID!) { sendInvoice(id: $id) { id } }", {"id": invoice})
    await api.gql(
        "mutation($id: ID!) { inviteCustomerToPortal(customerId: $id) { id } }", {"id": customer}
    )
    await api.gql(
        "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }",
        {"i": {"customerId": customer, "body": "Hi Bob, the crew starts Monday at 8."}},
    )
    link = await invitation_link(outbox)
    return {
        "link": link,
        "base": f"/portal/{slug}",
        "job": job,
        "contract": contract,
        "invoice": invoice,
        "staff_token": api.token,
        "customer": customer,
    }


def _invitation_in(outbox: Path) -> str | None:
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()
        found = re.search(r"https?://\S+/accept-invite\?token=\S+", text)
        if found:
            return found.group(0)
    return None


async def invitation_link(outbox: Path) -> str:
    """The link of the invitation email (mail goes out after the response: wait for it)."""
    for _ in range(200):
        link = await asyncio.to_thread(_invitation_in, outbox)
        if link:
            return link
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no invitation in {outbox}")


async def photograph(server_url: str, seeded: dict[str, str]) -> list[Path]:
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM, LAUNCH_ARGS

    base = server_url + seeded["base"]
    shots: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for width_name, viewport in WIDTHS.items():
            context = await browser.new_context(viewport=viewport, locale="en-US")
            page = await context.new_page()

            async def shot(name: str, page=page, width_name=width_name) -> None:
                await page.wait_for_load_state("networkidle")
                await page.evaluate("document.fonts.ready")
                path = OUT / f"{name}-{width_name}.png"
                await page.screenshot(path=str(path), full_page=True)
                shots.append(path)

            await page.goto(seeded["link"])
            await page.get_by_role("heading", name=re.compile("^Welcome")).wait_for()
            await shot("accept-invitation")
            await page.get_by_label("New password", exact=True).fill(PASSWORD)
            await page.get_by_label("Repeat the new password").fill(PASSWORD)
            if width_name == "phone":
                await page.get_by_role("button", name=re.compile("^Set password")).click()
            else:
                # the invitation is used up by the phone; the desktop signs in instead
                await page.goto(f"{base}/sign-in")
                await page.get_by_label("Email").fill("bob@example.com")
                await page.get_by_label("Password").fill(PASSWORD)
                await shot("sign-in")
                await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name=re.compile("^Hello")).wait_for()
            await shot("home")
            for name, path, heading in (
                ("appointments", "appointments", "Appointments"),
                ("jobs", "jobs", "Jobs"),
                ("job", f"jobs/{seeded['job']}", "Roof replacement"),
                ("contract", f"contracts/{seeded['contract']}", "Roof replacement agreement"),
                ("invoices", "invoices", "Invoices"),
                ("invoice", f"invoices/{seeded['invoice']}", re.compile("^Invoice INV")),
                ("messages", "messages", "Messages"),
                ("account", "account", "Your account"),
            ):
                await page.goto(f"{base}/{path}")
                await page.get_by_role("heading", name=heading, exact=True).first.wait_for()
                await shot(name)
                if name == "job":
                    await page.locator(".gallery button.thumb").first.click()
                    await page.locator("dialog.photo-viewer img").wait_for()
                    await shot("photo")
            await page.goto(f"{base}/forgot-password")
            await page.get_by_role("heading", name="Forgot your password?").wait_for()
            await shot("forgot-password")
            await context.close()
        await browser.close()
    return shots


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="portal-screenshots-"))
    server = await asyncio.to_thread(embedded.start, data_dir)
    try:
        db = await embedded.bootstrap(server, database="portal_screenshots")
        await migrate.upgrade_async(db.owner_url)
        port = free_port()
        settings = Settings(
            PORT=port,
            DATA_DIR=data_dir / "app",
            DATABASE_URL=db.owner_url,
            PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        app = create_app(settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        uvicorn_server = uvicorn.Server(config)
        task = asyncio.create_task(uvicorn_server.serve())
        while not uvicorn_server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.02)
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                seeded = await seed(Client(http), settings.outbox_dir)
            OUT.mkdir(parents=True, exist_ok=True)
            for path in await photograph(url, seeded):
                print(path.relative_to(REPO_ROOT))
        finally:
            uvicorn_server.should_exit = True
            await task
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    from tests.browser import why_no_browser

    reason = why_no_browser()
    if reason:
        sys.exit(f"make screenshots: {reason}")
    asyncio.run(main())
