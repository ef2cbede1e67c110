"""Registering a business, staff sign-in, sessions and passwords: reset by email, change
while signed in, sign out everywhere."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from auth import emailed_tokens
from auth.principal import Principal
from db import RequestTransaction
from errors import Unauthenticated
from resolvers.context import RequestContext
from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox, link_in, token_in

VIEWER = (
    "{ viewer { __typename ... on StaffMember { id name email role business { name slug } } } }"
)
LOG_IN = """
mutation LogIn($input: StaffLogInInput!) {
  staffLogIn(input: $input) { token expiresAt viewer { ... on StaffMember { email } } }
}"""
REQUEST_RESET = """
mutation Request($input: RequestStaffPasswordResetInput!) {
  requestStaffPasswordReset(input: $input)
}"""
RESET = """
mutation Reset($input: ResetStaffPasswordInput!) {
  resetStaffPassword(input: $input) { token viewer { ... on StaffMember { email } } }
}"""
CHANGE = "mutation Change($input: ChangePasswordInput!) { changePassword(input: $input) }"
LOG_OUT_EVERYWHERE = "mutation { logOutEverywhere }"
CUSTOMER_ME = "{ viewer { ... on Customer { id } } }"
CUSTOMER_RESET = """
mutation Reset($input: ResetPasswordInput!) { resetPassword(input: $input) { token } }"""
NEW_PASSWORD = "an entirely new passphrase"


async def test_registering_a_business_signs_the_owner_in(api: Api) -> None:
    data = await api.gql(
        factories.REGISTER,
        {
            "input": {
                "businessName": "Évora Roofing & Sons",
                "ownerName": "Ana",
                "email": " Ana@Example.COM ",
                "password": factories.PASSWORD,
            }
        },
    )
    payload = data["registerBusiness"]
    expires = datetime.fromisoformat(payload["expiresAt"])
    assert expires.tzinfo is not None
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    viewer = (await api.gql(VIEWER, token=payload["token"]))["viewer"]
    assert viewer["__typename"] == "StaffMember"
    assert viewer["email"] == "ana@example.com"
    assert viewer["role"] == "OWNER"
    assert viewer["business"] == {"name": "Évora Roofing & Sons", "slug": "evora-roofing-sons"}


async def test_slugs_are_unique(api: Api) -> None:
    first = await factories.register(api, "Green Lawns")
    second = await factories.register(api, "Green  Lawns!")
    assert first.slug == "green-lawns"
    assert second.slug == "green-lawns-2"


async def test_a_staff_email_registers_once(api: Api) -> None:
    await factories.register(api, email="same@example.com")
    error = await api.error(
        factories.REGISTER,
        {
            "input": {
                "businessName": "Other",
                "ownerName": "X",
                "email": "SAME@example.com",
                "password": factories.PASSWORD,
            }
        },
    )
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "email"


async def test_password_policy(api: Api) -> None:
    for password, field_ok in (("short", False), ("x" * 257, False), ("ten chars!", True)):
        body = await api.post(
            factories.REGISTER,
            {
                "input": {
                    "businessName": "P",
                    "ownerName": "P",
                    "email": f"p{len(password)}@example.com",
                    "password": password,
                }
            },
        )
        if field_ok:
            assert not body.get("errors"), body
        else:
            assert body["errors"][0]["extensions"] == {
                "code": "BAD_USER_INPUT",
                "field": "password",
            }


async def test_passwords_and_tokens_are_stored_only_as_hashes(
    api: Api, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    stored = await superuser.fetchval("SELECT password_hash FROM staff_members")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert factories.PASSWORD not in stored
    digest = await superuser.fetchval("SELECT token_hash FROM sessions")
    assert digest == hashlib.sha256(staff.token.encode()).digest()
    assert len(staff.token) >= 43  # 256 bits, URL-safe


async def test_staff_log_in_and_log_out(api: Api) -> None:
    staff = await factories.register(api, email="sam@example.com")
    data = await api.gql(
        LOG_IN, {"input": {"email": "Sam@Example.com", "password": factories.PASSWORD}}
    )
    token = data["staffLogIn"]["token"]
    assert token != staff.token
    assert (await api.gql(VIEWER, token=token))["viewer"]["email"] == "sam@example.com"

    assert (await api.gql("mutation { logOut }", token=token)) == {"logOut": True}
    assert (await api.gql(VIEWER, token=token))["viewer"] is None
    # the other session is untouched
    assert (await api.gql(VIEWER, token=staff.token))["viewer"]["email"] == "sam@example.com"
    error = await api.error("mutation { logOut }", token=token)
    assert code(error) == "UNAUTHENTICATED"


async def test_wrong_credentials_all_look_the_same(api: Api) -> None:
    await factories.register(api, email="kim@example.com")
    messages = set()
    for email, password in (
        ("kim@example.com", "wrong password!"),
        ("nobody@example.com", factories.PASSWORD),
        ("not an email", factories.PASSWORD),
    ):
        error = await api.error(LOG_IN, {"input": {"email": email, "password": password}})
        assert code(error) == "UNAUTHENTICATED"
        messages.add(error["message"])
    assert len(messages) == 1


async def test_an_expired_session_is_signed_out(api: Api, superuser: asyncpg.Connection) -> None:
    staff = await factories.register(api)
    await superuser.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert (await api.gql(VIEWER, token=staff.token))["viewer"] is None
    error = await api.error("{ customers { totalCount } }", token=staff.token)
    assert code(error) == "UNAUTHENTICATED"


async def test_a_garbage_bearer_token_is_signed_out(api: Api) -> None:
    assert (await api.gql(VIEWER, token="garbage"))["viewer"] is None


async def test_log_in_rehashes_a_password_made_with_old_parameters(
    api: Api, superuser: asyncpg.Connection
) -> None:
    from argon2 import PasswordHasher

    await factories.register(api, email="old@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(factories.PASSWORD)
    await superuser.execute("UPDATE staff_members SET password_hash = $1", weak)
    await api.gql(LOG_IN, {"input": {"email": "old@example.com", "password": factories.PASSWORD}})
    stored = await superuser.fetchval("SELECT password_hash FROM staff_members")
    assert stored != weak
    assert "m=19456,t=2,p=1" in stored


async def test_last_seen_is_recorded(api: Api, superuser: asyncpg.Connection) -> None:
    staff = await factories.register(api)
    await superuser.execute("UPDATE sessions SET last_seen_at = now() - interval '1 hour'")
    await api.gql(VIEWER, token=staff.token)
    age = await superuser.fetchval("SELECT now() - last_seen_at FROM sessions")
    assert age < timedelta(minutes=1)


async def log_in(api: Api, email: str, password: str) -> dict:
    return await api.post(LOG_IN, {"input": {"email": email, "password": password}})


async def reset_link(api: Api, mailbox: Mailbox, email: str) -> str:
    """Ask for a reset link and return the token from the mail that arrives."""
    before = len(mailbox.to(email))
    await api.gql(REQUEST_RESET, {"input": {"email": email}})
    return token_in((await mailbox.wait_for(email, before + 1))[-1])


async def reset(api: Api, token: str, password: str = NEW_PASSWORD) -> dict:
    return await api.post(RESET, {"input": {"token": token, "newPassword": password}})


async def change(api: Api, token: str, current: str, new: str = NEW_PASSWORD) -> dict:
    variables = {"input": {"currentPassword": current, "newPassword": new}}
    return await api.post(CHANGE, variables, token=token)


async def test_staff_password_reset_end_to_end(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    # given an owner signed in on two devices
    staff = await factories.register(api, "Reset Roofing", email="rita@example.com")
    second_device = (await log_in(api, "rita@example.com", factories.PASSWORD))["data"][
        "staffLogIn"
    ]["token"]

    # when a reset is asked for an unknown address and for hers, then both answers are true
    for email in ("nobody@example.com", "Rita@Example.com"):
        data = await api.gql(REQUEST_RESET, {"input": {"email": email}})
        assert data == {"requestStaffPasswordReset": True}
    # and only she gets mail, from her business, with a team link
    [message] = await mailbox.wait_for("rita@example.com")
    assert "reset" in message["Subject"].lower()
    assert link_in(message).startswith(
        f"https://portal.example.com/team/{staff.slug}/reset-password?token="
    )
    await asyncio.sleep(0.3)  # mail to the unknown address would have arrived by now
    assert mailbox.to("nobody@example.com") == []
    token = token_in(message)
    stored, lifetime = await superuser.fetchrow(
        "SELECT token_hash, expires_at - created_at FROM staff_tokens"
    )
    assert stored == hashlib.sha256(token.encode()).digest()
    assert 3590 < lifetime.total_seconds() < 3610

    # when the new password is refused, then the link still works
    too_short = await reset(api, token, "short")
    assert too_short["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "newPassword",
    }
    data = (await reset(api, token))["data"]["resetStaffPassword"]
    assert data["viewer"] == {"email": "rita@example.com"}

    # then every earlier session has ended and the new one works
    assert (await api.gql(VIEWER, token=staff.token))["viewer"] is None
    assert (await api.gql(VIEWER, token=second_device))["viewer"] is None
    assert (await api.gql(VIEWER, token=data["token"]))["viewer"]["email"] == "rita@example.com"
    # and the old password is gone, the new one signs in, the link is spent
    old = await log_in(api, "rita@example.com", factories.PASSWORD)
    assert code(old["errors"][0]) == "UNAUTHENTICATED"
    assert not (await log_in(api, "rita@example.com", NEW_PASSWORD)).get("errors")
    reuse = await reset(api, token, "yet another passphrase")
    assert code(reuse["errors"][0]) == "UNAUTHENTICATED"
    assert "invalid" in reuse["errors"][0]["message"]


async def test_staff_reset_links_expire_and_a_newer_one_voids_the_older(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    await factories.register(api, email="vic@example.com")
    older = await reset_link(api, mailbox, "vic@example.com")
    newer = await reset_link(api, mailbox, "vic@example.com")
    assert code((await reset(api, older))["errors"][0]) == "UNAUTHENTICATED"

    await superuser.execute("UPDATE staff_tokens SET expires_at = now() - interval '1 second'")
    expired = await reset(api, newer)
    assert code(expired["errors"][0]) == "UNAUTHENTICATED"
    assert not (await log_in(api, "vic@example.com", factories.PASSWORD)).get("errors")


async def test_a_reset_ends_a_sign_in_lockout(api: Api, mailbox: Mailbox) -> None:
    await factories.register(api, email="lou@example.com")
    for i in range(10):
        await log_in(api, "lou@example.com", f"wrong guess {i}")
    locked = await log_in(api, "lou@example.com", factories.PASSWORD)
    assert code(locked["errors"][0]) == "RATE_LIMITED"
    assert not (await reset(api, await reset_link(api, mailbox, "lou@example.com"))).get("errors")
    assert not (await log_in(api, "lou@example.com", NEW_PASSWORD)).get("errors")


async def test_a_flood_of_staff_reset_requests_sends_at_most_three_links(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    await factories.register(api, email="flo@example.com")
    aliases = " ".join(
        f'r{i}: requestStaffPasswordReset(input: {{email: "flo@example.com"}})' for i in range(10)
    )
    # aliases in one request, and several requests at once
    await asyncio.gather(*[api.gql(f"mutation {{ {aliases} }}") for _ in range(6)])
    await mailbox.wait_for("flo@example.com", 3)
    await asyncio.sleep(0.5)  # anything more would have arrived by now
    assert len(mailbox.to("flo@example.com")) == 3
    live = await superuser.fetchval("SELECT count(*) FROM staff_tokens WHERE used_at IS NULL")
    assert live == 1  # each newer link voided the one before


async def test_links_of_one_kind_redeem_nothing_else(api: Api, mailbox: Mailbox) -> None:
    # given a staff reset link and a customer reset link of the same business
    staff = await factories.register(api, email="sol@example.com")
    person = await factories.portal_customer(api, mailbox, staff)
    staff_token = await reset_link(api, mailbox, "sol@example.com")
    await api.gql(
        "mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) }",
        {"i": {"businessSlug": staff.slug, "email": person.email}},
    )
    customer_token = token_in((await mailbox.wait_for(person.email, 2))[-1])

    # then a customer's link cannot reset a staff password
    assert code((await reset(api, customer_token))["errors"][0]) == "UNAUTHENTICATED"
    # and a staff link is no customer reset, customer invitation or team invitation
    for document, variables in (
        (CUSTOMER_RESET, {"input": {"token": staff_token, "newPassword": NEW_PASSWORD}}),
        (factories.ACCEPT_INVITATION, {"input": {"token": staff_token, "password": NEW_PASSWORD}}),
        (factories.ACCEPT_STAFF, {"input": {"token": staff_token, "password": NEW_PASSWORD}}),
    ):
        assert code(await api.error(document, variables)) == "UNAUTHENTICATED"
    # and a customer's address is no staff account: no mail
    await api.gql(REQUEST_RESET, {"input": {"email": person.email}})
    await asyncio.sleep(0.3)
    assert len(mailbox.to(person.email)) == 2  # the invitation and the customer reset
    # while each link still does its own job
    assert not (await reset(api, staff_token)).get("errors")
    customer = await api.post(
        CUSTOMER_RESET, {"input": {"token": customer_token, "newPassword": NEW_PASSWORD}}
    )
    assert not customer.get("errors"), customer


async def test_staff_change_their_password(api: Api, superuser: asyncpg.Connection) -> None:
    staff = await factories.register(api, email="cam@example.com")
    other = (await log_in(api, "cam@example.com", factories.PASSWORD))["data"]["staffLogIn"]
    await superuser.execute("DELETE FROM login_failures")

    # when the current password is wrong, then UNAUTHENTICATED, counted as a failed sign-in
    wrong = await change(api, staff.token, "not my password")
    assert code(wrong["errors"][0]) == "UNAUTHENTICATED"
    assert await superuser.fetchval("SELECT count(*) FROM login_failures") == 1
    # when the new password is refused, then the field says which
    short = await change(api, staff.token, factories.PASSWORD, "short")
    assert short["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "newPassword"}

    # when it succeeds, then this session stays and every other ends
    assert (await change(api, staff.token, factories.PASSWORD)) == {
        "data": {"changePassword": True}
    }
    assert (await api.gql(VIEWER, token=staff.token))["viewer"]["email"] == "cam@example.com"
    assert (await api.gql(VIEWER, token=other["token"]))["viewer"] is None
    # and only the new password signs in; the failure count starts afresh
    assert code((await log_in(api, "cam@example.com", factories.PASSWORD))["errors"][0]) == (
        "UNAUTHENTICATED"
    )
    assert not (await log_in(api, "cam@example.com", NEW_PASSWORD)).get("errors")


async def test_wrong_current_passwords_lock_the_sign_in(api: Api) -> None:
    staff = await factories.register(api, email="max@example.com")
    for i in range(10):
        wrong = await change(api, staff.token, f"wrong guess {i}")
        assert code(wrong["errors"][0]) == "UNAUTHENTICATED"
    # then the account is locked, for sign-in and for changing the password alike
    assert code((await change(api, staff.token, factories.PASSWORD))["errors"][0]) == (
        "RATE_LIMITED"
    )
    assert code((await log_in(api, "max@example.com", factories.PASSWORD))["errors"][0]) == (
        "RATE_LIMITED"
    )


async def test_customers_change_their_password(
    api: Api, mailbox: Mailbox, superuser: asyncpg.Connection
) -> None:
    staff = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)
    portal_log_in = (
        "mutation($i: PortalLogInInput!) { portalLogIn(input: $i) { token } }",
        {"i": {"businessSlug": staff.slug, "email": person.email, "password": factories.PASSWORD}},
    )
    other = (await api.gql(*portal_log_in))["portalLogIn"]["token"]
    await superuser.execute("DELETE FROM login_failures")

    wrong = await change(api, person.token, "not my password")
    assert code(wrong["errors"][0]) == "UNAUTHENTICATED"
    assert await superuser.fetchval("SELECT count(*) FROM login_failures") == 1

    assert (await change(api, person.token, factories.PASSWORD))["data"] == {"changePassword": True}
    assert (await api.gql(CUSTOMER_ME, token=person.token))["viewer"] == {"id": person.id}
    assert (await api.gql(CUSTOMER_ME, token=other))["viewer"] is None
    old = await api.post(*portal_log_in)
    assert code(old["errors"][0]) == "UNAUTHENTICATED"
    portal_log_in[1]["i"]["password"] = NEW_PASSWORD
    assert not (await api.post(*portal_log_in)).get("errors")


async def test_log_out_everywhere(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api, email="eve@example.com")
    other = (await log_in(api, "eve@example.com", factories.PASSWORD))["data"]["staffLogIn"]
    bystander = await factories.register(api)
    person = await factories.portal_customer(api, mailbox, staff)

    assert (await api.gql(LOG_OUT_EVERYWHERE, token=staff.token)) == {"logOutEverywhere": True}
    for token in (staff.token, other["token"]):
        assert (await api.gql(VIEWER, token=token))["viewer"] is None
    # other accounts, of the business and of another, keep their sessions
    assert (await api.gql(VIEWER, token=bystander.token))["viewer"] is not None
    assert (await api.gql(CUSTOMER_ME, token=person.token))["viewer"] == {"id": person.id}

    # a customer too
    assert (await api.gql(LOG_OUT_EVERYWHERE, token=person.token)) == {"logOutEverywhere": True}
    assert (await api.gql(CUSTOMER_ME, token=person.token))["viewer"] is None


async def test_signed_out_callers_change_nothing(api: Api) -> None:
    assert code(await api.error(LOG_OUT_EVERYWHERE)) == "UNAUTHENTICATED"
    variables = {"input": {"currentPassword": factories.PASSWORD, "newPassword": NEW_PASSWORD}}
    assert code(await api.error(CHANGE, variables)) == "UNAUTHENTICATED"


def test_the_system_principal_is_no_viewer() -> None:
    system = Principal.system(uuid.uuid4(), "a test job")
    assert system.is_system
    assert not (system.is_staff or system.is_customer or system.can_manage_team)
    ctx = RequestContext(services=None, tx=RequestTransaction(None), client_ip="test")  # type: ignore[arg-type]
    with ctx.acting_for(system.business_id, "a test job") as acting:
        assert ctx.principal is acting and acting.is_system
        with pytest.raises(Unauthenticated):
            ctx.staff()
        with pytest.raises(Unauthenticated):
            ctx.customer()
    assert ctx.principal is None


def test_links_quote_what_they_carry() -> None:
    link = emailed_tokens.link("https://x.example", emailed_tokens.STAFF_RESET, "a b", "t+k=")
    assert link == "https://x.example/team/a%20b/reset-password?token=t%2Bk%3D"
