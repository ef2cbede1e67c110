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


JOB_FIELDS = "id title status scheduledStart completedAt"
PHOTO_FIELDS = "id caption takenAt width height"


def customer_jobs(customer_id: str) -> ReadQuery:
    """The customer's jobs page: each job with its photos (signed URLs on the portal; the
    stored key on PostGraphile, which has no signing), status history and shared notes."""
    return ReadQuery(
        name="customer jobs + photos",
        scope="customer",
        portal=f"""query CustomerJobs {{
  jobs(first: 10) {{ totalCount edges {{ node {{ {JOB_FIELDS}
    photos(first: 10) {{ edges {{ node {{ {PHOTO_FIELDS} url thumbnailUrl }} }} }}
    statusHistory {{ status message changedAt }}
    notes {{ body createdAt }}
  }} }} }}
}}""",
        # PostGraphile's amber preset exposes no relation for the composite foreign keys
        # (job_id, customer_id) of photos, history and notes (no index starts with that
        # pair), so it reads the same rows as flat lists, which row-level security narrows to
        # the customer (its CUSTOMER_ID scope): less nesting work than the portal does.
        postgraphile=f"""query CustomerJobs {{
  allJobs(first: 10, condition: {{ customerId: "{customer_id}" }},
          orderBy: [LIST_RANK_ASC, LIST_KEY_ASC, PRIMARY_KEY_ASC]) {{
    totalCount edges {{ node {{ {JOB_FIELDS} }} }} }}
  allPhotos(first: 30, orderBy: [JOB_ID_ASC, TAKEN_AT_DESC, PRIMARY_KEY_DESC]) {{
    edges {{ node {{ {PHOTO_FIELDS} key thumbnailKey }} }} }}
  allJobStatusChanges(orderBy: [JOB_ID_ASC, CHANGED_AT_ASC, PRIMARY_KEY_ASC]) {{
    nodes {{ status message changedAt }} }}
  allJobNotes(orderBy: [JOB_ID_ASC, CREATED_AT_ASC, PRIMARY_KEY_ASC]) {{
    nodes {{ body createdAt }} }}
}}""",
    )


# With a (staff) token: the portal looks its session up; PostGraphile ignores the header.
TYPENAME = ReadQuery(
    name="{ __typename }", scope="staff", portal="{ __typename }", postgraphile="{ __typename }"
)


def read_queries(customer_id: str) -> list[ReadQuery]:
    return [CUSTOMERS_LIST, customer_dashboard(customer_id), customer_jobs(customer_id), TYPENAME]


def leaf_values(value: object) -> int:
    """How many scalar values (nulls included) a GraphQL `data` holds."""
    if isinstance(value, dict):
        return sum(leaf_values(item) for item in value.values())
    if isinstance(value, list):
        return sum(leaf_values(item) for item in value)
    return 1
