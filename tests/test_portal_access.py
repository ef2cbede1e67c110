"""Portal access end to end, with real mail: invite → accept → sign in, reset, revoke."""

from __future__ import annotations

import asyncio
import hashlib
from email.utils import parseaddr

import asyncpg
import httpx

from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox, html_of, link_in, text_of, token_in

PORTAL_LOG_IN = """
mutation LogIn($input: PortalLogInInput!) {
  portalLogIn(input: $input) { token viewer { __typename ... on Customer { id email } } }
}"""
REQUEST_RESET = (
    "mutation R($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) }"
)
RESET = """
mutation Reset($input: ResetPasswordInput!) {
  resetPassword(input: $input) { token viewer { ... on Customer { id } } }
}"""
REVOKE = "mutation Revoke($id: ID!) { revokePortalAccess(customerId: $id) { id portalStatus } }"
ME = "{ viewer { __typename ... on Customer { id name portalStatus } } }"
NEW_PASSWORD = "an entirely new passphrase"


async def accept(api: Api, token: str, password: str = factories.PASSWORD) -> dict:
    return await api.post(
        factories.ACCEPT_INVITATION, {"input": {"token": token, "password": password}}
    )


async def log_in(api: Api, staff: factories.Staff, email: str, password: str, **kw) -> dict:
    variables = {"input": {"businessSlug": staff.slug, "email": email, "password": password}}
    return await api.post(PORTAL_LOG_IN, variables, **kw)


