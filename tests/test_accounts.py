"""Registering a business, staff sign-in, sessions and passwords."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg

from tests import factories
from tests.client import Api, code

VIEWER = (
    "{ viewer { __typename ... on StaffMember { id name email role business { name slug } } } }"
)
LOG_IN = """
mutation LogIn($input: StaffLogInInput!) {
  staffLogIn(input: $input) { token expiresAt viewer { ... on StaffMember { email } } }
}"""


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
