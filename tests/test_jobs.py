"""Jobs: created and changed by staff, moved through validated statuses with a history, notes
shared or internal, and the customer's dashboard list (active first, then closed)."""

from __future__ import annotations

from tests import factories
from tests.client import Api, code
from tests.mailbox import Mailbox

CREATE = """mutation($input: CreateJobInput!) {
  createJob(input: $input) { id title description status scheduledStart scheduledEnd completedAt
    customer { id } statusHistory { status message } }
}"""
UPDATE = """mutation($input: UpdateJobInput!) {
  updateJob(input: $input) { id title description scheduledStart scheduledEnd }
}"""
SET_STATUS = """mutation($input: SetJobStatusInput!) {
  setJobStatus(input: $input) { id status completedAt statusHistory { status message job { id } } }
}"""
ADD_NOTE = """mutation($input: AddJobNoteInput!) {
  addJobNote(input: $input) { id body visibleToCustomer createdAt }
}"""
JOBS = """query($status: [JobStatus!], $customerId: ID, $first: Int, $after: String) {
  jobs(status: $status, customerId: $customerId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id title status } }
  }
}"""
JOB = """query($id: ID!) { node(id: $id) { ... on Job {
  id title status completedAt customer { id name }
  statusHistory { status message changedAt }
  notes { id body visibleToCustomer }
} } }"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


async def create_job(api: Api, staff: factories.Staff, customer_id: str, **fields: object) -> dict:
    data = await api.gql(
        CREATE,
        {"input": {"customerId": customer_id, "title": "Kitchen", **fields}},
        token=staff.token,
    )
    return data["createJob"]


async def set_status(
    api: Api, staff: factories.Staff, job_id: str, status: str, message: str | None = None
) -> dict:
    data = await api.gql(
        SET_STATUS,
        {"input": {"jobId": job_id, "status": status, "message": message}},
        token=staff.token,
    )
    return data["setJobStatus"]


async def test_a_new_job_is_scheduled_with_its_first_history_entry(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)

    job = await create_job(
        api,
        staff,
        customer["id"],
        description="New cabinets\nand worktop",
        scheduledStart="2031-03-01T08:00:00Z",
        scheduledEnd="2031-03-05T17:00:00Z",
    )

    assert job["status"] == "SCHEDULED"
    assert job["completedAt"] is None
    assert job["customer"] == {"id": customer["id"]}
    assert job["description"] == "New cabinets\nand worktop"
    assert job["statusHistory"] == [{"status": "SCHEDULED", "message": None}]


async def test_update_job_changes_only_what_is_given_and_checks_the_schedule(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    job = await create_job(api, staff, customer["id"], scheduledStart="2031-03-01T08:00:00Z")

    updated = (
        await api.gql(UPDATE, {"input": {"id": job["id"], "title": "Bathroom"}}, token=staff.token)
    )["updateJob"]
    assert updated["title"] == "Bathroom"
    assert updated["scheduledStart"] == "2031-03-01T08:00:00+00:00"

    error = await api.error(
        UPDATE,
        {"input": {"id": job["id"], "scheduledEnd": "2031-02-01T08:00:00Z"}},
        token=staff.token,
    )
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "scheduledEnd"
    cleared = await api.gql(
        UPDATE, {"input": {"id": job["id"], "scheduledStart": None}}, token=staff.token
    )
    assert cleared["updateJob"]["scheduledStart"] is None


async def test_status_moves_are_recorded_and_closed_jobs_only_reopen(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    job = await create_job(api, staff, customer["id"])

    started = await set_status(api, staff, job["id"], "IN_PROGRESS", "We have started")
    again = await set_status(api, staff, job["id"], "IN_PROGRESS", "ignored")
    assert again["statusHistory"] == started["statusHistory"]  # the same status is a no-op

    done = await set_status(api, staff, job["id"], "COMPLETED", "All done")
    assert done["status"] == "COMPLETED" and done["completedAt"] is not None
    for status in ("SCHEDULED", "ON_HOLD", "CANCELLED"):
        error = await api.error(
            SET_STATUS, {"input": {"jobId": job["id"], "status": status}}, token=staff.token
        )
        assert code(error) == "CONFLICT", status

    reopened = await set_status(api, staff, job["id"], "IN_PROGRESS")
    assert reopened["completedAt"] is None
    assert [(c["status"], c["message"]) for c in reopened["statusHistory"]] == [
        ("SCHEDULED", None),
        ("IN_PROGRESS", "We have started"),
        ("COMPLETED", "All done"),
        ("IN_PROGRESS", None),
    ]
    assert {c["job"]["id"] for c in reopened["statusHistory"]} == {job["id"]}

    cancelled = await set_status(api, staff, job["id"], "CANCELLED")
    error = await api.error(
        SET_STATUS, {"input": {"jobId": job["id"], "status": "COMPLETED"}}, token=staff.token
    )
    assert code(error) == "CONFLICT"
    assert cancelled["completedAt"] is None


async def test_notes_are_internal_unless_shared(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    job = await create_job(api, staff, me.id)

    internal = (
        await api.gql(
            ADD_NOTE, {"input": {"jobId": job["id"], "body": "Tricky client"}}, token=staff.token
        )
    )["addJobNote"]
    shared = (
        await api.gql(
            ADD_NOTE,
            {
                "input": {
                    "jobId": job["id"],
                    "body": "Tiles arrive Monday",
                    "visibleToCustomer": True,
                }
            },
            token=staff.token,
        )
    )["addJobNote"]
    assert internal["visibleToCustomer"] is False and shared["visibleToCustomer"] is True

    as_staff = (await api.gql(JOB, {"id": job["id"]}, token=staff.token))["node"]
    assert [n["body"] for n in as_staff["notes"]] == ["Tricky client", "Tiles arrive Monday"]

    as_customer = (await api.gql(JOB, {"id": job["id"]}, token=me.token))["node"]
    assert as_customer["notes"] == [
        {"id": shared["id"], "body": "Tiles arrive Monday", "visibleToCustomer": True}
    ]
    assert (await api.gql(NODE, {"id": internal["id"]}, token=me.token))["node"] is None
    assert (await api.gql(NODE, {"id": shared["id"]}, token=me.token))["node"]["id"] == shared["id"]

    error = await api.error(
        ADD_NOTE, {"input": {"jobId": job["id"], "body": "  "}}, token=staff.token
    )
    assert code(error) == "BAD_USER_INPUT"


async def test_the_list_puts_active_jobs_first_then_closed_ones_newest_first(
    api: Api, mailbox: Mailbox
) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    ids = {}
    for title, start in (
        ("later", "2031-06-01T08:00:00Z"),
        ("unscheduled", None),
        ("sooner", "2031-05-01T08:00:00Z"),
        ("done first", "2031-01-01T08:00:00Z"),
        ("done second", "2031-02-01T08:00:00Z"),
        ("paused", "2031-05-15T08:00:00Z"),
        ("running", "2031-07-01T08:00:00Z"),
    ):
        ids[title] = (await create_job(api, staff, me.id, title=title, scheduledStart=start))["id"]
    await set_status(api, staff, ids["done first"], "COMPLETED")
    await set_status(api, staff, ids["done second"], "COMPLETED")
    await set_status(api, staff, ids["paused"], "ON_HOLD")
    await set_status(api, staff, ids["running"], "IN_PROGRESS")
    expected = [
        "sooner",
        "paused",
        "later",
        "running",
        "unscheduled",
        "done second",
        "done first",
    ]

    for token in (staff.token, me.token):
        listed = (await api.gql(JOBS, {}, token=token))["jobs"]
        assert [e["node"]["title"] for e in listed["edges"]] == expected
        assert listed["totalCount"] == 7

    # paged with cursors, the same order
    seen, after = [], None
    while True:
        page = (await api.gql(JOBS, {"first": 3, "after": after}, token=me.token))["jobs"]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected

    # filtered by status, on the root list and on the customer
    done = (await api.gql(JOBS, {"status": ["COMPLETED"]}, token=me.token))["jobs"]
    assert [e["node"]["title"] for e in done["edges"]] == ["done second", "done first"]
    nested = await api.gql(
        """query($status: [JobStatus!]) { viewer { ... on Customer {
             jobs(status: $status, first: 2) { totalCount edges { node { title } } } } } }""",
        {"status": ["IN_PROGRESS", "ON_HOLD"]},
        token=me.token,
    )
    assert nested["viewer"]["jobs"]["totalCount"] == 2
    assert [e["node"]["title"] for e in nested["viewer"]["jobs"]["edges"]] == ["paused", "running"]


async def test_staff_filter_by_customer_and_customers_list_their_jobs(api: Api) -> None:
    staff = await factories.register(api)
    ann = await factories.customer(api, staff, "Ann")
    bob = await factories.customer(api, staff, "Bob")
    ann_job = await create_job(api, staff, ann["id"], title="Ann's roof")
    await create_job(api, staff, bob["id"], title="Bob's fence")

    listed = (await api.gql(JOBS, {"customerId": ann["id"]}, token=staff.token))["jobs"]
    assert [e["node"]["id"] for e in listed["edges"]] == [ann_job["id"]]
    customers = await api.gql(
        "{ customers { edges { node { name jobs { totalCount edges { node { title } } } } } } }",
        token=staff.token,
    )
    assert {
        e["node"]["name"]: [j["node"]["title"] for j in e["node"]["jobs"]["edges"]]
        for e in customers["customers"]["edges"]
    } == {"Ann": ["Ann's roof"], "Bob": ["Bob's fence"]}


async def test_appointments_may_be_for_a_job_of_the_same_customer(api: Api) -> None:
    staff = await factories.register(api)
    ann = await factories.customer(api, staff, "Ann")
    bob = await factories.customer(api, staff, "Bob")
    job = await create_job(api, staff, ann["id"])
    schedule = """mutation($input: ScheduleAppointmentInput!) {
      scheduleAppointment(input: $input) { id job { id title } } }"""
    visit = {
        "title": "Survey",
        "startsAt": "2031-05-01T09:00:00Z",
        "endsAt": "2031-05-01T10:00:00Z",
    }

    made = await api.gql(
        schedule,
        {"input": {**visit, "customerId": ann["id"], "jobId": job["id"]}},
        token=staff.token,
    )
    assert made["scheduleAppointment"]["job"] == {"id": job["id"], "title": "Kitchen"}
    listed = await api.gql(
        "{ appointments { edges { node { id job { id } } } } }", token=staff.token
    )
    assert listed["appointments"]["edges"][0]["node"]["job"] == {"id": job["id"]}

    error = await api.error(
        schedule,
        {"input": {**visit, "customerId": bob["id"], "jobId": job["id"]}},
        token=staff.token,
    )
    assert code(error) == "BAD_USER_INPUT" and error["extensions"]["field"] == "jobId"

    unlinked = await api.gql(
        """mutation($input: UpdateAppointmentInput!) {
             updateAppointment(input: $input) { job { id } } }""",
        {"input": {"id": made["scheduleAppointment"]["id"], "jobId": None}},
        token=staff.token,
    )
    assert unlinked["updateAppointment"]["job"] is None


async def test_job_mutations_are_for_staff(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    job = await create_job(api, staff, me.id)
    for document, variables in (
        (CREATE, {"input": {"customerId": me.id, "title": "Mine"}}),
        (UPDATE, {"input": {"id": job["id"], "title": "Mine"}}),
        (SET_STATUS, {"input": {"jobId": job["id"], "status": "CANCELLED"}}),
        (ADD_NOTE, {"input": {"jobId": job["id"], "body": "hi"}}),
    ):
        assert code(await api.error(document, variables, token=me.token)) == "FORBIDDEN"
        assert code(await api.error(document, variables)) == "UNAUTHENTICATED"
    assert code(await api.error(JOBS, {})) == "UNAUTHENTICATED"
