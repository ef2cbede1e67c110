"""Test data made the way a client makes it: through the API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from tests.client import Api
from tests.mailbox import Mailbox, token_in

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)

REGISTER = """
mutation Register($input: RegisterBusinessInput!) {
  registerBusiness(input: $input) {
    token expiresAt
    viewer { ... on StaffMember { id name email role business { id name slug } } }
  }
}"""
CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { id name email phone address portalStatus createdAt }
}"""
SCHEDULE = """
mutation Schedule($input: ScheduleAppointmentInput!) {
  scheduleAppointment(input: $input) { id title startsAt endsAt status location details }
}"""
INVITE_CUSTOMER = """
mutation Invite($id: ID!) { inviteCustomerToPortal(customerId: $id) { id portalStatus } }"""
ACCEPT_INVITATION = """
mutation Accept($input: AcceptPortalInvitationInput!) {
  acceptPortalInvitation(input: $input) {
    token expiresAt viewer { __typename ... on Customer { id name email portalStatus } }
  }
}"""
INVITE_STAFF = """
mutation InviteStaff($input: InviteStaffMemberInput!) {
  inviteStaffMember(input: $input) { id name email role expiresAt acceptedAt invitedBy { name } }
}"""
ACCEPT_STAFF = """
mutation AcceptStaff($input: AcceptStaffInvitationInput!) {
  acceptStaffInvitation(input: $input) {
    token viewer { __typename ... on StaffMember { id name role } }
  }
}"""


@dataclass
class Staff:
    token: str
    id: str
    email: str
    business_id: str
    slug: str


@dataclass
class PortalCustomer:
    id: str
    email: str
    token: str | None = None


async def register(api: Api, name: str | None = None, **kw: str) -> Staff:
    n = next(_numbers)
    email = kw.get("email", f"owner{n}@example.com")
    data = await api.gql(
        REGISTER,
        {
            "input": {
                "businessName": name or f"Business {n}",
                "ownerName": kw.get("owner_name", f"Owner {n}"),
                "email": email,
                "password": kw.get("password", PASSWORD),
            }
        },
    )
    payload = data["registerBusiness"]
    viewer = payload["viewer"]
    return Staff(
        token=payload["token"],
        id=viewer["id"],
        email=email,
        business_id=viewer["business"]["id"],
        slug=viewer["business"]["slug"],
    )


async def customer(api: Api, staff: Staff, name: str | None = None, **fields: str) -> dict:
    n = next(_numbers)
    fields.setdefault("email", f"customer{n}@example.com")
    data = await api.gql(
        CREATE_CUSTOMER, {"input": {"name": name or f"Customer {n}", **fields}}, token=staff.token
    )
    return data["createCustomer"]


async def appointment(
    api: Api, staff: Staff, customer_id: str, starts: str, ends: str, **kw: str
) -> dict:
    data = await api.gql(
        SCHEDULE,
        {
            "input": {
                "customerId": customer_id,
                "title": kw.get("title", "Site visit"),
                "startsAt": starts,
                "endsAt": ends,
            }
        },
        token=staff.token,
    )
    return data["scheduleAppointment"]


async def invite(api: Api, mailbox: Mailbox, staff: Staff, customer_id: str, email: str) -> str:
    """Invite a customer and return the token from the email they received."""
    before = len(mailbox.to(email))
    await api.gql(INVITE_CUSTOMER, {"id": customer_id}, token=staff.token)
    messages = await mailbox.wait_for(email, before + 1)
    return token_in(messages[-1])


async def portal_customer(
    api: Api, mailbox: Mailbox, staff: Staff, name: str | None = None
) -> PortalCustomer:
    """A customer who accepted the invitation and is signed in."""
    created = await customer(api, staff, name)
    token = await invite(api, mailbox, staff, created["id"], created["email"])
    data = await api.gql(ACCEPT_INVITATION, {"input": {"token": token, "password": PASSWORD}})
    return PortalCustomer(
        id=created["id"], email=created["email"], token=data["acceptPortalInvitation"]["token"]
    )
