"""The customer portal's pages in a real browser (headless Chromium), against the app served
by uvicorn, from the links the emails really carry.

The server for these tests has PUBLIC_URL set to its own address, as with `make run`, so an
emailed link opens this server's page. Parts of the journey whose API has not landed yet
(checked by introspection) are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from tests import factories

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips these tests, saying why
    expect = None
from tests.browser import DESKTOP, browser, new_page, page  # noqa: F401
from tests.client import Api
from tests.conftest import RunningServer, free_port
from tests.mailbox import Mailbox, link_in

CREATE_JOB = """mutation($input: CreateJobInput!) { createJob(input: $input) { id title } }"""
SET_STATUS = """mutation($input: SetJobStatusInput!) { setJobStatus(input: $input) { id } }"""
ADD_NOTE = """mutation($input: AddJobNoteInput!) { addJobNote(input: $input) { id } }"""
UPLOAD = """mutation($input: UploadJobPhotoInput!) { uploadJobPhoto(input: $input) { id } }"""
REQUEST_RESET = """mutation($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) }"""
SEND_STAFF_MESSAGE = """mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"""
CREATE_CONTRACT = (
    """mutation($input: CreateContractInput!) { createContract(input: $input) { id } }"""
)
SEND_CONTRACT = """mutation($id: ID!) { sendContract(id: $id) { id status } }"""
CONTRACT_STATUS = """query($id: ID!) { node(id: $id) { ... on Contract { status signature {
  signerName } } } }"""
NEW_PASSWORD = "a brand new passphrase"
WEBHOOK_SECRET = "whsec_portal_pages"
ONBOARD = "mutation { startStripeOnboarding { url } }"
CREATE_INVOICE = """mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }"""
SEND_INVOICE = """mutation($id: ID!) { sendInvoice(id: $id) { id number amountDueCents } }"""
INVOICE_STATUS = """query($id: ID!) { node(id: $id) { ... on Invoice { status amountDueCents
  payments { method amountCents } } } }"""
# Stripe.js, as far as the Pay page uses it: a Payment Element that mounts a field, and a
# confirmation that Stripe accepted the card (the invoice is paid only by the webhook).
STRIPE_JS_STANDIN = """
window.Stripe = function (key, options) {
  window.stripeStandin = { key, options };
  return {
    elements(settings) {
      window.stripeStandin.clientSecret = settings.clientSecret;
      return { create(kind) { return { mount(target) {
        const input = document.createElement('input');
        input.setAttribute('aria-label', 'Card number');
        target.append(input);
      } }; } };
    },
    async confirmPayment(params) {
      window.stripeStandin.confirmed = Boolean(params.elements);
      return { paymentIntent: { status: 'processing' } };
    },
  };
};
"""


@pytest_asyncio.fixture(scope="session")
async def stripe() -> AsyncIterator[object | None]:
    """Stripe's API, stood in for on loopback (None until the invoices' stand-in lands)."""
    try:
        from tests.stripe_standin import StripeStandin
    except ImportError:
        yield None
        return
    standin = StripeStandin(free_port())
    await standin.start()
    yield standin
    await standin.stop()


@pytest_asyncio.fixture(scope="session")
async def portal_server(server_settings, start_server, stripe) -> RunningServer:
    """The app as `make run` serves it: emailed links point at this very server."""
    port = free_port()
    update = {
        "PORT": port,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_portal",
    }
    if stripe is not None:
        update.update(
            STRIPE_SECRET_KEY="sk_test_portal",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=stripe.url,
        )
    return await start_server(server_settings.model_copy(update=update))


@pytest_asyncio.fixture
async def portal(portal_server: RunningServer, clean: None) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=portal_server.url, timeout=30) as http:
        yield Api(http)


async def api_has(api: Api, type_name: str, field: str) -> bool:
    data = await api.gql(
        "query($name: String!) { __type(name: $name) { fields { name } } }", {"name": type_name}
    )
    return field in {f["name"] for f in (data["__type"] or {}).get("fields") or []}


async def requires(api: Api, type_name: str, field: str) -> None:
    if not await api_has(api, type_name, field):
        pytest.skip(f"{type_name}.{field} has not landed in the API yet")


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


async def upload_photo(api: Api, token: str, job_id: str, data: bytes, **fields: object) -> None:
    operations = {
        "query": UPLOAD,
        "variables": {"input": {"jobId": job_id, "file": None, **fields}},
    }
    response = await api.http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("photo.jpg", data, "image/jpeg")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert not response.json().get("errors"), response.text


def later(days: int, hour: int = 9) -> str:
    start = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=days)).isoformat()


async def invited(
    api: Api, mailbox: Mailbox, business: str = "Acme Roofing & Sons", name: str = "Bob Smith"
) -> tuple[factories.Staff, dict, str]:
    """A business, a customer invited to its portal, and the link of the invitation email."""
    staff = await factories.register(api, business)
    customer = await factories.customer(api, staff, name)
    await api.gql(factories.INVITE_CUSTOMER, {"id": customer["id"]}, token=staff.token)
    [message] = await mailbox.wait_for(customer["email"])
    return staff, customer, link_in(message)


async def accept(tab, link: str) -> None:
    await tab.goto(link)
    await tab.get_by_label("New password", exact=True).fill(factories.PASSWORD)
    await tab.get_by_label("Repeat the new password").fill(factories.PASSWORD)
    await tab.get_by_role("button", name="Set password and open my portal").click()
    await tab.get_by_role("heading", name=re.compile(r"^Hello,")).wait_for()


async def test_from_the_invitation_link_to_appointments_jobs_and_photos(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    # given a business with a customer, an appointment in two days, one last week, a job
    # in progress with a shared and an internal note, and photos of two stages
    staff, customer, link = await invited(portal, mailbox)
    await factories.appointment(
        portal, staff, customer["id"], later(2), later(2, 11), title="Roof inspection"
    )
    await factories.appointment(
        portal, staff, customer["id"], later(-7), later(-7, 10), title="First visit"
    )
    job = (
        await portal.gql(
            CREATE_JOB,
            {"input": {"customerId": customer["id"], "title": "New roof <script>x</script>"}},
            token=staff.token,
        )
    )["createJob"]
    await portal.gql(
        SET_STATUS,
        {"input": {"jobId": job["id"], "status": "IN_PROGRESS", "message": "Crew on site"}},
        token=staff.token,
    )
    await portal.gql(
        ADD_NOTE,
        {
            "input": {
                "jobId": job["id"],
                "body": "Shingles arrive Monday",
                "visibleToCustomer": True,
            }
        },
        token=staff.token,
    )
    await portal.gql(
        ADD_NOTE, {"input": {"jobId": job["id"], "body": "Internal only"}}, token=staff.token
    )
    await upload_photo(
        portal, staff.token, job["id"], jpeg((200, 40, 40)), caption="Old roof", stage="BEFORE"
    )
    await upload_photo(
        portal, staff.token, job["id"], jpeg((40, 160, 40)), caption="Half done", stage="PROGRESS"
    )
    assert link.startswith(f"{portal.http.base_url}/portal/{staff.slug}/accept-invite?token=")

    # when the customer opens the emailed link: the business's name, and no token in sight
    await page.goto(link)
    await page.get_by_role("heading", name="Welcome to Acme Roofing & Sons").wait_for()
    assert "token" not in page.url
    assert await page.locator("#business-name").text_content() == "Acme Roofing & Sons"
    # a password that is too short is refused without using the link up
    await page.get_by_label("New password", exact=True).fill("short")
    await page.get_by_label("Repeat the new password").fill("short")
    await page.get_by_role("button", name="Set password and open my portal").click()
    await page.get_by_text("Use at least 10 characters").wait_for()
    await page.get_by_label("New password", exact=True).fill(factories.PASSWORD)
    await page.get_by_label("Repeat the new password").fill(factories.PASSWORD)
    await page.get_by_role("button", name="Set password and open my portal").click()

    # then home greets them with what is next
    await page.get_by_role("heading", name="Hello, Bob Smith").wait_for()
    assert await page.title() == "Hello, Bob Smith — Acme Roofing & Sons"
    await page.get_by_text("Roof inspection").wait_for()
    assert await page.evaluate("Object.keys(sessionStorage).length") == 1
    assert await page.context.cookies() == []

    # the appointments page has upcoming and past
    await page.get_by_role("link", name="All appointments, upcoming and past").click()
    await page.get_by_role("heading", name="Appointments").wait_for()
    await page.get_by_text("First visit").wait_for()

    # the job: its title as text (never markup), history, the shared note only, photos
    await page.get_by_role("link", name="Jobs").click()
    await page.get_by_role("link", name="New roof <script>x</script>").click()
    await page.get_by_role("heading", name="New roof <script>x</script>").wait_for()
    assert await page.locator("main script").count() == 0
    await page.get_by_text("Crew on site").wait_for()
    await page.get_by_text("Shingles arrive Monday").wait_for()
    assert await page.get_by_text("Internal only").count() == 0
    thumbnails = page.locator(".gallery img")
    await thumbnails.nth(1).wait_for()
    assert await thumbnails.count() == 2
    assert await page.evaluate(
        "[...document.querySelectorAll('.gallery img')].every(i => i.complete && i.naturalWidth)"
    )
    # stage filter, then the full-size view, keyboard only
    await page.get_by_role("button", name=re.compile(r"^Before")).click()
    assert await thumbnails.count() == 1
    await page.get_by_role("button", name="All (2)").click()
    await page.get_by_role("button", name="Open photo: Old roof").focus()
    await page.keyboard.press("Enter")
    viewer = page.locator("dialog.photo-viewer")
    await viewer.get_by_text("Old roof").wait_for()
    full = viewer.locator("img")
    assert await full.get_attribute("alt") == "Old roof"
    # (locator assertions, not wait_for_function: the page's policy forbids eval)
    await expect(full).to_have_js_property("complete", True)
    assert await full.evaluate("image => image.naturalWidth") > 0
    await page.keyboard.press("Escape")
    assert not await viewer.is_visible()

    # a reload keeps the session (sessionStorage) and the page (the address)
    await page.reload()
    await page.get_by_role("heading", name="New roof <script>x</script>").wait_for()
    assert page.problems == []


async def test_a_reset_link_sets_a_new_password_and_signs_in(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    staff, customer, link = await invited(portal, mailbox)
    await accept(page, link)
    await page.get_by_role("link", name="Account").click()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await page.get_by_role("heading", name="Sign in").wait_for()
    assert await page.evaluate("Object.keys(sessionStorage).length") == 0

    # forgot password: the page asks for an email, and the reset mail links to this server
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("Email").fill(customer["email"])
    await page.get_by_role("button", name="Email me a reset link").click()
    await page.get_by_text("a reset link is on its way").wait_for()
    messages = await mailbox.wait_for(customer["email"], 2)
    reset = link_in(messages[-1])
    assert f"/portal/{staff.slug}/reset-password?token=" in reset

    await page.goto(reset)
    await page.get_by_role("heading", name="Choose a new password").wait_for()
    assert "token" not in page.url
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Save the new password").click()
    await page.get_by_text("Your password has been changed.").wait_for()

    # the old password no longer signs in; the new one does
    await page.get_by_role("link", name="Account").click()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await page.get_by_label("Email").fill(customer["email"])
    await page.get_by_label("Password").fill(factories.PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("The email or password is incorrect.").wait_for()
    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Hello, Bob Smith").wait_for()

    # a used link, opened again, says so
    await page.goto(reset)
    await page.get_by_label("New password", exact=True).fill("yet another passphrase")
    await page.get_by_label("Repeat the new password").fill("yet another passphrase")
    await page.get_by_role("button", name="Save the new password").click()
    await page.get_by_text("This link is invalid, already used or expired").wait_for()
    assert page.problems == []


async def test_another_customers_ids_in_the_address_bar_show_nothing_of_theirs(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    staff, customer, link = await invited(portal, mailbox)
    other = await factories.portal_customer(portal, mailbox, staff, "Carol Other")
    theirs = (
        await portal.gql(
            CREATE_JOB,
            {"input": {"customerId": other.id, "title": "Carol's kitchen"}},
            token=staff.token,
        )
    )["createJob"]
    await upload_photo(portal, staff.token, theirs["id"], jpeg((10, 10, 200)), caption="Hers")
    ids = {"jobs": theirs["id"]}
    if await api_has(portal, "Mutation", "createContract"):
        contract = (
            await portal.gql(
                CREATE_CONTRACT,
                {"input": {"customerId": other.id, "title": "Carol's deal", "body": "Secret"}},
                token=staff.token,
            )
        )["createContract"]
        await portal.gql(SEND_CONTRACT, {"id": contract["id"]}, token=staff.token)
        ids["contracts"] = contract["id"]
    await accept(page, link)

    base = f"{portal.http.base_url}/portal/{staff.slug}"
    for section, their_id in ids.items():
        await page.goto(f"{base}/{section}/{their_id}")
        await page.get_by_role("heading", name=re.compile(r"^No such ")).wait_for()
        text = await page.locator("main").inner_text()
        assert "Carol" not in text and "Secret" not in text and "Hers" not in text
    # nor do the lists
    await page.goto(f"{base}/jobs")
    await page.get_by_role("heading", name="Jobs").wait_for()
    assert "Carol" not in await page.locator("main").inner_text()
    assert page.problems == []


async def test_a_contract_is_read_signed_and_downloaded(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    await requires(portal, "Mutation", "signContract")
    staff, customer, link = await invited(portal, mailbox)
    contract = (
        await portal.gql(
            CREATE_CONTRACT,
            {
                "input": {
                    "customerId": customer["id"],
                    "title": "Roof replacement agreement",
                    "body": "1. We replace the roof.\n2. You pay the invoice.",
                }
            },
            token=staff.token,
        )
    )["createContract"]
    await portal.gql(SEND_CONTRACT, {"id": contract["id"]}, token=staff.token)
    await accept(page, link)
    await page.get_by_text("Contract to sign").wait_for()
    await page.get_by_role("link", name="Roof replacement agreement").click()
    await page.get_by_text("2. You pay the invoice.").wait_for()

    # the box must be ticked
    await page.get_by_label("Type your full name to sign").fill("Bob Smith")
    await page.get_by_role("button", name="Sign the contract").click()
    await page.get_by_text("Tick the box to agree before signing.").wait_for()
    await page.get_by_label("I have read this contract and I agree to it.").check()
    await page.get_by_role("button", name="Sign the contract").click()
    await page.get_by_text("the contract is signed").wait_for()
    await page.get_by_text("Signed by Bob Smith").wait_for()
    shown = await page.locator("main").inner_text()
    assert "null" not in shown and "undefined" not in shown

    data = await portal.gql(CONTRACT_STATUS, {"id": contract["id"]}, token=staff.token)
    assert data["node"]["status"] == "SIGNED"
    assert data["node"]["signature"]["signerName"] == "Bob Smith"
    download = page.get_by_role("link", name="Download the signed copy")
    href = await download.get_attribute("href")
    response = await portal.http.get(href.removeprefix(str(portal.http.base_url)))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert page.problems == []


async def post_event(api: Api, kind: str, obj: dict, account: str) -> None:
    from tests.stripe_standin import event, signed

    payload, headers = signed(event(kind, obj, account=account), WEBHOOK_SECRET)
    response = await api.http.post("/webhooks/stripe", content=payload, headers=headers)
    assert response.status_code < 300, response.text


async def test_an_invoice_is_paid_with_the_payment_element_and_shows_paid_after_the_webhook(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
    stripe,
) -> None:
    await requires(portal, "Mutation", "payInvoice")
    if stripe is None:
        pytest.skip("tests/stripe_standin.py has not landed yet")
    # given a business that takes card payments, and an open invoice (one already overdue)
    staff, customer, link = await invited(portal, mailbox)
    await portal.gql(ONBOARD, token=staff.token)
    [account] = [a for a in stripe.accounts.values() if a["metadata"]]
    await post_event(portal, "account.updated", stripe.enable_charges(account["id"]), account["id"])
    lines = [{"description": "Roof repair", "quantity": 1, "unitPriceCents": 125000}]
    invoice = (
        await portal.gql(
            CREATE_INVOICE,
            {"input": {"customerId": customer["id"], "lineItems": lines, "dueDate": "2020-01-31"}},
            token=staff.token,
        )
    )["createInvoice"]
    sent = (await portal.gql(SEND_INVOICE, {"id": invoice["id"]}, token=staff.token))["sendInvoice"]
    await page.route(
        "https://js.stripe.com/**",
        lambda route: route.fulfill(content_type="text/javascript", body=STRIPE_JS_STANDIN),
    )

    # when the customer opens it: amount due, overdue, and Pay
    await accept(page, link)
    await page.get_by_role("link", name="Invoices").click()
    await page.get_by_role("link", name=f"Invoice {sent['number']}").click()
    await page.get_by_text("Overdue", exact=True).first.wait_for()
    shown = await page.locator("main").inner_text()
    assert "null" not in shown and "undefined" not in shown
    await page.get_by_role("button", name="Pay $1,250.00").click()
    # the first payment of a run loads Stripe's SDK on the server: give it time
    await page.get_by_label("Card number").wait_for(timeout=30_000)
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    stripe_js = await page.evaluate("window.stripeStandin")
    assert stripe_js["key"] == "pk_test_portal"
    [intent] = stripe.intents.values()
    assert stripe_js["options"]["stripeAccount"] == account["id"]
    assert stripe_js["clientSecret"] == intent["client_secret"]
    await (
        page.locator("#payment-element")
        .locator("xpath=..")
        .get_by_role("button", name="Pay $1,250.00")
        .click()
    )
    await page.get_by_text("Waiting for the confirmation").wait_for()
    assert (await portal.gql(INVOICE_STATUS, {"id": invoice["id"]}, token=staff.token))["node"][
        "status"
    ] == "OPEN"

    # then Stripe's webhook records the payment, and the page shows the invoice paid
    await post_event(
        portal, "payment_intent.succeeded", stripe.succeed(intent["id"]), account["id"]
    )
    await page.get_by_text("Thank you: the invoice is paid.").wait_for()
    await page.locator(".marks").get_by_text("Paid").wait_for()
    assert await page.get_by_role("button", name=re.compile(r"^Pay ")).count() == 0
    assert page.problems == []


async def test_a_staff_message_arrives_live_and_counts_as_unread(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    await requires(portal, "Subscription", "messageAdded")
    staff, customer, link = await invited(portal, mailbox)
    await accept(page, link)

    # a message while the customer is elsewhere: the unread count shows it
    await portal.gql(
        SEND_STAFF_MESSAGE,
        {"input": {"customerId": customer["id"], "body": "Hi Bob, we start Monday."}},
        token=staff.token,
    )
    badge = page.locator("#nav .count")
    await expect(badge).to_have_text("1")
    await page.get_by_role("link", name=re.compile(r"^Messages")).click()
    await page.get_by_text("Hi Bob, we start Monday.").wait_for()
    await expect(badge).to_be_hidden()

    # the customer answers; the team's reply arrives without a reload
    await page.get_by_label("Message to Acme Roofing & Sons").fill("Great, <b>thanks</b>!")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_text("Great, <b>thanks</b>!").wait_for()
    await asyncio.sleep(0.3)  # the subscription is open (it opened with the page)
    await portal.gql(
        SEND_STAFF_MESSAGE,
        {"input": {"customerId": customer["id"], "body": "See you then."}},
        token=staff.token,
    )
    await page.get_by_text("See you then.").wait_for()
    assert await badge.is_hidden()
    assert page.problems == []


async def test_a_team_invitation_link_opens_its_page(
    portal: Api,
    mailbox: Mailbox,
    page,  # noqa: F811
) -> None:
    staff = await factories.register(portal, "Acme Roofing")
    await portal.gql(
        factories.INVITE_STAFF,
        {"input": {"name": "Dana", "email": "dana@example.com", "role": "MEMBER"}},
        token=staff.token,
    )
    [message] = await mailbox.wait_for("dana@example.com")
    link = link_in(message)
    assert f"/team/{staff.slug}/accept-invite?token=" in link
    await page.goto(link)
    await page.get_by_role("heading", name="Join Acme Roofing").wait_for()
    assert "token" not in page.url
    await page.get_by_label("New password", exact=True).fill(factories.PASSWORD)
    await page.get_by_label("Repeat the new password").fill(factories.PASSWORD)
    await page.get_by_role("button", name="Join the team").click()
    await page.get_by_role("heading", name="Welcome to the team, Dana").wait_for()
    assert page.problems == []


async def test_pages_work_at_desktop_width_with_the_keyboard(
    portal: Api,
    mailbox: Mailbox,
    browser,  # noqa: F811
) -> None:
    staff, customer, link = await invited(portal, mailbox)
    desk = await new_page(browser, DESKTOP)
    try:
        await accept(desk, link)
        await desk.reload()
        await desk.get_by_role("heading", name="Hello, Bob Smith").wait_for()
        # the first Tab reaches the skip link, which is visible when focused
        await desk.keyboard.press("Tab")
        skip = desk.get_by_role("link", name="Skip to content")
        assert await skip.evaluate("e => e === document.activeElement")
        assert (await skip.bounding_box())["y"] >= 0
        # focus is visible: an outline of 3px on a focused link
        await desk.keyboard.press("Tab")
        outline = await desk.evaluate("getComputedStyle(document.activeElement).outlineWidth")
        assert outline == "3px"
        assert desk.problems == []
    finally:
        await desk.context.close()


# --- HTTP only -------------------------------------------------------------------------


async def test_pages_carry_a_strict_policy_and_no_referrer(portal: Api) -> None:
    staff = await factories.register(portal, 'Quote " <Roofers>')
    response = await portal.http.get(f"/portal/{staff.slug}/sign-in")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    # the name is in the page, escaped; no inline script at all
    assert "Quote &quot; &lt;Roofers&gt;" in response.text
    assert "<Roofers>" not in response.text
    assert re.findall(r"<script[^>]*>", response.text) == [
        re.search(
            r'<script type="module" src="/portal-assets/[0-9a-f]+/js/main.js">', response.text
        ).group(0)
    ]
    # and the static files it names are served, cacheable for good
    for path in re.findall(r'(?:src|href)="(/portal-assets/[^"]+)"', response.text):
        asset = await portal.http.get(path)
        assert asset.status_code == 200, path
        assert "immutable" in asset.headers["cache-control"]
        assert asset.headers["content-security-policy"] == policy


async def test_unknown_portals_and_files_are_404(portal: Api) -> None:
    assert (await portal.http.get("/portal/no-such-business/sign-in")).status_code == 404
    assert (await portal.http.get("/portal/BAD%20SLUG/sign-in")).status_code == 404
    assert (await portal.http.get("/portal-assets/x/%2e%2e/pages.py")).status_code == 404
    assert (await portal.http.get("/portal-assets/x/js/%2e%2e/%2e%2e/pages.py")).status_code == 404
    staff = await factories.register(portal)
    assert (await portal.http.get(f"/team/{staff.slug}/other")).status_code == 404
    root = await portal.http.get(f"/portal/{staff.slug}")
    assert root.status_code == 308 and root.headers["location"] == f"/portal/{staff.slug}/"