async def test_invitation_email_accept_and_sign_in(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api, "Sunny Side Cleaning")
    created = await factories.customer(api, staff, "Gus", email="gus@example.com")

    # when the staff member invites the customer
    data = await api.gql(factories.INVITE_CUSTOMER, {"id": created["id"]}, token=staff.token)
    assert data["inviteCustomerToPortal"]["portalStatus"] == "INVITED"

    # then a real email arrives, from the business, with both parts and the link
    [message] = await mailbox.wait_for("gus@example.com")
    name, address = parseaddr(message["From"])
    assert (name, address) == ("Sunny Side Cleaning", "portal@example.com")
    link = link_in(message)
    assert link.startswith(
        "https://portal.example.com/portal/sunny-side-cleaning/accept-invite?token="
    )
    token = token_in(message)
    assert len(token) >= 22
    assert link in html_of(message).replace("&amp;", "&")
    assert "Gus" in text_of(message)
    # and the token is stored only as its hash
    stored = await superuser.fetchval("SELECT token_hash FROM portal_tokens")
    assert stored == hashlib.sha256(token.encode()).digest()

    # when the customer picks a password that is too short, the link still works after
    refused = await accept(api, token, "short")
    assert refused["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "password"}
    accepted = await accept(api, token)
    assert not accepted.get("errors"), accepted
    payload = accepted["data"]["acceptPortalInvitation"]
    assert payload["viewer"] == {
        "__typename": "Customer",
        "id": created["id"],
        "name": "Gus",
        "email": "gus@example.com",
        "portalStatus": "ACTIVE",
    }
    me = await api.gql(ME, token=payload["token"])
    assert me["viewer"]["portalStatus"] == "ACTIVE"

    # the link works once
    again = await accept(api, token)
    assert code(again["errors"][0]) == "UNAUTHENTICATED"

    # and the customer signs in with their email
    signed_in = await log_in(api, staff, "GUS@example.com", factories.PASSWORD)
    assert signed_in["data"]["portalLogIn"]["viewer"]["id"] == created["id"]


async def test_inviting_needs_an_email_and_a_new_invitation_voids_the_old(
    api: Api, mailbox: Mailbox
) -> None:
    staff = await factories.register(api)
    no_email = await api.gql(
        factories.CREATE_CUSTOMER, {"input": {"name": "Hal"}}, token=staff.token
    )
    error = await api.error(
        factories.INVITE_CUSTOMER, {"id": no_email["createCustomer"]["id"]}, token=staff.token
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "customerId"}

    created = await factories.customer(api, staff)
    old = await factories.invite(api, mailbox, staff, created["id"], created["email"])
    new = await factories.invite(api, mailbox, staff, created["id"], created["email"])
    assert code((await accept(api, old))["errors"][0]) == "UNAUTHENTICATED"
    assert not (await accept(api, new)).get("errors")
    # an active customer is not invited again (they reset their password instead)
    error = await api.error(factories.INVITE_CUSTOMER, {"id": created["id"]}, token=staff.token)
    assert code(error) == "CONFLICT"


async def test_an_expired_invitation_is_refused(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    created = await factories.customer(api, staff)
    token = await factories.invite(api, mailbox, staff, created["id"], created["email"])
    lifetime = await superuser.fetchval("SELECT expires_at - created_at FROM portal_tokens")
    assert 6.99 < lifetime.total_seconds() / 86400 < 7.01
    await superuser.execute("UPDATE portal_tokens SET expires_at = now() - interval '1 second'")
    assert code((await accept(api, token))["errors"][0]) == "UNAUTHENTICATED"


async def test_a_failed_send_changes_nothing(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    created = await factories.customer(api, staff)
    mailbox.refuse = True
    error = await api.error(factories.INVITE_CUSTOMER, {"id": created["id"]}, token=staff.token)
    assert error["extensions"]["reason"] == "MAIL_DELIVERY_FAILED"
    assert "not sent" in error["message"] or "could not be sent" in error["message"]
    assert await superuser.fetchval("SELECT portal_status FROM customers") == "NOT_INVITED"
    assert await superuser.fetchval("SELECT count(*) FROM portal_tokens") == 0


async def test_every_sign_in_failure_is_the_same(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    active = await factories.portal_customer(api, mailbox, staff)
    invited = await factories.customer(api, staff)
    await factories.invite(api, mailbox, staff, invited["id"], invited["email"])
    revoked = await factories.portal_customer(api, mailbox, staff)
    await api.gql(REVOKE, {"id": revoked.id}, token=staff.token)

    attempts = [
        ("no-such-business", active.email, factories.PASSWORD),
        (staff.slug, "nobody@example.com", factories.PASSWORD),
        (staff.slug, active.email, "wrong password here"),
        (staff.slug, invited["email"], factories.PASSWORD),
        (staff.slug, revoked.email, factories.PASSWORD),
    ]
    messages = set()
    for slug, email, password in attempts:
        body = await api.post(
            PORTAL_LOG_IN, {"input": {"businessSlug": slug, "email": email, "password": password}}
        )
        assert body["data"] is None
        assert code(body["errors"][0]) == "UNAUTHENTICATED"
        messages.add(body["errors"][0]["message"])
    assert len(messages) == 1


async def test_an_account_locks_after_ten_failures_until_the_window_passes(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    # attempts packed into one request as aliases: the first failure nulls the (non-null)
    # payload and stops the serial execution, and what ran was counted
    attempts = " ".join(
        f'a{i}: portalLogIn(input: {{businessSlug: "{staff.slug}", email: "{person.email}", '
        f'password: "wrong password {i}"}}) {{ token }}'
        for i in range(10)
    )
    body = await api.post(f"mutation {{ {attempts} }}")
    assert [code(e) for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert await superuser.fetchval("SELECT count(*) FROM login_failures") == 1
    for i in range(9):
        body = await log_in(api, staff, person.email, f"wrong again {i}")
        assert code(body["errors"][0]) == "UNAUTHENTICATED"

    locked = await log_in(api, staff, person.email, factories.PASSWORD)
    error = locked["errors"][0]
    assert code(error) == "RATE_LIMITED"
    assert 0 < error["extensions"]["retryAfter"] <= 15 * 60
    # another account of the same business is not affected
    other = await factories.portal_customer(api, mailbox, staff)
    assert not (await log_in(api, staff, other.email, factories.PASSWORD)).get("errors")

    await superuser.execute(
        "UPDATE login_failures SET failed_at = failed_at - interval '16 minutes'"
    )
    unlocked = await log_in(api, staff, person.email, factories.PASSWORD)
    assert not unlocked.get("errors"), unlocked


async def test_one_address_has_a_ceiling_across_accounts(api: Api) -> None:
    staff = await factories.register(api)
    limit = 30  # LOGIN_IP_FAILURE_LIMIT in the test settings
    for i in range(limit):
        body = await log_in(api, staff, f"guess{i}@example.com", "wrong password", ip="203.0.113.7")
        assert code(body["errors"][0]) == "UNAUTHENTICATED"
    body = await log_in(api, staff, "another@example.com", "wrong password", ip="203.0.113.7")
    assert code(body["errors"][0]) == "RATE_LIMITED"
    body = await log_in(api, staff, "another@example.com", "wrong password", ip="198.51.100.1")
    assert code(body["errors"][0]) == "UNAUTHENTICATED"


async def test_staff_sign_in_locks_too(api: Api) -> None:
    staff = await factories.register(api, email="locked@example.com")
    query = (
        'mutation($p: String!) { staffLogIn(input: {email: "locked@example.com", password: $p})'
        " { token } }"
    )
    for i in range(10):
        assert code(await api.error(query, {"p": f"wrong {i} attempt"})) == "UNAUTHENTICATED"
    error = await api.error(query, {"p": factories.PASSWORD})
    assert code(error) == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] > 0
    # the lockout refuses new sign-ins only: the owner's open session still works
    me = await api.gql("{ viewer { ... on StaffMember { email } } }", token=staff.token)
    assert me["viewer"] == {"email": "locked@example.com"}


async def test_password_reset(api: Api, mailbox: Mailbox, superuser: asyncpg.Connection) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    second_device = (await log_in(api, staff, person.email, factories.PASSWORD))["data"][
        "portalLogIn"
    ]["token"]

    # unknown accounts get true and no mail
    for email in ("nobody@example.com", person.email):
        data = await api.gql(REQUEST_RESET, {"input": {"businessSlug": staff.slug, "email": email}})
        assert data == {"requestPasswordReset": True}
    [message] = (await mailbox.wait_for(person.email, 2))[1:]
    assert "reset" in message["Subject"].lower()
    assert f"/portal/{staff.slug}/reset-password?token=" in link_in(message)
    assert mailbox.to("nobody@example.com") == []
    token = token_in(message)
    lifetime = await superuser.fetchval(
        "SELECT expires_at - created_at FROM portal_tokens WHERE purpose = 'PASSWORD_RESET'"
    )
    assert 3590 < lifetime.total_seconds() < 3610

    too_short = await api.post(RESET, {"input": {"token": token, "newPassword": "short"}})
    assert too_short["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "newPassword",
    }
    data = await api.gql(RESET, {"input": {"token": token, "newPassword": NEW_PASSWORD}})
    fresh = data["resetPassword"]["token"]

    # every other session has ended; the new one works
    assert (await api.gql(ME, token=person.token))["viewer"] is None
    assert (await api.gql(ME, token=second_device))["viewer"] is None
    assert (await api.gql(ME, token=fresh))["viewer"]["id"] == person.id
    # the old password no longer works, the new one does, the link is spent
    assert (
        code((await log_in(api, staff, person.email, factories.PASSWORD))["errors"][0])
        == "UNAUTHENTICATED"
    )
    assert not (await log_in(api, staff, person.email, NEW_PASSWORD)).get("errors")
    reuse = await api.post(RESET, {"input": {"token": token, "newPassword": NEW_PASSWORD}})
    assert code(reuse["errors"][0]) == "UNAUTHENTICATED"


async def test_only_active_accounts_get_reset_mail_and_links_expire(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    invited = await factories.customer(api, staff)
    await factories.invite(api, mailbox, staff, invited["id"], invited["email"])
    await api.gql(REQUEST_RESET, {"input": {"businessSlug": staff.slug, "email": invited["email"]}})
    await asyncio.sleep(0.3)
    assert len(mailbox.to(invited["email"])) == 1  # only the invitation

    person = await factories.portal_customer(api, mailbox, staff)
    await api.gql(REQUEST_RESET, {"input": {"businessSlug": staff.slug, "email": person.email}})
    token = token_in((await mailbox.wait_for(person.email, 2))[-1])
    await superuser.execute("UPDATE portal_tokens SET expires_at = now() - interval '1 second'")
    expired = await api.post(RESET, {"input": {"token": token, "newPassword": NEW_PASSWORD}})
    assert code(expired["errors"][0]) == "UNAUTHENTICATED"


async def test_revocation_ends_sessions_and_links_and_reinviting_restores(
    api: Api, mailbox: Mailbox
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    await api.gql(REQUEST_RESET, {"input": {"businessSlug": staff.slug, "email": person.email}})
    reset_token = token_in((await mailbox.wait_for(person.email, 2))[-1])
    assert (await api.gql(ME, token=person.token))["viewer"]["id"] == person.id

    data = await api.gql(REVOKE, {"id": person.id}, token=staff.token)
    assert data["revokePortalAccess"]["portalStatus"] == "REVOKED"

    # the open session stops working on its very next request
    assert (await api.gql(ME, token=person.token))["viewer"] is None
    assert (
        code(await api.error("{ appointments { totalCount } }", token=person.token))
        == "UNAUTHENTICATED"
    )
    reset = await api.post(RESET, {"input": {"token": reset_token, "newPassword": NEW_PASSWORD}})
    assert code(reset["errors"][0]) == "UNAUTHENTICATED"
    assert (
        code((await log_in(api, staff, person.email, factories.PASSWORD))["errors"][0])
        == "UNAUTHENTICATED"
    )

    # inviting again restores access, with a new password
    token = await factories.invite(api, mailbox, staff, person.id, person.email)
    assert not (await accept(api, token, NEW_PASSWORD)).get("errors")
    assert (
        code((await log_in(api, staff, person.email, factories.PASSWORD))["errors"][0])
        == "UNAUTHENTICATED"
    )
    assert not (await log_in(api, staff, person.email, NEW_PASSWORD)).get("errors")


async def test_a_pending_invitation_dies_on_revocation(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    created = await factories.customer(api, staff)
    token = await factories.invite(api, mailbox, staff, created["id"], created["email"])
    await api.gql(REVOKE, {"id": created["id"]}, token=staff.token)
    assert code((await accept(api, token))["errors"][0]) == "UNAUTHENTICATED"


async def test_changing_the_email_moves_the_login(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    update = "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { email } }"
    await api.gql(
        update, {"input": {"id": person.id, "email": "New.Address@example.com"}}, token=staff.token
    )
    assert (
        code((await log_in(api, staff, person.email, factories.PASSWORD))["errors"][0])
        == "UNAUTHENTICATED"
    )
    moved = await log_in(api, staff, "new.address@example.com", factories.PASSWORD)
    assert moved["data"]["portalLogIn"]["viewer"]["id"] == person.id
    # the portal login cannot be removed while access lasts
    error = await api.error(update, {"input": {"id": person.id, "email": None}}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}


async def test_members_cannot_invite_or_revoke(api: Api, mailbox: Mailbox) -> None:
    owner = await factories.register(api)
    member = await join_team(api, mailbox, owner, "MEMBER")
    created = await factories.customer(api, owner)
    error = await api.error(factories.INVITE_CUSTOMER, {"id": created["id"]}, token=member)
    assert code(error) == "FORBIDDEN"
    assert code(await api.error(REVOKE, {"id": created["id"]}, token=member)) == "FORBIDDEN"
    invite = {"input": {"name": "N", "email": "n@example.com", "role": "MEMBER"}}
    assert code(await api.error(factories.INVITE_STAFF, invite, token=member)) == "FORBIDDEN"
    # but a member works with customers
    assert (await factories.customer(api, factories.Staff(member, "", "", "", ""), "Ok"))[
        "name"
    ] == "Ok"


async def join_team(api: Api, mailbox: Mailbox, inviter: factories.Staff, role: str) -> str:
    email = f"{role.lower()}-{inviter.slug}@example.com"
    data = await api.gql(
        factories.INVITE_STAFF,
        {"input": {"name": f"A {role.title()}", "email": email, "role": role}},
        token=inviter.token,
    )
    assert data["inviteStaffMember"]["role"] == role
    token = token_in((await mailbox.wait_for(email))[-1])
    accepted = await api.gql(
        factories.ACCEPT_STAFF, {"input": {"token": token, "password": factories.PASSWORD}}
    )
    viewer = accepted["acceptStaffInvitation"]["viewer"]
    assert viewer["role"] == role
    return accepted["acceptStaffInvitation"]["token"]


async def test_team_invitations(api: Api, mailbox: Mailbox) -> None:
    owner = await factories.register(api, "Team Co")
    data = await api.gql(
        factories.INVITE_STAFF,
        {"input": {"name": "Ivy", "email": "Ivy@Example.com", "role": "ADMIN"}},
        token=owner.token,
    )
    invitation = data["inviteStaffMember"]
    assert invitation["email"] == "ivy@example.com"
    assert invitation["acceptedAt"] is None
    [message] = await mailbox.wait_for("ivy@example.com")
    assert parseaddr(message["From"])[0] == "Team Co"
    token = token_in(message)
    short = await api.post(factories.ACCEPT_STAFF, {"input": {"token": token, "password": "short"}})
    assert short["errors"][0]["extensions"]["field"] == "password"
    accepted = await api.gql(
        factories.ACCEPT_STAFF, {"input": {"token": token, "password": factories.PASSWORD}}
    )
    admin = accepted["acceptStaffInvitation"]["token"]
    assert accepted["acceptStaffInvitation"]["viewer"]["role"] == "ADMIN"
    again = await api.post(
        factories.ACCEPT_STAFF, {"input": {"token": token, "password": factories.PASSWORD}}
    )
    assert code(again["errors"][0]) == "UNAUTHENTICATED"

    # an admin may invite members and admins, but not owners
    owner_invite = {"input": {"name": "O", "email": "o@example.com", "role": "OWNER"}}
    assert code(await api.error(factories.INVITE_STAFF, owner_invite, token=admin)) == "FORBIDDEN"
    await join_team(api, mailbox, factories.Staff(admin, "", "", "", "team-co-admin"), "MEMBER")
    # and an existing staff email cannot be invited
    dup = {"input": {"name": "Ivy", "email": "ivy@example.com", "role": "MEMBER"}}
    error = await api.error(factories.INVITE_STAFF, dup, token=owner.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}


async def test_without_smtp_mail_goes_to_the_outbox(
    api: Api,
    server_settings,
    start_server,
    tmp_path,
) -> None:
    from tests.conftest import free_port

    settings = server_settings.model_copy(
        update={"SMTP_HOST": None, "DATA_DIR": tmp_path, "PORT": free_port()}
    )
    outbox_server = await start_server(settings)
    async with httpx.AsyncClient(base_url=outbox_server.url) as http:
        local = Api(http)
        staff = await factories.register(local)
        created = await factories.customer(local, staff, email="olive@example.com")
        await local.gql(factories.INVITE_CUSTOMER, {"id": created["id"]}, token=staff.token)
    [path] = list((tmp_path / "outbox").glob("*.eml"))
    import email

    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "olive@example.com"
    link = link_in(message)
    assert f"/portal/{staff.slug}/accept-invite?token=" in link
    assert html_of(message)
    # the link reads as it is in the file itself, for a developer opening the .eml
    assert link in path.read_text()


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(api: Api) -> None:
    await factories.register(api, email="burst@example.com")
    query = (
        'mutation($p: String!) { staffLogIn(input: {email: "burst@example.com", password: $p})'
        " { token } }"
    )
    bodies = await asyncio.gather(*[api.post(query, {"p": f"guess number {i}"}) for i in range(25)])
    codes = [code(body["errors"][0]) for body in bodies]
    assert codes.count("UNAUTHENTICATED") == 10
    assert codes.count("RATE_LIMITED") == 15


async def test_a_flood_of_reset_requests_sends_at_most_three_links(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    aliases = " ".join(
        f'r{i}: requestPasswordReset(input: {{businessSlug: "{staff.slug}", '
        f'email: "{person.email}"}})'
        for i in range(10)
    )
    # aliases in one request, and several requests at once
    await asyncio.gather(*[api.gql(f"mutation {{ {aliases} }}") for _ in range(6)])
    await mailbox.wait_for(person.email, 1 + 3)
    await asyncio.sleep(0.5)  # anything more would have arrived by now
    assert len(mailbox.to(person.email)) == 1 + 3  # the invitation and three resets
    live = await superuser.fetchval(
        "SELECT count(*) FROM portal_tokens WHERE purpose = 'PASSWORD_RESET' AND used_at IS NULL"
    )
    assert live == 1  # each newer link voided the one before


async def test_changing_the_email_voids_the_links_mailed_before(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    created = await factories.customer(api, staff)
    token = await factories.invite(api, mailbox, staff, created["id"], created["email"])
    update = "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { email } }"
    await api.gql(
        update, {"input": {"id": created["id"], "email": "moved@example.com"}}, token=staff.token
    )
    assert code((await accept(api, token))["errors"][0]) == "UNAUTHENTICATED"
