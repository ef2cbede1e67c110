"""Appointments: scheduling rules, upcoming and past, changes and cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests import factories
from tests.client import Api, code

LIST = """
query List($range: AppointmentRange, $customerId: ID, $first: Int, $after: String) {
  appointments(range: $range, customerId: $customerId, first: $first, after: $after) {
    totalCount
    edges { node { title status startsAt customer { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE = """
mutation Update($input: UpdateAppointmentInput!) {
  updateAppointment(input: $input) { id title startsAt endsAt location details status }
}"""
CANCEL = "mutation Cancel($id: ID!) { cancelAppointment(id: $id) { id status } }"


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_schedule_and_read_back(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff, "Fay")
    data = await api.gql(
        factories.SCHEDULE,
        {
            "input": {
                "customerId": customer["id"],
                "title": "Estimate",
                "startsAt": "2031-03-01T09:00:00-05:00",
                "endsAt": "2031-03-01T10:30:00-05:00",
                "location": "12 Elm St",
                "details": "Bring the ladder",
            }
        },
        token=staff.token,
    )
    made = data["scheduleAppointment"]
    assert made["status"] == "SCHEDULED"
    assert datetime.fromisoformat(made["startsAt"]) == datetime(2031, 3, 1, 14, tzinfo=UTC)
    assert made["location"] == "12 Elm St"


async def test_times_must_be_ordered_and_carry_an_offset(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    base = {"customerId": customer["id"], "title": "X"}
    error = await api.error(
        factories.SCHEDULE,
        {"input": {**base, "startsAt": at(2), "endsAt": at(1)}},
        token=staff.token,
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "endsAt"}
    error = await api.error(
        factories.SCHEDULE,
        {"input": {**base, "startsAt": "2031-01-01T09:00:00", "endsAt": at(1)}},
        token=staff.token,
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "startsAt"}
    error = await api.error(
        factories.SCHEDULE,
        {"input": {**base, "startsAt": "tomorrow", "endsAt": at(1)}},
        token=staff.token,
    )
    assert code(error) == "BAD_USER_INPUT"


async def test_upcoming_soonest_first_and_past_newest_first(api: Api) -> None:
    staff = await factories.register(api)
    ann = await factories.customer(api, staff, "Ann")
    bob = await factories.customer(api, staff, "Bob")
    await factories.appointment(api, staff, ann["id"], at(48), at(49), title="later")
    await factories.appointment(api, staff, bob["id"], at(2), at(3), title="soon")
    await factories.appointment(api, staff, ann["id"], at(-1), at(1), title="now")
    await factories.appointment(api, staff, ann["id"], at(-50), at(-49), title="long ago")
    await factories.appointment(api, staff, bob["id"], at(-5), at(-4), title="recently")

    upcoming = (await api.gql(LIST, {}, token=staff.token))["appointments"]
    assert [e["node"]["title"] for e in upcoming["edges"]] == ["now", "soon", "later"]
    assert upcoming["totalCount"] == 3
    past = (await api.gql(LIST, {"range": "PAST"}, token=staff.token))["appointments"]
    assert [e["node"]["title"] for e in past["edges"]] == ["recently", "long ago"]
    assert {e["node"]["status"] for e in past["edges"]} == {"COMPLETED"}

    anns = (await api.gql(LIST, {"customerId": ann["id"]}, token=staff.token))["appointments"]
    assert [e["node"]["title"] for e in anns["edges"]] == ["now", "later"]
    assert {e["node"]["customer"]["name"] for e in anns["edges"]} == {"Ann"}

    first = (await api.gql(LIST, {"first": 1}, token=staff.token))["appointments"]
    after = first["pageInfo"]["endCursor"]
    second = (await api.gql(LIST, {"first": 1, "after": after}, token=staff.token))["appointments"]
    assert [e["node"]["title"] for e in second["edges"]] == ["soon"]


async def test_customer_appointments_connection(api: Api) -> None:
    staff = await factories.register(api)
    ann = await factories.customer(api, staff, "Ann")
    for hour in (5, 1, 3):
        await factories.appointment(api, staff, ann["id"], at(hour), at(hour + 1), title=f"h{hour}")
    await factories.appointment(api, staff, ann["id"], at(-3), at(-2), title="past")
    query = """query($first: Int) { customers { edges { node {
        upcoming: appointments(first: $first) {
          totalCount edges { node { title } } pageInfo { hasNextPage }
        }
        past: appointments(range: PAST) { totalCount edges { node { title } } }
    } } } }"""
    node = (await api.gql(query, {"first": 2}, token=staff.token))["customers"]["edges"][0]["node"]
    assert [e["node"]["title"] for e in node["upcoming"]["edges"]] == ["h1", "h3"]
    assert node["upcoming"]["totalCount"] == 3
    assert node["upcoming"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["title"] for e in node["past"]["edges"]] == ["past"]
    assert node["past"]["totalCount"] == 1


async def test_update_and_cancel(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    made = await factories.appointment(api, staff, customer["id"], at(10), at(11))
    updated = (
        await api.gql(
            UPDATE,
            {"input": {"id": made["id"], "title": "Final walk-through", "location": "Site"}},
            token=staff.token,
        )
    )["updateAppointment"]
    assert updated["title"] == "Final walk-through"
    assert updated["location"] == "Site"
    assert updated["startsAt"] == made["startsAt"]

    error = await api.error(
        UPDATE, {"input": {"id": made["id"], "endsAt": at(9)}}, token=staff.token
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "endsAt"}

    cancelled = (await api.gql(CANCEL, {"id": made["id"]}, token=staff.token))["cancelAppointment"]
    assert cancelled["status"] == "CANCELLED"
    assert code(await api.error(CANCEL, {"id": made["id"]}, token=staff.token)) == "CONFLICT"
    error = await api.error(UPDATE, {"input": {"id": made["id"], "title": "x"}}, token=staff.token)
    assert code(error) == "CONFLICT"


async def test_a_past_appointment_cannot_be_cancelled(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    made = await factories.appointment(api, staff, customer["id"], at(-3), at(-2))
    assert code(await api.error(CANCEL, {"id": made["id"]}, token=staff.token)) == "CONFLICT"


async def test_scheduling_for_someone_elses_customer_is_not_found(api: Api) -> None:
    staff = await factories.register(api)
    other = await factories.register(api)
    theirs = await factories.customer(api, other)
    error = await api.error(
        factories.SCHEDULE,
        {"input": {"customerId": theirs["id"], "title": "x", "startsAt": at(1), "endsAt": at(2)}},
        token=staff.token,
    )
    assert code(error) == "NOT_FOUND"


async def test_a_later_mutation_in_the_same_request_sees_earlier_writes(api: Api) -> None:
    staff = await factories.register(api)
    customer = await factories.customer(api, staff)
    fields = "customer { appointments { totalCount edges { node { title } } } }"
    both = " ".join(
        f'{alias}: scheduleAppointment(input: {{customerId: "{customer["id"]}", title: "{alias}", '
        f'startsAt: "{at(hour)}", endsAt: "{at(hour + 1)}"}}) {{ {fields} }}'
        for alias, hour in (("first", 1), ("second", 2))
    )
    data = await api.gql(f"mutation {{ {both} }}", token=staff.token)
    seen = data["second"]["customer"]["appointments"]
    assert seen["totalCount"] == 2
    assert [e["node"]["title"] for e in seen["edges"]] == ["first", "second"]
