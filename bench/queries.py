"""The read queries measured, each as the portal asks it and as PostGraphile v5 asks for the
same rows (its names differ; found by introspection of the amber preset, which orders only by
indexed columns). Both servers must answer with the same number of leaf values before anything
is timed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadQuery:
    name: str
    scope: str  # "staff" or "customer": whose token, and which PostGraphile instance
    portal: str
    postgraphile: str


APPOINTMENT_FIELDS = "id title startsAt endsAt status location"
CUSTOMER_FIELDS = "id name email phone portalStatus"

CUSTOMERS_LIST = ReadQuery(
    name="customers × appointments",
    scope="staff",
    portal=f"""query CustomersList {{
  customers(first: 50) {{ totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CUSTOMER_FIELDS}
      appointments(first: 5) {{ totalCount edges {{ node {{ {APPOINTMENT_FIELDS} }} }} }}
    }} }} }}
}}""",
    postgraphile=f"""query CustomersList {{
  allCustomers(first: 50, orderBy: NAME_ASC) {{ totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CUSTOMER_FIELDS}
      appointmentsByCustomerId(first: 5, orderBy: ENDS_AT_ASC) {{ totalCount
        edges {{ node {{ {APPOINTMENT_FIELDS} }} }} }}
    }} }} }}
}}""",
)

# A customer's own dashboard: who they are, then the first page of each domain they see.
# Add a (portal, PostGraphile) pair here as each later domain arrives (invoices, quotes, …).
# PostGraphile's side names the customer too (`$customer`, as the portal's resolvers do from the
# token): row-level security alone gives the same rows, but PostgreSQL then filters the whole
# business's appointments through the policy for every page and count (about 15 ms of its
# CPU a request here), which measures the policy rather than PostGraphile.
CUSTOMER_DOMAIN_PAGES = [
    (
        f"appointments(first: 5) {{ totalCount edges {{ node {{ {APPOINTMENT_FIELDS} }} }} }}",
        'allAppointments(first: 5, orderBy: ENDS_AT_ASC, condition: { customerId: "$customer" })'
        f" {{ totalCount edges {{ node {{ {APPOINTMENT_FIELDS} }} }} }}",
    ),
]


def customer_dashboard(customer_id: str) -> ReadQuery:
    """PostGraphile has no viewer: the customer's row by its id (its scope is CUSTOMER_ID, so
    row-level security shows it that customer's rows only, as the portal's token does)."""
    portal_pages = "\n  ".join(portal for portal, _ in CUSTOMER_DOMAIN_PAGES)
    anchor_pages = "\n  ".join(anchor for _, anchor in CUSTOMER_DOMAIN_PAGES)
    anchor_pages = anchor_pages.replace("$customer", customer_id)
    return ReadQuery(
        name="customer dashboard",
        scope="customer",
        portal=f"""query CustomerDashboard {{
  viewer {{ ... on Customer {{ {CUSTOMER_FIELDS} }} }}
  {portal_pages}
}}""",
        postgraphile=f"""query CustomerDashboard {{
  customerByRowId(rowId: "{customer_id}") {{ {CUSTOMER_FIELDS} }}
  {anchor_pages}
}}""",
    )


# With a (staff) token: the portal looks its session up; PostGraphile ignores the header.
TYPENAME = ReadQuery(
    name="{ __typename }", scope="staff", portal="{ __typename }", postgraphile="{ __typename }"
)


def read_queries(customer_id: str) -> list[ReadQuery]:
    return [CUSTOMERS_LIST, customer_dashboard(customer_id), TYPENAME]


def leaf_values(value: object) -> int:
    """How many scalar values (nulls included) a GraphQL `data` holds."""
    if isinstance(value, dict):
        return sum(leaf_values(item) for item in value.values())
    if isinstance(value, list):
        return sum(leaf_values(item) for item in value)
    return 1
